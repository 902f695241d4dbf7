// The tier stack over a real DRAM tier and a real NVMe tier in a temporary
// directory. Races are made deterministic with a gate: a TierWrapper around
// the NVMe tier that stops one key's Put or Get until the test opens it.

#include "tiers/tier_stack.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>
#include <tuple>

#include "common/checksum.h"
#include "tiers/nvme/nvme_tier.h"

namespace kvtier::tiers {
namespace {

constexpr uint32_t kNs = 1;
constexpr uint32_t kWriteThroughNs = 2;
constexpr uint32_t kDramOnlyNs = 3;
constexpr size_t kValue = 256 * 1024;

// Holds Put and Get of `gate_key` until Open(); counts NVMe Gets.
class GatedTier : public TierWrapper {
 public:
  using TierWrapper::TierWrapper;

  void Close(std::string key) {
    std::lock_guard lock(mu_);
    gate_key_ = std::move(key);
    open_ = false;
    entered_ = 0;
  }
  void Open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  // Waits until `n` calls are held at the gate.
  void WaitEntered(int n) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return entered_ >= n; });
  }
  int gets() const { return gets_.load(); }

  Status Put(const BlockKey& key, BlockHandle block) override {
    Hold(key);
    return target()->Put(key, std::move(block));
  }
  Result<BlockHandle> Get(const BlockKey& key) override {
    gets_.fetch_add(1);
    Hold(key);
    return target()->Get(key);
  }

 private:
  void Hold(const BlockKey& key) {
    std::unique_lock lock(mu_);
    if (open_ || key.key != gate_key_) return;
    ++entered_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }

  std::mutex mu_;
  std::condition_variable cv_;
  std::string gate_key_;
  bool open_ = true;
  int entered_ = 0;
  std::atomic<int> gets_{0};
};

class TierStackTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/kvtier-stack-XXXXXX";
    nvme_options_.directory = mkdtemp(pattern);
    nvme_options_.capacity_bytes = 16ull << 20;
    nvme_options_.segment_bytes = 1ull << 20;
    dram_options_.capacity_bytes = 4ull << 20;
    dram_options_.shards = 1;  // FIFO-like eviction order across keys
    dram_options_.policy = EvictionPolicyKind::kLru;
  }
  void TearDown() override {
    stack_.reset();
    gated_.reset();
    nvme_.reset();
    dram_.reset();
    std::filesystem::remove_all(nvme_options_.directory);
  }

  void Build(TierStackOptions options = {}) {
    dram_ = std::make_unique<DramTier>(dram_options_);
    auto nvme = NvmeTier::Open(nvme_options_);
    ASSERT_TRUE(nvme.ok()) << nvme.status().ToString();
    nvme_ = std::move(*nvme);
    gated_ = std::make_unique<GatedTier>(nvme_.get());
    stack_ = std::make_unique<TierStack>(*dram_, gated_.get(), options);
    stack_->SetNamespacePolicy(kNs, {});
    stack_->SetNamespacePolicy(kWriteThroughNs, {.write_mode = WriteMode::kWriteThrough});
    stack_->SetNamespacePolicy(kDramOnlyNs, {.use_nvme = false});
  }

  static std::vector<std::byte> Value(uint32_t seed, size_t size = kValue) {
    std::vector<std::byte> out(size);
    for (size_t i = 0; i < size; ++i) out[i] = static_cast<std::byte>((seed * 167 + i * 7) & 0xff);
    return out;
  }

  BlockHandle Block(const std::string& key, const std::vector<std::byte>& value,
                    const BlockAttributes& attributes = {}) {
    auto block = stack_->Allocate(key.size(), value.size());
    EXPECT_TRUE(block.ok()) << block.status().ToString();
    std::memcpy(block->mutable_bytes().data(), value.data(), value.size());
    const uint64_t checksum = BlockChecksum(block->mutable_bytes());
    return std::move(*block).Seal(checksum, attributes);
  }

  // A write-back put that completes its lower step like the server does.
  void Put(uint32_t ns, const std::string& key, const std::vector<std::byte>& value,
           const BlockAttributes& attributes = {}) {
    uint64_t barrier = 0;
    ASSERT_TRUE(stack_->PutWriteBack({ns, key}, Block(key, value, attributes), &barrier).ok());
    if (barrier != 0) {
      ASSERT_TRUE(stack_->RemoveBelow({ns, key}, barrier, false).ok());
    }
  }

  void Delete(uint32_t ns, const std::string& key) {
    uint64_t barrier = 0;
    stack_->EraseFromDram({ns, key}, &barrier).IgnoreError();
    if (barrier != 0) {
      ASSERT_TRUE(stack_->RemoveBelow({ns, key}, barrier, true).ok());
    }
  }

  // A get as the server does it: DRAM, then below.
  Result<std::vector<std::byte>> Read(uint32_t ns, const std::string& key,
                                      Location* from = nullptr) {
    Location where = Location::kDram;
    auto handle = stack_->GetFromDram({ns, key});
    if (!handle.ok()) handle = stack_->GetBelow({ns, key}, &where);
    if (from != nullptr) *from = where;
    if (!handle.ok()) return handle.status();
    return std::vector<std::byte>(handle->bytes().begin(), handle->bytes().end());
  }

  uint64_t Counter(const std::string& tier, const std::string& name) {
    for (const auto& stats : stack_->Stats()) {
      if (stats.name != tier) continue;
      for (const auto& c : stats.counters) {
        if (c.name == name) return c.value;
      }
    }
    ADD_FAILURE() << "no counter " << tier << "." << name;
    return 0;
  }

  // Puts filler blocks until `key` has left DRAM.
  void EvictFromDram(uint32_t ns, const std::string& key) {
    for (int i = 0; dram_->Contains({ns, key}); ++i) {
      ASSERT_LT(i, 1000);
      Put(kDramOnlyNs, "filler-" + std::to_string(filler_++), Value(9000 + i));
    }
  }

  DramTierOptions dram_options_;
  NvmeTierOptions nvme_options_;
  std::unique_ptr<DramTier> dram_;
  std::unique_ptr<NvmeTier> nvme_;
  std::unique_ptr<GatedTier> gated_;
  std::unique_ptr<TierStack> stack_;
  int filler_ = 0;
};

TEST_F(TierStackTest, EvictedBlocksAreDemotedAndReadBackFromNvme) {
  Build();
  constexpr int kBlocks = 40;  // 10 MiB through a 4 MiB DRAM tier
  for (int i = 0; i < kBlocks; ++i) {
    Put(kNs, "k" + std::to_string(i), Value(i));
    stack_->FlushDemotions();  // no demotion is dropped for a full queue
  }
  EXPECT_LE(dram_->used_bytes(), dram_options_.capacity_bytes);
  EXPECT_GT(Counter("dram", "demotions"), 0u);
  EXPECT_EQ(Counter("dram", "demotion_queue_full"), 0u);
  int from_nvme = 0;
  for (int i = 0; i < kBlocks; ++i) {
    Location from = Location::kNone;
    auto value = Read(kNs, "k" + std::to_string(i), &from);
    ASSERT_TRUE(value.ok()) << i << ": " << value.status().ToString();
    EXPECT_EQ(*value, Value(i)) << i;
    if (from == Location::kNvme) ++from_nvme;
  }
  EXPECT_GT(from_nvme, 0);
}

TEST_F(TierStackTest, NvmeHitIsPromotedIntoDram) {
  Build();
  Put(kNs, "p", Value(1));
  EvictFromDram(kNs, "p");
  stack_->FlushDemotions();
  EXPECT_EQ(stack_->Locate({kNs, "p"}), Location::kNvme);
  Location from = Location::kNone;
  auto value = Read(kNs, "p", &from);
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(from, Location::kNvme);
  EXPECT_EQ(*value, Value(1));
  EXPECT_EQ(stack_->Locate({kNs, "p"}), Location::kDram);
  EXPECT_EQ(Counter("nvme", "promotions"), 1u);
  // The next read is a DRAM hit.
  ASSERT_TRUE(Read(kNs, "p", &from).ok());
  EXPECT_EQ(from, Location::kDram);
}

