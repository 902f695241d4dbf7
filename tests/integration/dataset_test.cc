// Dataset namespaces through a real kvtierd over a real Azurite origin:
// read-through, one origin read for many concurrent readers, block bounds,
// and a changed source never mixing versions.

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "client/client.h"
#include "common/keys.h"
#include "tests/support/azurite_process.h"
#include "tests/support/server_process.h"
#include "tiers/blob/blob_client.h"

namespace kvtier {
namespace {

using client::Client;
using protocol::TierId;

constexpr uint64_t kBlock = 1 << 20;

std::vector<std::byte> Bytes(size_t size, uint32_t seed) {
  std::vector<std::byte> out(size);
  std::mt19937 random(seed);
  for (auto& b : out) b = static_cast<std::byte>(random());
  return out;
}

uint64_t Counter(const client::StatsResult& stats, const std::string& tier,
                 const std::string& name) {
  const auto value = client::FindTierCounter(stats, tier, name);
  if (!value) ADD_FAILURE() << "no counter " << tier << "." << name;
  return value.value_or(0);
}

std::string BlockKey(const std::string& object, uint64_t index) {
  auto key = ObjectBlockKey(object, index, 256);
  EXPECT_TRUE(key.ok());
  return key.ok() ? *key : "";
}

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(azurite_.Start().ok()) << azurite_.log();
    tiers::blob::BlobClientOptions options;
    options.endpoint = azurite_.endpoint();
    options.account = testing::kAzuriteAccount;
    options.account_key = testing::kAzuriteKey;
    options.container = "training";
    auto origin = tiers::blob::BlobClient::Create(options);
    ASSERT_TRUE(origin.ok());
    origin_ = std::move(*origin);
    ASSERT_TRUE(origin_->CreateContainer().ok());
    object_ = Bytes(2 * kBlock + kBlock / 2, 1);  // three blocks, the last one half
    ASSERT_TRUE(origin_->PutBlob("shards/train-0001.bin", object_, {}, false).ok());

    large_ = Bytes(24 * kBlock, 3);  // three times the DRAM tier
    ASSERT_TRUE(origin_->PutBlob("shards/train-0002.bin", large_, {}, false).ok());

    char pattern[] = "/tmp/kvtier-dataset-nvme-XXXXXX";
    nvme_dir_ = mkdtemp(pattern);
    setenv("KVTIER_TEST_BLOB_KEY", testing::kAzuriteKey, 1);
    const std::string config =
        "tiers:\n"
        "  dram: {capacity: 8MiB}\n"
        "  nvme: {directory: " +
        nvme_dir_.string() +
        ", capacity: 256MiB, segment_bytes: 4MiB}\n"
        "  blob: {endpoint: '" +
        azurite_.endpoint() +
        "', account: devstoreaccount1, key_env: KVTIER_TEST_BLOB_KEY, "
        "operation_timeout_ms: 3000}\n"
        "namespaces:\n"
        "  - name: dataset\n"
        "    kind: dataset\n"
        "    tiers: [dram, nvme]\n"
        "    origin: {container: training, prefix: shards/, block_bytes: "
        "1MiB}\n";
    server_ = std::make_unique<testing::ServerProcess>(std::vector<std::string>{}, config);
    ASSERT_TRUE(server_->Start().ok()) << server_->log();
  }

  std::unique_ptr<Client> Connect() {
    client::ClientOptions options;
    options.port = server_->port();
    auto client = Client::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }

  // Whether `got` is block `index` of `object`.
  static bool IsBlock(std::span<const std::byte> got, const std::vector<std::byte>& object,
                      uint64_t index) {
    const uint64_t offset = index * kBlock;
    const uint64_t length = std::min<uint64_t>(kBlock, object.size() - offset);
    return got.size() == length && std::memcmp(got.data(), object.data() + offset, length) == 0;
  }

  void TearDown() override {
    server_.reset();
    std::error_code ec;
    std::filesystem::remove_all(nvme_dir_, ec);
  }

  testing::AzuriteProcess azurite_;
  std::unique_ptr<tiers::blob::BlobClient> origin_;
  std::vector<std::byte> object_;
  std::vector<std::byte> large_;
  std::filesystem::path nvme_dir_;
  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(DatasetTest, ThirtyTwoConcurrentReadersCauseOneOriginRead) {
  constexpr int kReaders = 32;
  const std::vector<std::string> keys = {BlockKey("train-0001.bin", 1)};
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kReaders; ++i) clients.push_back(Connect());
  std::vector<int> correct(kReaders, 0);
  std::vector<std::thread> readers;
  for (int i = 0; i < kReaders; ++i) {
    readers.emplace_back([&, i] {
      auto got = clients[i]->Get("dataset", keys);
      correct[i] =
          got.ok() && got->values[0].status.ok() && IsBlock(got->values[0].bytes, object_, 1);
    });
  }
  for (auto& t : readers) t.join();
  for (int i = 0; i < kReaders; ++i) EXPECT_TRUE(correct[i]) << "reader " << i;
  auto stats = clients[0]->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(Counter(*stats, "origin/dataset", "reads"), 1u);
  EXPECT_EQ(Counter(*stats, "origin/dataset", "fills"), 1u);

