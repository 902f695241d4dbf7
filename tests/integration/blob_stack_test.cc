// The tier stack with all three tiers: DRAM and NVMe in a temporary
// directory, Blob on a real Azurite. Spill and promote, write-back with
// Flush, uploads resumed after a restart, deletes, and two stacks sharing
// one container.

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <future>
#include <mutex>
#include <thread>

#include "common/checksum.h"
#include "tests/support/azurite_process.h"
#include "tiers/blob/blob_tier.h"
#include "tiers/nvme/nvme_tier.h"
#include "tiers/tier_stack.h"

namespace kvtier::tiers {
namespace {

constexpr uint32_t kSpillNs = 1;
constexpr uint32_t kWriteBackNs = 2;
constexpr size_t kValue = 256 * 1024;

// Blob writes fail while `failing` is set: Blob refusing writes, for the
// unit-level tests (the server tests stop the real Azurite instead). While
// `held` is set, writes wait at a gate until Release(), so a test can act
// while an upload is running.
class FailingWrites : public TierWrapper {
 public:
  using TierWrapper::TierWrapper;
  std::atomic<bool> failing{false};

  void Hold() {
    std::lock_guard lock(mu_);
    held_ = true;
    entered_ = 0;
  }
  void WaitEntered() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_ > 0; });
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      held_ = false;
    }
    cv_.notify_all();
  }

  Status Put(const BlockKey& key, BlockHandle block) override {
    {
      std::unique_lock lock(mu_);
      if (held_) {
        ++entered_;
        cv_.notify_all();
        cv_.wait(lock, [&] { return !held_; });
      }
    }
    if (failing) return Unavailable("injected: Blob is down");
    return target()->Put(key, std::move(block));
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool held_ = false;
  int entered_ = 0;
};

std::vector<std::byte> Value(uint32_t seed) {
  std::vector<std::byte> out(kValue);
  for (size_t i = 0; i < kValue; ++i) out[i] = static_cast<std::byte>((seed * 167 + i * 7) & 0xff);
  return out;
}

uint64_t Counter(const std::vector<TierStats>& stats, const std::string& tier,
                 const std::string& name) {
  for (const TierStats& t : stats) {
    if (t.name == tier) {
      if (auto value = t.Counter(name)) return *value;
    }
  }
  ADD_FAILURE() << "no counter " << tier << "." << name;
  return 0;
}

// One server's tiers: its own DRAM and NVMe, Blob in the shared container.
struct Node {
  std::filesystem::path dir;
  std::unique_ptr<DramTier> dram;
  std::unique_ptr<NvmeTier> nvme;
  std::unique_ptr<blob::BlobTier> blob;
  std::unique_ptr<FailingWrites> blob_gate;
  std::unique_ptr<TierStack> stack;

  Status Open(const std::string& endpoint) {
    DramTierOptions dram_options;
    dram_options.capacity_bytes = 2ull << 20;
    dram_options.shards = 1;
    dram_options.policy = EvictionPolicyKind::kLru;
    dram = std::make_unique<DramTier>(dram_options);
    NvmeTierOptions nvme_options;
    nvme_options.directory = dir;
    nvme_options.capacity_bytes = 4ull << 20;
    nvme_options.segment_bytes = 1ull << 20;
    auto opened = NvmeTier::Open(nvme_options);
    KVTIER_RETURN_IF_ERROR(opened.status());
    nvme = std::move(*opened);
    blob::BlobTierOptions blob_options;
    blob_options.client.endpoint = endpoint;
    blob_options.client.account = kvtier::testing::kAzuriteAccount;
    blob_options.client.account_key = kvtier::testing::kAzuriteKey;
    blob_options.client.container = "shared";
    blob_options.client.operation_timeout = std::chrono::seconds(3);
    blob_options.name_prefix = "kv/";
    blob_options.namespace_names = {"", "spill", "checkpoints"};
    auto blob_tier = blob::BlobTier::Open(blob_options);
    KVTIER_RETURN_IF_ERROR(blob_tier.status());
    blob = std::move(*blob_tier);
    blob_gate = std::make_unique<FailingWrites>(blob.get());
    TierStackOptions options;
    options.demotion_queue_bytes = 1ull << 20;
    options.uploads.retry_initial = std::chrono::milliseconds(50);
    options.uploads.retry_max = std::chrono::milliseconds(200);
    stack = std::make_unique<TierStack>(*dram, nvme.get(), options, blob_gate.get());
    stack->SetNamespacePolicy(kSpillNs, {.blob = BlobUse::kSpill});
    stack->SetNamespacePolicy(kWriteBackNs, {.blob = BlobUse::kWriteBack});
    stack->ResumeUploads();
    return Status::Ok();
  }
  void Close() {
    stack.reset();
    blob_gate.reset();
    blob.reset();
    nvme.reset();
    dram.reset();
  }

