// Micro benchmarks of the hot pieces, one process, no sockets:
//   frame header codec, request decode (verify + validate), the prefix hash
//   chain, block checksums, DRAM tier get/put/evict under contention, and
//   the NVMe tier's put and get (page-cache speed: a device's own speed is
//   the raw-disk comparison of bench-compare, not a micro benchmark).
// Run: build/bin/kvtier-micro [--benchmark_filter=REGEX]

#include <benchmark/benchmark.h>

#include <cstring>
#include <filesystem>
#include <numeric>

#include "common/checksum.h"
#include "common/keys.h"
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "tiers/dram/dram_tier.h"
#include "tiers/nvme/nvme_tier.h"

namespace kvtier {
namespace {

void BM_FrameHeaderRoundTrip(benchmark::State& state) {
  protocol::FrameHeader header;
  header.opcode = 3;
  header.request_id = 12345;
  header.metadata_length = 100;
  const protocol::Limits limits;
  for (auto _ : state) {
    header.request_id++;
    const auto bytes = protocol::EncodeFrameHeader(header);
    auto decoded = protocol::DecodeFrameHeader(bytes, limits);
    benchmark::DoNotOptimize(decoded);
  }
}
BENCHMARK(BM_FrameHeaderRoundTrip);

void BM_DecodeKeysRequest(benchmark::State& state) {
  std::vector<std::string> keys;
  for (int64_t i = 0; i < state.range(0); ++i)
    keys.push_back(std::string(16, static_cast<char>(i)));
  const protocol::Metadata metadata = protocol::EncodeKeysRequest("kv", keys);
  const protocol::Limits limits;
  for (auto _ : state) {
    auto request = protocol::DecodeKeysRequest(metadata.bytes(), limits);
    benchmark::DoNotOptimize(request);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_DecodeKeysRequest)->Arg(1)->Arg(128)->Arg(4096);

void BM_PrefixHashChain(benchmark::State& state) {
  // 64 blocks of range(0) tokens: one long prompt.
  std::vector<uint32_t> tokens(static_cast<size_t>(state.range(0)) * 64);
  std::iota(tokens.begin(), tokens.end(), 0u);
  for (auto _ : state) {
    auto keys = PrefixBlockKeys(tokens, static_cast<size_t>(state.range(0)), "model/seed");
    benchmark::DoNotOptimize(keys);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(tokens.size()));
}
BENCHMARK(BM_PrefixHashChain)->Arg(16)->Arg(256);

void BM_BlockChecksum(benchmark::State& state) {
  std::vector<std::byte> data(static_cast<size_t>(state.range(0)), std::byte{7});
  for (auto _ : state) benchmark::DoNotOptimize(BlockChecksum(data));
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_BlockChecksum)->Arg(256 << 10)->Arg(2 << 20);

tiers::DramTier* SharedTier() {
  static tiers::DramTier* tier = [] {
    tiers::DramTierOptions options;
    options.capacity_bytes = 256ull << 20;
    auto* t = new tiers::DramTier(options);
    for (int i = 0; i < 10000; ++i) {
      auto block = t->Allocate(8, 4096);
      if (!block.ok()) break;
      (void)t->Put({1, "k" + std::to_string(i)}, std::move(*block).Seal(0));
    }
    return t;
  }();
  return tier;
}

// Hits on a warm tier from 1..N threads: the index lock and refcount path.
void BM_DramGetHit(benchmark::State& state) {
  tiers::DramTier* tier = SharedTier();
  uint64_t i = static_cast<uint64_t>(state.thread_index()) * 7919;
  std::vector<std::string> keys;
  for (int k = 0; k < 10000; ++k) keys.push_back("k" + std::to_string(k));
  for (auto _ : state) {
    auto handle = tier->Get({1, keys[i++ % keys.size()]});
    benchmark::DoNotOptimize(handle);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DramGetHit)->Threads(1)->Threads(2);

// Puts into a full tier: every put evicts, under contention from N threads.
void BM_DramPutEvict(benchmark::State& state) {
  static tiers::DramTier* tier = [] {
    tiers::DramTierOptions options;
    options.capacity_bytes = 16ull << 20;
    return new tiers::DramTier(options);
  }();
  const size_t value = static_cast<size_t>(state.range(0));
  uint64_t i = static_cast<uint64_t>(state.thread_index()) << 40;
  for (auto _ : state) {
    auto block = tier->Allocate(16, value);
    if (!block.ok()) {
      state.SkipWithError("allocation failed");
      break;
    }
    (void)tier->Put({1, std::to_string(i++)}, std::move(*block).Seal(0));
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(value));
}
BENCHMARK(BM_DramPutEvict)->Arg(4096)->Arg(256 << 10)->Threads(1)->Threads(2);

// An NVMe tier in a fresh directory under /tmp, removed at exit.
tiers::NvmeTier* SharedNvme() {
  static std::filesystem::path dir;
  static std::unique_ptr<tiers::NvmeTier> tier = [] {
    char pattern[] = "/tmp/kvtier-micro-XXXXXX";
    dir = mkdtemp(pattern);
    tiers::NvmeTierOptions options;
    options.directory = dir;
    options.capacity_bytes = 1ull << 30;
    options.segment_bytes = 64ull << 20;
    auto opened = tiers::NvmeTier::Open(options);
    return opened.ok() ? std::move(*opened) : nullptr;
  }();
  static const struct Cleanup {
    ~Cleanup() {
      tier.reset();
      std::filesystem::remove_all(dir);
    }
  } cleanup;
  return tier.get();
}

tiers::BlockHandle HeapBlock(size_t size) {
  tiers::WritableBlock block = tiers::HeapBlockAllocator::Instance().Allocate(size);
  std::memset(block.mutable_bytes().data(), 0x5a, size);
  const uint64_t checksum = BlockChecksum(block.mutable_bytes());
  return std::move(block).Seal(checksum);
}

void BM_NvmePut(benchmark::State& state) {
  tiers::NvmeTier* tier = SharedNvme();
  if (tier == nullptr) return state.SkipWithError("cannot open the NVMe tier");
  const size_t size = static_cast<size_t>(state.range(0));
  const tiers::BlockHandle block = HeapBlock(size);
  uint64_t i = 0;
  for (auto _ : state) {
    if (!tier->Put({1, "p" + std::to_string(i++ % 1024)}, block.Clone()).ok()) {
      return state.SkipWithError("put failed");
    }
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_NvmePut)->Arg(256 << 10)->Arg(2 << 20);

void BM_NvmeGet(benchmark::State& state) {
  tiers::NvmeTier* tier = SharedNvme();
  if (tier == nullptr) return state.SkipWithError("cannot open the NVMe tier");
  const size_t size = static_cast<size_t>(state.range(0));
  for (int k = 0; k < 64; ++k) (void)tier->Put({2, "g" + std::to_string(k)}, HeapBlock(size));
  uint64_t i = 0;
  for (auto _ : state) {
    auto got = tier->Get({2, "g" + std::to_string(i++ % 64)});
    if (!got.ok()) return state.SkipWithError("get failed");
    benchmark::DoNotOptimize(got);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_NvmeGet)->Arg(256 << 10)->Arg(2 << 20);

}  // namespace
}  // namespace kvtier

BENCHMARK_MAIN();
