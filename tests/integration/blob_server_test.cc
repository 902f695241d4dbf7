// kvtierd with the Blob tier on a real Azurite: spill and promote through
// the server, two servers sharing one container, write-back with Flush,
// pending uploads surviving kill -9 while Blob is down, and injected 503s
// and connection resets with no acknowledged write lost.

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <thread>

#include "client/client.h"
#include "common/checksum.h"
#include "tests/support/azurite_process.h"
#include "tests/support/client_helpers.h"
#include "tests/support/fault_proxy.h"
#include "tests/support/server_process.h"
#include "tiers/blob/blob_tier.h"

namespace kvtier {
namespace {

using client::Client;
using protocol::TierId;
using testing::ProxyFault;

constexpr size_t kBlock = 1 << 20;

std::vector<std::byte> Bytes(uint32_t seed) { return testing::RandomBytes(kBlock, seed); }

uint64_t Counter(Client& client, const std::string& tier, const std::string& name) {
  auto stats = client.Stats();
  EXPECT_TRUE(stats.ok());
  if (!stats.ok()) return 0;
  const auto value = client::FindTierCounter(*stats, tier, name);
  if (!value) ADD_FAILURE() << "no counter " << tier << "." << name;
  return value.value_or(0);
}

class BlobServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(azurite_.Start().ok()) << azurite_.log();
    setenv("KVTIER_TEST_BLOB_KEY", testing::kAzuriteKey, 1);
  }

  // A config with a spill namespace `kv` and a write-back namespace `ckpt`
  // over `endpoint`, NVMe in `nvme_dir`.
  static std::string Config(const std::string& endpoint, const std::filesystem::path& nvme_dir,
                            const std::string& nvme_capacity, const std::string& blob_extra = "") {
    return "tiers:\n"
           "  dram: {capacity: 8MiB}\n"
           "  nvme: {directory: " +
           nvme_dir.string() + ", capacity: " + nvme_capacity +
           ", segment_bytes: 2MiB}\n"
           "  demotion: {queue_bytes: 2MiB}\n"
           "  blob: {endpoint: '" +
           endpoint +
           "', account: devstoreaccount1, key_env: KVTIER_TEST_BLOB_KEY, "
           "operation_timeout_ms: 3000, container: racks, prefix: kvtier/" +
           blob_extra +
           "}\n"
           "namespaces:\n"
           "  - {name: kv, tiers: [dram, nvme, blob]}\n"
           "  - {name: ckpt, tiers: [dram, nvme, blob], blob_mode: write_back}\n";
  }

  // NVMe is small by default so that blocks spill; write-back tests give it
  // room for every block while uploads lag.
  std::unique_ptr<testing::ServerProcess> StartServer(const std::string& endpoint,
                                                      const std::filesystem::path& nvme_dir,
                                                      const std::string& nvme_capacity = "16MiB",
                                                      const std::string& blob_extra = "") {
    auto server = std::make_unique<testing::ServerProcess>(
        std::vector<std::string>{}, Config(endpoint, nvme_dir, nvme_capacity, blob_extra));
    const Status started = server->Start();
    EXPECT_TRUE(started.ok()) << started.ToString() << server->log();
    return server;
  }

  static std::unique_ptr<Client> Connect(const testing::ServerProcess& server) {
    return testing::ConnectTo(server);
  }

  // Reads blob `key` of namespace `ns` straight from Azurite, checksum
  // verified (the Blob tier's own read path).
  Result<std::vector<std::byte>> ReadBlob(const std::string& ns, const std::string& key) {
    tiers::blob::BlobTierOptions options;
    options.client.endpoint = azurite_.endpoint();
    options.client.account = testing::kAzuriteAccount;
    options.client.account_key = testing::kAzuriteKey;
    options.client.container = "racks";
    options.name_prefix = "kvtier/";
    options.namespace_names = {"", "kv", "ckpt"};
    KVTIER_ASSIGN_OR_RETURN(auto tier, tiers::blob::BlobTier::Open(options));
    const uint32_t id = ns == "kv" ? 1 : 2;
    KVTIER_ASSIGN_OR_RETURN(auto block, tier->Get({id, key}));
    return std::vector<std::byte>(block.bytes().begin(), block.bytes().end());
  }