  BlockHandle Block(const std::vector<std::byte>& value) {
    auto block = stack->Allocate(8, value.size());
    EXPECT_TRUE(block.ok());
    std::memcpy(block->mutable_bytes().data(), value.data(), value.size());
    const uint64_t checksum = BlockChecksum(block->mutable_bytes());
    return std::move(*block).Seal(checksum);
  }
  void PutWriteBack(uint32_t ns, const std::string& key, const std::vector<std::byte>& value) {
    uint64_t barrier = 0;
    ASSERT_TRUE(stack->PutWriteBack({ns, key}, Block(value), &barrier).ok());
    if (barrier != 0) {
      ASSERT_TRUE(stack->RemoveBelow({ns, key}, barrier, false).ok());
    }
    // The server's pacing: writers wait while demotions lag.
    if (stack->DemotionBacklogged()) stack->FlushDemotions();
  }
  Status Flush(uint32_t ns, std::vector<std::string_view> keys) {
    std::promise<Status> done;
    stack->FlushUploads(ns, keys, [&](Status status) { done.set_value(std::move(status)); });
    return done.get_future().get();
  }
  // The bytes of `key` from below DRAM, and where they came from.
  Result<std::vector<std::byte>> GetBelow(uint32_t ns, const std::string& key, Location* from) {
    auto got = stack->GetBelow({ns, key}, from);
    if (!got.ok()) return got.status();
    return std::vector<std::byte>(got->bytes().begin(), got->bytes().end());
  }
  // Waits until evicted blocks are written down and spilled.
  void DrainSpills() {
    stack->FlushDemotions();
    for (;;) {
      if (Counter(stack->Stats(), "blob", "spill_queue_bytes") == 0) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
};

class BlobStackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(azurite_.Start().ok()) << azurite_.log();
    for (Node* node : {&a_, &b_}) {
      char pattern[] = "/tmp/kvtier-blobstack-XXXXXX";
      node->dir = mkdtemp(pattern);
    }
    const Status opened = a_.Open(azurite_.endpoint());
    ASSERT_TRUE(opened.ok()) << opened.ToString();
  }
  void TearDown() override {
    for (Node* node : {&a_, &b_}) {
      node->Close();
      std::filesystem::remove_all(node->dir);
    }
  }

  kvtier::testing::AzuriteProcess azurite_;
  Node a_;
  Node b_;
};