TEST_F(TierStackTest, ABlockReadInDramIsWrittenAgainWhenEvictedAndOthersAreNot) {
  Build();
  Put(kNs, "read", Value(1));
  Put(kNs, "unread", Value(2));
  EvictFromDram(kNs, "read");
  EvictFromDram(kNs, "unread");
  stack_->FlushDemotions();
  EXPECT_EQ(Counter("dram", "demotions"), 2u);
  // "read" comes back (promoted: read once); "unread" is put again with the
  // same bytes and never read.
  Location from = Location::kNone;
  ASSERT_TRUE(Read(kNs, "read", &from).ok());
  EXPECT_EQ(from, Location::kNvme);
  Put(kNs, "unread", Value(2));
  // A write-through block is read in DRAM but its durable copy stays put.
  ASSERT_TRUE(
      stack_->PutWriteThrough({kWriteThroughNs, "durable"}, Block("durable", Value(3))).ok());
  ASSERT_TRUE(Read(kWriteThroughNs, "durable").ok());
  EvictFromDram(kNs, "read");
  EvictFromDram(kNs, "unread");
  EvictFromDram(kWriteThroughNs, "durable");
  stack_->FlushDemotions();
  EXPECT_EQ(Counter("dram", "demotions_refreshed"), 1u);  // "read" only
  EXPECT_EQ(Counter("dram", "demotions"), 3u);
  EXPECT_EQ(Counter("dram", "demotions_already_below"), 2u);  // "unread" and "durable"
  for (const auto& [ns, key, seed] : {std::tuple{kNs, "read", 1}, std::tuple{kNs, "unread", 2},
                                      std::tuple{kWriteThroughNs, "durable", 3}}) {
    auto value = Read(ns, key, &from);
    ASSERT_TRUE(value.ok()) << key;
    EXPECT_EQ(from, Location::kNvme) << key;
    EXPECT_EQ(*value, Value(seed)) << key;
  }
}

TEST_F(TierStackTest, NoPromotionWhenDisabled) {
  Build({.promote_on_get = false});
  Put(kNs, "p", Value(1));
  EvictFromDram(kNs, "p");
  stack_->FlushDemotions();
  ASSERT_TRUE(Read(kNs, "p").ok());
  EXPECT_EQ(stack_->Locate({kNs, "p"}), Location::kNvme);
  EXPECT_EQ(Counter("nvme", "promotions"), 0u);
}

TEST_F(TierStackTest, ConcurrentMissesShareOneNvmeRead) {
  Build();
  Put(kNs, "hot", Value(7));
  EvictFromDram(kNs, "hot");
  stack_->FlushDemotions();
  const int gets_before = gated_->gets();
  gated_->Close("hot");
  constexpr int kReaders = 8;
  std::vector<std::thread> readers;
  std::vector<std::vector<std::byte>> results(kReaders);
  for (int r = 0; r < kReaders; ++r) {
    readers.emplace_back([&, r] {
      Location from = Location::kNone;
      auto handle = stack_->GetBelow({kNs, "hot"}, &from);
      if (handle.ok()) results[r].assign(handle->bytes().begin(), handle->bytes().end());
    });
  }
  gated_->WaitEntered(1);  // the leader is reading NVMe
  while (Counter("nvme", "single_flight_joins") < kReaders - 1) std::this_thread::yield();
  gated_->Open();
  for (auto& t : readers) t.join();
  EXPECT_EQ(gated_->gets() - gets_before, 1);
  for (const auto& result : results) EXPECT_EQ(result, Value(7));
}