  static void Put(Client& client, const std::string& ns, const std::string& key,
                  const std::vector<std::byte>& value) {
    const Status put = testing::PutOne(client, ns, key, value);
    ASSERT_TRUE(put.ok()) << key << ": " << put.ToString();
  }

  static Result<std::pair<std::vector<std::byte>, TierId>> Get(Client& client,
                                                               const std::string& ns,
                                                               const std::string& key) {
    const std::vector<std::string> keys = {key};
    KVTIER_ASSIGN_OR_RETURN(auto got, client.Get(ns, keys));
    if (!got.values[0].status.ok()) return got.values[0].status;
    const std::span<const std::byte> bytes = got.values[0].bytes;
    return std::make_pair(std::vector<std::byte>(bytes.begin(), bytes.end()), got.values[0].tier);
  }

  std::filesystem::path MakeDir() {
    char pattern[] = "/tmp/kvtier-blobserver-XXXXXX";
    dirs_.push_back(mkdtemp(pattern));
    return dirs_.back();
  }
  void TearDown() override {
    for (const auto& dir : dirs_) std::filesystem::remove_all(dir);
  }

  testing::AzuriteProcess azurite_;
  std::vector<std::filesystem::path> dirs_;
};

TEST_F(BlobServerTest, EvictedBlocksSpillAndAreServedByThisServerAndAnother) {
  auto a = StartServer(azurite_.endpoint(), MakeDir());
  auto client = Connect(*a);
  constexpr int kBlocks = 40;  // 40 MiB through 8 MiB of DRAM and 16 MiB of NVMe
  for (int i = 0; i < kBlocks; ++i) Put(*client, "kv", "b" + std::to_string(i), Bytes(i));
  // Spills run in the background; wait until the first block is uploaded.
  while (!ReadBlob("kv", "b0").ok()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_GT(Counter(*client, "blob", "spills"), 0u);

  auto got = Get(*client, "kv", "b0");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->first, Bytes(0));
  EXPECT_EQ(got->second, TierId::kBlob);
  got = Get(*client, "kv", "b0");  // promoted
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->second, TierId::kDram);

  // Another server (another rack) on the same container reads it.
  auto b = StartServer(azurite_.endpoint(), MakeDir());
  auto other = Connect(*b);
  got = Get(*other, "kv", "b0");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->first, Bytes(0));
  EXPECT_EQ(got->second, TierId::kBlob);

  // A delete removes the blob too: neither server serves it again.
  const std::vector<std::string> keys = {"b0"};
  auto deleted = other->Delete("kv", keys);
  ASSERT_TRUE(deleted.ok() && deleted->statuses[0].ok());
  EXPECT_EQ(ReadBlob("kv", "b0").status().code(), StatusCode::kNotFound);
  auto gone = Get(*client, "kv", "b0");
  // Server a still holds its promoted DRAM copy: deletes are per server;
  // the shared blob is gone.
  ASSERT_TRUE(gone.ok());
  EXPECT_EQ(gone->second, TierId::kDram);
}

// A server-wide counter of `client`'s server.
uint64_t ServerCounter(Client& client, const std::string& name) {
  auto stats = client.Stats();
  EXPECT_TRUE(stats.ok());
  if (!stats.ok()) return 0;
  for (const auto& counter : stats->counters) {
    if (counter.name == name) return counter.value;
  }
  ADD_FAILURE() << "no counter " << name;
  return 0;
}

