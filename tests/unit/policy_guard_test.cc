#include "tiers/dram/policy_guard.h"

#include <gtest/gtest.h>

#include <list>
#include <optional>
#include <random>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tiers/dram/lru_shadow.h"
#include "tiers/dram/reference_ring.h"

namespace kvtier::tiers {
namespace {

// An exact LRU of `capacity` keys: whether each reference hits.
class ExactLru {
 public:
  explicit ExactLru(size_t capacity) : capacity_(capacity) {}
  bool Reference(uint64_t key) {
    auto found = index_.find(key);
    const bool hit = found != index_.end();
    if (hit) {
      order_.splice(order_.begin(), order_, found->second);
    } else {
      order_.push_front(key);
      index_.emplace(key, order_.begin());
      if (index_.size() > capacity_) {
        index_.erase(order_.back());
        order_.pop_back();
      }
    }
    return hit;
  }

 private:
  size_t capacity_;
  std::list<uint64_t> order_;
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> index_;
};

TEST(LruShadow, BelowItsBoundEveryKeyIsSampledAndHitsAsExactLru) {
  constexpr size_t kCache = 1000;
  LruShadow shadow;
  ExactLru exact(kCache);
  std::mt19937_64 random(7);
  // Keys of skewed popularity: some reused within the cache's reach, some not.
  std::geometric_distribution<uint64_t> key(0.0005);
  uint64_t hits = 0;
  for (int i = 0; i < 50000; ++i) {
    const uint64_t k = key(random) + 1;
    const uint64_t mixed = LruShadow::Mix(k);
    ASSERT_TRUE(shadow.Sampled(mixed));
    const std::optional<bool> hit = shadow.Reference(mixed, kCache);
    ASSERT_TRUE(hit.has_value());
    ASSERT_EQ(*hit, exact.Reference(k)) << "reference " << i;
    hits += *hit ? 1 : 0;
  }
  EXPECT_EQ(shadow.sample_shift(), 0);
  EXPECT_GT(hits, 10000u);  // the stream does hit, so the comparison means something
}

TEST(LruShadow, ALargeCacheIsSampledWithinTheBoundAndStillSeesWhatLruWouldHit) {
  constexpr size_t kLoop = 300000;
  auto second_pass_hits = [&](size_t cache_entries, size_t* sampled_keys) {
    LruShadow shadow;
    uint64_t sampled = 0;
    uint64_t hits = 0;
    for (int pass = 0; pass < 2; ++pass) {
      for (uint64_t k = 1; k <= kLoop; ++k) {
        const std::optional<bool> hit = shadow.Reference(LruShadow::Mix(k), cache_entries);
        if (!hit) continue;  // not in the sample
        if (pass == 1) {
          ++sampled;
          hits += *hit ? 1 : 0;
        }
      }
    }
    EXPECT_GT(shadow.sample_shift(), 0);
    *sampled_keys = shadow.sampled_keys();
    EXPECT_GT(sampled, 1000u);
    return static_cast<double>(hits) / static_cast<double>(sampled);
  };
  size_t keys = 0;
  // A loop that fits: LRU hits every reference of the second pass.
  EXPECT_EQ(second_pass_hits(1000000, &keys), 1.0);
  EXPECT_LE(keys, LruShadow::kMaxSampled);
  // A loop three times the cache: LRU hits none.
  EXPECT_EQ(second_pass_hits(100000, &keys), 0.0);
  EXPECT_LE(keys, LruShadow::kMaxSampled);
}

TEST(ReferenceRing, EveryValuePushedFromSeveralThreadsIsPoppedOnceAndAFullRingRefuses) {
  ReferenceRing<64> ring;
  constexpr uint64_t kPerThread = 20000;
  std::vector<std::thread> producers;
  std::atomic<uint64_t> refused{0};
  for (uint64_t t = 0; t < 3; ++t) {
    producers.emplace_back([&, t] {
      for (uint64_t i = 0; i < kPerThread; ++i) {
        while (!ring.Push(t * kPerThread + i)) refused.fetch_add(1);
      }
    });
  }
  std::vector<int> seen(3 * kPerThread, 0);
  uint64_t popped = 0;
  while (popped < 3 * kPerThread) {
    uint64_t value = 0;
    if (!ring.Pop(&value)) continue;
    ASSERT_LT(value, seen.size());
    ++seen[value];
    ++popped;
  }
  for (auto& producer : producers) producer.join();
  for (size_t v = 0; v < seen.size(); ++v) ASSERT_EQ(seen[v], 1) << "value " << v;
  uint64_t value = 0;
  EXPECT_FALSE(ring.Pop(&value));
  for (uint64_t i = 0; i < 64; ++i) ASSERT_TRUE(ring.Push(i));
  EXPECT_FALSE(ring.Push(64)) << "full";
  ASSERT_TRUE(ring.Pop(&value));
  EXPECT_EQ(value, 0u);
  EXPECT_TRUE(ring.Push(64));
}

TEST(PolicyGuard, LruWinningSignificantlyTurnsOnRecencyAfterTheWarmWindows) {
  PolicyGuard guard;
  for (uint32_t w = 0; w < PolicyGuard::kWarmWindows; ++w) {
    guard.Judge(/*only_policy=*/10, /*only_lru=*/500);
    EXPECT_FALSE(guard.recency_mode()) << "judged while warming, window " << w;
  }
  EXPECT_EQ(guard.recency_switches(), 0u);
  guard.Judge(10, 500);
  EXPECT_TRUE(guard.recency_mode());
  EXPECT_EQ(guard.recency_hold(), 2u);
  EXPECT_EQ(guard.recency_switches(), 1u);
}

TEST(PolicyGuard, RecencyLastsItsHoldWhichDoublesWhileThePolicyKeepsLosing) {
  PolicyGuard guard;
  for (uint32_t w = 0; w <= PolicyGuard::kWarmWindows; ++w) guard.Judge(10, 500);
  ASSERT_TRUE(guard.recency_mode());
  guard.Judge(0, 0);
  EXPECT_TRUE(guard.recency_mode());
  guard.Judge(0, 0);
  EXPECT_FALSE(guard.recency_mode()) << "the policy tries again after 2 windows";
  guard.Judge(10, 500);  // and loses again
  EXPECT_TRUE(guard.recency_mode());
  EXPECT_EQ(guard.recency_hold(), 4u);
  for (int w = 0; w < 4; ++w) guard.Judge(0, 0);
  EXPECT_FALSE(guard.recency_mode());
  // Winning now, by more than the decayed losses: the hold starts over.
  guard.Judge(3000, 10);
  EXPECT_FALSE(guard.recency_mode());
  EXPECT_EQ(guard.recency_hold(), 1u);
  for (int w = 0; w < 100; ++w) guard.Judge(10, 5000);
  EXPECT_EQ(guard.recency_hold(), PolicyGuard::kMaxRecencyHold);
}

TEST(PolicyGuard, AHandfulOfReferencesDecidesNothing) {
  PolicyGuard guard;
  for (uint32_t w = 0; w < PolicyGuard::kWarmWindows; ++w) guard.Judge(0, 0);
  // 8 references against the policy per window: past two standard
  // deviations, but the decayed totals stay under kMinEvidence.
  for (int w = 0; w < 3; ++w) {
    guard.Judge(/*only_policy=*/0, /*only_lru=*/8);
    EXPECT_FALSE(guard.recency_mode()) << "window " << w;
  }
  for (int w = 0; w < 10 && !guard.recency_mode(); ++w) guard.Judge(0, 8);
  EXPECT_TRUE(guard.recency_mode()) << "enough of them do";
}

TEST(PolicyGuard, DifferencesWithinTheNoiseChangeNothing) {
  PolicyGuard guard;
  for (int w = 0; w < 200; ++w) {
    guard.Judge(/*only_policy=*/100, /*only_lru=*/w % 2 == 0 ? 115 : 100);
    ASSERT_FALSE(guard.recency_mode()) << "window " << w;
  }
  EXPECT_EQ(guard.recency_switches(), 0u);
}

}  // namespace
}  // namespace kvtier::tiers
