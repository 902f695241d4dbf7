#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>

#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include "common/checksum.h"
#include "tiers/dram/dram_tier.h"
#include "tiers/index_key.h"

namespace kvtier::tiers {
namespace {

constexpr uint64_t kCapacity = 4ull << 20;

DramTierOptions Options(uint64_t capacity = kCapacity, uint32_t shards = 4,
                        EvictionPolicyKind policy = EvictionPolicyKind::kS3Fifo) {
  DramTierOptions options;
  options.capacity_bytes = capacity;
  options.shards = shards;
  options.policy = policy;
  return options;
}

// Fills a block with bytes derived from `seed` and seals it.
Result<BlockHandle> MakeBlock(DramTier& tier, std::string_view key, size_t size, uint32_t seed) {
  KVTIER_ASSIGN_OR_RETURN(WritableBlock block, tier.Allocate(key.size(), size));
  auto bytes = block.mutable_bytes();
  for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>((seed * 131 + i) & 0xff);
  const uint64_t checksum = BlockChecksum(bytes);
  return std::move(block).Seal(checksum);
}

uint64_t Counter(const TierStats& stats, std::string_view name) {
  for (const auto& c : stats.counters) {
    if (c.name == name) return c.value;
  }
  ADD_FAILURE() << "no counter " << name;
  return 0;
}

Status PutBlock(DramTier& tier, uint32_t ns, const std::string& key, size_t size,
                uint32_t seed = 0) {
  KVTIER_ASSIGN_OR_RETURN(BlockHandle block, MakeBlock(tier, key, size, seed));
  return tier.Put({ns, key}, std::move(block));
}

TEST(DramTier, UsedBytesCountRealAllocationsAndOverhead) {
  DramTier tier(Options());
  ASSERT_TRUE(PutBlock(tier, 1, "key", 1000).ok());
  const uint64_t used = tier.used_bytes();
  EXPECT_GE(used, 1000 + BlockBuffer::HeaderSize() + DramTier::kEntryOverheadBytes + 3);
  ASSERT_TRUE(tier.Erase({1, "key"}).ok());
  // Only the value memory, kept for reuse, is still held.
  EXPECT_EQ(tier.used_bytes(), tier.kept_free_bytes());
  EXPECT_GE(tier.kept_free_bytes(), 1000u);
}

TEST(DramTier, BytesPerNamespaceFollowPutsOverwritesErasesAndEvictions) {
  DramTier tier(Options());
  auto held = [&](uint32_t ns) {
    const TierStats stats = tier.Stats();
    const auto it = stats.namespace_bytes.find(ns);
    return it == stats.namespace_bytes.end() ? uint64_t{0} : it->second;
  };
  ASSERT_TRUE(PutBlock(tier, 1, "a", 100 << 10).ok());
  ASSERT_TRUE(PutBlock(tier, 1, "b", 100 << 10).ok());
  ASSERT_TRUE(PutBlock(tier, 2, "a", 100 << 10).ok());
  const uint64_t one_block = held(2);
  EXPECT_GE(one_block, 100u << 10);
  EXPECT_EQ(held(1), 2 * one_block);
  ASSERT_TRUE(PutBlock(tier, 1, "a", 100 << 10, 7).ok());  // overwrite: same size
  EXPECT_EQ(held(1), 2 * one_block);
  ASSERT_TRUE(tier.Erase({1, "a"}).ok());
  EXPECT_EQ(held(1), one_block);
  // Fill namespace 3 past capacity: evictions take from every namespace, and
  // the per-namespace bytes still add up to what the index holds.
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(PutBlock(tier, 3, "f" + std::to_string(i), 100 << 10).ok());
  }
  // With nothing pinned, every counted byte is an indexed block or kept memory.
  EXPECT_EQ(held(1) + held(2) + held(3), tier.used_bytes() - tier.kept_free_bytes());
  EXPECT_LT(held(1) + held(2), 3 * one_block);  // the older blocks went first
  EXPECT_LE(held(1) + held(2) + held(3), kCapacity);
}

TEST(DramTier, KeptMemoryIsReusedForTheSameSizeAndReleasedForOthers) {
  DramTier tier(Options(kCapacity, 1));
  ASSERT_TRUE(PutBlock(tier, 1, "a", 100000).ok());
  const uint64_t one_block = tier.used_bytes();
  ASSERT_TRUE(tier.Erase({1, "a"}).ok());
  const uint64_t kept = tier.kept_free_bytes();
  ASSERT_GT(kept, 0u);
  ASSERT_TRUE(PutBlock(tier, 1, "b", 99999).ok());  // same size class: reused
  EXPECT_EQ(tier.kept_free_bytes(), 0u);
  EXPECT_EQ(tier.used_bytes(), one_block);
  // Fill with one size, then switch to another: kept memory of the first
  // size goes back before room is refused, and capacity holds throughout.
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(PutBlock(tier, 1, "s" + std::to_string(i), 32768).ok());
  for (int i = 0; i < 200; ++i) (void)tier.Erase({1, "s" + std::to_string(i)});
  EXPECT_GT(tier.kept_free_bytes(), 0u);
  for (int i = 0; i < 30; ++i) {
    ASSERT_TRUE(PutBlock(tier, 1, "big" + std::to_string(i), 256 * 1024).ok()) << i;
    ASSERT_LE(tier.used_bytes(), kCapacity);
  }
}

TEST(DramTier, NeverHoldsMoreThanCapacity) {
  DramTier tier(Options());
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(PutBlock(tier, 1, "k" + std::to_string(i), 16 * 1024, i).ok());
    ASSERT_LE(tier.used_bytes(), kCapacity);
  }
  const TierStats stats = tier.Stats();
  EXPECT_LT(stats.items, 2000u);
  EXPECT_EQ(Counter(stats, "evictions") + stats.items, 2000u);
}

