// Two kvtierd (two racks) whose checkpoint namespaces share one Blob
// container, through a real Azurite: what one server flushed, the other
// lists, stats and reads (once from Blob, then from its own tiers); a
// blob that one server removes disappears from its own listings at once;
// objects any Blob tool puts in the container are read and deleted like
// the others, and moving one is refused as a move across file systems.

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <thread>

#include "client/client.h"
#include "tests/support/azurite_process.h"
#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"
#include "tiers/blob/blob_client.h"

namespace kvtier {
namespace {

using client::Client;

constexpr uint64_t kBlock = 64 * 1024;

struct Rack {
  std::unique_ptr<testing::ServerProcess> server;
  std::unique_ptr<Client> client;
};

class SharedCheckpointsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(azurite_.Start().ok()) << azurite_.log();
    setenv("KVTIER_TEST_BLOB_KEY", testing::kAzuriteKey, 1);
    StartRack(a_);
    StartRack(b_);
  }

  void StartRack(Rack& rack) {
    auto holder = std::make_unique<testing::ServerProcess>();  // only for its directory
    const std::filesystem::path nvme = holder->dir() / "nvme";
    holders_.push_back(std::move(holder));
    rack.server = std::make_unique<testing::ServerProcess>(
        std::vector<std::string>{},
        "tiers:\n"
        "  dram: {capacity: 4MiB}\n"
        "  nvme: {directory: " +
            nvme.string() +
            ", capacity: 16MiB, segment_bytes: 1MiB}\n"
            "  blob: {endpoint: '" +
            azurite_.endpoint() +
            "', account: devstoreaccount1, key_env: KVTIER_TEST_BLOB_KEY, "
            "operation_timeout_ms: 3000, container: training}\n"
            "namespaces:\n"
            "  - {name: ckpt, kind: checkpoint, tiers: [dram, nvme, blob], "
            "objects: {block_bytes: 64KiB}}\n");
    ASSERT_TRUE(rack.server->Start().ok()) << rack.server->log();
    rack.client = testing::ConnectTo(*rack.server);
    ASSERT_NE(rack.client, nullptr);
  }

  std::unique_ptr<tiers::blob::BlobClient> BlobTool() {
    tiers::blob::BlobClientOptions options;
    options.endpoint = azurite_.endpoint();
    options.account = testing::kAzuriteAccount;
    options.account_key = testing::kAzuriteKey;
    options.container = "training";
    auto blob_client = tiers::blob::BlobClient::Create(options);
    EXPECT_TRUE(blob_client.ok());
    return blob_client.ok() ? std::move(*blob_client) : nullptr;
  }

  static uint64_t Counter(Client& client, const std::string& name) {
    auto stats = client.Stats();
    EXPECT_TRUE(stats.ok());
    if (!stats.ok()) return 0;
    const auto value = client::FindTierCounter(*stats, "checkpoint_blobs/ckpt", name);
    if (!value) ADD_FAILURE() << "no counter checkpoint_blobs/ckpt." << name;
    return value.value_or(0);
  }

  static std::vector<std::string> Paths(Client& client, const std::string& prefix = "") {
    auto listed = client.ListAll("ckpt", prefix);
    EXPECT_TRUE(listed.ok()) << listed.status().ToString();
    std::vector<std::string> paths;
    if (listed.ok()) {
      for (const auto& entry : *listed) paths.push_back(entry.path);
    }
    return paths;
  }

  testing::AzuriteProcess azurite_;
  std::vector<std::unique_ptr<testing::ServerProcess>> holders_;
  Rack a_;
  Rack b_;
};

TEST_F(SharedCheckpointsTest, ACheckpointFlushedByOneServerIsListedStatedAndReadByTheOther) {
  // B lists first, so its listing of the container is cached before A
  // writes: B must still find A's checkpoint at once.
  auto tool = BlobTool();
  ASSERT_NE(tool, nullptr);
  ASSERT_TRUE(tool->CreateContainer().ok());
  EXPECT_TRUE(Paths(*b_.client).empty());
  const auto bytes = testing::RandomBytes(3 * kBlock + 321, 1);
  ASSERT_TRUE(a_.client->WriteObject("ckpt", "run1/step-100.pt", bytes).ok());
  ASSERT_TRUE(a_.client->Flush("ckpt").ok());

  auto stat = b_.client->Stat("ckpt", "run1/step-100.pt");
  ASSERT_TRUE(stat.ok()) << stat.status().ToString() << b_.server->log();
  EXPECT_EQ(stat->size, bytes.size());
  EXPECT_TRUE(stat->in_blob);
  EXPECT_TRUE(
      testing::SameBytes(testing::ReadObject(*b_.client, "ckpt", "run1/step-100.pt"), bytes));
  EXPECT_EQ(Counter(*b_.client, "shared_reads"), 4u);  // one Blob read per block
  // Read again: from B's own tiers.
  EXPECT_TRUE(
      testing::SameBytes(testing::ReadObject(*b_.client, "ckpt", "run1/step-100.pt"), bytes));
  EXPECT_EQ(Counter(*b_.client, "shared_reads"), 4u);
  EXPECT_EQ(Counter(*b_.client, "shared_property_reads"), 1u);  // the HEAD of the first Stat
  // Flushing it on B is a no-op: it is in Blob already.
  EXPECT_TRUE(b_.client->Flush("ckpt", std::vector<std::string>{"run1/step-100.pt"}).ok());
}

