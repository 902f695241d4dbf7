// kvtier-blob-bench: Blob tier throughput, one stream, for comparison with
// curl on the same Azure Blob service (scripts/bench-compare.sh runs both
// against Azurite).
//
//   kvtier-blob-bench --endpoint URL --container NAME [--value-size BYTES]
//                     [--count N]
//       Puts N distinct blocks through BlobTier::Put, then reads each back
//       through BlobTier::Get (checksum verified); prints one line per step:
//       "<step> <blocks> <bytes> <seconds> <GB/s>".
//   kvtier-blob-bench --print-sas PERMISSIONS
//       Prints an account SAS valid for a day (for curl).
//
// Credentials come from the environment (never the command line):
// KVTIER_BLOB_ACCOUNT and KVTIER_BLOB_KEY, or KVTIER_BLOB_SAS (a SAS token
// instead of the key, as curl uses).

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

#include "common/byte_size.h"
#include "common/checksum.h"
#include "tiers/blob/blob_tier.h"

namespace kvtier::bench {
namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: kvtier-blob-bench --endpoint URL --container NAME [--value-size BYTES] "
               "[--count N]\n       kvtier-blob-bench --print-sas PERMISSIONS\n"
               "(KVTIER_BLOB_ACCOUNT and KVTIER_BLOB_KEY in the environment)\n");
  return 2;
}

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

int Run(int argc, char** argv) {
  std::string endpoint, container, sas_permissions;
  uint64_t value_size = 4ull << 20;
  int count = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--endpoint") {
      endpoint = value;
    } else if (flag == "--container") {
      container = value;
    } else if (flag == "--print-sas") {
      sas_permissions = value;
    } else if (flag == "--count") {
      count = std::atoi(value.c_str());
    } else if (flag == "--value-size") {
      auto size = ParseByteSize(value);
      if (!size.ok()) return Usage();
      value_size = *size;
    } else {
      return Usage();
    }
  }
  const std::string account = Env("KVTIER_BLOB_ACCOUNT");
  const std::string key = Env("KVTIER_BLOB_KEY");
  if (!sas_permissions.empty()) {
    char expiry[32];
    const std::time_t tomorrow = std::time(nullptr) + 86400;
    std::tm gmt{};
    gmtime_r(&tomorrow, &gmt);
    std::strftime(expiry, sizeof(expiry), "%Y-%m-%dT%H:%M:%SZ", &gmt);
    auto sas = tiers::blob::MakeAccountSas(account, key, sas_permissions, expiry);
    if (!sas.ok()) {
      std::fprintf(stderr, "%s\n", sas.status().ToString().c_str());
      return 1;
    }
    std::printf("%s\n", sas->c_str());
    return 0;
  }
  if (endpoint.empty() || container.empty() || count <= 0) return Usage();

  tiers::blob::BlobTierOptions options;
  options.client.endpoint = endpoint;
  options.client.account = account;
  options.client.container = container;
  if (const std::string sas = Env("KVTIER_BLOB_SAS"); !sas.empty()) {
    options.client.sas_token = sas;
  } else {
    options.client.account_key = key;
  }
  auto tier = tiers::blob::BlobTier::Open(options);
  if (!tier.ok()) {
    std::fprintf(stderr, "%s\n", tier.status().ToString().c_str());
    return 1;
  }
  std::vector<tiers::BlockHandle> blocks;
  for (int i = 0; i < count; ++i) {
    auto block = tiers::HeapBlockAllocator::Instance().Allocate(value_size);
    auto bytes = block.mutable_bytes();
    for (uint64_t b = 0; b < value_size; ++b) bytes[b] = static_cast<std::byte>((b * 131 + i) >> 3);
    const uint64_t checksum = BlockChecksum(bytes);
    blocks.push_back(std::move(block).Seal(checksum));
  }
  auto keys = std::vector<std::string>(count);
  for (int i = 0; i < count; ++i) keys[i] = "block-" + std::to_string(i);
  auto report = [&](const char* step, std::chrono::steady_clock::time_point start) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double bytes = static_cast<double>(value_size) * count;
    std::printf("%s %d %llu %.3f %.3f\n", step, count, static_cast<unsigned long long>(bytes),
                seconds, bytes / seconds / 1e9);
  };
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    const Status put = (*tier)->Put({1, keys[i]}, blocks[i].Clone());
    if (!put.ok()) {
      std::fprintf(stderr, "put: %s\n", put.ToString().c_str());
      return 1;
    }
  }
  report("put", start);
  start = std::chrono::steady_clock::now();
  for (int i = 0; i < count; ++i) {
    auto got = (*tier)->Get({1, keys[i]});
    if (!got.ok() || got->checksum() != blocks[i].checksum()) {
      std::fprintf(stderr, "get: %s\n", got.ok() ? "wrong bytes" : got.status().ToString().c_str());
      return 1;
    }
  }
  report("get", start);
  return 0;
}

}  // namespace
}  // namespace kvtier::bench

int main(int argc, char** argv) { return kvtier::bench::Run(argc, argv); }
