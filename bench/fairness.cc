// kvtier-fairness: KV read latency with and without a concurrent bulk
// stream on the same server, to show what request classes buy.
//
//   kvtier-fairness --server HOST:PORT --kv-namespace NS --bulk-namespace NS
//                   [--blocks N] [--value-size BYTES] [--kv-reads N]
//                   [--bulk-streams S] [--bulk-client 0|1]
//
// Puts N blocks into each namespace (sized so that most reads go to NVMe
// and need the server's workers), then times --kv-reads Gets of random KV
// blocks on one connection: first alone, then while S connections read
// random bulk blocks as fast as they can (marked bulk when --bulk-client is
// 1). Prints two lines, "<phase> p50_us X p99_us Y", then
// "bulk_gbps Z". Every byte read is checked against what was put.

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/latency.h"
#include "client/client.h"
#include "common/byte_size.h"

namespace kvtier::bench {
namespace {

int Usage() {
  std::fprintf(stderr,
               "usage: kvtier-fairness --server HOST:PORT --kv-namespace NS --bulk-namespace NS "
               "[--blocks N] [--value-size BYTES] [--kv-reads N] [--bulk-streams S] "
               "[--bulk-client 0|1]\n");
  return 2;
}

std::vector<std::byte> Value(uint64_t size, uint32_t seed) {
  std::vector<std::byte> out(size);
  std::mt19937 random(seed);
  for (auto& b : out) b = static_cast<std::byte>(random());
  return out;
}

std::string Key(uint32_t i) { return "block-" + std::to_string(i); }

struct Options {
  client::ClientOptions client;
  std::string kv_ns, bulk_ns;
  uint32_t blocks = 512;
  uint64_t value_size = 256 << 10;
  uint32_t kv_reads = 2000;
  uint32_t bulk_streams = 4;
  bool bulk_client = true;
};

// Times `reads` random KV Gets; false on a wrong or missing block.
bool TimeKvReads(client::Client& client, const Options& o, OpStats& stats) {
  std::mt19937 random(7);
  for (uint32_t r = 0; r < o.kv_reads; ++r) {
    const uint32_t i = random() % o.blocks;
    const std::vector<std::string> keys = {Key(i)};
    const auto start = std::chrono::steady_clock::now();
    auto got = client.Get(o.kv_ns, keys);
    const auto end = std::chrono::steady_clock::now();
    if (!got.ok() || !got->values[0].status.ok()) {
      std::fprintf(stderr, "kv read of %s failed\n", keys[0].c_str());
      return false;
    }
    const auto expected = Value(o.value_size, i);
    const auto bytes = got->values[0].bytes;
    if (!std::equal(bytes.begin(), bytes.end(), expected.begin(), expected.end())) {
      ++stats.verify_failures;
      return false;
    }
    stats.latencies_ns.push_back(
        std::chrono::duration_cast<std::chrono::nanoseconds>(end - start).count());
  }
  return true;
}

int Run(int argc, char** argv) {
  Options o;
  std::string server;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--server") {
      server = value;
    } else if (flag == "--kv-namespace") {
      o.kv_ns = value;
    } else if (flag == "--bulk-namespace") {
      o.bulk_ns = value;
    } else if (flag == "--blocks") {
      o.blocks = static_cast<uint32_t>(std::atoi(value.c_str()));
    } else if (flag == "--value-size") {
      auto size = ParseByteSize(value);
      if (!size.ok()) return Usage();
      o.value_size = *size;
    } else if (flag == "--kv-reads") {
      o.kv_reads = static_cast<uint32_t>(std::atoi(value.c_str()));
    } else if (flag == "--bulk-streams") {
      o.bulk_streams = static_cast<uint32_t>(std::atoi(value.c_str()));
    } else if (flag == "--bulk-client") {
      o.bulk_client = value == "1";
    } else {
      return Usage();
    }
  }
  const size_t colon = server.rfind(':');
  if (colon == std::string::npos || o.kv_ns.empty() || o.bulk_ns.empty() || o.blocks == 0) {
    return Usage();
  }
  o.client.host = server.substr(0, colon);
  o.client.port = static_cast<uint16_t>(std::atoi(server.c_str() + colon + 1));

  auto kv = client::Client::Connect(o.client);
  if (!kv.ok()) {
    std::fprintf(stderr, "%s\n", kv.status().ToString().c_str());
    return 1;
  }
  for (uint32_t i = 0; i < o.blocks; ++i) {
    const auto value = Value(o.value_size, i);
    const std::vector<std::string> keys = {Key(i)};
    const std::vector<std::span<const std::byte>> values = {value};
    for (const std::string& ns : {o.kv_ns, o.bulk_ns}) {
      auto put = (*kv)->Put(ns, keys, values);
      if (!put.ok() || !put->all_ok()) {
        std::fprintf(stderr, "put of %s into %s failed\n", keys[0].c_str(), ns.c_str());
        return 1;
      }
    }
  }

  OpStats alone;
  if (!TimeKvReads(**kv, o, alone)) return 1;

  std::atomic<bool> stop{false};
  std::atomic<uint64_t> bulk_bytes{0};
  std::atomic<bool> bulk_failed{false};
  std::vector<std::thread> streams;
  client::ClientOptions bulk_options = o.client;
  bulk_options.bulk = o.bulk_client;
  for (uint32_t s = 0; s < o.bulk_streams; ++s) {
    streams.emplace_back([&, s] {
      auto client = client::Client::Connect(bulk_options);
      if (!client.ok()) {
        bulk_failed = true;
        return;
      }
      std::mt19937 random(100 + s);
      while (!stop.load()) {
        // A batch of 8: bulk readers move many blocks per request.
        std::vector<std::string> keys;
        for (int k = 0; k < 8; ++k) keys.push_back(Key(random() % o.blocks));
        auto got = (*client)->Get(o.bulk_ns, keys);
        if (!got.ok()) {
          bulk_failed = true;
          return;
        }
        for (const auto& value : got->values) bulk_bytes += value.bytes.size();
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the streams are running
  OpStats shared;
  const auto start = std::chrono::steady_clock::now();
  const bool ok = TimeKvReads(**kv, o, shared);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const uint64_t moved = bulk_bytes.load();
  stop = true;
  for (auto& stream : streams) stream.join();
  if (!ok || bulk_failed) return 1;

  std::printf("kv_alone p50_us %.0f p99_us %.0f\n", alone.PercentileUs(0.5),
              alone.PercentileUs(0.99));
  std::printf("kv_with_bulk p50_us %.0f p99_us %.0f\n", shared.PercentileUs(0.5),
              shared.PercentileUs(0.99));
  std::printf("bulk_gbps %.3f\n", static_cast<double>(moved) / seconds / 1e9);
  return 0;
}

}  // namespace
}  // namespace kvtier::bench

int main(int argc, char** argv) { return kvtier::bench::Run(argc, argv); }
