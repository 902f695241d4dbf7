#pragma once

// Which block the DRAM tier evicts next, in one order over the whole tier
// (not per index shard), with prefix chains kept whole.
//
// Chains: an entry may name its parent by ChainHash (the block before it in
// a prefix chain: PolicyEntry::parent_hash). An entry that a cached entry
// names as its parent is not a candidate: leaves leave first, so a chain is
// cut from its tail and never loses a block in the middle while the blocks
// after it stay (a prefix match stops at the first gap, so those would be
// useless). The count of cached children is kept per parent hash, also for
// parents not cached, so a parent stored after its children knows them.
//
// Memory of evictions: the key hashes of evicted entries are remembered for
// 4 to 8 turnovers of the cache (GhostFilter); an entry inserted under one of
// them is marked `returned`, which the prefix policy values as one read.
//
// Fallback: when the policy finds no candidate it may evict (all pinned,
// or a cycle of parent links that a client made up), the oldest entry that
// may go is evicted whatever its children: pins and capacity win over chains.
//
// Not thread-safe: the owner calls every method under one lock, except
// RecordAccess, which may run on any thread without it.

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <unordered_map>

#include "tiers/dram/eviction_policy.h"
#include "tiers/dram/ghost_filter.h"

namespace kvtier::tiers {

class EvictionOrder {
 public:
  explicit EvictionOrder(std::unique_ptr<EvictionPolicy> policy);
  explicit EvictionOrder(EvictionPolicyKind kind) : EvictionOrder(MakeEvictionPolicy(kind)) {}
  EvictionOrder(const EvictionOrder&) = delete;
  EvictionOrder& operator=(const EvictionOrder&) = delete;

  // Adds `entry`, whose key_hash, parent_hash, charge and partial_tail are
  // set. The entry must stay alive until Remove.
  void Insert(PolicyEntry* entry);
  // Removes `entry` (erased, replaced, or with `evicted` the PickVictim
  // result being evicted).
  void Remove(PolicyEntry* entry, bool evicted = false);
  // Lock-free: records a read.
  void RecordAccess(PolicyEntry& entry) { policy_->RecordAccess(entry); }

  // The next entry to evict among those `can_evict` accepts (see the
  // header); nullptr when none may go. The caller then calls
  // Remove(victim, true).
  PolicyEntry* PickVictim(const std::function<bool(const PolicyEntry&)>& can_evict);

  size_t size() const { return all_.size(); }
  const EvictionPolicy& policy() const { return *policy_; }
  // Entries evicted by the fallback although they had cached children.
  uint64_t chain_breaks() const { return chain_breaks_; }

 private:
  void MakeCandidate(PolicyEntry* entry, bool fresh);
  void DropCandidate(PolicyEntry* entry);

  std::unique_ptr<EvictionPolicy> policy_;
  std::list<PolicyEntry*> all_;  // insertion order, oldest first: the fallback
  std::unordered_map<uint64_t, PolicyEntry*> by_hash_;
  std::unordered_map<uint64_t, uint32_t> cached_children_;  // by parent hash
  uint64_t next_id_ = 1;
  uint64_t chain_breaks_ = 0;
  GhostFilter evicted_recently_;
};

}  // namespace kvtier::tiers
