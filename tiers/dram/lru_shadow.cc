#include "tiers/dram/lru_shadow.h"

#include <algorithm>

namespace kvtier::tiers {

void LruShadow::RaiseShift(int shift) {
  shift_.store(shift, std::memory_order_relaxed);
  const uint64_t mask = (uint64_t{1} << shift) - 1;
  for (auto it = order_.begin(); it != order_.end();) {
    if ((*it & mask) != 0) {
      index_.erase(*it);
      it = order_.erase(it);
    } else {
      ++it;
    }
  }
}

std::optional<bool> LruShadow::Reference(uint64_t mixed, size_t cache_entries) {
  int shift = shift_.load(std::memory_order_relaxed);
  if ((cache_entries >> shift) > kMaxSampled) {
    while ((cache_entries >> shift) > kMaxSampled) ++shift;
    RaiseShift(shift);
  }
  if (!Sampled(mixed)) return std::nullopt;
  const size_t capacity = std::max<size_t>(1, cache_entries >> shift);
  auto found = index_.find(mixed);
  const bool hit = found != index_.end();
  if (hit) {
    order_.splice(order_.begin(), order_, found->second);
  } else {
    order_.push_front(mixed);
    index_.emplace(mixed, order_.begin());
  }
  while (index_.size() > capacity) {
    index_.erase(order_.back());
    order_.pop_back();
  }
  return hit;
}

}  // namespace kvtier::tiers
