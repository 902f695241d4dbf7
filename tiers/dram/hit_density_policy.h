#pragma once

// Hit density (after Beckmann, Chen and Cidon's LHD, NSDI 2018) over the
// candidates: the victim is the candidate whose expected hits per unit of
// space-time from now on are lowest, as learned from this cache's own
// history, per class of block and age. It needs no constant tuned to a
// workload: how long a class of blocks is worth keeping is measured.
//
// Age: accesses (reads and stores of any block) since the block's last
// read or store, in buckets of a power-of-two number of accesses chosen so
// that the buckets span many times the age at which blocks are evicted.
//
// Classes, fixed at the start of each interval between accesses:
//   - a request's partial last block never read (rarely read again);
//   - a block of a shared prefix (two or more different children seen, a
//     partial last block not counted: the next turn completes it under
//     another key);
//   - else by the follow-ups its conversation has had, 0 to 7 and more: the
//     block's reads since it was stored (a block stored again soon after its
//     eviction counts as read once) plus its lineage (PolicyEntry::lineage:
//     the follow-ups before it was stored). A conversation that was followed
//     up n times is likelier to be followed up again the larger n (about
//     0.4, 0.65, 0.75, 0.8 for n = 0..3 on generated chat traces).
//
// For each class and age the policy counts hits (reads at that age) and
// evictions (at that age), decays the counts every kPeriod evictions, and
// derives the density: hits expected from age a on, over the lifetime
// expected from age a on. PickVictim samples kSamples candidates and evicts
// the one with the lowest density (the oldest among equals). Until the first
// period has passed, it evicts the oldest sampled, as LRU would.
//
// Explorers: what is never kept cannot be learned (a class evicted before
// its reads come in would look worthless for ever), so about one stored
// block in kExplorerEvery, at most kExplorerShare of the candidates, is kept
// until twice the mean age at eviction since its last access: its hits and
// its eviction teach the policy about ages the others do not reach. (Kept
// longer, explorers cost more space than they teach on conversation traces:
// bench/RESULTS.md.)
//
// The guard (policy_guard.h) compares the policy with LRU as it runs and,
// while LRU does significantly better, evicts in exact LRU order instead
// (recency mode); hit density keeps learning meanwhile.
//
// Threads: RecordAccess adds to the hit counts with relaxed atomics (and a
// key the guard samples to its lock-free ring) and may run on any thread;
// everything else runs under the order's lock.

#include <array>
#include <atomic>
#include <cstdint>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "tiers/dram/eviction_policy.h"
#include "tiers/dram/policy_guard.h"

namespace kvtier::tiers {

class HitDensityPolicy final : public EvictionPolicy {
 public:
  static constexpr int kClasses = 10;
  static constexpr int kAges = 1024;
  static constexpr int kSamples = 32;
  static constexpr uint64_t kPeriod = 4096;  // evictions between density updates
  static constexpr double kDecay = 0.9;      // weight of the history at each update
  // The age buckets span this many times the mean age at eviction.
  static constexpr uint64_t kSpanOfEvictionAge = 16;
  static constexpr uint64_t kExplorerEvery = 32;
  static constexpr double kExplorerShare = 0.01;
  static constexpr int kExplorerAge = kAges * 2 / kSpanOfEvictionAge;  // in buckets

  void RecordAccess(PolicyEntry& entry) override;
  void RecordInsert(PolicyEntry& entry) override;
  void OnInsert(PolicyEntry* entry, bool fresh) override;
  void OnRemove(PolicyEntry* entry) override;
  void OnEvict(PolicyEntry* victim) override;
  void OnCachedEntries(size_t entries) override {
    entries_.store(entries, std::memory_order_relaxed);
  }
  PolicyEntry* PickVictim(const std::function<bool(const PolicyEntry&)>& can_evict) override;

  bool recency_mode() const override { return guard_.recency_mode(); }
  uint64_t recency_switches() const override { return guard_.recency_switches(); }
  const PolicyGuard& guard() const { return guard_; }

  static int ClassOf(const PolicyEntry& entry);
  static constexpr uint8_t kExplorer = 1;  // PolicyEntry::queue of an explorer
  // Ticks per age bucket, as a shift (for tests).
  int age_shift() const { return age_shift_; }

 private:
  using Counts = std::array<std::array<double, kAges>, kClasses>;

  uint64_t Now() const { return clock_.load(std::memory_order_relaxed); }
  int AgeOf(const PolicyEntry& entry, uint64_t now) const;
  double Density(const PolicyEntry& entry, uint64_t now) const;
  void Update();
  void Rescale(int new_shift);

  std::atomic<uint64_t> clock_{0};
  std::atomic<int> age_shift_{0};
  std::array<std::array<std::atomic<uint32_t>, kAges>, kClasses> new_hits_{};
  std::array<std::array<uint32_t, kAges>, kClasses> new_evictions_{};
  Counts hits_{};
  Counts evictions_{};
  Counts density_{};
  bool learned_ = false;
  uint64_t evictions_since_update_ = 0;
  double eviction_age_sum_ = 0;  // in ticks, since the last update

  void QueueByRecency(PolicyEntry* entry);
  PolicyEntry* PickOldest(const std::function<bool(const PolicyEntry&)>& can_evict);

  std::atomic<size_t> entries_{0};
  PolicyGuard guard_;
  // The candidates by their tick when queued (refreshed lazily), while in
  // recency mode.
  std::set<std::tuple<uint64_t, uint64_t, PolicyEntry*>> by_recency_;
  bool by_recency_built_ = false;

  std::vector<PolicyEntry*> candidates_;  // PolicyEntry::queued_priority is the index
  size_t explorers_ = 0;                  // candidates with PolicyEntry::queue == kExplorer
  std::mt19937_64 random_{0x6b7674696572ull};
};

}  // namespace kvtier::tiers
