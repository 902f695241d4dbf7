#pragma once

// The tier stack: DRAM in front of an optional NVMe tier and an optional
// Blob tier, and the flows of docs/tiers.md between them. It owns whole
// operations (Get, GetPrefix, Put, Erase, Match with read leases): callers
// make one call and the stack runs the order of steps, finishing blocking
// ones on its bounded worker pool (stack_operations.h).
//
//   Get      DRAM, then the demotion queue, then (on a worker) NVMe, then
//            Blob for namespaces that use it (a spill still waiting is read
//            from its NVMe bytes), then the namespace's origin (a
//            BlockSource: dataset read-through).
//            Concurrent misses of one key share one read below (SingleFlight),
//            so N readers of a missing dataset block cause one origin read.
//            A hit below is promoted into DRAM unless DRAM already holds the
//            key (a newer put wins) or the demotion queue is past half full
//            (the block it would evict could not be written down).
//   Put      write-back (default): into DRAM; the ack waits only for the
//            removal of an older copy below, when there is one. Write-through:
//            into DRAM and durably into NVMe before the ack.
//   Evict    DRAM hands evicted blocks to a byte-bounded demotion queue by
//            the admission policy; one demotion thread writes them to NVMe.
//            A block NVMe already holds is written again when it was read
//            in DRAM (NVMe drops its oldest writes first: this keeps it as
//            long as a new block, and chains lose leaves first there too).
//            Past half the queue's bound, write-back put acknowledgements
//            wait for room (WaitForDemotionRoom); a full queue drops the
//            block (counted): DRAM never waits on disk.
//   Delete   from DRAM, and (on a worker) from NVMe and queued demotions,
//            and from Blob for namespaces that use it.
//   Blob     (Uploader) `spill` namespaces: NVMe evictions are uploaded
//            instead of dropped. `write_back` namespaces: puts are
//            acknowledged once durable on NVMe with an upload mark, then
//            uploaded; FlushUploads waits for them.
//
// Blob holds the first bytes spilled under a key (servers sharing a
// container never overwrite each other), so spill namespaces are for blocks
// whose key names their content (prefix hashes, document hashes): a re-put
// of a key with other bytes is not pushed to Blob. Deletes remove the blob.
//
// No stale value and no deleted value ever comes back from below. Mechanism:
//   - Every key hashes to one of kStripes stripe mutexes (StripeLocks).
//     Demotion writes, promotions, the removal of lower copies by puts and
//     deletes, and write-through NVMe puts each hold the key's stripe for
//     their whole NVMe step, so they are serialised per key.
//   - Each queued demotion has a sequence number, current per key in the
//     DemotionQueue until its write is done. A put or delete takes a barrier
//     number after changing DRAM; its lower step cancels every queued
//     demotion of the key numbered below the barrier (the old value), then
//     erases the NVMe copy. A demotion writes only if its number is still
//     the key's current one.
//   - A put or delete needs that worker step exactly when the lower tier may
//     hold the key: NVMe's in-memory index has it (for a put: with other
//     bytes than the new value's), a demotion of it is queued or running, or
//     a get of it is reading NVMe. Otherwise it completes inline on the
//     network thread.
// A put racing a delete of the same key may end with the key absent (a
// miss), never with the deleted bytes.
//
// Threading: the whole operations and the methods marked "non-blocking" may
// run on network threads; the others may block on disk and must run on a
// worker. Lock order: a stripe, then (inside the tiers) a DRAM shard, then
// the demotion queue's lock, which is never held while calling a tier. The
// single-flight map (SingleFlight) and the lease table have their own
// mutexes, never held while calling anything.

#include <array>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/timer_queue.h"
#include "common/worker_pool.h"
#include "tiers/block_source.h"
#include "tiers/checkpoint_catalog.h"
#include "tiers/demotion_queue.h"
#include "tiers/dram/dram_tier.h"
#include "tiers/key_scan.h"
#include "tiers/lease_table.h"
#include "tiers/object_catalog.h"
#include "tiers/object_operations.h"
#include "tiers/object_publisher.h"
#include "tiers/single_flight.h"
#include "tiers/stack_operations.h"
#include "tiers/stripe_locks.h"
#include "tiers/tier.h"
#include "tiers/uploader.h"