TEST_F(BlobStackTest, NvmeEvictionsSpillToBlobAndAreReadBackAndPromoted) {
  constexpr int kBlocks = 40;  // 10 MiB through 2 MiB of DRAM and 4 MiB of NVMe
  for (int i = 0; i < kBlocks; ++i) a_.PutWriteBack(kSpillNs, "k" + std::to_string(i), Value(i));
  a_.DrainSpills();
  const auto stats = a_.stack->Stats();
  EXPECT_GT(Counter(stats, "blob", "spills"), 0u);
  EXPECT_EQ(Counter(stats, "blob", "spill_queue_full"), 0u);
  ASSERT_FALSE(a_.nvme->Contains({kSpillNs, "k0"}));

  Location from = Location::kNone;
  auto got = a_.GetBelow(kSpillNs, "k0", &from);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, Value(0));
  EXPECT_EQ(from, Location::kBlob);
  // Promoted: the next read is a DRAM hit.
  EXPECT_TRUE(a_.stack->GetFromDram({kSpillNs, "k0"}).ok());
  // Every block is still readable from some tier, byte-identical.
  for (int i = 0; i < kBlocks; ++i) {
    const std::string key = "k" + std::to_string(i);
    auto dram = a_.stack->GetFromDram({kSpillNs, key});
    if (dram.ok()) {
      EXPECT_TRUE(std::equal(dram->bytes().begin(), dram->bytes().end(), Value(i).begin())) << i;
      continue;
    }
    auto below = a_.GetBelow(kSpillNs, key, &from);
    ASSERT_TRUE(below.ok()) << key << ": " << below.status().ToString();
    EXPECT_EQ(*below, Value(i)) << key;
  }
}

TEST_F(BlobStackTest, ABlockSpilledByOneServerIsReadByAnother) {
  for (int i = 0; i < 40; ++i) a_.PutWriteBack(kSpillNs, "k" + std::to_string(i), Value(i));
  a_.DrainSpills();
  ASSERT_TRUE(b_.Open(azurite_.endpoint()).ok());
  Location from = Location::kNone;
  auto got = b_.GetBelow(kSpillNs, "k1", &from);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, Value(1));
  EXPECT_EQ(from, Location::kBlob);
  // A key neither spilled is a plain miss.
  EXPECT_EQ(b_.GetBelow(kSpillNs, "never", &from).status().code(), StatusCode::kNotFound);
}

TEST_F(BlobStackTest, WriteBackPutsAreInBlobWhenFlushReturns) {
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(
        a_.stack->PutWriteThrough({kWriteBackNs, "c" + std::to_string(i)}, a_.Block(Value(i)))
            .ok());
  }
  ASSERT_TRUE(a_.Flush(kWriteBackNs, {}).ok());
  EXPECT_TRUE(a_.nvme->MarkedForUpload().empty());
  for (int i = 0; i < 6; ++i) {
    auto blob = a_.blob->Get({kWriteBackNs, "c" + std::to_string(i)});
    ASSERT_TRUE(blob.ok()) << blob.status().ToString();
    EXPECT_TRUE(std::equal(blob->bytes().begin(), blob->bytes().end(), Value(i).begin()));
  }
  // A re-put replaces the blob: the newest acknowledged bytes win.
  ASSERT_TRUE(a_.stack->PutWriteThrough({kWriteBackNs, "c0"}, a_.Block(Value(100))).ok());
  ASSERT_TRUE(a_.Flush(kWriteBackNs, {"c0"}).ok());
  auto blob = a_.blob->Get({kWriteBackNs, "c0"});
  ASSERT_TRUE(blob.ok());
  EXPECT_TRUE(std::equal(blob->bytes().begin(), blob->bytes().end(), Value(100).begin()));
  // Flush of a namespace that does not write back is refused.
  EXPECT_EQ(a_.Flush(kSpillNs, {}).code(), StatusCode::kUnsupported);
}

TEST_F(BlobStackTest, APutDuringItsOwnUploadEndsWithTheNewestBytesInBlob) {
  a_.blob_gate->Hold();
  ASSERT_TRUE(a_.stack->PutWriteThrough({kWriteBackNs, "k"}, a_.Block(Value(1))).ok());
  a_.blob_gate->WaitEntered();  // the upload of the first bytes is running
  ASSERT_TRUE(a_.stack->PutWriteThrough({kWriteBackNs, "k"}, a_.Block(Value(2))).ok());
  a_.blob_gate->Release();
  ASSERT_TRUE(a_.Flush(kWriteBackNs, {"k"}).ok());
  auto blob = a_.blob->Get({kWriteBackNs, "k"});
  ASSERT_TRUE(blob.ok()) << blob.status().ToString();
  EXPECT_TRUE(std::equal(blob->bytes().begin(), blob->bytes().end(), Value(2).begin()));
  EXPECT_TRUE(a_.nvme->MarkedForUpload().empty());
}