TEST_F(SharedCheckpointsTest, TheOtherServerListsTheContainerAndItsOwnObjectsTogether) {
  ASSERT_TRUE(a_.client->WriteObject("ckpt", "run1/a.pt", testing::RandomBytes(kBlock, 2)).ok());
  ASSERT_TRUE(a_.client->Flush("ckpt").ok());
  ASSERT_TRUE(b_.client->WriteObject("ckpt", "run1/b.pt", testing::RandomBytes(kBlock, 3)).ok());
  EXPECT_EQ(Paths(*b_.client, "run1/"), (std::vector<std::string>{"run1/a.pt", "run1/b.pt"}));
  // Once B's object is in Blob, A (which has not listed yet) sees both.
  // Whether A sees it earlier depends on B's background upload: not asserted.
  ASSERT_TRUE(b_.client->Flush("ckpt").ok());
  EXPECT_EQ(Paths(*a_.client, "run1/"), (std::vector<std::string>{"run1/a.pt", "run1/b.pt"}));
}

TEST_F(SharedCheckpointsTest, AnObjectRemovedHereLeavesThisServersListingAtOnce) {
  ASSERT_TRUE(a_.client->WriteObject("ckpt", "old.pt", testing::RandomBytes(kBlock, 4)).ok());
  const auto bytes = testing::RandomBytes(kBlock + 1, 5);
  ASSERT_TRUE(a_.client->WriteObject("ckpt", "from.pt", bytes).ok());
  ASSERT_TRUE(a_.client->Flush("ckpt").ok());
  // A's listing of the container now holds both blobs, and is kept.
  EXPECT_EQ(Paths(*a_.client), (std::vector<std::string>{"from.pt", "old.pt"}));

  ASSERT_TRUE(a_.client->DeleteObject("ckpt", "old.pt").ok());
  ASSERT_TRUE(a_.client->RenameObject("ckpt", "from.pt", "to.pt").ok());
  EXPECT_EQ(Paths(*a_.client), (std::vector<std::string>{"to.pt"}));
  EXPECT_EQ(a_.client->Stat("ckpt", "old.pt").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(a_.client->Stat("ckpt", "from.pt").status().code(), StatusCode::kNotFound);

  ASSERT_TRUE(a_.client->Flush("ckpt").ok());
  auto tool = BlobTool();
  ASSERT_NE(tool, nullptr);
  // The removals run in the background: wait for them, then B sees the
  // container as A left it.
  while (tool->GetProperties("ckpt/old.pt").ok() || tool->GetProperties("ckpt/from.pt").ok()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(Paths(*b_.client), (std::vector<std::string>{"to.pt"}));
  EXPECT_TRUE(testing::SameBytes(testing::ReadObject(*b_.client, "ckpt", "to.pt"), bytes));
  EXPECT_EQ(Paths(*a_.client), (std::vector<std::string>{"to.pt"}));
}

TEST_F(SharedCheckpointsTest, ObjectsAnyBlobToolPutAreReadAndDeletedButNotMoved) {
  auto tool = BlobTool();
  ASSERT_NE(tool, nullptr);
  const auto bytes = testing::RandomBytes(2 * kBlock + 7, 6);
  ASSERT_TRUE(tool->CreateContainer().ok());
  ASSERT_TRUE(tool->PutBlob("ckpt/imported/weights.bin", bytes, {}, /*if_absent=*/false).ok());

  EXPECT_TRUE(
      testing::SameBytes(testing::ReadObject(*b_.client, "ckpt", "imported/weights.bin"), bytes));
  EXPECT_EQ(b_.client->RenameObject("ckpt", "imported/weights.bin", "moved.bin").code(),
            StatusCode::kUnsupported);
  ASSERT_TRUE(b_.client->DeleteObject("ckpt", "imported/weights.bin").ok());
  EXPECT_EQ(tool->GetProperties("ckpt/imported/weights.bin").status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(b_.client->Stat("ckpt", "imported/weights.bin").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Paths(*b_.client).empty());
  EXPECT_EQ(b_.client->DeleteObject("ckpt", "imported/weights.bin").code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace kvtier
