#pragma once

// Keeps a learned eviction policy from doing worse than LRU. What a policy
// learns can be wrong (a trace whose reuse comes mostly at ages no block
// survives to teaches little but noise), and then LRU does better, so the
// guard measures the policy against LRU as it runs: LruShadow replays a
// spatial sample of the same references through an LRU of the cache's size,
// and for each sampled reference the guard counts whether the policy hit
// where LRU would have missed, or missed where LRU would have hit.
//
// Every turnover of the cache (a window, of at least kMinWindowReferences
// sampled references) adds those counts to totals that decay by a fifth per
// window. Once the totals count at least kMinEvidence references where the
// two differed and LRU's extra hits exceed the policy's by two standard
// deviations of their difference, the guard turns on recency mode (the
// policy evicts in exact LRU order) for some windows and then lets the
// policy try again: 2 windows, twice as many each time the policy loses
// again (up to kMaxRecencyHold), and 2 again after it has won. The first
// kWarmWindows windows are not judged: the policy is still learning then.
//
// Threads: RecordHit may run on any thread: a sampled read only goes into a
// bounded lock-free ring (dropped when the ring is full, which leaves the
// paired counts unbiased), so a read pays a hash mix and, when sampled, one
// push. RecordMiss, OnEviction and Judge run under the order's lock, where
// the ring is drained into the shadow.

#include <cstddef>
#include <cstdint>

#include "tiers/dram/lru_shadow.h"
#include "tiers/dram/reference_ring.h"

namespace kvtier::tiers {

class PolicyGuard {
 public:
  static constexpr uint64_t kMinWindowReferences = 4096;
  static constexpr double kEvidenceDecay = 0.8;  // per window
  // Sampled references where the two differed, at least, before a judgement
  // (below it the normal approximation behind "two standard deviations" is
  // poor).
  static constexpr double kMinEvidence = 32;
  static constexpr uint32_t kWarmWindows = 2;
  static constexpr uint32_t kMaxRecencyHold = 32;

  static constexpr size_t kRingSlots = 4096;

  // A read that the policy's cache hit.
  void RecordHit(uint64_t key_hash);
  // A store of a block the cache did not hold, which holds `cache_entries`
  // entries.
  void RecordMiss(uint64_t key_hash, size_t cache_entries);
  // One eviction from a cache of `cache_entries` entries.
  void OnEviction(size_t cache_entries);

  bool recency_mode() const { return recency_mode_; }
  uint32_t recency_hold() const { return recency_hold_; }
  uint64_t recency_switches() const { return recency_switches_; }
  // Judges one window from its sampled references that only the policy
  // hit and that only LRU would have hit (called by OnEviction; public for
  // tests).
  void Judge(double only_policy, double only_lru);

 private:
  static constexpr uint64_t kHitBit = uint64_t{1} << 63;  // in a ring value, over the mix

  void Drain(size_t cache_entries);
  void Count(uint64_t mixed, bool hit, size_t cache_entries);

  LruShadow lru_;
  ReferenceRing<kRingSlots> hits_;  // mixes of sampled keys read, with kHitBit
  uint64_t window_references_ = 0;
  uint64_t window_only_policy_ = 0;
  uint64_t window_only_lru_ = 0;
  uint64_t window_evictions_ = 0;
  double evidence_policy_ = 0;
  double evidence_lru_ = 0;
  uint32_t judged_windows_ = 0;
  bool recency_mode_ = false;
  uint32_t recency_windows_ = 0;  // in recency mode since it was turned on
  uint32_t recency_hold_ = 1;     // windows in recency mode before the policy tries again
  uint64_t recency_switches_ = 0;
};

}  // namespace kvtier::tiers
