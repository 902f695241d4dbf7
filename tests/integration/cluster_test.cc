// Several servers behind one ClusterClient: keys spread by rendezvous
// hashing, every operation reaches the owners and merges in key order, and a
// fourth server takes over only the keys that now rank it first.

#include <gtest/gtest.h>

#include <map>

#include "client/cluster_client.h"
#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"

namespace kvtier {
namespace {

using client::ClusterClient;
using client::ClusterOptions;

std::string Name(const testing::ServerProcess& server) {
  return "127.0.0.1:" + std::to_string(server.port());
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (auto& server : servers_) ASSERT_TRUE(server.Start().ok()) << server.log();
  }
  void TearDown() override {
    for (auto& server : servers_) EXPECT_EQ(server.Stop(), 0) << server.log();
  }
  std::unique_ptr<ClusterClient> Connect(size_t count) {
    ClusterOptions options;
    for (size_t i = 0; i < count; ++i) options.servers.push_back(Name(servers_[i]));
    auto cluster = ClusterClient::Connect(options);
    EXPECT_TRUE(cluster.ok()) << cluster.status().ToString();
    return cluster.ok() ? std::move(*cluster) : nullptr;
  }
  testing::ServerProcess servers_[4];
};

TEST_F(ClusterTest, KeysSpreadOverTheServersAndReadBackInOrder) {
  auto cluster = Connect(3);
  ASSERT_TRUE(cluster);
  std::vector<std::string> keys;
  std::vector<std::vector<std::byte>> values;
  std::vector<std::span<const std::byte>> views;
  for (int i = 0; i < 300; ++i) {
    keys.push_back("block-" + std::to_string(i));
    values.push_back(testing::RandomBytes(1024 + i, i));
  }
  for (const auto& v : values) views.emplace_back(v);
  auto put = cluster->Put("demo", keys, views);
  ASSERT_TRUE(put.ok() && put->all_ok());

  // Each server holds exactly the keys it owns, and each owns a fair share.
  for (size_t s = 0; s < 3; ++s) {
    auto direct = testing::ConnectTo(servers_[s]);
    auto exists = direct->Exists("demo", keys);
    ASSERT_TRUE(exists.ok());
    size_t held = 0;
    for (size_t i = 0; i < keys.size(); ++i) {
      const bool here = exists->tiers[i] != protocol::TierId::kNone;
      EXPECT_EQ(here, cluster->OwnerOf(keys[i]) == s) << keys[i];
      held += here;
    }
    EXPECT_GT(held, 60u) << "server " << s;  // 100 expected; far from 0 or 300
    EXPECT_LT(held, 140u) << "server " << s;
  }

  std::vector<std::string> asked = {keys[5], "absent", keys[250], keys[0]};
  auto got = cluster->Get("demo", asked);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(testing::SameBytes(got->values[0].bytes, values[5]));
  EXPECT_EQ(got->values[1].status.code(), StatusCode::kNotFound);
  EXPECT_TRUE(testing::SameBytes(got->values[2].bytes, values[250]));
  EXPECT_TRUE(testing::SameBytes(got->values[3].bytes, values[0]));

  // A prefix whose keys live on different servers.
  std::vector<std::string> prefix = {keys[0], keys[1], keys[2], "gap", keys[3]};
  auto match = cluster->MatchPrefix("demo", prefix);
  ASSERT_TRUE(match.ok());
  EXPECT_EQ(match->matched, 3u);

  auto deleted = cluster->Delete("demo", std::vector<std::string>{keys[7], "absent"});
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(deleted->statuses[0].ok());
  EXPECT_EQ(deleted->statuses[1].code(), StatusCode::kNotFound);
}

TEST_F(ClusterTest, AFourthServerTakesOnlyTheKeysThatNowRankItFirst) {
  std::vector<std::string> three, four;
  for (size_t i = 0; i < 3; ++i) three.push_back(Name(servers_[i]));
  four = three;
  four.push_back(Name(servers_[3]));
  size_t moved = 0;
  constexpr size_t kKeys = 4000;
  for (size_t i = 0; i < kKeys; ++i) {
    const std::string key = "k" + std::to_string(i);
    const size_t before = client::RendezvousOwner(three, key);
    const size_t after = client::RendezvousOwner(four, key);
    if (after != before) {
      EXPECT_EQ(after, 3u) << key << " moved between two old servers";
      ++moved;
    }
  }
  // About a quarter move, all of them to the new server.
  EXPECT_GT(moved, kKeys / 4 - kKeys / 10);
  EXPECT_LT(moved, kKeys / 4 + kKeys / 10);
  // And clients agree whatever order the list is in.
  std::vector<std::string> shuffled = {four[2], four[0], four[3], four[1]};
  for (size_t i = 0; i < 100; ++i) {
    const std::string key = "k" + std::to_string(i);
    EXPECT_EQ(four[client::RendezvousOwner(four, key)],
              shuffled[client::RendezvousOwner(shuffled, key)]);
  }
}

TEST_F(ClusterTest, ServersFromADnsName) {
  // The name goes through the resolver; every address it yields gets the
  // port. (A numeric name: "localhost" may also yield ::1, where no test
  // server listens.)
  ClusterOptions options;
  options.dns_name = "127.0.0.1";
  options.port = servers_[0].port();
  auto cluster = ClusterClient::Connect(options);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  ASSERT_EQ((*cluster)->servers().size(), 1u);
  EXPECT_EQ((*cluster)->servers()[0], Name(servers_[0]));
  const auto value = testing::RandomBytes(100, 1);
  auto put = (*cluster)->Put("demo", std::vector<std::string>{"dns"},
                             std::vector<std::span<const std::byte>>{value});
  ASSERT_TRUE(put.ok() && put->all_ok());
}

TEST(ClusterConnect, AnUnreachableServerIsNamed) {
  ClusterOptions options;
  options.servers = {"127.0.0.1:1"};
  auto cluster = ClusterClient::Connect(options);
  EXPECT_EQ(cluster.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(cluster.status().message().find("127.0.0.1:1"), std::string::npos);
  EXPECT_FALSE(ClusterClient::Connect(ClusterOptions{}).ok());
}

}  // namespace
}  // namespace kvtier