namespace kvtier::tiers {

enum class WriteMode { kWriteBack, kWriteThrough };
// Which DRAM evictions are written to NVMe: all of them; only blocks read
// since their put; or (kChain, the default) all but the partial last block
// of a request that nobody read (BlockAttributes::partial_tail), which a
// follow-up turn extends into another key.
enum class AdmissionPolicy { kChain, kAll, kReadOnce };

std::string_view AdmissionPolicyName(AdmissionPolicy policy);
Result<AdmissionPolicy> ParseAdmissionPolicy(std::string_view name);

// How a namespace uses the Blob tier (which needs the NVMe tier).
enum class BlobUse : uint8_t {
  kNone,
  kSpill,      // NVMe evictions are uploaded; gets fall through to Blob
  kWriteBack,  // every put: durable on NVMe, then uploaded; gets fall through
};

std::string_view BlobUseName(BlobUse use);
Result<BlobUse> ParseBlobUse(std::string_view name);

struct NamespacePolicy {
  bool use_nvme = true;  // blocks go below DRAM (ignored when there is no NVMe tier)
  // Write-through for kWriteBack: the ack waits for NVMe.
  WriteMode write_mode = WriteMode::kWriteBack;
  BlobUse blob = BlobUse::kNone;  // ignored without NVMe and Blob tiers
  // Read-through source for misses of every tier; it must outlive the stack.
  BlockSource* origin = nullptr;
  // Which objects the namespace holds (dataset and checkpoint namespaces);
  // it must outlive the stack. None: object operations are kUnsupported.
  ObjectCatalog* objects = nullptr;
  // A checkpoint namespace (needs NVMe): objects are written through write
  // sessions; every put is on NVMe before its ack (synced, with all the
  // session's blocks, by the commit) and carries an upload mark, so NVMe
  // never evicts it before the object is in Blob (or deleted). Its catalog must outlive the stack
  // and should be `objects`.
  CheckpointCatalog* checkpoints = nullptr;
  // Copies committed checkpoint objects to Blob (and, as `origin`, reads
  // back blocks NVMe dropped once their object was there). None: objects
  // stay on NVMe only.
  ObjectPublisher* publisher = nullptr;
  uint64_t hard_pin_quota = 0;  // DRAM bytes hard-pinned blocks may hold
};

// The bounded pool the stack's whole operations finish on.
struct WorkerOptions {
  uint32_t threads = 4;
  uint32_t max_queued_jobs = 4096;  // over it, operations answer kResourceExhausted
};

struct TierStackOptions {
  AdmissionPolicy admission = AdmissionPolicy::kChain;
  bool promote_on_get = true;
  // Bytes of evicted blocks waiting to be written to NVMe. They no longer
  // count against the DRAM capacity (their eviction made room), so this is
  // memory held on top of it: the stack uses at most a quarter of the DRAM
  // capacity here.
  uint64_t demotion_queue_bytes = 128ull << 20;
  UploaderOptions uploads;  // with a Blob tier
  WorkerOptions workers;
  LeaseOptions leases;

  Status Validate() const;
};

class TierStack {
 public:
  static constexpr size_t kStripes = StripeLocks::kStripes;

  // `nvme` may be null (DRAM only); `blob` may be null, and is used only
  // with `nvme`. The tiers must outlive the stack. With both, uploads that
  // NVMe still has marked are queued again.
  TierStack(DramTier& dram, Tier* nvme, const TierStackOptions& options, Tier* blob = nullptr);
  ~TierStack();  // Shutdown()
  TierStack(const TierStack&) = delete;
  TierStack& operator=(const TierStack&) = delete;

  // Call for every namespace before the stack is shared between threads.
  // Namespaces without a policy use the default NamespacePolicy.
  void SetNamespacePolicy(uint32_t namespace_id, NamespacePolicy policy);

  DramTier& dram() { return dram_; }

  // Also told of every live block NVMe evicts, with a reader that keeps its
  // bytes readable while held (read leases keep what they matched). Called
  // under NVMe's write lock: it must not block or call into the stack. Set
  // any time (it is swapped under NVMe's write lock); null removes it.
  void SetNvmeEvictionObserver(Tier::EvictionSink observer);
  bool has_nvme() const { return nvme_ != nullptr; }
  bool has_blob() const { return uploader_ != nullptr; }
  // Queues the uploads an earlier run left marked on NVMe, once the
  // namespace policies are set (the blocks of checkpoint namespaces are not
  // uploaded one by one). Frees the blocks of checkpoint namespaces that no
  // object or session names (a crash between a catalog change and the
  // freeing of blocks, or sessions the crash ended). Call once, on a thread
  // that may block; returns how many uploads were queued.
  size_t ResumeUploads();
  // What ResumeUploads queued.
  size_t resumed_uploads() const { return resumed_uploads_; }