TEST_F(BlobStackTest, ADeleteWaitsOutARunningUploadSoTheBlobStaysDeleted) {
  a_.blob_gate->Hold();
  ASSERT_TRUE(a_.stack->PutWriteThrough({kWriteBackNs, "d"}, a_.Block(Value(3))).ok());
  a_.blob_gate->WaitEntered();
  uint64_t barrier = 0;
  ASSERT_TRUE(a_.stack->EraseFromDram({kWriteBackNs, "d"}, &barrier).ok());
  std::thread remover([&] {
    EXPECT_TRUE(a_.stack->RemoveBelow({kWriteBackNs, "d"}, barrier, true).ok());
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let it reach the wait
  a_.blob_gate->Release();  // the upload lands, then the delete removes it
  remover.join();
  EXPECT_EQ(a_.blob->Get({kWriteBackNs, "d"}).status().code(), StatusCode::kNotFound);
  Location from = Location::kNone;
  EXPECT_EQ(a_.GetBelow(kWriteBackNs, "d", &from).status().code(), StatusCode::kNotFound);
}

TEST_F(BlobStackTest, PendingUploadsFailFlushWhileBlobIsDownAndResumeAfterARestart) {
  a_.blob_gate->failing = true;
  for (int i = 0; i < 4; ++i) {
    // Acknowledged: durable on NVMe.
    ASSERT_TRUE(
        a_.stack->PutWriteThrough({kWriteBackNs, "p" + std::to_string(i)}, a_.Block(Value(i)))
            .ok());
  }
  const Status flushed = a_.Flush(kWriteBackNs, {});
  EXPECT_EQ(flushed.code(), StatusCode::kUnavailable) << flushed.ToString();
  EXPECT_NE(flushed.message().find("Blob is down"), std::string::npos) << flushed.ToString();
  EXPECT_EQ(a_.nvme->MarkedForUpload().size(), 4u);
  // DRAM and NVMe keep serving meanwhile.
  EXPECT_TRUE(a_.stack->GetFromDram({kWriteBackNs, "p0"}).ok());

  // A restart (the stack and NVMe tier reopen from disk) with Blob back.
  a_.Close();
  ASSERT_TRUE(a_.Open(azurite_.endpoint()).ok());
  EXPECT_EQ(Counter(a_.stack->Stats(), "blob", "uploads_resumed"), 4u);
  ASSERT_TRUE(a_.Flush(kWriteBackNs, {}).ok());
  EXPECT_TRUE(a_.nvme->MarkedForUpload().empty());
  for (int i = 0; i < 4; ++i) {
    auto blob = a_.blob->Get({kWriteBackNs, "p" + std::to_string(i)});
    ASSERT_TRUE(blob.ok()) << blob.status().ToString();
    EXPECT_TRUE(std::equal(blob->bytes().begin(), blob->bytes().end(), Value(i).begin()));
  }
}

TEST_F(BlobStackTest, DeleteRemovesTheBlobAndNothingComesBack) {
  ASSERT_TRUE(a_.stack->PutWriteThrough({kWriteBackNs, "gone"}, a_.Block(Value(7))).ok());
  ASSERT_TRUE(a_.Flush(kWriteBackNs, {"gone"}).ok());
  uint64_t barrier = 0;
  ASSERT_TRUE(a_.stack->EraseFromDram({kWriteBackNs, "gone"}, &barrier).ok());
  ASSERT_NE(barrier, 0u);  // Blob namespaces always remove below
  auto removed = a_.stack->RemoveBelow({kWriteBackNs, "gone"}, barrier, true);
  ASSERT_TRUE(removed.ok()) << removed.status().ToString();
  EXPECT_TRUE(*removed);
  EXPECT_EQ(a_.blob->Get({kWriteBackNs, "gone"}).status().code(), StatusCode::kNotFound);
  Location from = Location::kNone;
  EXPECT_EQ(a_.GetBelow(kWriteBackNs, "gone", &from).status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace kvtier::tiers
