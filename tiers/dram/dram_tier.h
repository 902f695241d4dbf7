#pragma once

// The DRAM tier: a sharded hash index over blocks in jemalloc memory.
//
// Capacity counts what is really held: the allocator's real size (nallocx)
// of every block's value bytes and of its header, which are allocated apart
// so power-of-two values fit their size class exactly, plus a fixed
// per-entry index overhead and the key bytes. A block is charged from Allocate until its
// memory is freed, so blocks being received, and blocks erased or replaced
// while a reader still pins them, still count. The one exception: a block
// handed to the eviction listener (see SetEvictionListener).
//
// Eviction: one order over the whole tier (EvictionOrder, under order_mu_),
// whatever the number of index shards, by the configured policy (the prefix
// policy by default; LRU, S3-FIFO and ARC for comparison). Prefix chains
// stay whole: a block whose child (BlockAttributes::parent_hash names it)
// is cached goes only after that child. A block whose handle is held
// outside the index (being sent, copied or filled, or leased) is pinned and
// skipped. Soft-pinned blocks (BlockAttributes::pin) go only when no other
// block can; hard-pinned ones never do, and a namespace's hard-pinned bytes
// are bounded by its quota (SetHardPinQuota): past it, Put refuses them.
// When Allocate cannot make room because everything left is pinned it fails
// with kResourceExhausted.
//
// Expiry: a block past BlockAttributes::expires_at_ms reads as absent; Get
// and ReclaimExpired remove it.
//
// Freed value memory is kept, still counted, in per-size-class lists and
// reused by the next block of that class (no page faults); it goes back to
// the allocator only when room is needed for another size, before any block
// is evicted.
//
// Pool mode (the second constructor): value memory comes from one BlockPool
// reserved up front, so RDMA can register all block memory once. Size
// classes are then 64-byte steps up to 4 KiB and 4 KiB steps above, with no
// allocator padding; a pool of PoolBytesFor(capacity) leaves room for the
// runs that freeing in a different order than allocating splits up.
//
// Locking: one mutex per shard; no method holds two shard mutexes at once.
// Reads record their access in the entry without order_mu_. Lock order: a
// shard's mutex, then order_mu_, then free_mu_. Eviction holds order_mu_
// and only try-locks the shard of a candidate (passing it over when busy),
// so it never waits against that order.

#include <array>
#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "tiers/dram/block_pool.h"
#include "tiers/dram/eviction_order.h"
#include "tiers/index_key.h"
#include "tiers/tier.h"

namespace kvtier::tiers {

struct DramTierOptions {
  uint64_t capacity_bytes = 1ull << 30;
  uint32_t shards = 64;  // rounded up to a power of two
  EvictionPolicyKind policy = EvictionPolicyKind::kDensity;
  // Block memory is reserved as one pool and made resident at start, in the
  // background (BlockPool::PopulateInBackground), so the first fill of the
  // cache pays no page faults. The server takes its whole capacity at once.
  bool prefault = false;

  Status Validate() const;
};

class DramTier final : public Tier, private BlockAllocator {
 public:
  // Receives each block that eviction removes (not erased or replaced ones),
  // with whether it was read since it was put. Called with the block's
  // shard lock and the order lock held: it must not block and must not call
  // back into this tier. The
  // block stops counting against this tier's capacity when it is handed
  // over (the eviction made that room); a listener that keeps it must bound
  // what it keeps.
  using EvictionListener =
      std::function<void(const BlockKey& key, BlockHandle block, bool was_read)>;

  // Index bytes charged per entry on top of the key: the entry, its hash-map
  // node and bucket, and the eviction order's nodes (its list, its chain
  // index, the policy's queue).
  static constexpr uint64_t kEntryOverheadBytes = 256;

  explicit DramTier(const DramTierOptions& options);
  // Pool mode: every block's value bytes come from `pool` (see above).
  DramTier(const DramTierOptions& options, std::unique_ptr<BlockPool> pool);
  // The pool size that pool mode needs for `capacity_bytes`.
  static uint64_t PoolBytesFor(uint64_t capacity_bytes) {
    return capacity_bytes + capacity_bytes / 8 + (4ull << 20);
  }
  // Every handle to this tier's blocks must be gone before destruction.
  ~DramTier() override;

  std::string_view name() const override { return "dram"; }
  TierCapabilities capabilities() const override {
    return {.persistent = false, .pins_in_place = true, .blocking_io = false};
  }
  Result<WritableBlock> Allocate(uint64_t key_size, uint64_t value_size) override;
  Status Put(const BlockKey& key, BlockHandle block) override;
  // Like Put, but leaves a block already stored under `key` in place.
  // Returns whether `block` was inserted.
  Result<bool> PutIfAbsent(const BlockKey& key, BlockHandle block) override;
  // PutIfAbsent of a block read from a lower tier: it enters as read once
  // (the read that promoted it), for the eviction policy and for
  // EvictionListener's `was_read`.
  Result<bool> PutPromoted(const BlockKey& key, BlockHandle block);
  // `block` in this tier's memory: the same block when it already is (an
  // origin read received into memory from Allocate), else a copy (counted
  // as `copied_puts`). Fails as Allocate does.
  Result<BlockHandle> InOwnMemory(uint64_t key_size, const BlockHandle& block);
  Result<BlockHandle> Get(const BlockKey& key) override;
  // A handle to the block without recording an access (for leases: the
  // handle pins the block, so eviction passes it over while it is held).
  Result<BlockHandle> Pin(const BlockKey& key) const;
  bool MayContain(const BlockKey& key) const override { return Contains(key); }
  bool Contains(const BlockKey& key) const override;
  Status Erase(const BlockKey& key) override;
  TierStats Stats() const override;
  void VisitKeys(uint32_t namespace_id, const KeyVisitor& visit) const override;