TEST_F(TierStackTest, BlockWaitingForItsDemotionIsStillReadable) {
  Build();
  Put(kNs, "q", Value(8));
  gated_->Close("q");
  EvictFromDram(kNs, "q");
  gated_->WaitEntered(1);  // evicted, and its NVMe write is held
  EXPECT_EQ(stack_->Locate({kNs, "q"}), Location::kDram);
  auto value = Read(kNs, "q");
  ASSERT_TRUE(value.ok()) << value.status().ToString();
  EXPECT_EQ(*value, Value(8));
  gated_->Open();
  stack_->FlushDemotions();
  EXPECT_EQ(stack_->Locate({kNs, "q"}), Location::kNvme);
}

TEST_F(TierStackTest, DeleteDuringARunningDemotionDoesNotResurrect) {
  Build();
  Put(kNs, "d", Value(3));
  gated_->Close("d");
  EvictFromDram(kNs, "d");
  gated_->WaitEntered(1);  // the demotion of "d" is inside NVMe Put
  uint64_t barrier = 0;
  stack_->EraseFromDram({kNs, "d"}, &barrier).IgnoreError();
  ASSERT_NE(barrier, 0u) << "a running demotion must send the delete to a worker";
  std::thread remover([&] { EXPECT_TRUE(stack_->RemoveBelow({kNs, "d"}, barrier, true).ok()); });
  gated_->Open();
  remover.join();
  stack_->FlushDemotions();
  EXPECT_EQ(stack_->Locate({kNs, "d"}), Location::kNone);
  EXPECT_FALSE(nvme_->Contains({kNs, "d"}));
  EXPECT_EQ(Read(kNs, "d").status().code(), StatusCode::kNotFound);
}

TEST_F(TierStackTest, DeleteOfAQueuedDemotionCancelsIt) {
  Build();
  Put(kNs, "first", Value(1));
  Put(kNs, "second", Value(2));
  gated_->Close("first");  // holds the demotion thread on "first"
  EvictFromDram(kNs, "second");
  gated_->WaitEntered(1);
  Delete(kNs, "second");  // its demotion is still queued behind "first"
  gated_->Open();
  stack_->FlushDemotions();
  EXPECT_GE(Counter("dram", "demotions_cancelled"), 1u);
  EXPECT_FALSE(nvme_->Contains({kNs, "second"}));
  EXPECT_EQ(Read(kNs, "second").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Read(kNs, "first").ok());
}

TEST_F(TierStackTest, OverwriteRemovesTheOlderCopyBelow) {
  Build();
  Put(kNs, "o", Value(1));
  EvictFromDram(kNs, "o");
  stack_->FlushDemotions();
  ASSERT_TRUE(nvme_->Contains({kNs, "o"}));
  uint64_t barrier = 0;
  ASSERT_TRUE(stack_->PutWriteBack({kNs, "o"}, Block("o", Value(2)), &barrier).ok());
  ASSERT_NE(barrier, 0u);
  EXPECT_TRUE(stack_->RemoveBelow({kNs, "o"}, barrier, false).value());
  EXPECT_FALSE(nvme_->Contains({kNs, "o"}));
  // The new value leaves DRAM too and comes back from NVMe: never the old.
  EvictFromDram(kNs, "o");
  stack_->FlushDemotions();
  auto value = Read(kNs, "o");
  ASSERT_TRUE(value.ok());
  EXPECT_EQ(*value, Value(2));
}

TEST_F(TierStackTest, RePutOfTheSameBytesNeedsNoWorker) {
  Build();
  Put(kNs, "same", Value(5));
  EvictFromDram(kNs, "same");
  stack_->FlushDemotions();
  uint64_t barrier = 0;
  ASSERT_TRUE(stack_->PutWriteBack({kNs, "same"}, Block("same", Value(5)), &barrier).ok());
  EXPECT_EQ(barrier, 0u);
  ASSERT_TRUE(stack_->PutWriteBack({kNs, "same"}, Block("same", Value(6)), &barrier).ok());
  EXPECT_NE(barrier, 0u);
}