// Waits (bounded) until `done` holds; false if it never did.
bool Eventually(const std::function<bool()>& done) {
  for (int i = 0; i < 200; ++i) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

TEST_F(BlobServerTest, AnotherServerMatchesASpilledChainInOneRoundTripAndLeasesIt) {
  auto a = StartServer(azurite_.endpoint(), MakeDir());
  auto writer = Connect(*a);
  constexpr int kBlocks = 40;  // 40 MiB through 8 MiB of DRAM and 16 MiB of NVMe
  for (int i = 0; i < kBlocks; ++i) Put(*writer, "kv", "b" + std::to_string(i), Bytes(i));
  const std::vector<std::string> chain = {"b0", "b1", "b2"};
  for (const std::string& key : chain) {
    ASSERT_TRUE(Eventually([&] { return ReadBlob("kv", key).ok(); })) << key << " never spilled";
  }

  // Server b shares the container; its presence view lists it at start.
  auto b = StartServer(azurite_.endpoint(), MakeDir());
  auto reader = Connect(*b);
  ASSERT_TRUE(Eventually([&] { return Counter(*reader, "blob", "presence_listed_names") >= 3; }));
  EXPECT_GE(Counter(*reader, "blob", "presence_list_requests"), 1u);

  // One MatchPrefix finds the whole chain in Blob, and leases it.
  auto match = reader->MatchPrefix("kv", chain, /*lease_ms=*/10000);
  ASSERT_TRUE(match.ok()) << match.status().ToString();
  ASSERT_EQ(match->matched, 3u);
  for (TierId tier : match->tiers) EXPECT_EQ(tier, TierId::kBlob);
  EXPECT_NE(match->lease_id, 0u);
  // The lease started the blocks' promotion into b's DRAM.
  EXPECT_GE(ServerCounter(*reader, "blob_promotions_started"), 3u);
  EXPECT_TRUE(Eventually([&] {
    auto exists = reader->Exists("kv", chain);
    return exists.ok() && exists->tiers[0] == TierId::kDram && exists->tiers[2] == TierId::kDram;
  }));
  auto got = reader->Get("kv", chain, match->lease_id);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  for (size_t i = 0; i < chain.size(); ++i) {
    ASSERT_TRUE(got->values[i].status.ok()) << chain[i];
    EXPECT_EQ(std::vector<std::byte>(got->values[i].bytes.begin(), got->values[i].bytes.end()),
              Bytes(static_cast<uint32_t>(i)));
  }
}

TEST_F(BlobServerTest, AProbeFindsASpilledBlockNoListingHasSeen) {
  auto a = StartServer(azurite_.endpoint(), MakeDir());
  auto writer = Connect(*a);
  for (int i = 0; i < 40; ++i) Put(*writer, "kv", "b" + std::to_string(i), Bytes(i));
  ASSERT_TRUE(Eventually([&] { return ReadBlob("kv", "b0").ok(); }));

  auto b = StartServer(azurite_.endpoint(), MakeDir(), "16MiB", ", presence_list_interval_ms: 0");
  auto reader = Connect(*b);
  const std::vector<std::string> key = {"b0"};
  // Unknown at first: the match does not wait on the network, but probes.
  auto first = reader->MatchPrefix("kv", key);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(first->matched, 0u);
  EXPECT_TRUE(Eventually([&] {
    auto again = reader->MatchPrefix("kv", key);
    return again.ok() && again->matched == 1 && again->tiers[0] == TierId::kBlob;
  }));
  EXPECT_GE(Counter(*reader, "blob", "presence_head_requests"), 1u);
  EXPECT_EQ(Counter(*reader, "blob", "presence_list_requests"), 0u);
  // A key that is nowhere is probed once and then known absent.
  const std::vector<std::string> missing = {"never-written"};
  ASSERT_TRUE(reader->MatchPrefix("kv", missing).ok());
  ASSERT_TRUE(Eventually([&] { return Counter(*reader, "blob", "presence_head_requests") >= 2; }));
  auto none = reader->MatchPrefix("kv", missing);
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->matched, 0u);
}

TEST_F(BlobServerTest, WriteBackIsInBlobWhenFlushReturns) {
  auto server = StartServer(azurite_.endpoint(), MakeDir());
  auto client = Connect(*server);
  for (int i = 0; i < 8; ++i) Put(*client, "ckpt", "shard" + std::to_string(i), Bytes(100 + i));
  const std::vector<std::string> one = {"shard3"};
  ASSERT_TRUE(client->Flush("ckpt", one).ok());
  ASSERT_TRUE(client->Flush("ckpt").ok());
  for (int i = 0; i < 8; ++i) {
    auto blob = ReadBlob("ckpt", "shard" + std::to_string(i));
    ASSERT_TRUE(blob.ok()) << i << ": " << blob.status().ToString();
    EXPECT_EQ(*blob, Bytes(100 + i)) << i;
  }
  EXPECT_EQ(Counter(*client, "nvme", "marked_for_upload"), 0u);
  // Spill namespaces have nothing to flush.
  EXPECT_EQ(client->Flush("kv").code(), StatusCode::kUnsupported);
}