TEST(DramTier, UnsealedBlocksReturnTheirCharge) {
  DramTier tier(Options());
  {
    auto block = tier.Allocate(3, 100000);
    ASSERT_TRUE(block.ok());
    EXPECT_GT(tier.used_bytes(), 100000u);
  }
  EXPECT_EQ(tier.used_bytes(), tier.kept_free_bytes());
}

TEST(DramTier, BlockLargerThanCapacityIsInvalid) {
  DramTier tier(Options());
  auto block = tier.Allocate(3, kCapacity);
  EXPECT_EQ(block.status().code(), StatusCode::kInvalidArgument);
}

TEST(DramTier, PinnedBlocksAreNotEvictedAndFullPinsGiveRetryableError) {
  DramTier tier(Options(kCapacity, 1));
  std::vector<BlockHandle> pins;
  int stored = 0;
  // Pin every block as it is stored, until nothing more fits.
  for (;; ++stored) {
    auto block = MakeBlock(tier, "k", 64 * 1024, stored);
    if (!block.ok()) {
      EXPECT_EQ(block.status().code(), StatusCode::kResourceExhausted);
      EXPECT_TRUE(block.status().retryable());
      break;
    }
    const std::string key = "k" + std::to_string(stored);
    ASSERT_TRUE(tier.Put({1, key}, std::move(*block)).ok());
    pins.push_back(*tier.Get({1, key}));
    ASSERT_LT(stored, 1000) << "capacity never ran out";
  }
  ASSERT_GT(stored, 10);
  for (int i = 0; i < stored; ++i) EXPECT_TRUE(tier.Contains({1, "k" + std::to_string(i)}));
  // Releasing one pin makes room again.
  pins.erase(pins.begin());
  EXPECT_TRUE(PutBlock(tier, 1, "after", 64 * 1024).ok());
  EXPECT_FALSE(tier.Contains({1, "k0"}));
}

