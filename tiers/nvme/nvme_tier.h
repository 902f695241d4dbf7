#pragma once

// The NVMe tier: value bytes in append-only segment files, and RocksDB as the
// durable key -> extent index over them.
//
// Layout under `directory`:
//   index/            RocksDB: key = index key (namespace id, key bytes);
//                     value = segment id, offset, length, checksum (32 bytes),
//                     a flags byte (bit 0: marked for upload; bits 1-2: pin
//                     level), the expiry in Unix ms (8 bytes) and the KB
//                     metadata (token count, position offset: 4 bytes each;
//                     producer: 8 bytes); no LOG file: RocksDB's messages
//                     go to kvtierd's log (tiers/rocksdb_support.h)
//   segments/NNNNNNNNNNNNNNNN.seg   values back to back, no headers
//
// Why not values inside RocksDB: KV blocks are 256 KiB to 64 MiB. Every
// RocksDB compaction (or BlobDB garbage collection) would rewrite them; here
// a value is written once and space comes back by deleting whole segment
// files, oldest first (FIFO by write order), so write amplification for value
// bytes is 1 and the bytes on disk are bounded by construction: at most
// capacity / segment_bytes segment files exist, each at most segment_bytes.
// bench/RESULTS.md compares this with plain RocksDB values.
//
// Crash semantics:
//   - A value is written to its segment before its index entry, so an index
//     entry never names bytes that were not written (unless the OS lost them:
//     see below).
//   - After a process crash (kill -9) everything acknowledged survives: file
//     writes and the RocksDB WAL are in the OS page cache.
//   - After an OS crash or power loss, writes since the last sync may be lost
//     (`sync_writes` makes every Put durable before it returns, for
//     write-through namespaces). An entry whose segment is missing or too
//     short is dropped at open.
//   - Disk full: writes are refused with kResourceExhausted (retryable) while
//     reads go on; after a failed index write the next one reopens the index
//     (counted as index_reopens), so writes resume as soon as space returns. An
//     erase whose index delete could not be written is gone from memory at
//     once and its delete rides with the next index write that succeeds; a
//     crash before that may bring the erased block back (its own, verified
//     bytes).
//   - Upload marks (PutDurableForUpload) are in the same index write as the
//     entry, so a block acknowledged for write-back to Blob is still marked
//     after a crash; MarkedForUpload lists what a restart must upload. A
//     cleared mark is written without sync: after an OS crash a block may be
//     uploaded twice, never not at all.
//   - Eviction drops the oldest segment. Its live blocks go to the eviction
//     sink first (spill to Blob); a segment holding a marked block is never
//     dropped: the write that needs the room is refused (kResourceExhausted,
//     counted as upload_backlog_full) until uploads clear the marks.
//   - Never served: bytes that fail their checksum. Every Get verifies the
//     block checksum; a mismatch drops the entry, is counted
//     (checksum_failures) and reads as kCorruption.
//
// Thread safety: all methods may be called concurrently. Every method may
// block on disk (capabilities().blocking_io): call it from a worker pool,
// never from a network thread. Lock order: sync_mu_ before write_mu_ before index_mu_.

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "tiers/tier.h"

namespace rocksdb {
class Slice;
class WriteBatch;
}  // namespace rocksdb

namespace kvtier::tiers {

class ReopeningDb;  // tiers/rocksdb_support.h

struct NvmeTierOptions {
  std::filesystem::path directory;
  uint64_t capacity_bytes = 8ull << 30;  // value bytes on disk, segment files included
  uint64_t segment_bytes = 64ull << 20;  // one value never spans two segments
  bool sync_writes = false;              // fdatasync + synced WAL before Put returns

  Status Validate() const;
};

class NvmeTier final : public Tier, public UploadJournal {
 public:
  // Opens (or creates) the tier, rebuilding the in-memory index from RocksDB
  // and dropping entries whose bytes are not on disk. Errors: kIoError,
  // kCorruption (RocksDB could not open its index), kInvalidArgument.
  static Result<std::unique_ptr<NvmeTier>> Open(const NvmeTierOptions& options);
  ~NvmeTier() override;

  std::string_view name() const override { return "nvme"; }
  TierCapabilities capabilities() const override {
    return {.persistent = true, .pins_in_place = false, .blocking_io = true};
  }
  // Heap memory: Put copies it to disk.
  Result<WritableBlock> Allocate(uint64_t key_size, uint64_t value_size) override;
  // Errors: kInvalidArgument (larger than a segment), kResourceExhausted
  // (the disk is full: writes are refused, reads go on), kIoError.
  Status Put(const BlockKey& key, BlockHandle block) override {
    return Append(key, std::move(block), options_.sync_writes, /*marked=*/false);
  }
  // fdatasync of the segment, then a synced WAL write of the index entry.
  Status PutDurable(const BlockKey& key, BlockHandle block) override {
    return Append(key, std::move(block), /*sync=*/true, /*marked=*/false);
  }
  UploadJournal* upload_journal() override { return this; }
  // UploadJournal: marks in the same synced index write as the block.
  Status PutDurableForUpload(const BlockKey& key, BlockHandle block) override {
    return Append(key, std::move(block), /*sync=*/true, /*marked=*/true);
  }
  Status PutForUploadUnsynced(const BlockKey& key, BlockHandle block) override {
    return Append(key, std::move(block), /*sync=*/false, /*marked=*/true);
  }
  Status SyncWrites() override;
  Status ClearUploadMark(const BlockKey& key, uint64_t checksum) override;
  std::vector<std::string> MarkedForUpload() const override;
  void SetEvictionSink(EvictionSink sink) override;
  Result<BlockHandle> Get(const BlockKey& key) override;
  bool MayContain(const BlockKey& key) const override { return Contains(key); }
  bool Contains(const BlockKey& key) const override;
  std::optional<uint64_t> StoredChecksum(const BlockKey& key) const override;
  Status Erase(const BlockKey& key) override;
  TierStats Stats() const override;
  void VisitKeys(uint32_t namespace_id, const KeyVisitor& visit) const override;

