#include <gtest/gtest.h>

#include "server/config.h"

namespace kvtier::server {
namespace {

TEST(Config, EmbeddedDefaultIsValidAndMatchesTheDocumentedShape) {
  auto config = ParseConfig(EmbeddedDefaultConfigText());
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_TRUE(config->Validate().ok()) << config->Validate().ToString();
  EXPECT_EQ(config->listener.host, "127.0.0.1");
  EXPECT_EQ(config->listener.port, 7400);
  EXPECT_EQ(config->dram.capacity_bytes, 1ull << 30);
  EXPECT_EQ(config->limits.max_key_bytes, 256u);
  EXPECT_EQ(config->limits.max_value_bytes, 64ull << 20);
  bool has_demo = false;
  for (const auto& ns : config->namespaces) has_demo |= ns.name == "demo";
  EXPECT_TRUE(has_demo);
}

TEST(Config, ParsesEveryOption) {
  auto config = ParseConfig(R"(
server:
  name: rack-7
  listen: 0.0.0.0:9000
  io_threads: 4
  max_connections: 10
  idle_timeout_ms: 1000
  frame_timeout_ms: 500
  max_queued_reply_bytes: 1GiB
log: {level: debug}
limits: {max_metadata_bytes: 64KiB, max_keys_per_request: 128, max_key_bytes: 64,
         max_value_bytes: 1MiB, max_payload_bytes: 8MiB}
tiers: {dram: {capacity: 2GiB, shards: 16, policy: lru}}
namespaces:
  - {name: a, kind: kv}
  - {name: b, kind: kb}
  - {name: c, kind: dataset}
)");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->Validate().ok());
  EXPECT_EQ(config->server_name, "rack-7");
  EXPECT_EQ(config->listener.host, "0.0.0.0");
  EXPECT_EQ(config->listener.port, 9000);
  EXPECT_EQ(config->listener.io_threads, 4u);
  EXPECT_EQ(config->listener.frame_timeout.count(), 500);
  EXPECT_EQ(config->limits.max_metadata_bytes, 64u * 1024);
  EXPECT_EQ(config->limits.max_keys_per_request, 128u);
  EXPECT_EQ(config->dram.policy, tiers::EvictionPolicyKind::kLru);
  EXPECT_EQ(config->namespaces[2].kind, NamespaceKind::kDataset);
}

void ExpectError(std::string_view yaml, std::string_view field) {
  auto config = ParseConfig(yaml);
  Status status = config.ok() ? config->Validate() : config.status();
  EXPECT_FALSE(status.ok()) << yaml;
  EXPECT_NE(status.message().find(field), std::string::npos)
      << "error '" << status.message() << "' does not name " << field;
}

TEST(Config, ErrorsNameTheBadField) {
  ExpectError("server: {io_threadz: 2}", "server.io_threadz");
  ExpectError("server: {io_threads: two}", "server.io_threads");
  ExpectError("server: {io_threads: 0}\nnamespaces: [{name: a}]", "server.io_threads");
  ExpectError("server: {listen: nowhere}", "server.listen");
  ExpectError("tiers: {dram: {capacity: lots}}", "tiers.dram.capacity");
  ExpectError("tiers: {dram: {policy: arc}}", "tiers.dram.policy");
  ExpectError("namespaces: [{name: a, kind: graph}]", "namespaces[0].kind");
  ExpectError("namespaces: [{name: a}, {name: a}]", "namespaces[1].name");
  ExpectError("namespaces: []", "namespaces");
  ExpectError("limits: {max_key_bytes: 70000}\nnamespaces: [{name: a}]", "limits.max_key_bytes");
  ExpectError("log: {level: loud}\nnamespaces: [{name: a}]", "log.level");
  ExpectError("colour: blue", "colour");
  ExpectError("server: [1, 2", "YAML");
}

TEST(Config, HostPort) {
  EXPECT_EQ(ParseHostPort("127.0.0.1:7400")->second, 7400);
  EXPECT_EQ(ParseHostPort("[::1]:80")->first, "::1");
  EXPECT_FALSE(ParseHostPort("host").ok());
  EXPECT_FALSE(ParseHostPort("host:99999").ok());
  EXPECT_FALSE(ParseHostPort(":80").ok());
}

}  // namespace
}  // namespace kvtier::server