TEST(DramTier, APinnedBlockSurvivesHeavyChurn) {
  DramTier tier(Options());
  ASSERT_TRUE(PutBlock(tier, 1, "keep", 32 * 1024, 99).ok());
  BlockHandle pin = *tier.Get({1, "keep"});
  const uint64_t checksum = pin.checksum();
  for (int i = 0; i < 1000; ++i)
    ASSERT_TRUE(PutBlock(tier, 1, "c" + std::to_string(i), 32 * 1024).ok());
  EXPECT_TRUE(tier.Contains({1, "keep"}));
  EXPECT_EQ(BlockChecksum(pin.bytes()), checksum);
}

TEST(DramTier, ErasedButPinnedBytesStillCount) {
  DramTier tier(Options());
  ASSERT_TRUE(PutBlock(tier, 1, "k", 100000).ok());
  const uint64_t used = tier.used_bytes();
  BlockHandle pin = *tier.Get({1, "k"});
  ASSERT_TRUE(tier.Erase({1, "k"}).ok());
  EXPECT_EQ(tier.used_bytes(), used);  // still held by the reader
  pin.Reset();
  EXPECT_EQ(tier.used_bytes(), tier.kept_free_bytes());
}

// A hot set re-read between cold one-time inserts. Hot reuse distance
// exceeds the capacity, so LRU thrashes; S3-FIFO keeps the hot set in its
// main queue and lets the scan pass through the small one.
double HotHitRatio(EvictionPolicyKind policy) {
  DramTier tier(Options(2ull << 20, 1, policy));
  constexpr size_t kValue = 4096 - 64;
  int capacity_blocks = 0;
  while (Counter(tier.Stats(), "evictions") == 0) {  // until the first eviction
    EXPECT_TRUE(PutBlock(tier, 9, "probe" + std::to_string(capacity_blocks++), kValue).ok());
  }
  const int hot = capacity_blocks * 6 / 10;
  for (int i = 0; i < hot; ++i) {
    EXPECT_TRUE(PutBlock(tier, 1, "hot" + std::to_string(i), kValue).ok());
    EXPECT_TRUE(tier.Get({1, "hot" + std::to_string(i)}).ok());
  }
  int hits = 0;
  int reads = 0;
  for (int i = 0; i < capacity_blocks * 8; ++i) {
    EXPECT_TRUE(PutBlock(tier, 2, "cold" + std::to_string(i), kValue).ok());
    const std::string key = "hot" + std::to_string(i % hot);
    ++reads;
    if (tier.Get({1, key}).ok()) {
      ++hits;
    } else {
      EXPECT_TRUE(PutBlock(tier, 1, key, kValue).ok());
    }
  }
  return static_cast<double>(hits) / reads;
}

TEST(DramTier, S3FifoResistsScansThatFlushLru) {
  const double lru = HotHitRatio(EvictionPolicyKind::kLru);
  const double s3fifo = HotHitRatio(EvictionPolicyKind::kS3Fifo);
  EXPECT_LT(lru, 0.1);
  EXPECT_GT(s3fifo, 0.6);
}