  // ---- Whole operations (stack_operations.h says how they complete). ----
  // Each is non-blocking; the blocking steps run on the stack's pool.

  // Reads `keys`: a lease's snapshot, DRAM, the demotion queue, then (on a
  // worker) NVMe, Blob and the origin (GetBelow), then what a lease kept of
  // a block NVMe evicted since the match.
  std::optional<ReadResult> Get(uint32_t namespace_id, std::span<const std::string_view> keys,
                                const ReadOptions& options, ReadDone done);
  // The longest contiguous prefix of `keys` deliverable by the deadline:
  // blocks in memory inline, the rest read below in parallel on workers;
  // answered as soon as the prefix is settled (a miss, a failed read, every
  // read done, the byte limit) or when the deadline passes. Reads still
  // running then finish unseen. No gap is ever returned.
  std::optional<PrefixResult> GetPrefix(uint32_t namespace_id,
                                        std::span<const std::string_view> keys,
                                        const PrefixOptions& options, PrefixDone done);
  // Publishes `blocks` (sealed; an empty handle where `codes[i]` already
  // says why not) under `keys` by the namespace's write mode; returns or
  // hands `done` the codes. Write-back: DRAM inline, then on a worker the
  // removal of an older copy below when one may exist; while the demotion
  // backlog is past half its bound the answer waits for room (pacing
  // writers to NVMe). Write-through: DRAM and NVMe on a worker. With no
  // worker free nothing is acknowledged: values already in DRAM are taken
  // out again (the older copy below stays the only one) and those keys are
  // kResourceExhausted.
  std::optional<std::vector<StatusCode>> Put(uint32_t namespace_id,
                                             std::span<const std::string_view> keys,
                                             std::vector<BlockHandle> blocks,
                                             std::vector<StatusCode> codes, JobClass job_class,
                                             CodesDone done);
  // Erases `keys` from every tier: DRAM inline, below on a worker when a
  // lower tier may hold them. kOk where a copy was removed, kNotFound where
  // none was; with no worker free, kResourceExhausted where a copy below
  // stays (retry).
  std::optional<std::vector<StatusCode>> Erase(uint32_t namespace_id,
                                               std::span<const std::string_view> keys,
                                               JobClass job_class, CodesDone done);
  // How many leading keys some tier holds, and where (Locate: in-memory
  // indexes and the Blob presence view, no I/O). With a lease (`lease_ms`
  // nonzero, else the default lease; at most the maximum), the matched
  // blocks in memory are pinned and NVMe ones watched until it ends, and
  // blocks only Blob holds start their promotion into DRAM. Errors:
  // kResourceExhausted when leases are at their bound.
  Result<MatchResult> Match(uint32_t namespace_id, std::span<const std::string_view> keys,
                            uint32_t lease_ms);
  // Ends a lease early; false when there is none (expired or released).
  bool ReleaseLease(uint64_t lease_id) { return leases_.Release(lease_id); }

  // The keys of a namespace this server holds in DRAM and on NVMe, a page
  // at a time in the order of key_scan.h (tiers/key_scan.cc): the page of
  // at most `limit` keys from `cursor` on, and how many distinct keys there
  // are. Both walk the tiers' indexes on the pool (no I/O) and call `done`
  // once unless they return kResourceExhausted (the pool is full).
  Status ScanKeys(uint32_t namespace_id, uint64_t cursor, size_t limit, JobClass job_class,
                  KeyPageDone done);
  Status CountKeys(uint32_t namespace_id, JobClass job_class, KeyCountDone done);

  // Object operations (object_operations.h; tiers/object_operations.cc).
  // ReadRange reads bytes [offset, offset + length) of the object's current
  // version, clipped at its end, from its blocks through every tier (read
  // through the origin, single-flight as Get).
  Status ListObjects(uint32_t namespace_id, ListQuery query, JobClass job_class, ListDone done);
  Status StatObject(uint32_t namespace_id, std::string path, JobClass job_class, StatDone done);
  Status ReadRange(uint32_t namespace_id, std::string path, uint64_t offset, uint64_t length,
                   JobClass job_class, RangeDone done);

