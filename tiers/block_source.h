#pragma once

// A read-only origin of blocks behind every tier: on a miss of all tiers the
// stack asks the namespace's source (a dataset's Blob container) and keeps
// what it returns. Not a Tier: it is never written, evicted or erased.
//
// Thread safety: Fetch and Stats may be called concurrently. Fetch blocks on
// the network: worker threads only. The stack calls Fetch at most once at a
// time per key (single-flight), so N concurrent misses cost one fetch.

#include "common/result.h"
#include "tiers/block.h"
#include "tiers/tier.h"

namespace kvtier::tiers {

class BlockSource {
 public:
  virtual ~BlockSource() = default;

  // The block for `key`, its checksum computed from the fetched bytes.
  // Errors: kNotFound (the source has no such block), kInvalidArgument (the
  // key does not name a block of this source), kUnavailable /
  // kDeadlineExceeded (the source cannot be reached now).
  virtual Result<BlockHandle> Fetch(const BlockKey& key) = 0;

  // Counters under the given name (e.g. "origin/dataset").
  virtual TierStats Stats() const = 0;
};

}  // namespace kvtier::tiers