TEST(DramTier, ConcurrentPutGetEraseNeverServesWrongBytes) {
  DramTier tier(Options(8ull << 20, 16));
  std::atomic<uint64_t> bad{0};
  std::atomic<uint64_t> hits{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 random(1000 + t);
      for (int i = 0; i < 4000; ++i) {
        const std::string key = "k" + std::to_string(random() % 300);
        const uint32_t op = random() % 10;
        if (op < 4) {
          const size_t size = 1024 + random() % (64 * 1024);
          Status s = PutBlock(tier, 1, key, size, random());
          if (!s.ok() && s.code() != StatusCode::kResourceExhausted) bad++;
        } else if (op < 9) {
          auto got = tier.Get({1, key});
          if (got.ok()) {
            hits++;
            if (BlockChecksum(got->bytes()) != got->checksum()) bad++;
          }
        } else {
          (void)tier.Erase({1, key});
        }
        if (tier.used_bytes() > tier.capacity_bytes()) bad++;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(bad.load(), 0u);
  EXPECT_GT(hits.load(), 0u);
  for (int k = 0; k < 300; ++k) (void)tier.Erase({1, "k" + std::to_string(k)});
  EXPECT_EQ(tier.used_bytes(), tier.kept_free_bytes());
  EXPECT_EQ(tier.Stats().items, 0u);
}

Status PutWith(DramTier& tier, uint32_t ns, const std::string& key, size_t size,
               BlockAttributes attributes) {
  KVTIER_ASSIGN_OR_RETURN(WritableBlock block, tier.Allocate(key.size(), size));
  std::memset(block.mutable_bytes().data(), 7, size);
  const uint64_t checksum = BlockChecksum(block.mutable_bytes());
  return tier.Put({ns, key}, std::move(block).Seal(checksum, attributes));
}

TEST(DramTier, SoftPinnedBlocksGoOnlyWhenNothingElseCan) {
  DramTier tier(Options(kCapacity, 4, EvictionPolicyKind::kLru));
  constexpr size_t kValue = 256 * 1024;
  ASSERT_TRUE(PutWith(tier, 1, "soft", kValue, {.pin = PinLevel::kSoft}).ok());
  // Eight times the capacity of unpinned blocks: each evicts another one.
  for (int i = 0; i < 128; ++i)
    ASSERT_TRUE(PutBlock(tier, 1, "u" + std::to_string(i), kValue).ok());
  EXPECT_TRUE(tier.Contains({1, "soft"}));
  EXPECT_EQ(Counter(tier.Stats(), "soft_pin_evictions"), 0u);
  // Only soft-pinned blocks left: they go rather than refusing the put.
  for (int i = 0; i < 32; ++i) {
    ASSERT_TRUE(PutWith(tier, 1, "s" + std::to_string(i), kValue, {.pin = PinLevel::kSoft}).ok());
  }
  EXPECT_FALSE(tier.Contains({1, "soft"}));
  EXPECT_GT(Counter(tier.Stats(), "soft_pin_evictions"), 0u);
}

TEST(DramTier, HardPinsAreNeverEvictedAndBoundedByTheNamespaceQuota) {
  DramTier tier(Options(kCapacity, 4, EvictionPolicyKind::kLru));
  constexpr size_t kValue = 256 * 1024;
  tier.SetHardPinQuota(1, 4 * kValue);
  for (int i = 0; i < 4; ++i) {
    ASSERT_TRUE(PutWith(tier, 1, "h" + std::to_string(i), kValue, {.pin = PinLevel::kHard}).ok());
  }
  const Status over = PutWith(tier, 1, "h4", kValue, {.pin = PinLevel::kHard});
  EXPECT_EQ(over.code(), StatusCode::kResourceExhausted) << over.ToString();
  // No quota at all in namespace 2.
  EXPECT_EQ(PutWith(tier, 2, "h", kValue, {.pin = PinLevel::kHard}).code(),
            StatusCode::kResourceExhausted);
  EXPECT_EQ(Counter(tier.Stats(), "hard_pin_refusals"), 2u);
  for (int i = 0; i < 128; ++i)
    ASSERT_TRUE(PutBlock(tier, 1, "u" + std::to_string(i), kValue).ok());
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(tier.Contains({1, "h" + std::to_string(i)})) << i;
  // Erasing one gives its quota back.
  ASSERT_TRUE(tier.Erase({1, "h0"}).ok());
  EXPECT_TRUE(PutWith(tier, 1, "h4", kValue, {.pin = PinLevel::kHard}).ok());
}

TEST(DramTier, ExpiredBlocksReadAsMissesAndAreReclaimed) {
  DramTier tier(Options());
  const uint64_t past = UnixNowMs() - 1;
  const uint64_t future = UnixNowMs() + 3'600'000;
  ASSERT_TRUE(PutWith(tier, 1, "old", 4096, {.expires_at_ms = past}).ok());
  ASSERT_TRUE(PutWith(tier, 1, "stale", 4096, {.expires_at_ms = past}).ok());
  ASSERT_TRUE(PutWith(tier, 1, "fresh", 4096, {.expires_at_ms = future}).ok());
  EXPECT_FALSE(tier.Contains({1, "old"}));
  EXPECT_EQ(tier.Get({1, "old"}).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(tier.Get({1, "fresh"}).ok());
  const uint64_t before = tier.used_bytes() - tier.kept_free_bytes();
  EXPECT_EQ(tier.ReclaimExpired(1000), 1u);  // "stale"; "old" went at its Get
  EXPECT_LT(tier.used_bytes() - tier.kept_free_bytes(), before);
  EXPECT_EQ(tier.Stats().items, 1u);
  EXPECT_EQ(Counter(tier.Stats(), "expired"), 2u);
}

TEST(BlockPool, BestFitSplitsAndFreeingCoalescesBackToOneRun) {
  auto pool = BlockPool::Reserve(1 << 20);
  ASSERT_TRUE(pool.ok()) << pool.status().ToString();
  BlockPool& p = **pool;
  const uint64_t size = p.memory().size();
  EXPECT_GE(size, 1u << 20);
  void* a = p.Allocate(100);  // rounded up to 128
  void* b = p.Allocate(4096);
  void* c = p.Allocate(64);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_NE(c, nullptr);
  for (void* m : {a, b, c}) {
    EXPECT_TRUE(p.Contains(m));
    EXPECT_EQ(reinterpret_cast<uintptr_t>(m) % BlockPool::kAlignment, 0u);
  }
  EXPECT_EQ(p.free_bytes(), size - 128 - 4096 - 64);
  // A freed hole of 4096 is the best fit for 4000, ahead of the large tail.
  p.Free(b, 4096);
  EXPECT_EQ(p.Allocate(4000), b);
  p.Free(b, 4000);
  p.Free(a, 100);
  p.Free(c, 64);
  EXPECT_EQ(p.free_bytes(), size);
  EXPECT_EQ(p.largest_free_run(), size);
  EXPECT_EQ(p.Allocate(size + 1), nullptr);
  EXPECT_EQ(p.Allocate(size), p.memory().data());
}

TEST(BlockPool, FreedMemoryKeepsItsBytes) {
  // Nothing is returned to the kernel: a device that registered the pool
  // must keep writing the same pages.
  auto pool = BlockPool::Reserve(256 << 10);
  ASSERT_TRUE(pool.ok());
  auto* m = static_cast<std::byte*>((*pool)->Allocate(128 << 10));
  ASSERT_NE(m, nullptr);
  std::memset(m, 0x5a, 128 << 10);
  (*pool)->Free(m, 128 << 10);
  EXPECT_EQ((*pool)->Allocate(128 << 10), m);
  EXPECT_EQ(m[0], std::byte{0x5a});
  EXPECT_EQ(m[(128 << 10) - 1], std::byte{0x5a});
}

TEST(BlockPool, PopulatingMakesEveryPageResidentAndKeepsTheBytesOfBlocksInUse) {
  constexpr uint64_t kBytes = 8 << 20;
  auto pool = BlockPool::Reserve(kBytes);
  ASSERT_TRUE(pool.ok());
  const std::span<std::byte> memory = (*pool)->memory();
  const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t pages = memory.size() / page;
  auto resident = [&] {
    std::vector<unsigned char> in_core(pages);
    EXPECT_EQ(mincore(memory.data(), memory.size(), in_core.data()), 0);
    return std::count_if(in_core.begin(), in_core.end(), [](unsigned char c) { return c & 1; });
  };
  // A block written before population, in a pool that is otherwise lazy.
  auto* block = static_cast<std::byte*>((*pool)->Allocate(1 << 20));
  ASSERT_NE(block, nullptr);
  std::memset(block, 0x5a, 1 << 20);
  EXPECT_LT(resident(), static_cast<long>(pages));
  (*pool)->PopulateInBackground();
  ASSERT_TRUE((*pool)->WaitPopulated().ok());
  EXPECT_EQ(resident(), static_cast<long>(pages));
  EXPECT_EQ(block[0], std::byte{0x5a});
  EXPECT_EQ(block[(1 << 20) - 1], std::byte{0x5a});
}

// A DRAM tier in pool mode over a pool of the size it asks for.
std::unique_ptr<DramTier> PoolTier(uint64_t capacity, uint32_t shards = 4) {
  auto pool = BlockPool::Reserve(DramTier::PoolBytesFor(capacity));
  EXPECT_TRUE(pool.ok()) << pool.status().ToString();
  if (!pool.ok()) return nullptr;
  return std::make_unique<DramTier>(Options(capacity, shards), std::move(*pool));
}

TEST(DramTierPool, EveryBlockLiesInThePoolThroughChurnOfMixedSizes) {
  auto tier = PoolTier(kCapacity);
  ASSERT_NE(tier, nullptr);
  ASSERT_NE(tier->block_pool(), nullptr);
  std::mt19937 random(7);
  const size_t sizes[] = {1000, 4096, 16 * 1024, 65536, 256 * 1024, 300 * 1000};
  for (int i = 0; i < 3000; ++i) {
    const std::string key = "k" + std::to_string(random() % 200);
    const size_t size = sizes[random() % std::size(sizes)];
    auto block = MakeBlock(*tier, key, size, i);
    // The charge fits the capacity, so the pool's headroom must hold it:
    // fragmentation never refuses a put of an unpinned tier.
    ASSERT_TRUE(block.ok()) << i << ": " << block.status().ToString();
    EXPECT_TRUE(tier->block_pool()->Contains(block->bytes().data()));
    EXPECT_TRUE(tier->block_pool()->Contains(block->bytes().data() + size - 1));
    ASSERT_TRUE(tier->Put({1, key}, std::move(*block)).ok());
    ASSERT_LE(tier->used_bytes(), kCapacity);
  }
  for (int k = 0; k < 200; ++k) {
    auto got = tier->Get({1, "k" + std::to_string(k)});
    if (got.ok()) {
      EXPECT_EQ(BlockChecksum(got->bytes()), got->checksum());
    }
  }
}

TEST(DramTierPool, APoolSplitByPinnedBlocksGivesARetryableError) {
  // A 16 MiB tier has a 22 MiB pool. Pinned 64 KiB blocks alternating with
  // freed ones over the first 16 MiB leave 8 MiB free in that part but no
  // run of 7 MiB anywhere: the answer is retryable, not memory from
  // outside the pool. Once the pins go, the runs merge and it fits.
  constexpr uint64_t kCapacity16 = 16ull << 20;
  constexpr uint64_t kBig = 7ull << 20;
  auto tier = PoolTier(kCapacity16);
  ASSERT_NE(tier, nullptr);
  ASSERT_LT(tier->block_pool()->memory().size() - kCapacity16, kBig);
  std::vector<BlockHandle> pins;
  std::vector<WritableBlock> spacers;
  while (true) {
    auto spacer = tier->Allocate(1, 64 * 1024);
    auto pinned = tier->Allocate(1, 64 * 1024);
    if (!spacer.ok() || !pinned.ok()) break;
    spacers.push_back(std::move(*spacer));
    pins.push_back(std::move(*pinned).Seal(0));
  }
  ASSERT_GT(pins.size(), 100u);
  spacers.clear();
  auto big = tier->Allocate(1, kBig);
  ASSERT_FALSE(big.ok());
  EXPECT_EQ(big.status().code(), StatusCode::kResourceExhausted);
  pins.clear();
  auto fits = tier->Allocate(1, kBig);
  ASSERT_TRUE(fits.ok()) << fits.status().ToString();
  EXPECT_TRUE(tier->block_pool()->Contains(fits->mutable_bytes().data()));
}

// Puts `key` with a chain link to `parent` ("": none) and `size` bytes.
Status PutLinked(DramTier& tier, const std::string& key, const std::string& parent,
                 size_t size = 1000) {
  KVTIER_ASSIGN_OR_RETURN(WritableBlock block, tier.Allocate(key.size(), size));
  BlockAttributes attributes;
  if (!parent.empty()) attributes.parent_hash = ChainHash({1, parent});
  const uint64_t checksum = BlockChecksum(block.mutable_bytes());
  return tier.Put({1, key}, std::move(block).Seal(checksum, attributes));
}

// Keys of one length, so every block charges the same.
std::string FixedKey(uint64_t i) {
  std::string digits = std::to_string(i);
  return "k" + std::string(6 - digits.size(), '0') + digits;
}

// The charge of one 1000-byte block under a FixedKey.
uint64_t OneBlockCharge() {
  DramTier probe(Options());
  EXPECT_TRUE(PutBlock(probe, 1, FixedKey(0), 1000).ok());
  return probe.used_bytes();
}

TEST(DramTierOrder, TheGlobalOrderEvictsTheOldestBlockAcrossShards) {
  const uint64_t charge = OneBlockCharge();
  for (uint32_t shards : {1u, 64u}) {
    DramTier tier(Options(1 << 20, shards, EvictionPolicyKind::kLru));
    const uint64_t fits = tier.capacity_bytes() / charge;
    for (uint64_t i = 0; i < fits; ++i) ASSERT_TRUE(PutBlock(tier, 1, FixedKey(i), 1000).ok());
    ASSERT_EQ(Counter(tier.Stats(), "evictions"), 0u);
    ASSERT_TRUE(tier.Get({1, FixedKey(0)}).ok());  // now the most recent
    ASSERT_TRUE(PutBlock(tier, 1, FixedKey(fits), 1000).ok());
    // Exactly the least recently used block went, whichever shard held it.
    EXPECT_EQ(Counter(tier.Stats(), "evictions"), 1u);
    EXPECT_TRUE(tier.Contains({1, FixedKey(0)})) << shards << " shards";
    EXPECT_FALSE(tier.Contains({1, FixedKey(1)})) << shards << " shards";
    for (uint64_t i = 2; i <= fits; ++i) {
      EXPECT_TRUE(tier.Contains({1, FixedKey(i)})) << shards << " shards, " << FixedKey(i);
    }
  }
}

class ShardCount : public ::testing::TestWithParam<EvictionPolicyKind> {};

TEST_P(ShardCount, DoesNotChangeWhatIsKept) {
  std::vector<std::vector<bool>> kept;
  for (uint32_t shards : {1u, 16u, 64u}) {
    DramTier tier(Options(1 << 20, shards, GetParam()));
    std::mt19937_64 random(5);
    for (int i = 0; i < 4000; ++i) {
      const std::string key = FixedKey(random() % 1500);
      if (random() % 3 == 0) {
        tier.Get({1, key}).status().IgnoreError();
      } else {
        ASSERT_TRUE(PutBlock(tier, 1, key, 1000).ok());
      }
    }
    std::vector<bool> present;
    for (int k = 0; k < 1500; ++k) present.push_back(tier.Contains({1, FixedKey(k)}));
    kept.push_back(std::move(present));
  }
  EXPECT_EQ(kept[0], kept[1]);
  EXPECT_EQ(kept[0], kept[2]);
}

INSTANTIATE_TEST_SUITE_P(Policies, ShardCount,
                         ::testing::Values(EvictionPolicyKind::kDensity,
                                           EvictionPolicyKind::kPrefix, EvictionPolicyKind::kLru,
                                           EvictionPolicyKind::kS3Fifo, EvictionPolicyKind::kArc),
                         [](const auto& info) {
                           return std::string(EvictionPolicyName(info.param));
                         });

TEST(DramTierOrder, ChainsLoseTheirTailFirstUnderEveryPolicy) {
  for (auto policy :
       {EvictionPolicyKind::kDensity, EvictionPolicyKind::kPrefix, EvictionPolicyKind::kLru,
        EvictionPolicyKind::kS3Fifo, EvictionPolicyKind::kArc}) {
    DramTier tier(Options(1 << 20, 64, policy));
    // Chains of 8 blocks, put in order; each chain's first block read often
    // (as a shared prefix would be), far more chains than fit.
    // Each chain is one put, as the server makes it: every block allocated
    // (which may evict), then all published in order.
    for (int chain = 0; chain < 400; ++chain) {
      std::vector<WritableBlock> blocks;
      for (int b = 0; b < 8; ++b) {
        auto block = tier.Allocate(8, 1000);
        ASSERT_TRUE(block.ok());
        blocks.push_back(std::move(*block));
      }
      std::string parent;
      for (int b = 0; b < 8; ++b) {
        const std::string key = "c" + std::to_string(chain) + "/" + std::to_string(b);
        BlockAttributes attributes;
        if (!parent.empty()) attributes.parent_hash = ChainHash({1, parent});
        const uint64_t checksum = BlockChecksum(blocks[b].mutable_bytes());
        ASSERT_TRUE(tier.Put({1, key}, std::move(blocks[b]).Seal(checksum, attributes)).ok());
        parent = key;
      }
      for (int b = 0; b < 8; ++b)
        tier.Get({1, "c" + std::to_string(chain) + "/0"}).status().IgnoreError();
    }
    // No block is cached while the block before it in its chain is not.
    for (int chain = 0; chain < 400; ++chain) {
      for (int b = 1; b < 8; ++b) {
        const std::string prefix = "c" + std::to_string(chain) + "/";
        if (tier.Contains({1, prefix + std::to_string(b)})) {
          EXPECT_TRUE(tier.Contains({1, prefix + std::to_string(b - 1)}))
              << EvictionPolicyName(policy) << ": " << prefix << b << " without its parent";
        }
      }
    }
    EXPECT_EQ(Counter(tier.Stats(), "chain_breaks"), 0u) << EvictionPolicyName(policy);
  }
}

TEST(DramTierOrder, AHeldLeafStaysAndItsChainMayBreakForIt) {
  const uint64_t charge = OneBlockCharge();
  DramTier tier(Options(1 << 20, 4, EvictionPolicyKind::kLru));
  const uint64_t fits = tier.capacity_bytes() / charge;
  ASSERT_TRUE(PutLinked(tier, "a", "").ok());
  ASSERT_TRUE(PutLinked(tier, "b", "a").ok());
  auto held = tier.Get({1, "b"});  // a reader holds the leaf: pinned
  ASSERT_TRUE(held.ok());
  for (uint64_t i = 0; i < 2 * fits; ++i) {
    ASSERT_TRUE(PutBlock(tier, 1, FixedKey(i), 1000).ok());
  }
  // The pin wins over every policy: the leaf stays. Its parent, passed over
  // while it had a cached child, went last of all once nothing else could.
  EXPECT_TRUE(tier.Contains({1, "b"}));
  held->Reset();
}

TEST(DramTierOptions, ValidateNamesTheField) {
  DramTierOptions options;
  options.capacity_bytes = 1000;
  EXPECT_NE(options.Validate().message().find("dram.capacity"), std::string::npos);
  options = DramTierOptions{};
  options.shards = 0;
  EXPECT_NE(options.Validate().message().find("dram.shards"), std::string::npos);
  EXPECT_TRUE(DramTierOptions{}.Validate().ok());
}

TEST(EvictionPolicy, ParsesNames) {
  EXPECT_EQ(*ParseEvictionPolicyKind("lru"), EvictionPolicyKind::kLru);
  EXPECT_EQ(*ParseEvictionPolicyKind("s3fifo"), EvictionPolicyKind::kS3Fifo);
  EXPECT_EQ(*ParseEvictionPolicyKind("arc"), EvictionPolicyKind::kArc);
  EXPECT_EQ(*ParseEvictionPolicyKind("prefix"), EvictionPolicyKind::kPrefix);
  EXPECT_EQ(*ParseEvictionPolicyKind("density"), EvictionPolicyKind::kDensity);
  EXPECT_EQ(DramTierOptions{}.policy, EvictionPolicyKind::kDensity);
  EXPECT_FALSE(ParseEvictionPolicyKind("clock").ok());
}

}  // namespace
}  // namespace kvtier::tiers
