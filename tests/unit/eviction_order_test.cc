#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tiers/dram/eviction_order.h"
#include "tiers/dram/ghost_filter.h"
#include "tiers/dram/priority_policy.h"

namespace kvtier::tiers {
namespace {

constexpr EvictionPolicyKind kAllPolicies[] = {
    EvictionPolicyKind::kDensity, EvictionPolicyKind::kPrefix, EvictionPolicyKind::kLru,
    EvictionPolicyKind::kS3Fifo, EvictionPolicyKind::kArc};

struct TestEntry : PolicyEntry {
  std::string name;
};

// Entries owned by the test, inserted into one order.
class OrderTest : public ::testing::TestWithParam<EvictionPolicyKind> {
 protected:
  OrderTest() : order_(GetParam()) {}
  ~OrderTest() override {
    for (auto& entry : entries_) {
      if (entry->id != 0 && present_[entry.get()]) order_.Remove(entry.get());
    }
  }

  TestEntry* Add(const std::string& name, const std::string& parent = "", bool partial = false) {
    auto entry = std::make_unique<TestEntry>();
    entry->name = name;
    entry->key_hash = std::hash<std::string>()(name) | 1;
    entry->parent_hash = parent.empty() ? 0 : (std::hash<std::string>()(parent) | 1);
    entry->partial_tail = partial;
    entry->charge = 1;
    order_.Insert(entry.get());
    present_[entry.get()] = true;
    entries_.push_back(std::move(entry));
    return entries_.back().get();
  }

  // Evicts one entry that `can_evict` accepts; returns its name ("" none).
  std::string EvictOne(const std::function<bool(const PolicyEntry&)>& can_evict =
                           [](const PolicyEntry&) { return true; }) {
    PolicyEntry* victim = order_.PickVictim(can_evict);
    if (victim == nullptr) return "";
    order_.Remove(victim, /*evicted=*/true);
    present_[victim] = false;
    return static_cast<TestEntry*>(victim)->name;
  }

