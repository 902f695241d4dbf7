#include "tiers/dram/policy_guard.h"

#include <algorithm>
#include <cmath>

namespace kvtier::tiers {

void PolicyGuard::Reference(uint64_t key_hash, bool hit, size_t cache_entries) {
  if (!lru_.Sampled(key_hash)) return;
  const bool lru_hit = lru_.Reference(key_hash, cache_entries);
  window_references_.fetch_add(1, std::memory_order_relaxed);
  if (hit && !lru_hit) window_only_policy_.fetch_add(1, std::memory_order_relaxed);
  if (!hit && lru_hit) window_only_lru_.fetch_add(1, std::memory_order_relaxed);
}

void PolicyGuard::OnEviction(size_t cache_entries) {
  if (++window_evictions_ < cache_entries) return;
  if (window_references_.load(std::memory_order_relaxed) < kMinWindowReferences) return;
  window_evictions_ = 0;
  window_references_.store(0, std::memory_order_relaxed);
  Judge(static_cast<double>(window_only_policy_.exchange(0, std::memory_order_relaxed)),
        static_cast<double>(window_only_lru_.exchange(0, std::memory_order_relaxed)));
}

void PolicyGuard::Judge(double only_policy, double only_lru) {
  if (recency_mode_) {
    // The policy is not evicting: these counts say nothing of it.
    if (++recency_windows_ >= recency_hold_) recency_mode_ = false;
    return;
  }
  evidence_policy_ = evidence_policy_ * kEvidenceDecay + only_policy;
  evidence_lru_ = evidence_lru_ * kEvidenceDecay + only_lru;
  if (++judged_windows_ <= kWarmWindows) return;
  if (evidence_policy_ + evidence_lru_ < kMinEvidence) return;  // too few to tell
  // The counts are paired (the same sampled references), so under "no
  // difference" their difference has a spread of about sqrt of their sum.
  const double spread = 2 * std::sqrt(evidence_policy_ + evidence_lru_);
  if (evidence_lru_ - evidence_policy_ > spread) {
    recency_mode_ = true;
    ++recency_switches_;
    recency_windows_ = 0;
    recency_hold_ = std::min(recency_hold_ * 2, kMaxRecencyHold);
  } else if (evidence_policy_ - evidence_lru_ > spread) {
    recency_hold_ = 1;
  }
}

}  // namespace kvtier::tiers
