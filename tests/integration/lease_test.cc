// Read leases through a real kvtierd: a lease taken with MatchPrefix keeps
// the matched blocks readable under eviction pressure until it is released
// or expires; the lease table is bounded.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "client/client.h"
#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"

namespace kvtier {
namespace {

using client::Client;

constexpr size_t kBlock = 1 << 20;

std::vector<std::byte> Bytes(uint32_t seed) { return testing::RandomBytes(kBlock, seed); }

using testing::ServerCounter;

class LeaseTest : public ::testing::Test {
 protected:
  void Start(const std::string& leases = "") {
    // DRAM only, 8 MiB: every further put of 1 MiB evicts an older block.
    server_ = std::make_unique<testing::ServerProcess>(
        std::vector<std::string>{}, "tiers: {dram: {capacity: 8MiB, policy: lru}}\n" + leases +
                                        "namespaces: [{name: kv, tiers: [dram]}]\n");
    ASSERT_TRUE(server_->Start().ok()) << server_->log();
    client_ = testing::ConnectTo(*server_);
    ASSERT_NE(client_, nullptr);
  }

  void Put(const std::string& key, uint32_t seed) {
    ASSERT_TRUE(testing::PutOne(*client_, "kv", key, Bytes(seed)).ok()) << key;
  }

  // Writes 32 MiB of other blocks: four times the DRAM tier.
  void Pressure(const std::string& prefix) {
    for (int i = 0; i < 32; ++i) Put(prefix + std::to_string(i), 1000 + i);
  }

