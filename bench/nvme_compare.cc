// kvtier-nvme-compare: the NVMe tier's storage layout against values stored
// in RocksDB itself, on one workload: distinct blocks written in order through
// a cache of fixed capacity, the oldest dropped to stay within it (FIFO).
//
//   kvtier-nvme-compare [--dir DIR] [--capacity BYTES] [--value-size BYTES]
//                       [--write BYTES]
//
// Layouts:
//   segments  the NVMe tier: values appended to segment files, RocksDB maps
//             key -> extent, space returns by deleting the oldest segment
//   rocksdb   values as plain RocksDB values; the oldest key is deleted
//   blobdb    RocksDB's integrated blob files (enable_blob_files) with blob
//             garbage collection; the oldest key is deleted
// For each: seconds, user GB/s, bytes the process wrote to storage
// (/proc/self/io write_bytes, background compaction threads included) over
// user bytes = write amplification, and bytes on disk at the end.

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/byte_size.h"
#include "common/checksum.h"
#include "tiers/nvme/nvme_tier.h"

namespace kvtier::bench {
namespace {

struct Options {
  std::filesystem::path dir = "/tmp/kvtier-nvme-compare";
  uint64_t capacity = 256ull << 20;
  uint64_t value_size = 256ull << 10;
  uint64_t write = 1ull << 30;
};

uint64_t ProcessWriteBytes() {
  std::ifstream io("/proc/self/io");
  std::string name;
  uint64_t value = 0;
  while (io >> name >> value) {
    if (name == "write_bytes:") return value;
  }
  return 0;
}

uint64_t DiskBytes(const std::filesystem::path& dir) {
  uint64_t bytes = 0;
  for (const auto& f : std::filesystem::recursive_directory_iterator(dir)) {
    struct stat st {};
    if (f.is_regular_file() && stat(f.path().c_str(), &st) == 0) {
      bytes += static_cast<uint64_t>(st.st_blocks) * 512;
    }
  }
  return bytes;
}

std::string Key(uint64_t i) { return "block/" + std::to_string(i); }

void FillValue(std::vector<std::byte>& value, uint64_t seed) {
  // Incompressible enough: a different 64-bit pattern per block and word.
  for (size_t w = 0; w + 8 <= value.size(); w += 8) {
    const uint64_t x = (seed * 0x9E3779B97F4A7C15ull) ^ (w * 0xC2B2AE3D27D4EB4Full);
    std::memcpy(value.data() + w, &x, 8);
  }
}

struct Outcome {
  double seconds = 0;
  uint64_t written = 0;
  uint64_t on_disk = 0;
};

Result<Outcome> RunSegments(const Options& o, const std::filesystem::path& dir) {
  tiers::NvmeTierOptions nvme;
  nvme.directory = dir;
  nvme.capacity_bytes = o.capacity;
  KVTIER_ASSIGN_OR_RETURN(auto tier, tiers::NvmeTier::Open(nvme));
  std::vector<std::byte> value(o.value_size);
  const uint64_t before = ProcessWriteBytes();
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i * o.value_size < o.write; ++i) {
    FillValue(value, i);
    auto block = tiers::HeapBlockAllocator::Instance().Allocate(value.size());
    std::memcpy(block.mutable_bytes().data(), value.data(), value.size());
    KVTIER_RETURN_IF_ERROR(tier->Put({1, Key(i)}, std::move(block).Seal(BlockChecksum(value))));
  }
  Outcome out;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  tier.reset();
  out.written = ProcessWriteBytes() - before;
  out.on_disk = DiskBytes(dir);
  return out;
}

Result<Outcome> RunRocks(const Options& o, const std::filesystem::path& dir, bool blob_files) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.compression = rocksdb::kNoCompression;
  if (blob_files) {
    options.enable_blob_files = true;
    options.min_blob_size = 4096;
    options.enable_blob_garbage_collection = true;
  }
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(options, dir.string(), &raw);
  if (!s.ok()) return IoError(s.ToString());
  std::unique_ptr<rocksdb::DB> db(raw);
  std::vector<std::byte> value(o.value_size);
  const uint64_t keep = o.capacity / o.value_size;  // blocks the cache holds
  const uint64_t before = ProcessWriteBytes();
  const auto start = std::chrono::steady_clock::now();
  for (uint64_t i = 0; i * o.value_size < o.write; ++i) {
    FillValue(value, i);
    s = db->Put(rocksdb::WriteOptions(), Key(i),
                rocksdb::Slice(reinterpret_cast<const char*>(value.data()), value.size()));
    if (s.ok() && i >= keep) s = db->Delete(rocksdb::WriteOptions(), Key(i - keep));
    if (!s.ok()) return IoError(s.ToString());
  }
  Outcome out;
  out.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  db.reset();
  out.written = ProcessWriteBytes() - before;
  out.on_disk = DiskBytes(dir);
  return out;
}

int Main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string arg = argv[i];
    const std::string value = argv[i + 1];
    if (arg == "--dir") {
      o.dir = value;
    } else if (arg == "--capacity" || arg == "--value-size" || arg == "--write") {
      auto bytes = ParseByteSize(value);
      if (!bytes.ok()) {
        std::fprintf(stderr, "%s: %s\n", arg.c_str(), bytes.status().message().c_str());
        return 2;
      }
      (arg == "--capacity" ? o.capacity : arg == "--value-size" ? o.value_size : o.write) = *bytes;
    } else {
      std::fprintf(stderr, "unknown option %s\n", arg.c_str());
      return 2;
    }
  }
  std::printf("workload: %s of distinct %s blocks through a %s FIFO cache\n",
              FormatByteSize(o.write).c_str(), FormatByteSize(o.value_size).c_str(),
              FormatByteSize(o.capacity).c_str());
  std::printf("%-9s %8s %8s %12s %10s\n", "layout", "seconds", "GB/s", "write_amp", "on_disk");
  for (const char* layout : {"segments", "rocksdb", "blobdb"}) {
    const auto dir = o.dir / layout;
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const std::string name = layout;
    Result<Outcome> outcome = name == "segments"
                                  ? RunSegments(o, dir)
                                  : RunRocks(o, dir, /*blob_files=*/name == "blobdb");
    if (!outcome.ok()) {
      std::fprintf(stderr, "%s: %s\n", layout, outcome.status().ToString().c_str());
      return 1;
    }
    std::printf("%-9s %8.2f %8.3f %12.2f %10s\n", layout, outcome->seconds,
                o.write / outcome->seconds / 1e9,
                static_cast<double>(outcome->written) / static_cast<double>(o.write),
                FormatByteSize(outcome->on_disk).c_str());
    std::filesystem::remove_all(dir);
  }
  return 0;
}

}  // namespace
}  // namespace kvtier::bench

int main(int argc, char** argv) { return kvtier::bench::Main(argc, argv); }