TEST_F(BlobServerTest, AcknowledgedWritesSurviveBlobOutageAndKill9) {
  const auto nvme_dir = MakeDir();
  auto server = StartServer(azurite_.endpoint(), nvme_dir);
  auto client = Connect(*server);
  azurite_.Kill();  // Blob goes away mid-run
  constexpr int kBlocks = 6;
  for (int i = 0; i < kBlocks; ++i) Put(*client, "ckpt", "p" + std::to_string(i), Bytes(200 + i));
  // Flush fails fast with a clear error; the data is still served.
  const Status flushed = client->Flush("ckpt");
  EXPECT_EQ(flushed.code(), StatusCode::kUnavailable) << flushed.ToString();
  EXPECT_NE(flushed.message().find("Blob"), std::string::npos) << flushed.ToString();
  auto got = Get(*client, "ckpt", "p0");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->first, Bytes(200));
  EXPECT_EQ(Counter(*client, "nvme", "marked_for_upload"), static_cast<uint64_t>(kBlocks));

  server->Kill();                                        // kill -9 with every upload still pending
  ASSERT_TRUE(azurite_.Start().ok()) << azurite_.log();  // back, on a new port
  auto restarted = StartServer(azurite_.endpoint(), nvme_dir);
  auto again = Connect(*restarted);
  const Status resumed = again->Flush("ckpt");
  ASSERT_TRUE(resumed.ok()) << resumed.ToString() << restarted->log();
  EXPECT_EQ(Counter(*again, "blob", "uploads_resumed"), static_cast<uint64_t>(kBlocks));
  for (int i = 0; i < kBlocks; ++i) {
    auto blob = ReadBlob("ckpt", "p" + std::to_string(i));
    ASSERT_TRUE(blob.ok()) << i << ": " << blob.status().ToString();
    EXPECT_EQ(*blob, Bytes(200 + i)) << i;
  }
}

TEST_F(BlobServerTest, InjectedFaultsLoseNoAcknowledgedWrite) {
  // Faults go by connection, and the server keeps its connections open:
  // the first one fails, so that a server that reuses one connection for
  // every upload still meets a fault.
  testing::FaultProxy proxy(azurite_.port(), [](uint64_t n) {
    if (n % 3 == 0) return ProxyFault::kServiceUnavailable;
    if (n % 5 == 2) return ProxyFault::kReset;
    return ProxyFault::kNone;
  });
  ASSERT_TRUE(proxy.Start().ok());
  const std::string endpoint =
      "http://127.0.0.1:" + std::to_string(proxy.port()) + "/devstoreaccount1";
  auto server = StartServer(endpoint, MakeDir(), "64MiB");
  auto client = Connect(*server);
  constexpr int kBlocks = 24;
  for (int i = 0; i < kBlocks; ++i) Put(*client, "ckpt", "f" + std::to_string(i), Bytes(300 + i));
  // A Flush may meet an attempt whose retries were all spent; the uploads
  // go on, and a later Flush succeeds.
  Status flushed = client->Flush("ckpt");
  for (int attempt = 0; !flushed.ok() && attempt < 20; ++attempt) flushed = client->Flush("ckpt");
  ASSERT_TRUE(flushed.ok()) << flushed.ToString();
  EXPECT_GT(proxy.injected_503() + proxy.injected_resets(), 0u);
  for (int i = 0; i < kBlocks; ++i) {
    auto blob = ReadBlob("ckpt", "f" + std::to_string(i));
    ASSERT_TRUE(blob.ok()) << i << ": " << blob.status().ToString();
    EXPECT_EQ(*blob, Bytes(300 + i)) << i;
  }
}

}  // namespace
}  // namespace kvtier