  // Writing objects of checkpoint namespaces (tiers/object_writes.cc;
  // docs/protocol.md, "Writing objects"). kUnsupported for other
  // namespaces. CreateObject is non-blocking; the others finish on the
  // pool and call `done` once, unless they return an error.
  //
  // CheckObjectBlockPut checks, before a put is accepted, that each key is a
  // block of an open session (CheckpointCatalog::CheckBlockPut); OK in
  // namespaces that are not checkpoint namespaces.
  Result<WriteSession> CreateObject(uint32_t namespace_id, const std::string& path);
  Status CheckObjectBlockPut(uint32_t namespace_id, std::string_view key, uint64_t size);
  // For the publisher, on its own threads (blocking): block `index` of the
  // object stored under `storage`, through every tier; and, once the object
  // is in Blob, the release of the block's NVMe mark (NVMe may then evict
  // it like any other block).
  Result<BlockHandle> ReadObjectBlock(uint32_t namespace_id, const std::string& storage,
                                      uint64_t index);
  void ReleaseObjectBlock(uint32_t namespace_id, const std::string& storage, uint64_t index,
                          uint64_t checksum);
  // Commit checks that every block of the object is durable on NVMe, then
  // makes it visible and frees the version it replaced.
  Status CommitObject(uint32_t namespace_id, std::string storage, uint64_t size, JobClass job_class,
                      StatDone done);
  Status AbortObject(uint32_t namespace_id, std::string storage, JobClass job_class,
                     std::function<void(Status)> done);
  Status RenameObject(uint32_t namespace_id, std::string from, std::string to, JobClass job_class,
                      std::function<void(Status)> done);
  Status DeleteObject(uint32_t namespace_id, std::string path, JobClass job_class,
                      std::function<void(Status)> done);

  // Runs the jobs already queued, then stops the pool: later operations
  // that need a worker answer kResourceExhausted. Idempotent.
  void StopOperations();
  // deferred_requests, worker_queue_full, paced_puts,
  // blob_promotions_started, objects_committed, object_blocks_freed,
  // write_sessions_expired, worker_queued_jobs, then the leases'.
  void AddOperationCounters(std::vector<TierCounter>& out) const;

  // ---- Non-blocking steps. ----

  // Memory for a block that a later Put* publishes (DRAM memory).
  Result<WritableBlock> Allocate(uint64_t key_size, uint64_t value_size) {
    return dram_.Allocate(key_size, value_size);
  }
  Result<BlockHandle> GetFromDram(const BlockKey& key) { return dram_.Get(key); }
  // A block evicted from DRAM whose demotion is queued or being written: its
  // bytes are still in memory and readable. kNotFound otherwise.
  Result<BlockHandle> GetQueued(const BlockKey& key) const;
  // Where `key` is, from in-memory indexes only. A block waiting in the
  // demotion queue is in memory: kDram. In Blob namespaces, kBlob when the
  // Blob tier's presence view knows the blob (Tier::ContainsWithoutIo); an
  // unknown key is probed in the background (Tier::Probe).
  Location Locate(const BlockKey& key) const;
  // Whether a DRAM miss of `key` is worth a worker-side GetBelow.
  bool MayBeBelow(const BlockKey& key) const;
  bool IsWriteThrough(uint32_t namespace_id) const;

  // A write-back put into DRAM. On success, `*lower_barrier` is nonzero
  // when an older copy may sit below: the put is complete (and may be
  // acknowledged) only after RemoveBelow(key, *lower_barrier) on a worker.
  Status PutWriteBack(const BlockKey& key, BlockHandle block, uint64_t* lower_barrier);
  // Erases `key` from DRAM. `*lower_barrier` as for PutWriteBack; then
  // RemoveBelow completes the delete. Returns kNotFound when DRAM did not
  // hold the key (it may still be below).
  Status EraseFromDram(const BlockKey& key, uint64_t* lower_barrier);

  // ---- Blocking: worker threads only. ----