TEST_F(TierStackTest, WriteThroughIsInNvmeWhenThePutReturns) {
  Build();
  ASSERT_TRUE(stack_->PutWriteThrough({kWriteThroughNs, "w"}, Block("w", Value(4))).ok());
  EXPECT_TRUE(nvme_->Contains({kWriteThroughNs, "w"}));
  EXPECT_EQ(Counter("dram", "demotions"), 0u);
  // Reopen the NVMe tier alone: the block is there, byte for byte.
  stack_.reset();
  gated_.reset();
  nvme_.reset();
  auto reopened = NvmeTier::Open(nvme_options_);
  ASSERT_TRUE(reopened.ok());
  auto block = (*reopened)->Get({kWriteThroughNs, "w"});
  ASSERT_TRUE(block.ok());
  EXPECT_EQ(std::vector<std::byte>(block->bytes().begin(), block->bytes().end()), Value(4));
}

TEST_F(TierStackTest, DramOnlyNamespaceNeverGoesBelow) {
  Build();
  Put(kDramOnlyNs, "x", Value(1));
  EvictFromDram(kDramOnlyNs, "x");
  stack_->FlushDemotions();
  EXPECT_FALSE(nvme_->Contains({kDramOnlyNs, "x"}));
  EXPECT_FALSE(stack_->MayBeBelow({kDramOnlyNs, "x"}));
}

TEST_F(TierStackTest, ReadOnceAdmissionDemotesOnlyBlocksThatWereRead) {
  Build({.admission = AdmissionPolicy::kReadOnce});
  Put(kNs, "read", Value(1));
  Put(kNs, "unread", Value(2));
  ASSERT_TRUE(Read(kNs, "read").ok());
  EvictFromDram(kNs, "read");
  EvictFromDram(kNs, "unread");
  stack_->FlushDemotions();
  EXPECT_TRUE(nvme_->Contains({kNs, "read"}));
  EXPECT_FALSE(nvme_->Contains({kNs, "unread"}));
  EXPECT_GE(Counter("dram", "admission_rejects"), 1u);
}

TEST_F(TierStackTest, ChainAdmissionDropsOnlyUnreadPartialTails) {
  Build({.admission = AdmissionPolicy::kChain});
  BlockAttributes tail;
  tail.partial_tail = true;
  Put(kNs, "whole", Value(1));
  Put(kNs, "tail", Value(2), tail);
  Put(kNs, "read-tail", Value(3), tail);
  ASSERT_TRUE(Read(kNs, "read-tail").ok());  // an identical prompt came back
  EvictFromDram(kNs, "whole");
  EvictFromDram(kNs, "tail");
  EvictFromDram(kNs, "read-tail");
  stack_->FlushDemotions();
  EXPECT_TRUE(nvme_->Contains({kNs, "whole"}));
  EXPECT_FALSE(nvme_->Contains({kNs, "tail"}));
  EXPECT_TRUE(nvme_->Contains({kNs, "read-tail"}));
  EXPECT_EQ(Counter("dram", "admission_rejects"), 1u);
}

TEST_F(TierStackTest, BothTiersHoldTheirCapacity) {
  Build();
  // Three times the NVMe capacity through both tiers.
  for (int i = 0; i < 3 * 16 * 4; ++i) {
    Put(kNs, "c" + std::to_string(i), Value(i));
    stack_->FlushDemotions();
    ASSERT_LE(dram_->used_bytes(), dram_options_.capacity_bytes);
  }
  EXPECT_LE(nvme_->DiskBytes(), nvme_options_.capacity_bytes);
  EXPECT_GT(Counter("nvme", "evictions"), 0u);
  // What is still held reads back intact.
  int readable = 0;
  for (int i = 0; i < 3 * 16 * 4; ++i) {
    auto value = Read(kNs, "c" + std::to_string(i));
    if (!value.ok()) continue;
    EXPECT_EQ(*value, Value(i)) << i;
    ++readable;
  }
  EXPECT_GT(readable, 40);
}

}  // namespace
}  // namespace kvtier::tiers
