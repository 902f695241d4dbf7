#pragma once

// Eviction policies of the DRAM tier. One EvictionOrder (eviction_order.h)
// per tier decides which block leaves next across every index shard; the
// order keeps prefix chains whole and offers its policy only the candidates:
// blocks no cached block names as its parent (the leaves of the chains, and
// every block of a namespace that does not chain). The policy orders them.
//
// Threads: RecordAccess may run on any thread at once, without the order's
// lock (it touches only the entry's atomics). Every other method runs under
// the order's lock.

#include <atomic>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string_view>

#include "common/result.h"

namespace kvtier::tiers {

// Per-entry state of the order and its policy; DramTier's index entries
// derive from it.
struct PolicyEntry {
  // Set by the owner before EvictionOrder::Insert and fixed while inserted.
  uint64_t key_hash = 0;      // ChainHash of the block's key
  uint64_t parent_hash = 0;   // ChainHash of the block before it in its chain; 0: none
  uint64_t charge = 0;        // bytes this entry holds against capacity
  bool partial_tail = false;  // the partial last block of a request
  // Set by the order at Insert: the key was evicted recently (GhostFilter).
  bool returned = false;

  // Written by RecordAccess without the order's lock.
  std::atomic<uint64_t> stamp{0};  // the policy's time of the last insert or read
  std::atomic<uint64_t> tick{0};   // the order of that insert or read among all
  std::atomic<uint8_t> reads{0};   // reads since the insert, saturating at 255
  // Set by the order once two different children have named this block as
  // their parent: a prefix several requests diverged from.
  std::atomic<bool> shared_prefix{false};

  // Owned by the order (under its lock).
  uint64_t id = 0;               // insertion number, unique per order
  uint32_t cached_children = 0;  // cached blocks naming this one as parent
  uint32_t children_seen = 0;    // children inserted while this block was cached
  bool candidate = false;        // offered to the policy
  bool linked = false;           // found by key_hash in the order's chain index
  bool counted_in_parent = false;
  // Follow-ups its conversation had before this block was stored: the
  // parent's lineage plus the parent's reads (0 below a shared prefix, which
  // starts a new conversation). A chat that was followed up n times is
  // likelier to be followed up again than a new one.
  uint8_t lineage = 0;
  std::list<PolicyEntry*>::iterator all_position;

  // Owned by the policy (under the order's lock).
  uint64_t queued_priority = 0;
  uint64_t position_tick = 0;
  std::list<PolicyEntry*>::iterator position;
  uint8_t queue = 0;
};

class EvictionPolicy {
 public:
  virtual ~EvictionPolicy() = default;

  // Lock-free: records a read of `entry` (candidate or not).
  virtual void RecordAccess(PolicyEntry& entry) = 0;
  // Stamps a newly stored entry as read now (before it is offered).
  virtual void RecordInsert(PolicyEntry& entry) = 0;

  // `entry` becomes a candidate: `fresh` when it was just stored, else a
  // block whose last cached child left.
  virtual void OnInsert(PolicyEntry* entry, bool fresh) = 0;
  virtual void OnRemove(PolicyEntry* entry) = 0;
  // `victim` (the last PickVictim result) is about to be evicted.
  virtual void OnEvict(PolicyEntry* /*victim*/) {}
  // The order holds `entries` entries (candidates or not).
  virtual void OnCachedEntries(size_t /*entries*/) {}

  // Chooses the next candidate to evict among those `can_evict` accepts,
  // and returns it without removing it. May reorder the candidates it passes
  // over. nullptr when every candidate is refused. Visits each candidate a
  // bounded number of times. `can_evict` may take hold of what it accepts
  // (DramTier keeps the candidate's shard locked), so the policy returns the
  // first candidate it accepts and asks about no other after it.
  virtual PolicyEntry* PickVictim(const std::function<bool(const PolicyEntry&)>& can_evict) = 0;

  // For policies with a PolicyGuard (policy_guard.h): whether it evicts in
  // LRU order now, and how often it has turned that on.
  virtual bool recency_mode() const { return false; }
  virtual uint64_t recency_switches() const { return 0; }
};

// kDensity: hit density over chain leaves (hit_density_policy.h), the default;
// kPrefix: GreedyDual over chain leaves (priority_policy.h).
enum class EvictionPolicyKind { kDensity, kPrefix, kLru, kS3Fifo, kArc };

Result<EvictionPolicyKind> ParseEvictionPolicyKind(std::string_view name);
std::string_view EvictionPolicyName(EvictionPolicyKind kind);
std::unique_ptr<EvictionPolicy> MakeEvictionPolicy(EvictionPolicyKind kind);

}  // namespace kvtier::tiers
