#pragma once

// The storage tier contract. Every tier (DRAM now; NVMe and Blob later)
// implements it, and one conformance suite (tests/unit/tier_conformance.h)
// runs over each. Decorators for fault injection and tracing wrap a Tier
// through TierWrapper and live in tests/, never inside a tier.
//
// Thread safety: every method may be called concurrently from any thread.
// Blocking: DRAM-tier methods never block on I/O; a tier whose capabilities
// say `blocking_io` must only be called from a worker pool, never from a
// network thread.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "tiers/block.h"
#include "tiers/upload_journal.h"

namespace kvtier::tiers {

// Identifies a block: the server-assigned namespace id plus the client's key
// bytes. Keys of different namespaces never meet.
struct BlockKey {
  uint32_t namespace_id = 0;
  std::string_view key;
};

struct TierCapabilities {
  bool persistent = false;     // blocks survive a restart of the process
  bool pins_in_place = false;  // Get returns handles to the tier's own memory
  bool blocking_io = false;    // calls may block on disk or network
};

struct TierCounter {
  std::string name;
  uint64_t value = 0;
};

struct TierStats {
  std::string name;
  uint64_t capacity_bytes = 0;
  uint64_t used_bytes = 0;  // bytes really held: allocations plus index overhead
  uint64_t items = 0;
  std::vector<TierCounter> counters;
  // Value bytes held per namespace id, for tiers that index by key (DRAM:
  // allocation charges; NVMe: value lengths). Summed at Stats time from the
  // index, so it cannot drift from it.
  std::map<uint32_t, uint64_t> namespace_bytes;

  // Appends a counter read from a live atomic.
  void Add(const char* counter, const std::atomic<uint64_t>& value) {
    counters.push_back({counter, value.load(std::memory_order_relaxed)});
  }
  // The value of the named counter, if there is one.
  std::optional<uint64_t> Counter(std::string_view counter) const {
    for (const TierCounter& c : counters) {
      if (c.name == counter) return c.value;
    }
    return std::nullopt;
  }
};

class Tier {
 public:
  virtual ~Tier() = default;

  // Short lower-case name used in stats and logs ("dram").
  virtual std::string_view name() const = 0;
  virtual TierCapabilities capabilities() const = 0;

  // Allocates an unpublished block of `value_size` bytes that a later Put on
  // this tier takes without a copy. The bytes count against capacity from
  // this moment until the block is freed; room is made by evicting unpinned
  // blocks. Errors: kInvalidArgument if the block could never fit;
  // kResourceExhausted (retryable) if no room can be made now, for example
  // because the rest of the tier is pinned.
  virtual Result<WritableBlock> Allocate(uint64_t key_size, uint64_t value_size) = 0;

  // Publishes `block` under `key`, replacing any block stored there (the old
  // one stays readable through handles already taken). A block from another
  // allocator is copied into this tier's memory first. The caller must have
  // checked the block's checksum. Errors: as Allocate for copied blocks.
  virtual Status Put(const BlockKey& key, BlockHandle block) = 0;

  // Put, and the block is durable (survives an OS crash) when it returns:
  // for write-through namespaces. A tier that is not persistent just puts.
  virtual Status PutDurable(const BlockKey& key, BlockHandle block) {
    return Put(key, std::move(block));
  }

  // Returns a pin on the block stored under `key` and records the access for
  // eviction. Errors: kNotFound; kCorruption when a tier that verifies on
  // read finds a bad checksum (the block is dropped and counted).
  virtual Result<BlockHandle> Get(const BlockKey& key) = 0;

  // Fast negative check: false means the key is certainly absent. Never does
  // I/O and never records an access.
  virtual bool MayContain(const BlockKey& key) const = 0;

  // Exact presence, without recording an access.
  virtual bool Contains(const BlockKey& key) const = 0;

  // Presence as far as the tier knows it without I/O: never blocks. Tiers
  // that do no I/O answer Contains; a Blob tier answers from its presence
  // view (blobs it wrote, listed or probed; see blob/blob_presence.h).
  virtual bool ContainsWithoutIo(const BlockKey& key) const {
    return !capabilities().blocking_io && Contains(key);
  }
  // Asks the tier to find out in the background whether it holds `key`, so
  // a later ContainsWithoutIo knows. Non-blocking; may be dropped. Default:
  // nothing to find out.
  virtual void Probe(const BlockKey& /*key*/) const {}