  // Bytes of segment files on disk (allocated blocks, from stat).
  uint64_t DiskBytes() const;

 private:
  struct Extent {
    uint64_t segment = 0;
    uint64_t offset = 0;
    uint64_t length = 0;
    uint64_t checksum = 0;
    bool marked = false;  // still to be uploaded to the tier below
    PinLevel pin = PinLevel::kNone;
    uint64_t expires_at_ms = 0;  // BlockAttributes::expires_at_ms
    uint32_t token_count = 0;    // KB metadata (BlockAttributes)
    uint32_t position_offset = 0;
    uint64_t producer = 0;

    BlockAttributes attributes() const {
      return {expires_at_ms, pin, token_count, position_offset, producer};
    }
  };
  struct Segment {
    uint64_t id = 0;
    int fd = -1;
    uint64_t size = 0;
    std::vector<std::string> keys;  // index keys written here (some may be stale)
    ~Segment();
  };

  explicit NvmeTier(const NvmeTierOptions& options);
  Status Recover();
  Status Append(const BlockKey& key, BlockHandle block, bool sync, bool marked);
  Status OpenNewSegment();     // requires write_mu_
  Status DropOldestSegment();  // requires write_mu_
  std::filesystem::path SegmentPath(uint64_t id) const;
  std::shared_ptr<Segment> FindSegment(uint64_t id) const;
  // Reads and verifies one block (kCorruption on a checksum mismatch).
  static Result<BlockHandle> ReadExtent(const Segment& segment, const Extent& extent);
  // The index value of an entry, and back (false: malformed).
  static std::string EncodeEntry(const Extent& extent);
  static bool DecodeEntry(const rocksdb::Slice& bytes, Extent* extent);
  void DropEntry(const std::string& index_key, const Extent& extent);
  // An index batch that starts with the erases not yet persisted; requires
  // write_mu_.
  rocksdb::WriteBatch StartIndexBatch();
  // Writes `batch` (reopening the index first after a failed write) and
  // tracks the disk-full state; requires write_mu_.
  Status CommitIndexBatch(rocksdb::WriteBatch& batch, bool sync, const char* what);
  // Deletes an index entry already gone from memory; a delete that cannot
  // be written is kept for the next index write. Requires write_mu_.
  Status DeleteFromIndex(std::string index_key);

  const NvmeTierOptions options_;
  // Used only under write_mu_ once open: it reopens after a failed write.
  const std::unique_ptr<ReopeningDb> index_;

  std::mutex write_mu_;  // appends, segment roll and drop
  std::shared_ptr<Segment> active_;
  std::mutex sync_mu_;  // one SyncWrites at a time
  // Segments holding marked writes not synced yet, and whether the index
  // has such writes (SyncWrites). Under write_mu_.
  std::vector<std::shared_ptr<Segment>> unsynced_segments_;
  bool index_unsynced_ = false;
  uint64_t next_segment_id_ = 1;
  // Index deletes that failed (disk full), retried with the next index
  // write; bounded, see kMaxUnpersistedErases.
  std::vector<std::string> unpersisted_erases_;
  EvictionSink eviction_sink_;

  mutable std::shared_mutex index_mu_;  // entries_ and segments_
  std::unordered_map<std::string, Extent> entries_;
  std::map<uint64_t, std::shared_ptr<Segment>> segments_;  // oldest first

  std::atomic<bool> disk_full_{false};
  struct Counters {
    std::atomic<uint64_t> hits{0};
    std::atomic<uint64_t> misses{0};
    std::atomic<uint64_t> puts{0};
    std::atomic<uint64_t> put_bytes{0};
    std::atomic<uint64_t> erases{0};
    std::atomic<uint64_t> evictions{0};
    std::atomic<uint64_t> segments_dropped{0};
    std::atomic<uint64_t> checksum_failures{0};
    std::atomic<uint64_t> io_errors{0};
    std::atomic<uint64_t> recovered_entries{0};
    std::atomic<uint64_t> dropped_at_recovery{0};
    std::atomic<uint64_t> unpersisted_erases_dropped{0};
    std::atomic<uint64_t> evictions_handed_off{0};
    std::atomic<uint64_t> upload_backlog_full{0};
    std::atomic<uint64_t> expired{0};
  };
  mutable Counters counters_;
};

}  // namespace kvtier::tiers
