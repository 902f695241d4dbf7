#include "tiers/dram/hit_density_policy.h"

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <string>

#include "tiers/dram/eviction_order.h"

namespace kvtier::tiers {
namespace {

auto Any() {
  return [](const PolicyEntry&) { return true; };
}

// A cache of `capacity` entries over one order, fed by the test.
class DensityCache {
 public:
  DensityCache(EvictionPolicyKind kind, size_t capacity) : order_(kind), capacity_(capacity) {}
  explicit DensityCache(size_t capacity)
      : order_(MakePolicy()), policy_(made_), capacity_(capacity) {}
  ~DensityCache() {
    for (auto& entry : live_) order_.Remove(entry.get());
  }

  PolicyEntry* Insert(uint64_t hash) {
    while (live_.size() >= capacity_) Evict();
    auto entry = std::make_unique<PolicyEntry>();
    entry->key_hash = hash;
    entry->charge = 1;
    order_.Insert(entry.get());
    live_.push_back(std::move(entry));
    return live_.back().get();
  }
  // Reads `hash` if cached.
  bool Read(uint64_t hash) {
    for (auto& entry : live_) {
      if (entry->key_hash == hash) {
        order_.RecordAccess(*entry);
        return true;
      }
    }
    return false;
  }
  void Evict() {
    PolicyEntry* victim = order_.PickVictim(Any());
    ASSERT_NE(victim, nullptr);
    order_.Remove(victim, /*evicted=*/true);
    for (auto it = live_.begin(); it != live_.end(); ++it) {
      if (it->get() == victim) {
        live_.erase(it);
        return;
      }
    }
  }
  HitDensityPolicy* policy() const { return policy_; }

 private:
  std::unique_ptr<EvictionPolicy> MakePolicy() {
    auto policy = std::make_unique<HitDensityPolicy>();
    made_ = policy.get();
    return policy;
  }