  // The checksum of the block stored under `key` when the tier knows it
  // without I/O; nullopt when absent or unknown.
  virtual std::optional<uint64_t> StoredChecksum(const BlockKey& /*key*/) const {
    return std::nullopt;
  }

  // Removes the key. Pinned bytes stay valid until their handles go.
  // Errors: kNotFound.
  virtual Status Erase(const BlockKey& key) = 0;

  virtual TierStats Stats() const = 0;

  // Calls `visit` with the key of every block of `namespace_id` the tier
  // holds itself (in no particular order) until it returns false. A key put
  // or erased during the walk may or may not be seen. The view passed to
  // `visit` is valid only during that call, which runs under the tier's
  // index lock: it must be short and must not call back into the tier.
  // Never does I/O, but walks the whole index: call it from a worker.
  // Default: the tier holds nothing it can walk (Blob, origins).
  using KeyVisitor = std::function<bool(std::string_view key)>;
  virtual void VisitKeys(uint32_t /*namespace_id*/, const KeyVisitor& /*visit*/) const {}

  // Puts unless the key is stored; returns whether it wrote. The default
  // (Contains, then Put) is not atomic; tiers shared between writers
  // override it with an atomic one.
  virtual Result<bool> PutIfAbsent(const BlockKey& key, BlockHandle block) {
    if (Contains(key)) return false;
    KVTIER_RETURN_IF_ERROR(Put(key, std::move(block)));
    return true;
  }

  // The tier's journal of blocks still to be handed to the tier below
  // (upload_journal.h); null for tiers that keep none (all but NVMe).
  virtual UploadJournal* upload_journal() { return nullptr; }

  // A block the tier evicts, handed over before it is gone. `read` returns
  // its verified bytes; the bytes stay readable (and may hold disk space)
  // until the last copy of `read` is destroyed.
  using EvictionSink = std::function<void(const BlockKey& key, uint64_t size,
                                          std::function<Result<BlockHandle>()> read)>;
  // Called (under the tier's write lock: it must not call back into the
  // tier) for every live block the tier evicts. Default: evictions drop.
  virtual void SetEvictionSink(EvictionSink /*sink*/) {}
};

// Forwards every call to another tier; decorators override what they change.
class TierWrapper : public Tier {
 public:
  explicit TierWrapper(Tier* target) : target_(target) {}

  std::string_view name() const override { return target_->name(); }
  TierCapabilities capabilities() const override { return target_->capabilities(); }
  Result<WritableBlock> Allocate(uint64_t key_size, uint64_t value_size) override {
    return target_->Allocate(key_size, value_size);
  }
  Status Put(const BlockKey& key, BlockHandle block) override {
    return target_->Put(key, std::move(block));
  }
  Status PutDurable(const BlockKey& key, BlockHandle block) override {
    return target_->PutDurable(key, std::move(block));
  }
  Result<BlockHandle> Get(const BlockKey& key) override { return target_->Get(key); }
  bool MayContain(const BlockKey& key) const override { return target_->MayContain(key); }
  bool Contains(const BlockKey& key) const override { return target_->Contains(key); }
  bool ContainsWithoutIo(const BlockKey& key) const override {
    return target_->ContainsWithoutIo(key);
  }
  void Probe(const BlockKey& key) const override { target_->Probe(key); }
  std::optional<uint64_t> StoredChecksum(const BlockKey& key) const override {
    return target_->StoredChecksum(key);
  }
  Status Erase(const BlockKey& key) override { return target_->Erase(key); }
  TierStats Stats() const override { return target_->Stats(); }
  void VisitKeys(uint32_t namespace_id, const KeyVisitor& visit) const override {
    target_->VisitKeys(namespace_id, visit);
  }
  Result<bool> PutIfAbsent(const BlockKey& key, BlockHandle block) override {
    return target_->PutIfAbsent(key, std::move(block));
  }
  UploadJournal* upload_journal() override { return target_->upload_journal(); }
  void SetEvictionSink(EvictionSink sink) override { target_->SetEvictionSink(std::move(sink)); }

 protected:
  Tier* target() const { return target_; }

 private:
  Tier* target_;
};

}  // namespace kvtier::tiers
