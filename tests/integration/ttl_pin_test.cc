// Expiry and pins through a real kvtierd: a block put with a TTL reads as a
// miss once it has passed (per key, or the namespace's default), hard-pinned
// blocks survive eviction pressure and are bounded by the namespace's quota.

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "client/client.h"
#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"

namespace kvtier {
namespace {

using client::Client;
using client::PutOptions;
using protocol::Pin;

constexpr size_t kBlock = 256 * 1024;

class TtlPinTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ =
        std::make_unique<testing::ServerProcess>(std::vector<std::string>{},
                                                 "tiers: {dram: {capacity: 8MiB, policy: lru}}\n"
                                                 "namespaces:\n"
                                                 "  - {name: kv, tiers: [dram], pin_quota: 1MiB}\n"
                                                 "  - {name: short, tiers: [dram], ttl_ms: 50}\n"
                                                 "  - {name: docs, kind: kb, tiers: [dram]}\n");
    ASSERT_TRUE(server_->Start().ok()) << server_->log();
    client_ = testing::ConnectTo(*server_);
    ASSERT_NE(client_, nullptr);
  }

  Status Put(const std::string& ns, const std::string& key, const PutOptions& options = {}) {
    return testing::PutOne(*client_, ns, key, std::vector<std::byte>(kBlock, std::byte{9}),
                           options);
  }

  bool Present(const std::string& ns, const std::string& key) {
    const std::vector<std::string> keys = {key};
    auto got = client_->Get(ns, keys);
    return got.ok() && got->values[0].status.ok();
  }

  // Waits (no time limit of its own: the test's timeout bounds it) until
  // `key` reads as a miss.
  void WaitUntilMissing(const std::string& ns, const std::string& key) {
    while (Present(ns, key)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }

  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(TtlPinTest, BlocksExpireByTheirOwnTtlOrTheNamespaceDefault) {
  ASSERT_TRUE(Put("kv", "brief", {.ttls_ms = {100}, .pins = {}}).ok());
  ASSERT_TRUE(Put("kv", "lasting").ok());
  ASSERT_TRUE(Put("short", "default").ok());
  WaitUntilMissing("kv", "brief");
  WaitUntilMissing("short", "default");
  EXPECT_TRUE(Present("kv", "lasting"));  // no TTL: it stays
  auto stats = client_->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_GE(client::FindTierCounter(*stats, "dram", "expired").value_or(0), 2u);
}

TEST_F(TtlPinTest, HardPinnedBlocksSurvivePressureWithinTheQuota) {
  const PutOptions hard{.ttls_ms = {}, .pins = {Pin::kHard}};
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(Put("kv", "h" + std::to_string(i), hard).ok()) << i;
  // The quota (1 MiB) is used up: another hard pin is refused, retryably.
  EXPECT_EQ(Put("kv", "h4", hard).code(), StatusCode::kResourceExhausted);
  for (int i = 0; i < 128; ++i) ASSERT_TRUE(Put("kv", "u" + std::to_string(i)).ok()) << i;
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(Present("kv", "h" + std::to_string(i))) << i;
  EXPECT_FALSE(Present("kv", "u0"));  // the pressure was real
  EXPECT_TRUE(server_->running());
}

TEST_F(TtlPinTest, KbBlocksReturnTheirMetadata) {
  const ModelIdentity producer{"m/x", "bf16", "nhd", 1};
  const PutOptions options{
      .ttls_ms = {},
      .pins = {},
      .kb = {{.token_count = 812, .position_offset = 0, .producer = producer.Fingerprint()}}};
  ASSERT_TRUE(Put("docs", "chunk-1", options).ok());
  const std::vector<std::string> keys = {"chunk-1"};
  auto got = client_->Get("docs", keys);
  ASSERT_TRUE(got.ok() && got->values[0].status.ok());
  EXPECT_EQ(got->values[0].kb.token_count, 812u);
  EXPECT_EQ(got->values[0].kb.producer, producer.Fingerprint());
  auto prefix = client_->GetPrefix("docs", keys, std::chrono::milliseconds(0));
  ASSERT_TRUE(prefix.ok() && prefix->values.size() == 1);
  EXPECT_EQ(prefix->values[0].kb.token_count, 812u);
  EXPECT_EQ(prefix->values[0].kb.producer, producer.Fingerprint());
  // kb namespaces soft-pin by default: the block is held against eviction.
  for (int i = 0; i < 64; ++i) ASSERT_TRUE(Put("kv", "u" + std::to_string(i)).ok());
  EXPECT_TRUE(Present("docs", "chunk-1"));
}

}  // namespace
}  // namespace kvtier
