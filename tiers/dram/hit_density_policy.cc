#include "tiers/dram/hit_density_policy.h"

#include <algorithm>
#include <bit>
#include <limits>

namespace kvtier::tiers {

int HitDensityPolicy::ClassOf(const PolicyEntry& entry) {
  const uint32_t reads =
      std::max<uint32_t>(entry.reads.load(std::memory_order_relaxed), entry.returned ? 1 : 0);
  if (entry.partial_tail && reads == 0) return 0;
  if (entry.shared_prefix.load(std::memory_order_relaxed)) return 1;
  // Follow-ups seen: at this block's own position (its reads) and before it
  // was stored (its lineage).
  return 2 + static_cast<int>(std::min<uint32_t>(reads + entry.lineage, kClasses - 3));
}

int HitDensityPolicy::AgeOf(const PolicyEntry& entry, uint64_t now) const {
  const uint64_t last = entry.tick.load(std::memory_order_relaxed);
  const uint64_t age = (now > last ? now - last : 0) >> age_shift_.load(std::memory_order_relaxed);
  return static_cast<int>(std::min<uint64_t>(age, kAges - 1));
}

void HitDensityPolicy::RecordAccess(PolicyEntry& entry) {
  guard_.RecordHit(entry.key_hash);
  const uint64_t now = clock_.fetch_add(1, std::memory_order_relaxed) + 1;
  new_hits_[ClassOf(entry)][AgeOf(entry, now)].fetch_add(1, std::memory_order_relaxed);
  entry.tick.store(now, std::memory_order_relaxed);
  const uint8_t reads = entry.reads.load(std::memory_order_relaxed);
  if (reads < 255) entry.reads.store(reads + 1, std::memory_order_relaxed);
}

void HitDensityPolicy::RecordInsert(PolicyEntry& entry) {
  guard_.RecordMiss(entry.key_hash, entries_.load(std::memory_order_relaxed));
  entry.tick.store(clock_.fetch_add(1, std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  entry.reads.store(0, std::memory_order_relaxed);
}

void HitDensityPolicy::OnInsert(PolicyEntry* entry, bool fresh) {
  entry->queued_priority = candidates_.size();
  candidates_.push_back(entry);
  if (by_recency_built_) QueueByRecency(entry);
  if (fresh) entry->queue = 0;
  if (fresh && random_() % kExplorerEvery == 0 &&
      explorers_ < std::max<size_t>(1, candidates_.size() * kExplorerShare)) {
    entry->queue = kExplorer;
  }
  if (entry->queue == kExplorer) ++explorers_;
}

void HitDensityPolicy::OnRemove(PolicyEntry* entry) {
  const uint64_t index = entry->queued_priority;
  if (index >= candidates_.size() || candidates_[index] != entry) return;
  if (by_recency_built_) by_recency_.erase({entry->position_tick, entry->id, entry});
  if (entry->queue == kExplorer) --explorers_;
  candidates_[index] = candidates_.back();
  candidates_[index]->queued_priority = index;
  candidates_.pop_back();
}

void HitDensityPolicy::OnEvict(PolicyEntry* victim) {
  const uint64_t now = Now();
  const uint64_t last = victim->tick.load(std::memory_order_relaxed);
  eviction_age_sum_ += static_cast<double>(now > last ? now - last : 0);
  ++new_evictions_[ClassOf(*victim)][AgeOf(*victim, now)];
  if (++evictions_since_update_ >= kPeriod) Update();
  guard_.OnEviction(entries_.load(std::memory_order_relaxed));
}

double HitDensityPolicy::Density(const PolicyEntry& entry, uint64_t now) const {
  const int age = AgeOf(entry, now);
  if (entry.queue == kExplorer && age < kExplorerAge) {
    return std::numeric_limits<double>::infinity();
  }
  if (!learned_) return 0;  // ties: the oldest goes, as in LRU
  return density_[ClassOf(entry)][age];
}

void HitDensityPolicy::QueueByRecency(PolicyEntry* entry) {
  entry->position_tick = entry->tick.load(std::memory_order_relaxed);
  by_recency_.emplace(entry->position_tick, entry->id, entry);
}

PolicyEntry* HitDensityPolicy::PickOldest(
    const std::function<bool(const PolicyEntry&)>& can_evict) {
  for (auto it = by_recency_.begin(); it != by_recency_.end();) {
    PolicyEntry* entry = std::get<2>(*it);
    const uint64_t tick = entry->tick.load(std::memory_order_relaxed);
    if (tick != entry->position_tick) {  // read since queued: queue it anew
      it = by_recency_.erase(it);
      QueueByRecency(entry);
      continue;
    }
    if (can_evict(*entry)) return entry;
    ++it;
  }
  return nullptr;
}

PolicyEntry* HitDensityPolicy::PickVictim(
    const std::function<bool(const PolicyEntry&)>& can_evict) {
  if (candidates_.empty()) return nullptr;
  // The recency order is kept only in recency mode, which is rare: built
  // when it starts, dropped when it ends.
  if (guard_.recency_mode()) {
    if (!by_recency_built_) {
      for (PolicyEntry* entry : candidates_) QueueByRecency(entry);
      by_recency_built_ = true;
    }
    return PickOldest(can_evict);
  }
  if (by_recency_built_) {
    by_recency_.clear();
    by_recency_built_ = false;
  }
  const uint64_t now = Now();
  // Ranked first, then offered lowest first: can_evict may take hold of the
  // candidate it accepts (DramTier locks its shard), so it is asked only
  // for the one about to be returned.
  struct Ranked {
    double density;
    uint64_t tick;
    PolicyEntry* entry;
  };
  std::array<Ranked, kSamples> sample;  // no allocation per eviction
  size_t sampled = 0;
  auto rank = [&](PolicyEntry* entry) {
    sample[sampled++] = {Density(*entry, now), entry->tick.load(std::memory_order_relaxed), entry};
  };
  if (candidates_.size() <= static_cast<size_t>(kSamples)) {
    for (PolicyEntry* entry : candidates_) rank(entry);
  } else {
    std::uniform_int_distribution<size_t> pick(0, candidates_.size() - 1);
    for (int i = 0; i < kSamples; ++i) rank(candidates_[pick(random_)]);
  }
  std::sort(sample.begin(), sample.begin() + sampled, [](const Ranked& a, const Ranked& b) {
    return a.density != b.density ? a.density < b.density : a.tick < b.tick;
  });
  for (size_t i = 0; i < sampled; ++i) {
    if (i > 0 && sample[i].entry == sample[i - 1].entry) continue;  // drawn twice
    if (can_evict(*sample[i].entry)) return sample[i].entry;
  }
  // Every sample was refused (pinned, or busy): any candidate that may go.
  for (PolicyEntry* entry : candidates_) {
    if (can_evict(*entry)) return entry;
  }
  return nullptr;
}

void HitDensityPolicy::Rescale(int new_shift) {
  const int old_shift = age_shift_.load(std::memory_order_relaxed);
  if (new_shift == old_shift) return;
  for (Counts* counts : {&hits_, &evictions_}) {
    for (auto& ages : *counts) {
      std::array<double, kAges> scaled{};
      for (int a = 0; a < kAges; ++a) {
        if (new_shift > old_shift) {
          scaled[std::min(a >> (new_shift - old_shift), kAges - 1)] += ages[a];
        } else {
          const int split = 1 << (old_shift - new_shift);
          for (int i = 0; i < split; ++i) {
            scaled[std::min(a * split + i, kAges - 1)] += ages[a] / split;
          }
        }
      }
      ages = scaled;
    }
  }
  age_shift_.store(new_shift, std::memory_order_relaxed);
}

void HitDensityPolicy::Update() {
  for (int c = 0; c < kClasses; ++c) {
    for (int a = 0; a < kAges; ++a) {
      hits_[c][a] = hits_[c][a] * kDecay + new_hits_[c][a].exchange(0, std::memory_order_relaxed);
      evictions_[c][a] = evictions_[c][a] * kDecay + new_evictions_[c][a];
      new_evictions_[c][a] = 0;
    }
  }
  // Buckets of 2^shift ticks spanning kSpanOfEvictionAge mean eviction ages.
  const double mean_age = eviction_age_sum_ / static_cast<double>(evictions_since_update_);
  const auto span = static_cast<uint64_t>(mean_age * kSpanOfEvictionAge / kAges);
  Rescale(span <= 1 ? 0 : std::bit_width(span - 1));
  evictions_since_update_ = 0;
  eviction_age_sum_ = 0;

  for (int c = 0; c < kClasses; ++c) {
    double hits = 0;
    double events = 0;
    double lifetime = 0;
    for (int a = kAges - 1; a >= 0; --a) {
      hits += hits_[c][a];
      events += hits_[c][a] + evictions_[c][a];
      lifetime += events;
      density_[c][a] = lifetime > 0 ? hits / lifetime : 0;
    }
  }
  learned_ = true;
}

}  // namespace kvtier::tiers
