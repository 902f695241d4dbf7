#pragma once

// What textbook LRU would hit on the references a cache sees, at the
// cache's current size, estimated from a spatial sample of the keys (SHARDS:
// Waldspurger, Park, Garthwaite and Ahmad, FAST 2015). A key is in the
// sample when the low `sample_shift` bits of a mix of its hash are zero; the
// sample is an LRU cache of the cache's size scaled by the same rate, so it
// hits a sampled key when LRU at the full size would have. The rate halves
// (and the keys that leave the sample are dropped) whenever the sample would
// hold more than kMaxSampled keys, so memory stays bounded whatever the
// cache's size.
//
// Threads: Sampled may run on any thread; everything else on one thread at a
// time (PolicyGuard calls it under the order's lock).

#include <atomic>
#include <cstdint>
#include <list>
#include <optional>
#include <unordered_map>

#include "tiers/dram/hash_mix.h"

namespace kvtier::tiers {

class LruShadow {
 public:
  static constexpr size_t kMaxSampled = 16384;

  // The key's identity in the shadow: a mix of its hash whose low bits
  // decide the sample.
  static uint64_t Mix(uint64_t key_hash) { return MixHash64(key_hash); }
  // Whether the key whose mix is `mixed` is in the sample at the current rate.
  bool Sampled(uint64_t mixed) const {
    return (mixed & ((uint64_t{1} << shift_.load(std::memory_order_relaxed)) - 1)) == 0;
  }
  // Records a reference to the key whose mix is `mixed` while the cache
  // holds `cache_entries` entries; returns whether LRU would have hit it, or
  // nothing when the key is not in the sample (at the rate for that size).
  std::optional<bool> Reference(uint64_t mixed, size_t cache_entries);

  int sample_shift() const { return shift_.load(std::memory_order_relaxed); }
  size_t sampled_keys() const { return index_.size(); }

 private:
  void RaiseShift(int shift);

  std::atomic<int> shift_{0};
  std::list<uint64_t> order_;  // mixed hashes, most recent first
  std::unordered_map<uint64_t, std::list<uint64_t>::iterator> index_;
};

}  // namespace kvtier::tiers
