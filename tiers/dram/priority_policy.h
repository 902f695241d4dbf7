#pragma once

// Policies that order candidates by a number, lowest evicted first: textbook
// LRU, and the prefix policy (GreedyDual), the default.
//
// Reads are recorded lock-free in the entry (stamp, tick, reads); the queue
// keeps each candidate under the priority it had when it was queued and
// refreshes it lazily: PickVictim re-queues a candidate whose live priority
// has grown since. Priorities only grow between queueing and picking, so the
// first candidate whose queued priority is still live is the true minimum.

#include <atomic>
#include <set>

#include "tiers/dram/eviction_policy.h"

namespace kvtier::tiers {

class PriorityPolicy : public EvictionPolicy {
 public:
  void OnInsert(PolicyEntry* entry, bool fresh) override;
  void OnRemove(PolicyEntry* entry) override;
  PolicyEntry* PickVictim(const std::function<bool(const PolicyEntry&)>& can_evict) override;

 protected:
  // The entry's priority now; never lower than when it was last queued
  // unless the entry was re-inserted.
  virtual uint64_t Priority(const PolicyEntry& entry) const = 0;
  uint64_t NextTick() { return clock_.fetch_add(1, std::memory_order_relaxed) + 1; }

 private:
  struct QueueKey {
    uint64_t priority;
    uint64_t tick;
    uint64_t id;
    PolicyEntry* entry;
    bool operator<(const QueueKey& other) const {
      if (priority != other.priority) return priority < other.priority;
      if (tick != other.tick) return tick < other.tick;
      return id < other.id;
    }
  };
  QueueKey LiveKey(PolicyEntry* entry) const;
  QueueKey QueuedKey(PolicyEntry* entry) const;
  void Queue(PolicyEntry* entry);

  std::set<QueueKey> queue_;
  std::atomic<uint64_t> clock_{0};
};

// Textbook LRU over the candidates: the least recently stored or read leaf
// goes first. With chains kept whole this is prefix-LRU.
class LruPolicy final : public PriorityPolicy {
 public:
  void RecordAccess(PolicyEntry& entry) override;
  void RecordInsert(PolicyEntry& entry) override { RecordAccess(entry); }

 protected:
  uint64_t Priority(const PolicyEntry& entry) const override;
};

// GreedyDual (Young; Cao and Irani's GreedyDual-Size) over the candidates,
// with a value that knows prefix caches. A read or insert sets a block's
// priority to the inflation value L plus its value; the victim is the lowest
// priority, and L rises to it. A block of value v therefore outlives one of
// value 1 by about v - 1 turnovers of the cache without being read.
//
// Value, in units of one turnover:
//   - 1 for a block, plus kReadWeight once it has been read again
//     (kMaxReads; a block stored again soon after its eviction, which
//     EvictionOrder marks `returned`, counts as read once) and kChildWeight per child beyond its
//     first (up to kMaxChildren): blocks many requests diverged from (shared system prompts, turns
//     that were followed up) and blocks read again are worth more than the single-use tail of a
//     one-turn request. Reads count once: a context read many times by an agent loop that has ended
//     is worth no more than one read twice;
//   - kPartialValue for the partial last block of a request that was never
//     read: a follow-up turn extends it into another key, so it is rarely
//     read again; it goes first.
// Ties go by recency, so among equal values this is LRU.
class PrefixPolicy final : public PriorityPolicy {
 public:
  static constexpr uint64_t kUnit = 1ull << 32;
  static constexpr double kReadWeight = 0.5;
  static constexpr uint32_t kMaxReads = 1;
  static constexpr double kChildWeight = 0.5;
  static constexpr uint32_t kMaxChildren = 4;
  static constexpr double kPartialValue = 0.0;

  void RecordAccess(PolicyEntry& entry) override;
  void RecordInsert(PolicyEntry& entry) override;
  void OnEvict(PolicyEntry* victim) override;

  static uint64_t Value(const PolicyEntry& entry);

 protected:
  uint64_t Priority(const PolicyEntry& entry) const override;

 private:
  std::atomic<uint64_t> inflation_{0};  // L
};

}  // namespace kvtier::tiers
