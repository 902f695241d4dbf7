// Request classes through a real kvtierd with one worker thread: a KV read
// that needs the worker is served before dataset (bulk) reads queued ahead
// of it. The test checks the order of service, not how long anything took.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <thread>

#include "client/client.h"
#include "common/keys.h"
#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"

namespace kvtier {
namespace {

using client::Client;
using protocol::TierId;

constexpr size_t kBlock = 256 * 1024;

using testing::ServerCounter;

TEST(Fairness, AKvReadOvertakesQueuedDatasetReads) {
  // The dataset origin hangs: each bulk read holds the only worker until its
  // 2 s Blob timeout.
  testing::SilentListener origin;
  setenv("KVTIER_TEST_BLOB_KEY", "a2V5", 1);
  char pattern[] = "/tmp/kvtier-fairness-XXXXXX";
  const std::filesystem::path nvme = mkdtemp(pattern);
  testing::ServerProcess server(
      {},
      "tiers:\n"
      "  dram: {capacity: 4MiB}\n"
      "  nvme: {directory: " +
          nvme.string() +
          ", capacity: 64MiB, segment_bytes: 4MiB}\n"
          "  blob: {endpoint: '" +
          origin.blob_endpoint() +
          "', account: devstoreaccount1, key_env: KVTIER_TEST_BLOB_KEY, "
          "operation_timeout_ms: 2000}\n"
          "  workers: {threads: 1}\n"
          "namespaces:\n"
          "  - {name: kv}\n"
          "  - {name: data, kind: dataset, origin: {container: c, prefix: p/, block_bytes: "
          "1MiB}}\n");
  ASSERT_TRUE(server.Start().ok()) << server.log();
  client::ClientOptions options;
  options.port = server.port();
  auto connect = [&] {
    auto client = Client::Connect(options);
    EXPECT_TRUE(client.ok());
    return std::move(*client);
  };
  auto kv = connect();

  // A KV block that only NVMe holds: reading it needs the worker.
  const std::vector<std::byte> value(kBlock, std::byte{42});
  const std::vector<std::span<const std::byte>> values = {value};
  const std::vector<std::string> key = {"kv-0"};
  ASSERT_TRUE(kv->Put("kv", key, values).ok());
  for (int i = 1; kv->Exists("kv", key)->tiers[0] != TierId::kNvme; ++i) {
    const std::vector<std::string> filler = {"kv-" + std::to_string(i)};
    ASSERT_TRUE(kv->Put("kv", filler, values).ok());
  }

  // Two dataset reads: the first takes the worker, the second waits.
  auto bulk_a = connect();
  auto bulk_b = connect();
  const std::vector<std::string> block_0 = {*ObjectBlockKey("shard.bin", 0, 256)};
  const std::vector<std::string> block_1 = {*ObjectBlockKey("shard.bin", 1, 256)};
  const uint64_t deferred = ServerCounter(*kv, "deferred_requests");
  auto first = bulk_a->GetAsync("data", block_0);
  while (ServerCounter(*kv, "deferred_requests") == deferred) std::this_thread::yield();
  auto second = bulk_b->GetAsync("data", block_1);
  while (ServerCounter(*kv, "worker_queued_jobs") < 1) std::this_thread::yield();

  // The KV read queues behind the second dataset read, and runs before it.
  auto latency = kv->GetAsync("kv", key);
  auto got = latency.get();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->values[0].status.ok()) << got->values[0].status.ToString();
  EXPECT_EQ(got->values[0].tier, TierId::kNvme);
  EXPECT_NE(second.wait_for(std::chrono::seconds(0)), std::future_status::ready)
      << "the queued dataset read was served before the KV read";
  // The dataset reads end too (their origin never answers: unavailable).
  EXPECT_TRUE(first.get().ok());
  EXPECT_TRUE(second.get().ok());
  std::filesystem::remove_all(nvme);
}

}  // namespace
}  // namespace kvtier
