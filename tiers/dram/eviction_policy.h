#pragma once

// Eviction policies of the DRAM tier. A policy orders the entries of one index
// shard and is only ever called with that shard's mutex held, so it needs no
// locking of its own.

#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <string_view>

#include "common/result.h"

namespace kvtier::tiers {

// Per-entry state every policy may use; DramTier's index entries derive from
// it.
struct PolicyEntry {
  std::list<PolicyEntry*>::iterator position;
  uint64_t charge = 0;    // bytes this entry holds against capacity
  uint64_t key_hash = 0;  // for ghost queues
  uint8_t queue = 0;      // which of the policy's queues holds the entry
  uint8_t frequency = 0;  // saturating access counter
};

class EvictionPolicy {
 public:
  virtual ~EvictionPolicy() = default;

  virtual void OnInsert(PolicyEntry* entry) = 0;
  virtual void OnAccess(PolicyEntry* entry) = 0;
  virtual void OnRemove(PolicyEntry* entry) = 0;

  // Chooses the next entry to evict among those `can_evict` accepts, and
  // returns it without removing it (the caller removes it and calls
  // OnRemove). May reorder entries it passes over. nullptr when every entry
  // is refused. Visits each entry a bounded number of times.
  virtual PolicyEntry* PickVictim(const std::function<bool(const PolicyEntry&)>& can_evict) = 0;
};

enum class EvictionPolicyKind { kS3Fifo, kLru };

Result<EvictionPolicyKind> ParseEvictionPolicyKind(std::string_view name);
std::string_view EvictionPolicyName(EvictionPolicyKind kind);
std::unique_ptr<EvictionPolicy> MakeEvictionPolicy(EvictionPolicyKind kind);

}  // namespace kvtier::tiers
