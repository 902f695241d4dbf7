// GetPrefix through a real kvtierd: the answer is the longest contiguous
// prefix, from any tier, ending at the first gap, at a failed read, or at
// the deadline when a lower tier is slower than it.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "client/client.h"
#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"

namespace kvtier {
namespace {

using client::Client;
using protocol::PrefixStop;
using protocol::TierId;

constexpr size_t kBlock = 1 << 20;

std::vector<std::byte> Bytes(uint32_t seed) { return testing::RandomBytes(kBlock, seed); }

std::vector<std::string> Keys(int count) {
  std::vector<std::string> keys;
  for (int i = 0; i < count; ++i) keys.push_back("block-" + std::to_string(i));
  return keys;
}

class PrefixGetTest : public ::testing::Test {
 protected:
  void Start(const std::string& config) {
    server_ = std::make_unique<testing::ServerProcess>(std::vector<std::string>{}, config);
    ASSERT_TRUE(server_->Start().ok()) << server_->log();
    client_ = testing::ConnectTo(*server_);
    ASSERT_NE(client_, nullptr);
  }

  void Put(const std::string& key, uint32_t seed) {
    ASSERT_TRUE(testing::PutOne(*client_, "kv", key, Bytes(seed)).ok()) << key;
  }

  static bool Holds(const client::GetValue& value, uint32_t seed) {
    return testing::SameBytes(value.bytes, Bytes(seed));
  }

  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(PrefixGetTest, StopsAtTheFirstGapAndNeverReturnsALaterBlock) {
  Start("namespaces: [{name: kv, tiers: [dram]}]\n");
  const auto keys = Keys(5);
  Put(keys[0], 0);
  Put(keys[1], 1);
  Put(keys[3], 3);  // block 2 is missing
  auto got = client_->GetPrefix("kv", keys, std::chrono::milliseconds(1000));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->stop_reason, PrefixStop::kMiss);
  ASSERT_EQ(got->values.size(), 2u);
  EXPECT_TRUE(Holds(got->values[0], 0));
  EXPECT_TRUE(Holds(got->values[1], 1));

  Put(keys[2], 2);
  Put(keys[4], 4);
  got = client_->GetPrefix("kv", keys, std::chrono::milliseconds(0));
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->stop_reason, PrefixStop::kComplete);
  ASSERT_EQ(got->values.size(), 5u);
  for (uint32_t i = 0; i < 5; ++i) EXPECT_TRUE(Holds(got->values[i], i)) << i;
}

TEST_F(PrefixGetTest, ReadsLowerTiersToCompleteThePrefix) {
  char pattern[] = "/tmp/kvtier-prefix-XXXXXX";
  const std::filesystem::path nvme = mkdtemp(pattern);
  Start("tiers: {dram: {capacity: 16MiB}, nvme: {directory: " + nvme.string() +
        ", capacity: 64MiB, segment_bytes: 4MiB}}\n"
        "namespaces: [{name: kv}]\n");
  const auto keys = Keys(40);  // 40 MiB through 16 MiB of DRAM
  for (uint32_t i = 0; i < 40; ++i) Put(keys[i], 100 + i);
  auto got = client_->GetPrefix("kv", keys, std::chrono::milliseconds(10'000));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->stop_reason, PrefixStop::kComplete);
  ASSERT_EQ(got->values.size(), 40u);
  int from_nvme = 0;
  for (uint32_t i = 0; i < 40; ++i) {
    EXPECT_TRUE(Holds(got->values[i], 100 + i)) << i;
    from_nvme += got->values[i].tier == TierId::kNvme;
  }
  EXPECT_GT(from_nvme, 0);
  std::filesystem::remove_all(nvme);
}

TEST_F(PrefixGetTest, AnswersAtTheDeadlineWhenALowerTierStalls) {
  // A Blob endpoint that accepts connections and never answers: a read of
  // Blob lasts until its 5 s operation timeout, far past the deadline.
  testing::SilentListener silent;
  const std::string endpoint = silent.blob_endpoint();
  setenv("KVTIER_TEST_BLOB_KEY", "a2V5", 1);
  char pattern[] = "/tmp/kvtier-prefix-XXXXXX";
  const std::filesystem::path nvme = mkdtemp(pattern);
  Start(
      "tiers:\n"
      "  nvme: {directory: " +
      nvme.string() +
      "}\n"
      "  blob: {endpoint: '" +
      endpoint +
      "', account: devstoreaccount1, key_env: KVTIER_TEST_BLOB_KEY, container: kv, "
      "operation_timeout_ms: 5000}\n"
      "namespaces: [{name: kv, tiers: [dram, nvme, blob]}]\n");
  const auto keys = Keys(3);
  Put(keys[0], 7);  // in DRAM; blocks 1 and 2 would have to come from Blob
  auto got = client_->GetPrefix("kv", keys, std::chrono::milliseconds(200));
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->stop_reason, PrefixStop::kDeadline);
  ASSERT_EQ(got->values.size(), 1u);
  EXPECT_TRUE(Holds(got->values[0], 7));
  EXPECT_TRUE(server_->running());
  server_.reset();
  std::filesystem::remove_all(nvme);
}

}  // namespace
}  // namespace kvtier
