#pragma once

// The hand-off of blocks from a tier to the one below it (NVMe to Blob):
// durable writes that carry a mark saying they still have to be uploaded,
// kept across restarts. Only a tier with a journal of its own implements it
// (NvmeTier); Tier::upload_journal() finds it.

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "tiers/block.h"

namespace kvtier::tiers {

struct BlockKey;  // tier.h

class UploadJournal {
 public:
  virtual ~UploadJournal() = default;

  // A durable put (Tier::PutDurable), plus a mark written atomically with
  // the block that it still has to be uploaded to the tier below. A marked
  // block is never evicted: when only marked blocks are left to evict,
  // writes are refused with kResourceExhausted until uploads clear marks.
  // Errors: as PutDurable.
  virtual Status PutDurableForUpload(const BlockKey& key, BlockHandle block) = 0;
  // As PutDurableForUpload, but neither the block nor its mark is synced:
  // they are durable once a later SyncWrites returns. For blocks that
  // nothing acknowledges as durable until a later commit syncs them (the
  // blocks of a write session: an open session does not outlive a
  // restart, whose sweep frees blocks no committed object names).
  virtual Status PutForUploadUnsynced(const BlockKey& key, BlockHandle block) = 0;
  // Makes every PutForUploadUnsynced that returned before it durable: one
  // fdatasync per segment they went to, then one sync of the index's log.
  virtual Status SyncWrites() = 0;
  // Clears the mark when the stored block still has `checksum` (a newer put
  // keeps its own mark). kNotFound when the key is gone or has other bytes.
  virtual Status ClearUploadMark(const BlockKey& key, uint64_t checksum) = 0;
  // Index keys (EncodeIndexKey) of the marked blocks, oldest write first:
  // what a restart must still upload.
  virtual std::vector<std::string> MarkedForUpload() const = 0;
};

}  // namespace kvtier::tiers
