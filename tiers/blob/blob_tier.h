#pragma once

// The Blob tier: blocks as blobs in one Azure Blob container, behind the
// Tier interface. The shared, durable layer across racks: a block one server
// writes, another server pointed at the same container reads.
//
// Naming: `<prefix><namespace name>/<hex of the key bytes>` (keys are at
// most 256 bytes, so names stay under Azure's 1,024 characters). Namespace
// names, not ids, so that servers with different configs agree; ids without
// a name fall back to "ns<id>".
//
// Expiry: a block's expires_at_ms travels as metadata (kvtier_expires_ms);
// an expired blob reads as absent. Pins are a server's own policy and do not
// travel.
//
// Integrity: the block checksum travels as blob metadata (kvtier_checksum)
// and every Get verifies the bytes against it. A mismatch, or a blob without
// the checksum, is counted (checksum_failures), deleted, and reads as
// kCorruption: wrong bytes are never served.
//
// What it knows without I/O: nothing certain (other servers write too), so
// MayContain is always true and StoredChecksum always nullopt. Its presence
// view (BlobPresence: blobs this process wrote or read, container listings,
// HEAD probes) answers ContainsWithoutIo, so a match can report blocks only
// Blob holds; Probe queues a HEAD. Stats count what this process wrote,
// read and erased (items and used_bytes are this process's view, not a
// container listing), and the presence view's requests.
//
// Thread safety: all methods may be called concurrently. Every method except
// MayContain, StoredChecksum and Stats blocks on the network
// (capabilities().blocking_io): call it from a worker pool.

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "tiers/blob/blob_client.h"
#include "tiers/blob/blob_presence.h"
#include "tiers/tier.h"

namespace kvtier::tiers::blob {

struct BlobTierOptions {
  BlobClientOptions client;
  std::string name_prefix;                   // e.g. "kvtier/": every blob name starts with it
  std::vector<std::string> namespace_names;  // index: namespace id
  uint64_t capacity_bytes = 1ull << 50;      // reported only: Blob is not evicted by kvtier
  uint64_t max_block_bytes = 256ull << 20;   // larger puts are refused
  // Create the container at Open (which then needs the service). Without,
  // Open does no I/O and the first write that finds no container makes it.
  bool create_container = true;
  BlobPresenceOptions presence;
};

class BlobTier final : public Tier {
 public:
  // Creates the client and, by option, the container (OK if it exists).
  // Errors: as BlobClient::Create and CreateContainer (kUnavailable when the
  // service cannot be reached).
  static Result<std::unique_ptr<BlobTier>> Open(BlobTierOptions options);

  std::string_view name() const override { return "blob"; }
  TierCapabilities capabilities() const override {
    return {.persistent = true, .pins_in_place = false, .blocking_io = true};
  }
  Result<WritableBlock> Allocate(uint64_t key_size, uint64_t value_size) override;
  // Writes the blob, replacing any blob of that name. Errors: kUnavailable
  // (retries spent), kDeadlineExceeded, kInvalidArgument.
  Status Put(const BlockKey& key, BlockHandle block) override;
  // A blob PUT is durable when acknowledged.
  Status PutDurable(const BlockKey& key, BlockHandle block) override {
    return Put(key, std::move(block));
  }
  // Never overwrites (If-None-Match: *): returns false when the blob already
  // exists, so two servers spilling the same key never replace each other.
  Result<bool> PutIfAbsent(const BlockKey& key, BlockHandle block) override;
  Result<BlockHandle> Get(const BlockKey& key) override;
  bool MayContain(const BlockKey& /*key*/) const override { return true; }
  bool Contains(const BlockKey& key) const override;
  bool ContainsWithoutIo(const BlockKey& key) const override;
  void Probe(const BlockKey& key) const override;
  Status Erase(const BlockKey& key) override;
  TierStats Stats() const override;

  // The blob name of `key` (for tests and tools).
  std::string BlobName(const BlockKey& key) const;
  BlobClient& client() { return *client_; }

 private:
  BlobTier(BlobTierOptions options, std::unique_ptr<BlobClient> client);
  Status Write(const BlockKey& key, const BlockHandle& block, bool if_absent, bool* written);
  void Remember(const std::string& name, uint64_t size);
  void Forget(const std::string& name);

  const BlobTierOptions options_;
  std::unique_ptr<BlobClient> client_;
  // Declared after client_: its thread stops before the client goes.
  std::unique_ptr<BlobPresence> presence_;

  mutable std::mutex known_mu_;
  std::unordered_map<std::string, uint64_t> known_;  // name -> size, this process's view
  uint64_t known_bytes_ = 0;

  struct Counters {
    std::atomic<uint64_t> hits{0};
    std::atomic<uint64_t> misses{0};
    std::atomic<uint64_t> puts{0};
    std::atomic<uint64_t> put_bytes{0};
    std::atomic<uint64_t> already_present{0};
    std::atomic<uint64_t> get_bytes{0};
    std::atomic<uint64_t> erases{0};
    std::atomic<uint64_t> checksum_failures{0};
    std::atomic<uint64_t> errors{0};
    std::atomic<uint64_t> expired{0};
  };
  mutable Counters counters_;
};

}  // namespace kvtier::tiers::blob