  // How many of `keys` read back with their own bytes, with `lease_id`.
  int Readable(const std::vector<std::string>& keys, uint32_t first_seed, uint64_t lease_id = 0) {
    auto got = client_->Get("kv", keys, lease_id);
    EXPECT_TRUE(got.ok());
    if (!got.ok()) return 0;
    int readable = 0;
    for (size_t i = 0; i < keys.size(); ++i) {
      const auto expected = Bytes(first_seed + static_cast<uint32_t>(i));
      const auto& value = got->values[i];
      if (value.status.ok() && testing::SameBytes(value.bytes, expected)) {
        ++readable;
      }
    }
    return readable;
  }

  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(LeaseTest, LeasedBlocksSurviveEvictionPressureUntilReleased) {
  Start("leases: {max_bytes: 4MiB}\n");  // half the DRAM tier may be leased
  // 6 MiB: nothing is evicted before the match.
  const std::vector<std::string> leased = {"p0", "p1", "p2"};
  const std::vector<std::string> unleased = {"q0", "q1", "q2"};
  for (int i = 0; i < 3; ++i) Put(leased[i], 10 + i);
  for (int i = 0; i < 3; ++i) Put(unleased[i], 20 + i);

  auto match = client_->MatchPrefix("kv", leased, /*lease_ms=*/60'000);
  ASSERT_TRUE(match.ok()) << match.status().ToString();
  EXPECT_EQ(match->matched, 3u);
  ASSERT_NE(match->lease_id, 0u);
  EXPECT_EQ(match->lease_ms, 30'000u);  // capped by leases.max_ms

  Pressure("x");
  EXPECT_EQ(Readable(leased, 10, match->lease_id), 3);
  EXPECT_EQ(Readable(unleased, 20), 0);  // the pressure was real
  EXPECT_EQ(ServerCounter(*client_, "leases_active"), 1u);

  auto released = client_->Release(match->lease_id);
  ASSERT_TRUE(released.ok());
  EXPECT_TRUE(*released);
  released = client_->Release(match->lease_id);
  ASSERT_TRUE(released.ok());
  EXPECT_FALSE(*released);  // already gone
  Pressure("y");
  EXPECT_EQ(Readable(leased, 10), 0);
}

TEST_F(LeaseTest, ExpiredLeasesAreReclaimedWithoutTheClient) {
  Start("leases: {max_bytes: 4MiB}\n");
  const std::vector<std::string> keys = {"e0", "e1"};
  Put(keys[0], 30);
  Put(keys[1], 31);
  auto match = client_->MatchPrefix("kv", keys, /*lease_ms=*/100);
  ASSERT_TRUE(match.ok() && match->lease_id != 0);
  // The reaper ends it; no client call is needed (Stats only observes).
  while (ServerCounter(*client_, "leases_expired") == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(ServerCounter(*client_, "leases_active"), 0u);
  EXPECT_EQ(ServerCounter(*client_, "leased_bytes"), 0u);
  Pressure("z");
  EXPECT_EQ(Readable(keys, 30, match->lease_id), 0);
}

TEST_F(LeaseTest, TheLeaseTableIsBounded) {
  Start("leases: {max_leases: 1, default_ms: 5000}\n");
  Put("a", 1);
  const std::vector<std::string> keys = {"a"};
  // default_ms applies when the request names no lease time.
  auto first = client_->MatchPrefix("kv", keys);
  ASSERT_TRUE(first.ok());
  EXPECT_NE(first->lease_id, 0u);
  EXPECT_EQ(first->lease_ms, 5000u);
  auto second = client_->MatchPrefix("kv", keys);
  EXPECT_EQ(second.status().code(), StatusCode::kResourceExhausted) << second.status().ToString();
  EXPECT_EQ(ServerCounter(*client_, "leases_refused"), 1u);
  ASSERT_TRUE(client_->Release(first->lease_id).ok());
  EXPECT_TRUE(client_->MatchPrefix("kv", keys).ok());
  // Every opcode has its request counter, the newest ones too.
  EXPECT_EQ(ServerCounter(*client_, "requests_release"), 1u);
  EXPECT_EQ(ServerCounter(*client_, "requests_match_prefix"), 3u);
  EXPECT_TRUE(server_->running());
}

TEST_F(LeaseTest, LeasedBlocksOnNvmeStayReadableAfterNvmeEvictsThem) {
  char pattern[] = "/tmp/kvtier-lease-XXXXXX";
  const std::filesystem::path nvme = mkdtemp(pattern);
  server_ = std::make_unique<testing::ServerProcess>(std::vector<std::string>{},
                                                     "tiers:\n"
                                                     "  dram: {capacity: 8MiB, policy: lru}\n"
                                                     "  nvme: {directory: " +
                                                         nvme.string() +
                                                         ", capacity: 16MiB, segment_bytes: 2MiB}\n"
                                                         "namespaces: [{name: kv}]\n");
  ASSERT_TRUE(server_->Start().ok()) << server_->log();
  client_ = testing::ConnectTo(*server_);
  ASSERT_NE(client_, nullptr);
  const std::vector<std::string> leased = {"n0"};
  const std::vector<std::string> unleased = {"m0"};
  Put("n0", 40);
  Put("m0", 41);
  // Until both are only on NVMe (evicted from DRAM and demoted).
  for (int i = 0;; ++i) {
    const auto n0 = client_->Exists("kv", leased)->tiers[0];
    const auto m0 = client_->Exists("kv", unleased)->tiers[0];
    ASSERT_NE(n0, protocol::TierId::kNone) << "after " << i << " fillers";
    ASSERT_NE(m0, protocol::TierId::kNone) << "after " << i << " fillers";
    if (n0 == protocol::TierId::kNvme && m0 == protocol::TierId::kNvme) break;
    Put("f" + std::to_string(i), 500 + i);
  }
  auto match = client_->MatchPrefix("kv", leased, /*lease_ms=*/60'000);
  ASSERT_TRUE(match.ok() && match->lease_id != 0);
  EXPECT_EQ(match->tiers[0], protocol::TierId::kNvme);
  Pressure("w");                         // 32 MiB through 8 MiB of NVMe: both segments go
  EXPECT_EQ(Readable(unleased, 41), 0);  // NVMe did evict
  EXPECT_EQ(Readable(leased, 40, match->lease_id), 1);
  ASSERT_TRUE(client_->Release(match->lease_id).ok());
  EXPECT_EQ(Readable(leased, 40, match->lease_id), 0);  // its bytes went with the lease
  client_.reset();
  server_.reset();
  std::filesystem::remove_all(nvme);
}

}  // namespace
}  // namespace kvtier
