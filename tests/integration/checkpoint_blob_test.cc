// Checkpoint objects reaching Blob as ordinary blobs, through a real kvtierd
// and a real Azurite: a committed object becomes the blob `ckpt/<path>`
// (readable by any Blob client), Flush waits for it, rename and delete carry
// over to Blob, uploads pending at a SIGKILL resume at restart, and blocks
// NVMe dropped after the upload are read back from the blob.

#include <gtest/gtest.h>

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

class CheckpointBlobTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(azurite_.Start().ok()) << azurite_.log();
    setenv("KVTIER_TEST_BLOB_KEY", testing::kAzuriteKey, 1);
    holder_ = std::make_unique<testing::ServerProcess>();  // only for its directory
    nvme_dir_ = holder_->dir() / "nvme";
  }

  void StartServer(const std::string& nvme_capacity = "16MiB") {
    client_.reset();
    server_ = std::make_unique<testing::ServerProcess>(
        std::vector<std::string>{},
        "tiers:\n"
        "  dram: {capacity: 4MiB}\n"
        "  nvme: {directory: " +
            nvme_dir_.string() + ", capacity: " + nvme_capacity +
            ", segment_bytes: 1MiB}\n"
            "  blob: {endpoint: '" +
            azurite_.endpoint() +
            "', account: devstoreaccount1, key_env: KVTIER_TEST_BLOB_KEY, "
            "operation_timeout_ms: 3000, container: training}\n"
            "namespaces:\n"
            "  - {name: ckpt, kind: checkpoint, tiers: [dram, nvme, blob], "
            "objects: {block_bytes: 64KiB}}\n");
    ASSERT_TRUE(server_->Start().ok()) << server_->log();
    client_ = testing::ConnectTo(*server_);
    ASSERT_NE(client_, nullptr);
  }

  // The blob at `name` in the container, read as any Blob client would.
  Result<std::vector<std::byte>> ReadBlob(const std::string& name) {
    tiers::blob::BlobClientOptions options;
    options.endpoint = azurite_.endpoint();
    options.account = testing::kAzuriteAccount;
    options.account_key = testing::kAzuriteKey;
    options.container = "training";
    KVTIER_ASSIGN_OR_RETURN(auto blob_client, tiers::blob::BlobClient::Create(options));
    KVTIER_ASSIGN_OR_RETURN(auto data, blob_client->GetBlob(name));
    const auto bytes = std::as_bytes(std::span(data.bytes));
    return std::vector<std::byte>(bytes.begin(), bytes.end());
  }

  uint64_t Counter(const std::string& tier, const std::string& name) {
    auto stats = client_->Stats();
    EXPECT_TRUE(stats.ok());
    if (!stats.ok()) return 0;
    const auto value = client::FindTierCounter(*stats, tier, name);
    if (!value) ADD_FAILURE() << "no counter " << tier << "." << name;
    return value.value_or(0);
  }

  std::vector<std::byte> ReadAll(const std::string& path) {
    return testing::ReadObject(*client_, "ckpt", path);
  }

  testing::AzuriteProcess azurite_;
  std::unique_ptr<testing::ServerProcess> holder_;
  std::filesystem::path nvme_dir_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(CheckpointBlobTest, ACommittedObjectBecomesAnOrdinaryBlobAtItsPath) {
  StartServer();
  const auto bytes = testing::RandomBytes(3 * kBlock + 321, 1);
  ASSERT_TRUE(client_->WriteObject("ckpt", "run1/step-100.pt", bytes).ok());
  const std::vector<std::string> paths = {"run1/step-100.pt"};
  const Status flushed = client_->Flush("ckpt", paths);
  ASSERT_TRUE(flushed.ok()) << flushed.ToString() << server_->log();
  auto blob = ReadBlob("ckpt/run1/step-100.pt");
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_TRUE(testing::SameBytes(*blob, bytes));
  auto stat = client_->Stat("ckpt", "run1/step-100.pt");
  ASSERT_TRUE(stat.ok());
  EXPECT_TRUE(stat->in_blob);
  // Its blocks no longer hold NVMe room against eviction.
  EXPECT_EQ(Counter("nvme", "marked_for_upload"), 0u);
  EXPECT_EQ(Counter("checkpoint_blobs/ckpt", "objects_uploaded"), 1u);
  EXPECT_EQ(client_->Flush("ckpt", std::vector<std::string>{"missing.pt"}).code(),
            StatusCode::kNotFound);
}

