#include "tiers/dram/policy_guard.h"

#include <algorithm>
#include <cmath>
#include <optional>

namespace kvtier::tiers {

void PolicyGuard::RecordHit(uint64_t key_hash) {
  const uint64_t mixed = LruShadow::Mix(key_hash);
  if (lru_.Sampled(mixed)) hits_.Push(mixed | kHitBit);
}

void PolicyGuard::RecordMiss(uint64_t key_hash, size_t cache_entries) {
  Drain(cache_entries);
  Count(LruShadow::Mix(key_hash) & ~kHitBit, /*hit=*/false, cache_entries);
}

void PolicyGuard::Drain(size_t cache_entries) {
  uint64_t value = 0;
  while (hits_.Pop(&value)) Count(value & ~kHitBit, (value & kHitBit) != 0, cache_entries);
}

void PolicyGuard::Count(uint64_t mixed, bool hit, size_t cache_entries) {
  const std::optional<bool> lru_hit = lru_.Reference(mixed, cache_entries);
  if (!lru_hit) return;  // not in the sample
  ++window_references_;
  if (hit && !*lru_hit) ++window_only_policy_;
  if (!hit && *lru_hit) ++window_only_lru_;
}

void PolicyGuard::OnEviction(size_t cache_entries) {
  Drain(cache_entries);
  if (++window_evictions_ < cache_entries) return;
  if (window_references_ < kMinWindowReferences) return;
  window_evictions_ = 0;
  window_references_ = 0;
  const auto only_policy = static_cast<double>(window_only_policy_);
  const auto only_lru = static_cast<double>(window_only_lru_);
  window_only_policy_ = 0;
  window_only_lru_ = 0;
  Judge(only_policy, only_lru);
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