  // Now a DRAM hit: no more origin reads.
  auto again = clients[0]->Get("dataset", keys);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->values[0].tier, TierId::kDram);
  stats = clients[0]->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(Counter(*stats, "origin/dataset", "reads"), 1u);
}

TEST_F(DatasetTest, BlocksFollowTheObjectsBoundaries) {
  auto client = Connect();
  const std::vector<std::string> keys = {
      BlockKey("train-0001.bin", 0), BlockKey("train-0001.bin", 2), BlockKey("train-0001.bin", 3),
      BlockKey("missing.bin", 0), "not a dataset key"};
  auto got = client->Get("dataset", keys);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->values[0].status.ok()) << got->values[0].status.ToString();
  EXPECT_TRUE(IsBlock(got->values[0].bytes, object_, 0));
  EXPECT_EQ(got->values[0].tier, TierId::kBlob);
  ASSERT_TRUE(got->values[1].status.ok());
  EXPECT_TRUE(IsBlock(got->values[1].bytes, object_, 2));          // the short last block
  EXPECT_EQ(got->values[2].status.code(), StatusCode::kNotFound);  // past the end
  EXPECT_EQ(got->values[3].status.code(), StatusCode::kNotFound);  // no such object
  EXPECT_EQ(got->values[4].status.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(server_->running());
}

TEST_F(DatasetTest, AChangedSourceIsReadWhole) {
  auto client = Connect();
  const std::vector<std::string> first = {BlockKey("train-0001.bin", 0)};
  auto got = client->Get("dataset", first);
  ASSERT_TRUE(got.ok() && got->values[0].status.ok());
  EXPECT_TRUE(IsBlock(got->values[0].bytes, object_, 0));

  // The source is replaced; the next block comes whole from the new version.
  const auto replaced = Bytes(3 * kBlock, 2);
  ASSERT_TRUE(origin_->PutBlob("shards/train-0001.bin", replaced, {}, false).ok());
  const std::vector<std::string> second = {BlockKey("train-0001.bin", 2)};
  got = client->Get("dataset", second);
  ASSERT_TRUE(got.ok() && got->values[0].status.ok()) << got->values[0].status.ToString();
  EXPECT_TRUE(IsBlock(got->values[0].bytes, replaced, 2));
  auto stats = client->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(Counter(*stats, "origin/dataset", "source_changes"), 1u);
}

TEST_F(DatasetTest, EvictedDatasetBlocksAreServedFromNvmeWithoutAnotherOriginRead) {
  auto client = Connect();
  constexpr int kBlocks = 24;
  for (int i = 0; i < kBlocks; ++i) {
    const std::vector<std::string> keys = {BlockKey("train-0002.bin", i)};
    auto got = client->Get("dataset", keys);
    ASSERT_TRUE(got.ok() && got->values[0].status.ok()) << i;
    EXPECT_TRUE(IsBlock(got->values[0].bytes, large_, i)) << i;
  }
  // Evictions are written to NVMe in the background.
  client::StatsResult stats;
  do {
    auto now = client->Stats();
    ASSERT_TRUE(now.ok());
    stats = *now;
  } while (Counter(stats, "dram", "demotion_queue_bytes") != 0);
  EXPECT_EQ(Counter(stats, "origin/dataset", "reads"), static_cast<uint64_t>(kBlocks));
  EXPECT_GT(Counter(stats, "dram", "demotions"), 0u);

  const std::vector<std::string> first = {BlockKey("train-0002.bin", 0)};
  auto got = client->Get("dataset", first);
  ASSERT_TRUE(got.ok() && got->values[0].status.ok());
  EXPECT_EQ(got->values[0].tier, TierId::kNvme);
  EXPECT_TRUE(IsBlock(got->values[0].bytes, large_, 0));
  auto after = client->Stats();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(Counter(*after, "origin/dataset", "reads"), static_cast<uint64_t>(kBlocks));
}

TEST_F(DatasetTest, OriginDownFailsMissesWhileCachedBlocksAreServed) {
  auto client = Connect();
  const std::vector<std::string> cached = {BlockKey("train-0001.bin", 0)};
  auto got = client->Get("dataset", cached);
  ASSERT_TRUE(got.ok() && got->values[0].status.ok());
  azurite_.Kill();
  // Cached: still served, from DRAM.
  got = client->Get("dataset", cached);
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->values[0].status.ok()) << got->values[0].status.ToString();
  EXPECT_EQ(got->values[0].tier, TierId::kDram);
  // Not cached: a clear, retryable error once the retries are spent.
  const std::vector<std::string> missing = {BlockKey("train-0001.bin", 1)};
  got = client->Get("dataset", missing);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->values[0].status.code(), StatusCode::kUnavailable)
      << got->values[0].status.ToString();
  EXPECT_TRUE(got->values[0].status.retryable());
  EXPECT_TRUE(server_->running());
  auto stats = client->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_GE(Counter(*stats, "origin/dataset", "errors"), 1u);
}

}  // namespace
}  // namespace kvtier