  HitDensityPolicy* made_ = nullptr;
  EvictionOrder order_;
  HitDensityPolicy* policy_ = nullptr;
  size_t capacity_;
  std::deque<std::unique_ptr<PolicyEntry>> live_;
};

// Per step: one block read at once and again `reuse_after` steps later,
// and two blocks never read. The cache holds kCapacity blocks, fewer than
// the blocks stored in kReuseAfter steps: recency alone keeps none of the
// reused ones until their second read; only explorers show the density
// policy that they are read again. Returns the share of second reads
// that hit.
double SecondReadHits(EvictionPolicyKind kind) {
  constexpr size_t kCapacity = 200;
  constexpr uint64_t kReuseAfter = 100;
  constexpr uint64_t kSteps = 60000;
  DensityCache cache(kind, kCapacity);
  uint64_t hits = 0;
  uint64_t reads = 0;
  for (uint64_t step = 1; step <= kSteps; ++step) {
    const uint64_t reused = step * 4;
    cache.Insert(reused);
    cache.Read(reused);
    cache.Insert(step * 4 + 1);
    cache.Insert(step * 4 + 2);
    if (step > kReuseAfter && step > kSteps / 2) {  // measured once it has learned
      ++reads;
      hits += cache.Read((step - kReuseAfter) * 4) ? 1 : 0;
    }
  }
  return static_cast<double>(hits) / reads;
}

TEST(HitDensity, LearnsThatBlocksReadOnceAreWorthKeepingLongerThanRecencySays) {
  EXPECT_LT(SecondReadHits(EvictionPolicyKind::kLru), 0.05);
  EXPECT_GT(SecondReadHits(EvictionPolicyKind::kDensity), 0.6);
}

TEST(HitDensity, UntilItHasLearnedTheOldestCandidateGoes) {
  DensityCache cache(EvictionPolicyKind::kDensity, 10);
  for (uint64_t h = 1; h <= 10; ++h) cache.Insert(h);
  cache.Read(1);
  cache.Insert(11);  // evicts 2, the least recently used
  EXPECT_TRUE(cache.Read(1));
  EXPECT_FALSE(cache.Read(2));
  EXPECT_TRUE(cache.Read(3));
}

TEST(HitDensity, AgeBucketsStretchToTheAgeAtWhichBlocksLeave) {
  DensityCache cache(5000);
  ASSERT_NE(cache.policy(), nullptr);
  for (uint64_t h = 1; h <= 20000; ++h) cache.Insert(h);
  // Blocks leave at an age of about 5000 accesses; 1024 buckets spanning
  // 16 times that are 128 accesses wide.
  EXPECT_EQ(cache.policy()->age_shift(), 7);
}

TEST(HitDensity, WhenEverySampleIsRefusedAnyCandidateThatMayGoIsFound) {
  EvictionOrder order(EvictionPolicyKind::kDensity);
  std::vector<std::unique_ptr<PolicyEntry>> entries;
  for (uint64_t h = 1; h <= 1000; ++h) {
    entries.push_back(std::make_unique<PolicyEntry>());
    entries.back()->key_hash = h;
    order.Insert(entries.back().get());
  }
  PolicyEntry* only = entries[617].get();
  EXPECT_EQ(order.PickVictim([&](const PolicyEntry& e) { return &e == only; }), only);
  EXPECT_EQ(order.PickVictim([](const PolicyEntry&) { return false; }), nullptr);
  for (auto& entry : entries) order.Remove(entry.get());
}

TEST(HitDensity, ClassesSeparateUnreadPartialTailsSharedPrefixesAndFollowUps) {
  PolicyEntry tail;
  tail.partial_tail = true;
  EXPECT_EQ(HitDensityPolicy::ClassOf(tail), 0);
  PolicyEntry shared;
  shared.shared_prefix = true;
  EXPECT_EQ(HitDensityPolicy::ClassOf(shared), 1);
  PolicyEntry block;
  EXPECT_EQ(HitDensityPolicy::ClassOf(block), 2);
  block.returned = true;  // stored again soon after its eviction: read once
  EXPECT_EQ(HitDensityPolicy::ClassOf(block), 3);
  block.reads = 200;
  EXPECT_EQ(HitDensityPolicy::ClassOf(block), HitDensityPolicy::kClasses - 1);
  PolicyEntry followed_up;  // stored after two follow-ups, not read yet
  followed_up.lineage = 2;
  EXPECT_EQ(HitDensityPolicy::ClassOf(followed_up), 4);
  followed_up.reads = 1;
  EXPECT_EQ(HitDensityPolicy::ClassOf(followed_up), 5);
  tail.reads = 1;  // a partial tail read again is valued by its reads
  EXPECT_EQ(HitDensityPolicy::ClassOf(tail), 3);
}

// Learned history misleads: first a block read once is read again 100 steps
// later (the density policy learns to keep blocks read once), then such
// blocks are never read again while new blocks are read again 40 steps after
// their store (recency keeps those; keeping the blocks read once leaves them
// no room). The guard sees LRU winning and hands eviction to recency.
TEST(HitDensity, TheGuardHandsEvictionToRecencyWhenWhatWasLearnedStopsHolding) {
  constexpr size_t kCapacity = 200;
  constexpr uint64_t kSteps = 60000;
  DensityCache cache(kCapacity);
  ASSERT_NE(cache.policy(), nullptr);
  uint64_t key = 0;
  std::deque<uint64_t> read_once;  // keys read once, by step
  for (uint64_t step = 1; step <= kSteps; ++step) {
    const uint64_t fresh = ++key;
    cache.Insert(fresh);
    cache.Insert(++key);
    cache.Insert(++key);
    read_once.push_back(fresh);
    if (read_once.size() > 100) {
      // Its second read; a miss is stored again, as a client does.
      if (!cache.Read(read_once.front())) cache.Insert(read_once.front());
      read_once.pop_front();
    }
    cache.Read(fresh);
  }
  EXPECT_FALSE(cache.policy()->guard().recency_mode()) << "density wins the first phase";
  bool recency = false;
  std::deque<uint64_t> stored;
  for (uint64_t step = 1; step <= kSteps && !recency; ++step) {
    const uint64_t fresh = ++key;
    cache.Insert(fresh);
    cache.Read(fresh);  // read once: never again
    cache.Insert(++key);
    stored.push_back(key);
    if (stored.size() > 40) {
      if (!cache.Read(stored.front())) cache.Insert(stored.front());
      stored.pop_front();
    }
    recency = cache.policy()->guard().recency_mode();
  }
  ASSERT_TRUE(recency);
  // In recency mode the cache evicts as LRU does, which keeps every block
  // until its read 40 steps on (2 blocks a step in 200 blocks of room).
  uint64_t hits = 0;
  uint64_t reads = 0;
  for (uint64_t step = 1; step <= 300; ++step) {
    const uint64_t fresh = ++key;
    cache.Insert(fresh);
    cache.Read(fresh);
    cache.Insert(++key);
    stored.push_back(key);
    if (stored.size() > 40) {
      const bool hit = cache.Read(stored.front());
      if (!hit) cache.Insert(stored.front());
      if (step > 100) {  // the blocks stored since recency began
        ++reads;
        hits += hit ? 1 : 0;
      }
      stored.pop_front();
    }
  }
  EXPECT_TRUE(cache.policy()->guard().recency_mode());
  EXPECT_EQ(hits, reads);
}

}  // namespace
}  // namespace kvtier::tiers