  // The rest of a get after a DRAM miss: single-flight read of NVMe
  // (checksum verified), then of Blob, then of the origin, then promotion
  // into DRAM.
  // `*from` says which level answered.
  Result<BlockHandle> GetBelow(const BlockKey& key, Location* from);
  // A write-through put: DRAM (not for checkpoint blocks), then NVMe
  // durably (marked for upload, and queued, in write-back Blob namespaces).
  // On an NVMe error the key is removed from both tiers and the error
  // returned.
  Status PutWriteThrough(const BlockKey& key, BlockHandle block);
  // Cancels demotions of `key` queued before `barrier`, and queued or
  // running spills, and erases its NVMe copy. With `erase_dram` (deletes),
  // also a copy a concurrent get promoted, and the blob. Returns whether a
  // lower copy was removed; an error when the blob could not be deleted.
  Result<bool> RemoveBelow(const BlockKey& key, uint64_t barrier, bool erase_dram);

  // Calls `done` once the named keys of a write-back Blob namespace (all
  // pending write-backs when `keys` is empty) are in Blob, or with the error
  // of a failed upload of one. Non-blocking: `done` runs on an uploader
  // thread or inline. kUnsupported without a Blob tier.
  void FlushUploads(uint32_t namespace_id, const std::vector<std::string_view>& keys,
                    std::function<void(Status)> done);

  // Write-back backpressure. Non-blocking. When the demotion backlog is
  // past half its bound, keeps `on_room` and returns true: it is called
  // once (from the demotion thread, or at Shutdown) when the backlog falls
  // below half. Otherwise returns false and drops `on_room`. Holding put
  // acknowledgements this way paces writers to the NVMe write rate, so
  // evictions rarely meet a full queue.
  bool WaitForDemotionRoom(std::function<void()> on_room);
  // Lock-free hint for callers on hot paths: whether WaitForDemotionRoom
  // would keep its callback now.
  bool DemotionBacklogged() const;

  // Waits until every demotion queued before the call has been written (or
  // skipped). Blocking.
  void FlushDemotions();

  // Stops the operations' pool, writes what the demotion queue holds, then
  // stops its thread. Idempotent.
  void Shutdown();

  // DRAM, NVMe and Blob stats, with the stack's counters added to each,
  // then each origin's.
  std::vector<TierStats> Stats() const;

 private:
  const NamespacePolicy& PolicyFor(uint32_t namespace_id) const;
  bool UsesNvme(uint32_t namespace_id) const;
  // How the namespace uses Blob; kNone without NVMe and Blob tiers.
  BlobUse BlobUseOf(uint32_t namespace_id) const;
  void OnNvmeEvicted(const BlockKey& key, uint64_t size, std::function<Result<BlockHandle>()> read);
  // The Blob step of a get: a pending spill's bytes, else the blob, read
  // with the stripe unlocked. `*promote` is false when a delete of the key
  // may have run meanwhile.
  Result<BlockHandle> ReadBlob(const BlockKey& key, const std::string& index_key,
                               std::unique_lock<std::mutex>& stripe, bool* promote);
  std::mutex& StripeFor(std::string_view index_key);
  // Whether the lower tier may hold `key` or is about to (see the header).
  // With `new_checksum`, a lower copy of the same bytes does not count.
  bool LowerMayHold(const BlockKey& key, const std::string& index_key,
                    std::optional<uint64_t> new_checksum = std::nullopt) const;
  // A barrier number when the lower tier may hold `key` (the caller then
  // owes a RemoveBelow), else 0.
  uint64_t BarrierIfLowerMayHold(const BlockKey& key, std::optional<uint64_t> new_checksum);
  bool BelowHoldsSameBytes(const BlockKey& key, uint64_t checksum) const;
  void OnEvicted(const BlockKey& key, BlockHandle block, bool was_read);
  // The demotion queue's writer: the block to NVMe under the key's stripe,
  // unless a put or delete cancelled it meanwhile.
  void Demote(DemotionQueue::Demotion& demotion);
  Result<BlockHandle> ReadAndPromote(const BlockKey& key, Location* from);
  // Steps of the whole operations (stack_operations.cc).
  // The block of `key` held in memory: the lease's snapshot, DRAM, the
  // demotion queue.
  std::optional<BlockHandle> FromMemory(uint64_t lease_id, const BlockKey& key);
  // Whether a worker-side ReadBelow of `key` may find it.
  bool WorthReadingBelow(uint64_t lease_id, const BlockKey& key) const;
  // Blocking: GetBelow, then a lease's kept NVMe copy.
  Result<BlockHandle> ReadBelow(uint64_t lease_id, const BlockKey& key, Location* from);
  // Queues a read of `key` from below DRAM, which promotes it (a lease on
  // a block only Blob holds). Dropped when the pool is full.
  void PromoteFromBlob(const BlockKey& key);
  // The namespace's catalog, or kUnsupported.
  Result<ObjectCatalog*> CatalogOf(uint32_t namespace_id) const;
  // Runs `work` with the namespace's catalog on a worker; kUnsupported or
  // kResourceExhausted (pool full) when it cannot start.
  Status OnCatalog(uint32_t namespace_id, JobClass job_class,
                   std::function<void(ObjectCatalog&)> work);
  Result<CheckpointCatalog*> CheckpointsOf(uint32_t namespace_id) const;
  // Erases a block from every tier, on a worker (a delete nobody waits on).
  void EraseEverywhere(const BlockKey& key);
  // Erases the blocks of `freed` from every tier, on a worker.
  void FreeBlocks(uint32_t namespace_id, const FreedBlocks& freed);
  // Frees the blocks of write sessions idle past their TTL (a periodic job).
  void ExpireWriteSessions();
  // ReadRange's work, on a worker.
  Result<RangeRead> ReadRangeNow(uint32_t namespace_id, ObjectCatalog& catalog,
                                 const std::string& path, uint64_t offset, uint64_t length);
  // Queues `job` on the pool; false when it is full or stopped.
  bool Defer(std::function<void()> job, JobClass job_class);
  // Reclaims expired DRAM blocks every few seconds, on the timer thread.
  void ScheduleExpirySweep();