  // Call before the tier is shared between threads.
  void SetEvictionListener(EvictionListener listener) { eviction_listener_ = std::move(listener); }
  // Bytes of hard-pinned blocks namespace `namespace_id` may hold (default
  // 0: none). Call before the tier is shared between threads.
  void SetHardPinQuota(uint32_t namespace_id, uint64_t bytes);
  // Removes expired blocks, visiting at most `max_entries` per shard;
  // returns how many went. Non-blocking.
  size_t ReclaimExpired(size_t max_entries_per_shard);

  uint64_t used_bytes() const { return used_bytes_.load(std::memory_order_relaxed); }
  // The part of used_bytes() that is freed value memory kept for reuse.
  uint64_t kept_free_bytes() const { return free_bytes_.load(std::memory_order_relaxed); }
  uint64_t capacity_bytes() const { return options_.capacity_bytes; }
  // In pool mode, the memory every block's value bytes lie in; else null.
  const BlockPool* block_pool() const { return pool_.get(); }

 private:
  struct Entry : PolicyEntry {
    std::string index_key;
    BlockHandle block;
    bool was_read = false;
  };
  struct TransparentHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const;
  };
  struct Shard {
    mutable std::mutex mu;
    std::unordered_map<std::string, std::unique_ptr<Entry>, TransparentHash, std::equal_to<>> index;
    // Charges of the entries in `index`, by namespace id: kept with the
    // index under `mu`, so Stats sums shards instead of walking blocks.
    std::unordered_map<uint32_t, uint64_t> namespace_bytes;
  };

  Result<bool> Insert(const BlockKey& key, BlockHandle block, bool replace, bool read = false);
  // BlockAllocator: returns block memory and its charge.
  void Free(BlockBuffer* block) override;

  uint64_t BlockCharge(uint64_t key_size, uint64_t value_size) const;
  // The size class of a value of `bytes` (what it really occupies, and the
  // key of the free chunk lists) and what a chunk of that class charges.
  uint64_t ClassSize(uint64_t bytes) const;
  uint64_t ChunkCharge(uint64_t class_size) const;
  void* AllocateValueMemory(uint64_t class_size);
  void FreeValueMemory(void* memory, uint64_t class_size);
  bool TryReserve(uint64_t charge);
  // Evicts unpinned blocks until at least `bytes` were freed or nothing more
  // can go; returns the bytes freed.
  uint64_t EvictAtLeast(uint64_t bytes);
  // One pass under order_mu_. With `allow_soft`, soft-pinned blocks may go
  // too. `*busy` is set when a candidate was passed over because its shard
  // was locked (a retry may find it free).
  uint64_t EvictSome(uint64_t bytes, bool allow_soft, bool* busy);
  // Hard-pin accounting of `block` under `index_key`: Charge refuses past
  // the quota; Uncharge gives back. No-ops for other pin levels.
  Status ChargeHardPin(std::string_view index_key, const BlockHandle& block);
  void UnchargeHardPin(std::string_view index_key, const BlockHandle& block);
  // Unlinks `it` from shard and policy (shard.mu held); returns the entry.
  std::unique_ptr<Entry> Unlink(Shard& shard, decltype(Shard::index)::iterator it);
  void* TakeFreeChunk(uint64_t class_size);
  void KeepFreeChunk(void* chunk, uint64_t class_size);
  // Returns kept chunks to the allocator until `bytes` are released (or
  // none is left); returns the bytes released.
  uint64_t ReleaseFreeChunks(uint64_t bytes);
  Shard& ShardFor(std::string_view index_key, uint64_t* hash_out = nullptr) const;
  Shard& ShardOfHash(uint64_t hash) const;

  const DramTierOptions options_;
  const std::unique_ptr<BlockPool> pool_;  // pool mode only
  EvictionListener eviction_listener_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::atomic<uint64_t> used_bytes_{0};
  std::atomic<uint64_t> items_{0};

  mutable std::mutex order_mu_;
  EvictionOrder order_;  // under order_mu_, but for RecordAccess

  struct PinQuota {
    uint64_t limit = 0;
    std::atomic<uint64_t> used{0};
  };
  std::unordered_map<uint32_t, std::unique_ptr<PinQuota>> pin_quotas_;  // fixed after setup

  std::mutex free_mu_;
  std::unordered_map<uint64_t, std::vector<void*>> free_chunks_;  // by size class
  std::atomic<uint64_t> free_bytes_{0};

  struct Counters {
    std::atomic<uint64_t> hits{0};
    std::atomic<uint64_t> misses{0};
    std::atomic<uint64_t> puts{0};
    std::atomic<uint64_t> erases{0};
    std::atomic<uint64_t> evictions{0};
    std::atomic<uint64_t> evicted_bytes{0};
    std::atomic<uint64_t> allocation_failures{0};
    std::atomic<uint64_t> copied_puts{0};
    std::atomic<uint64_t> expired{0};
    std::atomic<uint64_t> hard_pin_refusals{0};
    std::atomic<uint64_t> soft_pin_evictions{0};
  };
  mutable Counters counters_;
};

}  // namespace kvtier::tiers