  EvictionOrder order_;
  std::vector<std::unique_ptr<TestEntry>> entries_;
  std::map<PolicyEntry*, bool> present_;
};

TEST_P(OrderTest, ALeafAlwaysLeavesBeforeItsParent) {
  TestEntry* root = Add("a");
  TestEntry* middle = Add("b", "a");
  Add("c", "b");
  // Reads that would make any recency or frequency policy keep the tail.
  for (int i = 0; i < 4; ++i) {
    order_.RecordAccess(*root);
    order_.RecordAccess(*middle);
  }
  EXPECT_EQ(EvictOne(), "c");
  EXPECT_EQ(EvictOne(), "b");
  EXPECT_EQ(EvictOne(), "a");
  EXPECT_EQ(EvictOne(), "");
  EXPECT_EQ(order_.chain_breaks(), 0u);
}

TEST_P(OrderTest, AParentStoredAfterItsChildKnowsIt) {
  Add("child", "parent");
  Add("parent");
  EXPECT_EQ(EvictOne(), "child");
  EXPECT_EQ(EvictOne(), "parent");
}

TEST_P(OrderTest, PinsWinOverChains) {
  Add("a");
  Add("b", "a");
  // The leaf is pinned (a reader holds it): its parent goes instead, the
  // only block that can, and the break is counted.
  auto not_b = [](const PolicyEntry& e) { return static_cast<const TestEntry&>(e).name != "b"; };
  EXPECT_EQ(EvictOne(not_b), "a");
  EXPECT_EQ(order_.chain_breaks(), 1u);
  EXPECT_EQ(EvictOne(not_b), "");
}

TEST_P(OrderTest, ACycleOfMadeUpLinksStillEvicts) {
  Add("x", "y");
  Add("y", "x");
  EXPECT_NE(EvictOne(), "");
  EXPECT_NE(EvictOne(), "");
  EXPECT_EQ(EvictOne(), "");
}

TEST_P(OrderTest, ErasingAChildMakesItsParentACandidateAgain) {
  Add("a");
  TestEntry* b = Add("b", "a");
  order_.Remove(b);
  present_[b] = false;
  EXPECT_EQ(EvictOne(), "a");
}

TEST_P(OrderTest, LineageCountsTheFollowUpsBeforeABlockWasStored) {
  if (GetParam() != EvictionPolicyKind::kDensity && GetParam() != EvictionPolicyKind::kPrefix) {
    GTEST_SKIP() << "the policy counts no reads";
  }
  // Turn 1: a -> b, with a partial last block c. The partial tail is no
  // divergence: b is not a shared prefix.
  TestEntry* a = Add("a");
  TestEntry* b = Add("b", "a");
  Add("c", "b", /*partial=*/true);
  EXPECT_FALSE(b->shared_prefix.load());
  EXPECT_EQ(b->lineage, 0);
  // Turn 2 reads a and b, then stores d after b and e after d.
  order_.RecordAccess(*a);
  order_.RecordAccess(*b);
  TestEntry* d = Add("d", "b");
  TestEntry* e = Add("e", "d");
  EXPECT_FALSE(b->shared_prefix.load());
  EXPECT_EQ(d->lineage, 1);
  EXPECT_EQ(e->lineage, 1);
  // Turn 3 reads the chain and stores f after e: two follow-ups before it.
  for (TestEntry* read : {a, b, d, e}) order_.RecordAccess(*read);
  EXPECT_EQ(Add("f", "e")->lineage, 2);
  // A second full child of e makes e a shared prefix: what is stored after a
  // shared prefix starts a conversation of its own.
  TestEntry* g = Add("g", "e");
  EXPECT_TRUE(e->shared_prefix.load());
  EXPECT_EQ(g->lineage, 0);
}

INSTANTIATE_TEST_SUITE_P(Policies, OrderTest, ::testing::ValuesIn(kAllPolicies),
                         [](const auto& info) {
                           return std::string(EvictionPolicyName(info.param));
                         });

TEST(LruOrder, EvictsTheLeastRecentlyReadCandidate) {
  EvictionOrder order(EvictionPolicyKind::kLru);
  std::vector<std::unique_ptr<PolicyEntry>> entries;
  for (uint64_t i = 1; i <= 3; ++i) {
    entries.push_back(std::make_unique<PolicyEntry>());
    entries.back()->key_hash = i;
    order.Insert(entries.back().get());
  }
  order.RecordAccess(*entries[0]);  // 1 is now the most recent: 2 is the oldest
  auto any = [](const PolicyEntry&) { return true; };
  PolicyEntry* victim = order.PickVictim(any);
  EXPECT_EQ(victim, entries[1].get());
  for (auto& entry : entries) order.Remove(entry.get());
}

TEST(PrefixOrder, UnreadPartialTailsGoFirstAndReadBlocksOutliveUnreadOnes) {
  EvictionOrder order(EvictionPolicyKind::kPrefix);
  std::vector<std::unique_ptr<PolicyEntry>> entries;
  auto add = [&](uint64_t hash, bool partial) {
    entries.push_back(std::make_unique<PolicyEntry>());
    entries.back()->key_hash = hash;
    entries.back()->partial_tail = partial;
    order.Insert(entries.back().get());
    return entries.back().get();
  };
  PolicyEntry* read = add(1, false);
  PolicyEntry* unread = add(2, false);
  PolicyEntry* tail = add(3, true);  // newest, but a partial tail never read
  order.RecordAccess(*read);
  auto any = [](const PolicyEntry&) { return true; };
  PolicyEntry* first = order.PickVictim(any);
  EXPECT_EQ(first, tail);
  order.Remove(first, true);
  PolicyEntry* second = order.PickVictim(any);
  EXPECT_EQ(second, unread);
  order.Remove(second, true);
  order.Remove(read);
}

TEST(PrefixOrder, ABlockStoredAgainSoonAfterItsEvictionOutlivesANewOne) {
  EvictionOrder order(EvictionPolicyKind::kPrefix);
  std::vector<std::unique_ptr<PolicyEntry>> entries;
  auto add = [&](uint64_t hash) {
    entries.push_back(std::make_unique<PolicyEntry>());
    entries.back()->key_hash = hash;
    order.Insert(entries.back().get());
    return entries.back().get();
  };
  auto any = [](const PolicyEntry&) { return true; };
  PolicyEntry* first = add(1);
  order.Remove(first, /*evicted=*/true);  // 1 leaves
  PolicyEntry* returned = add(1);         // and comes back: stored again
  PolicyEntry* fresh = add(2);            // never seen, and newer
  EXPECT_TRUE(returned->returned);
  EXPECT_FALSE(fresh->returned);
  PolicyEntry* victim = order.PickVictim(any);
  EXPECT_EQ(victim, fresh);
  order.Remove(victim, true);
  order.Remove(returned);
}

TEST(PrefixOrder, AnErasedBlockIsNotRememberedAsEvicted) {
  EvictionOrder order(EvictionPolicyKind::kPrefix);
  PolicyEntry a;
  a.key_hash = 7;
  order.Insert(&a);
  order.Remove(&a);  // erased by a client, not evicted
  PolicyEntry again;
  again.key_hash = 7;
  order.Insert(&again);
  EXPECT_FALSE(again.returned);
  order.Remove(&again);
}

TEST(GhostFilter, RemembersTheLastGenerationAndForgetsOlderOnes) {
  GhostFilter filter;
  const size_t live = 1500;  // quota: 4 x 1500 = 6000 adds a generation
  for (uint64_t h = 1; h <= 6000; ++h) filter.Add(h, live);
  for (uint64_t h = 1; h <= 6000; ++h) ASSERT_TRUE(filter.MayContain(h)) << h;
  // Two more generations push the first out.
  for (uint64_t h = 100001; h <= 100000 + 12001; ++h) filter.Add(h, live);
  size_t still_there = 0;
  for (uint64_t h = 1; h <= 6000; ++h) still_there += filter.MayContain(h) ? 1 : 0;
  EXPECT_LT(still_there, 6000u / 10);  // false positives only
  size_t false_positives = 0;
  for (uint64_t h = 1'000'000; h < 1'010'000; ++h) false_positives += filter.MayContain(h) ? 1 : 0;
  EXPECT_LT(false_positives, 10000u / 10);
  EXPECT_GT(filter.memory_bytes(), 0u);
}

}  // namespace
}  // namespace kvtier::tiers