  DramTier& dram_;
  Tier* const nvme_;
  Tier* const blob_;  // null without NVMe
  const TierStackOptions options_;
  const uint64_t demotion_queue_limit_;
  std::unordered_map<uint32_t, NamespacePolicy> policies_;  // fixed after setup
  StripeLocks stripes_;

  // With NVMe: DRAM evictions waiting to be written down, and the sequence
  // numbers of barriers.
  std::unique_ptr<DemotionQueue> demotions_;
  std::atomic<bool> shut_down_{false};
  SingleFlight flights_;                // GetBelow's reads
  std::unique_ptr<Uploader> uploader_;  // with blob_
  size_t resumed_uploads_ = 0;
  // Bumped by each blob delete, after the blob is gone: a get whose blob
  // read started before a delete sees it changed and does not promote.
  std::atomic<uint64_t> blob_erase_epoch_{0};

  struct Counters {
    std::atomic<uint64_t> demotions{0};
    std::atomic<uint64_t> demoted_bytes{0};
    std::atomic<uint64_t> demotions_already_below{0};
    std::atomic<uint64_t> demotions_refreshed{0};  // rewritten to NVMe's newest segment
    std::atomic<uint64_t> demotions_cancelled{0};
    std::atomic<uint64_t> demotion_queue_full{0};
    std::atomic<uint64_t> demotion_failures{0};
    std::atomic<uint64_t> admission_rejects{0};
    std::atomic<uint64_t> promotions{0};
    std::atomic<uint64_t> promotion_failures{0};
    std::atomic<uint64_t> promotions_deferred{0};
    std::atomic<uint64_t> lower_removals{0};
    std::atomic<uint64_t> write_through_puts{0};
    std::atomic<uint64_t> origin_fills{0};
    std::atomic<uint64_t> blob_hits{0};
    std::atomic<uint64_t> blob_promotions_skipped{0};
    std::atomic<uint64_t> deferred_requests{0};
    std::atomic<uint64_t> worker_queue_full{0};
    std::atomic<uint64_t> paced_puts{0};
    std::atomic<uint64_t> blob_promotions_started{0};
    std::atomic<uint64_t> objects_committed{0};
    std::atomic<uint64_t> object_blocks_freed{0};
    std::atomic<uint64_t> write_sessions_expired{0};
  };
  mutable Counters counters_;

  LeaseTable leases_;
  // Last: destroyed first, so no timer or job outlives what it uses.
  TimerQueue timers_;  // GetPrefix deadlines, the expiry sweep
  WorkerPool workers_;
};

}  // namespace kvtier::tiers
