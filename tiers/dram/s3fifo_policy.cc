#include "tiers/dram/s3fifo_policy.h"

#include <algorithm>

namespace kvtier::tiers {
namespace {

uint8_t Frequency(const PolicyEntry& entry) { return entry.reads.load(std::memory_order_relaxed); }

void SetFrequency(PolicyEntry& entry, uint8_t frequency) {
  entry.reads.store(frequency, std::memory_order_relaxed);
}

}  // namespace

void S3FifoPolicy::RecordAccess(PolicyEntry& entry) {
  const uint8_t frequency = Frequency(entry);
  if (frequency < kMaxFrequency) SetFrequency(entry, frequency + 1);
}

void S3FifoPolicy::RecordInsert(PolicyEntry& entry) { SetFrequency(entry, 0); }

void S3FifoPolicy::PushFront(PolicyEntry* entry, Queue queue) {
  auto& list = queue == kSmall ? small_ : main_;
  list.push_front(entry);
  entry->position = list.begin();
  entry->queue = queue;
  (queue == kSmall ? small_bytes_ : main_bytes_) += entry->charge;
}

void S3FifoPolicy::Unlink(PolicyEntry* entry) {
  if (entry->queue == kSmall) {
    small_.erase(entry->position);
    small_bytes_ -= entry->charge;
  } else {
    main_.erase(entry->position);
    main_bytes_ -= entry->charge;
  }
  entry->queue = 0;
}

void S3FifoPolicy::RememberGhost(uint64_t key_hash) {
  ghost_order_.push_back(key_hash);
  ++ghost_counts_[key_hash];
  // The ghost remembers about as many keys as there are candidates.
  const size_t limit = std::max<size_t>(64, small_.size() + main_.size());
  while (ghost_order_.size() > limit) {
    const uint64_t oldest = ghost_order_.front();
    ghost_order_.pop_front();
    auto it = ghost_counts_.find(oldest);
    if (it != ghost_counts_.end() && --it->second == 0) ghost_counts_.erase(it);
  }
}

bool S3FifoPolicy::TakeGhost(uint64_t key_hash) {
  auto it = ghost_counts_.find(key_hash);
  if (it == ghost_counts_.end()) return false;
  // The stale entry in ghost_order_ ages out on its own; only the count goes.
  if (--it->second == 0) ghost_counts_.erase(it);
  return true;
}

void S3FifoPolicy::OnInsert(PolicyEntry* entry, bool fresh) {
  if (!fresh) {
    PushFront(entry, kMain);
    return;
  }
  PushFront(entry, TakeGhost(entry->key_hash) ? kMain : kSmall);
}

void S3FifoPolicy::OnRemove(PolicyEntry* entry) { Unlink(entry); }

PolicyEntry* S3FifoPolicy::PickVictim(const std::function<bool(const PolicyEntry&)>& can_evict) {
  // Each pass either returns, moves an entry small->main, decrements a
  // counter (at most kMaxFrequency times per entry) or rotates a refused
  // entry; bounding the passes keeps a fully pinned tier from looping.
  size_t budget = (small_.size() + main_.size()) * (kMaxFrequency + 2) + 1;
  while (budget-- > 0 && !(small_.empty() && main_.empty())) {
    const uint64_t total = small_bytes_ + main_bytes_;
    const bool from_small = !small_.empty() && (main_.empty() || small_bytes_ * 10 >= total);
    if (from_small) {
      PolicyEntry* candidate = small_.back();
      if (Frequency(*candidate) > 0) {
        // Read again while on probation: promote to main.
        Unlink(candidate);
        SetFrequency(*candidate, 0);
        PushFront(candidate, kMain);
        continue;
      }
      if (!can_evict(*candidate)) {
        Unlink(candidate);
        PushFront(candidate, kSmall);
        continue;
      }
      RememberGhost(candidate->key_hash);
      return candidate;
    }
    PolicyEntry* candidate = main_.back();
    if (const uint8_t frequency = Frequency(*candidate); frequency > 0) {
      SetFrequency(*candidate, std::min<uint8_t>(frequency, kMaxFrequency) - 1);
      main_.splice(main_.begin(), main_, candidate->position);
      continue;
    }
    if (!can_evict(*candidate)) {
      main_.splice(main_.begin(), main_, candidate->position);
      continue;
    }
    return candidate;
  }
  return nullptr;
}

}  // namespace kvtier::tiers