TEST_F(CheckpointBlobTest, RenameAndDeleteCarryOverToBlob) {
  StartServer();
  const auto bytes = testing::RandomBytes(2 * kBlock, 2);
  ASSERT_TRUE(client_->WriteObject("ckpt", "step-1.pt.tmp", bytes).ok());
  ASSERT_TRUE(client_->Flush("ckpt").ok());
  ASSERT_TRUE(ReadBlob("ckpt/step-1.pt.tmp").ok());
  ASSERT_TRUE(client_->RenameObject("ckpt", "step-1.pt.tmp", "step-1.pt").ok());
  const Status flushed = client_->Flush("ckpt", std::vector<std::string>{"step-1.pt"});
  ASSERT_TRUE(flushed.ok()) << flushed.ToString();
  auto moved = ReadBlob("ckpt/step-1.pt");
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_TRUE(testing::SameBytes(*moved, bytes));
  EXPECT_EQ(ReadBlob("ckpt/step-1.pt.tmp").status().code(), StatusCode::kNotFound);

  ASSERT_TRUE(client_->DeleteObject("ckpt", "step-1.pt").ok());
  // The delete's blob removal runs in the background, and counts itself
  // just after the blob is gone: wait for both (bounded).
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (
      (ReadBlob("ckpt/step-1.pt").ok() || Counter("checkpoint_blobs/ckpt", "blobs_removed") < 2) &&
      std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(ReadBlob("ckpt/step-1.pt").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Counter("checkpoint_blobs/ckpt", "blobs_removed"), 2u);
}

TEST_F(CheckpointBlobTest, UploadsPendingAtAKillResumeAfterARestart) {
  StartServer();
  azurite_.Kill();  // Blob goes away: commits still succeed (durable on NVMe)
  const auto bytes = testing::RandomBytes(2 * kBlock + 5, 3);
  ASSERT_TRUE(client_->WriteObject("ckpt", "during-outage.pt", bytes).ok());
  const Status failed = client_->Flush("ckpt");
  EXPECT_EQ(failed.code(), StatusCode::kUnavailable) << failed.ToString();
  EXPECT_TRUE(testing::SameBytes(ReadAll("during-outage.pt"), bytes));

  server_->Kill();
  ASSERT_TRUE(azurite_.Start().ok()) << azurite_.log();  // back, on a new port
  StartServer();
  const Status resumed = client_->Flush("ckpt");
  ASSERT_TRUE(resumed.ok()) << resumed.ToString() << server_->log();
  auto blob = ReadBlob("ckpt/during-outage.pt");
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_TRUE(testing::SameBytes(*blob, bytes));
}

TEST_F(CheckpointBlobTest, BlocksNvmeDroppedAfterTheUploadAreReadFromTheBlob) {
  StartServer("8MiB");
  const auto first = testing::RandomBytes(4 * kBlock, 4);
  ASSERT_TRUE(client_->WriteObject("ckpt", "first.pt", first).ok());
  ASSERT_TRUE(client_->Flush("ckpt").ok());
  // Fill DRAM and NVMe with later checkpoints until the first one's blocks
  // are gone from both (each uploaded, so NVMe may drop them).
  for (int i = 0; i < 24; ++i) {
    const auto later = testing::RandomBytes(1 << 20, 10 + i);
    ASSERT_TRUE(client_->WriteObject("ckpt", "later/" + std::to_string(i), later).ok());
    ASSERT_TRUE(client_->Flush("ckpt").ok());
  }
  EXPECT_TRUE(testing::SameBytes(ReadAll("first.pt"), first));
  EXPECT_GT(Counter("checkpoint_blobs/ckpt", "reads"), 0u);
}

}  // namespace
}  // namespace kvtier
