#include "tiers/nvme/nvme_tier.h"

#include <fcntl.h>
#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

#include "common/byte_size.h"
#include "common/checksum.h"
#include "tiers/index_key.h"
#include "tiers/rocksdb_support.h"

namespace kvtier::tiers {
namespace {

constexpr size_t kExtentBytes = 32;                // segment, offset, length, checksum
constexpr size_t kFlagsBytes = kExtentBytes + 1;   // and a flags byte
constexpr size_t kExpiryBytes = kFlagsBytes + 8;   // and the expiry (Unix ms)
constexpr size_t kEntryBytes = kExpiryBytes + 16;  // and the KB metadata
constexpr uint8_t kMarkedFlag = 1;
constexpr int kPinShift = 1;  // bits 1-2: the pin level
// Failed index deletes kept for retry while the disk is full (a few MiB of
// keys at most); beyond it an erase is only in memory until restart.
constexpr size_t kMaxUnpersistedErases = 64 * 1024;

void PutLe64(std::string& out, size_t at, uint64_t value) {
  for (int b = 0; b < 8; ++b) out[at + b] = static_cast<char>((value >> (8 * b)) & 0xff);
}

uint64_t GetLe64(const char* data) {
  uint64_t value = 0;
  for (int b = 7; b >= 0; --b) value = (value << 8) | static_cast<uint8_t>(data[b]);
  return value;
}

}  // namespace

std::string NvmeTier::EncodeEntry(const Extent& extent) {
  std::string out(kEntryBytes, '\0');
  PutLe64(out, 0, extent.segment);
  PutLe64(out, 8, extent.offset);
  PutLe64(out, 16, extent.length);
  PutLe64(out, 24, extent.checksum);
  out[kExtentBytes] = static_cast<char>((extent.marked ? kMarkedFlag : 0) |
                                        (static_cast<uint8_t>(extent.pin) << kPinShift));
  PutLe64(out, kFlagsBytes, extent.expires_at_ms);
  PutLe64(out, kExpiryBytes,
          (static_cast<uint64_t>(extent.position_offset) << 32) | extent.token_count);
  PutLe64(out, kExpiryBytes + 8, extent.producer);
  return out;
}

// Older entries are 32 bytes (unmarked, no pin, no expiry), 33 (no expiry)
// or 41 (no KB metadata).
bool NvmeTier::DecodeEntry(const rocksdb::Slice& bytes, Extent* extent) {
  if (bytes.size() != kExtentBytes && bytes.size() != kFlagsBytes && bytes.size() != kExpiryBytes &&
      bytes.size() != kEntryBytes) {
    return false;
  }
  extent->segment = GetLe64(bytes.data());
  extent->offset = GetLe64(bytes.data() + 8);
  extent->length = GetLe64(bytes.data() + 16);
  extent->checksum = GetLe64(bytes.data() + 24);
  const uint8_t flags = bytes.size() > kExtentBytes ? static_cast<uint8_t>(bytes[kExtentBytes]) : 0;
  extent->marked = (flags & kMarkedFlag) != 0;
  const uint8_t pin = (flags >> kPinShift) & 3;
  if (pin > static_cast<uint8_t>(PinLevel::kHard)) return false;
  extent->pin = static_cast<PinLevel>(pin);
  extent->expires_at_ms = bytes.size() >= kExpiryBytes ? GetLe64(bytes.data() + kFlagsBytes) : 0;
  if (bytes.size() == kEntryBytes) {
    const uint64_t packed = GetLe64(bytes.data() + kExpiryBytes);
    extent->token_count = static_cast<uint32_t>(packed);
    extent->position_offset = static_cast<uint32_t>(packed >> 32);
    extent->producer = GetLe64(bytes.data() + kExpiryBytes + 8);
  }
  return true;
}

namespace {

Status Errno(const std::string& what) { return IoError(what + ": " + std::strerror(errno)); }

}  // namespace

Status NvmeTierOptions::Validate() const {
  if (directory.empty()) return InvalidArgument("nvme.directory must be set");
  if (segment_bytes < kMiB) {
    return InvalidArgument("nvme.segment_bytes must be at least 1MiB, got " +
                           FormatByteSize(segment_bytes));
  }
  if (capacity_bytes < 2 * segment_bytes) {
    return InvalidArgument("nvme.capacity (" + FormatByteSize(capacity_bytes) +
                           ") must hold at least two segments of " + FormatByteSize(segment_bytes));
  }
  return Status::Ok();
}

NvmeTier::Segment::~Segment() {
  if (fd >= 0) close(fd);
}

namespace {

rocksdb::Options IndexOptions() {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.compression = rocksdb::kNoCompression;  // 32-byte extents do not compress
  options.max_open_files = 256;
  return options;
}

}  // namespace

NvmeTier::NvmeTier(const NvmeTierOptions& options)
    : options_(options),
      index_(std::make_unique<ReopeningDb>((options.directory / "index").string(), IndexOptions(),
                                           "NVMe index")) {}

NvmeTier::~NvmeTier() = default;

Result<std::unique_ptr<NvmeTier>> NvmeTier::Open(const NvmeTierOptions& options) {
  KVTIER_RETURN_IF_ERROR(options.Validate());
  std::error_code ec;
  std::filesystem::create_directories(options.directory / "segments", ec);
  if (ec) return IoError("cannot create " + options.directory.string() + ": " + ec.message());

  std::unique_ptr<NvmeTier> tier(new NvmeTier(options));
  KVTIER_RETURN_IF_ERROR(tier->index_->Open());
  KVTIER_RETURN_IF_ERROR(tier->Recover());
  std::lock_guard lock(tier->write_mu_);
  KVTIER_RETURN_IF_ERROR(tier->OpenNewSegment());
  return tier;
}

std::filesystem::path NvmeTier::SegmentPath(uint64_t id) const {
  char name[32];
  std::snprintf(name, sizeof(name), "%016llx.seg", static_cast<unsigned long long>(id));
  return options_.directory / "segments" / name;
}

Status NvmeTier::Recover() {
  // Segments on disk, oldest first.
  for (const auto& file : std::filesystem::directory_iterator(options_.directory / "segments")) {
    const std::string name = file.path().filename().string();
    if (name.size() != 20 || !name.ends_with(".seg")) continue;
    auto segment = std::make_shared<Segment>();
    segment->id = std::stoull(name.substr(0, 16), nullptr, 16);
    segment->fd = open(file.path().c_str(), O_RDWR | O_CLOEXEC);
    if (segment->fd < 0) return Errno("opening " + file.path().string());
    struct stat st {};
    if (fstat(segment->fd, &st) != 0) return Errno("stat " + file.path().string());
    segment->size = static_cast<uint64_t>(st.st_size);
    next_segment_id_ = std::max(next_segment_id_, segment->id + 1);
    segments_[segment->id] = std::move(segment);
  }
  // Index entries whose bytes are all on disk; the rest go.
  rocksdb::WriteBatch stale;
  std::unique_ptr<rocksdb::Iterator> it(index_->get().NewIterator(rocksdb::ReadOptions()));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    Extent extent;
    const bool decoded = DecodeEntry(it->value(), &extent);
    auto segment = decoded ? segments_.find(extent.segment) : segments_.end();
    if (segment == segments_.end() || extent.offset + extent.length > segment->second->size) {
      stale.Delete(it->key());
      counters_.dropped_at_recovery.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    std::string key = it->key().ToString();
    segment->second->keys.push_back(key);
    entries_[std::move(key)] = extent;
    counters_.recovered_entries.fetch_add(1, std::memory_order_relaxed);
  }
  KVTIER_RETURN_IF_ERROR(FromRocks(it->status(), "scanning the NVMe index"));
  return FromRocks(index_->get().Write(rocksdb::WriteOptions(), &stale),
                   "dropping stale index entries");
}

Status NvmeTier::OpenNewSegment() {
  // Room for one more full segment, by dropping the oldest ones.
  while ((segments_.size() + 1) * options_.segment_bytes > options_.capacity_bytes &&
         !segments_.empty()) {
    KVTIER_RETURN_IF_ERROR(DropOldestSegment());
  }
  auto segment = std::make_shared<Segment>();
  segment->id = next_segment_id_++;
  const auto path = SegmentPath(segment->id);
  segment->fd = open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (segment->fd < 0) return Errno("creating " + path.string());
  // The new file's directory entry must be durable too, or a synced write
  // into it could vanish with the file after an OS crash.
  const int dir_fd = open(path.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    fsync(dir_fd);
    close(dir_fd);
  }
  std::unique_lock lock(index_mu_);
  segments_[segment->id] = segment;
  active_ = std::move(segment);
  return Status::Ok();
}

Status NvmeTier::DropOldestSegment() {
  std::shared_ptr<Segment> oldest;
  std::vector<std::pair<std::string, Extent>> live;
  {
    std::shared_lock lock(index_mu_);
    if (segments_.empty()) return Status::Ok();
    oldest = segments_.begin()->second;
    for (const std::string& key : oldest->keys) {
      auto entry = entries_.find(key);
      if (entry == entries_.end() || entry->second.segment != oldest->id) continue;  // stale
      if (entry->second.marked) {
        counters_.upload_backlog_full.fetch_add(1, std::memory_order_relaxed);
        return ResourceExhausted(
            "NVMe tier: full of blocks still waiting for their upload to Blob; retry later");
      }
      live.emplace_back(key, entry->second);
    }
  }
  // Nothing else changes entries of this segment meanwhile: appends go to
  // the active segment, and erases, like this, hold write_mu_.
  rocksdb::WriteBatch batch = StartIndexBatch();
  {
    std::unique_lock lock(index_mu_);
    for (const auto& [key, extent] : live) {
      entries_.erase(key);
      batch.Delete(key);
    }
    segments_.erase(segments_.begin());
  }
  if (eviction_sink_) {
    for (const auto& [key, extent] : live) {
      // The reader keeps the segment's descriptor, so its bytes stay
      // readable after the file is removed, until the sink lets go.
      eviction_sink_(DecodeIndexKey(key), extent.length,
                     [segment = oldest, extent = extent] { return ReadExtent(*segment, extent); });
      counters_.evictions_handed_off.fetch_add(1, std::memory_order_relaxed);
    }
  }
  // Readers that already hold the segment keep reading through its open
  // descriptor; the file's space returns when the last of them closes it.
  std::error_code ec;
  std::filesystem::remove(SegmentPath(oldest->id), ec);
  counters_.evictions.fetch_add(live.size(), std::memory_order_relaxed);
  counters_.segments_dropped.fetch_add(1, std::memory_order_relaxed);
  // Not synced: an entry that survives a crash without its segment is
  // dropped at recovery.
  return CommitIndexBatch(batch, /*sync=*/false, "evicting a segment");
}

void NvmeTier::SetEvictionSink(EvictionSink sink) {
  std::lock_guard write_lock(write_mu_);
  eviction_sink_ = std::move(sink);
}

Result<BlockHandle> NvmeTier::ReadExtent(const Segment& segment, const Extent& extent) {
  WritableBlock block = HeapBlockAllocator::Instance().Allocate(extent.length);
  std::byte* out = block.mutable_bytes().data();
  for (uint64_t done = 0; done < extent.length;) {
    const ssize_t n = pread(segment.fd, out + done, extent.length - done,
                            static_cast<off_t>(extent.offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n < 0 ? Errno("reading an NVMe segment") : IoError("NVMe segment is short");
    done += static_cast<uint64_t>(n);
  }
  const uint64_t checksum = BlockChecksum(block.mutable_bytes());
  if (checksum != extent.checksum) return Corruption("NVMe block failed its checksum");
  return std::move(block).Seal(checksum, extent.attributes());
}

Result<WritableBlock> NvmeTier::Allocate(uint64_t /*key_size*/, uint64_t value_size) {
  if (value_size > options_.segment_bytes) {
    return InvalidArgument("a block of " + std::to_string(value_size) +
                           " bytes is larger than an NVMe segment");
  }
  return HeapBlockAllocator::Instance().Allocate(value_size);
}

Status NvmeTier::Append(const BlockKey& key, BlockHandle block, bool sync, bool marked) {
  if (!block) return InvalidArgument("put of an empty block handle");
  const uint64_t length = block.size();
  if (length > options_.segment_bytes) {
    return InvalidArgument("a block of " + std::to_string(length) +
                           " bytes is larger than an NVMe segment");
  }
  std::string index_key;
  EncodeIndexKey(key, index_key);

  std::lock_guard write_lock(write_mu_);
  if (active_->size + length > options_.segment_bytes) {
    KVTIER_RETURN_IF_ERROR(OpenNewSegment());
  }
  const uint64_t offset = active_->size;
  const std::byte* data = block.bytes().data();
  for (uint64_t done = 0; done < length;) {
    const ssize_t n =
        pwrite(active_->fd, data + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      counters_.io_errors.fetch_add(1, std::memory_order_relaxed);
      if (errno == ENOSPC || errno == EDQUOT) {
        disk_full_.store(true, std::memory_order_relaxed);
        return ResourceExhausted("NVMe tier: disk full; writes are refused until space returns");
      }
      return Errno("writing an NVMe segment");
    }
    done += static_cast<uint64_t>(n);
  }
  active_->size += length;
  if (!sync && marked) {
    if (unsynced_segments_.empty() || unsynced_segments_.back() != active_) {
      unsynced_segments_.push_back(active_);
    }
    index_unsynced_ = true;
  }
  if (sync && fdatasync(active_->fd) != 0) {
    counters_.io_errors.fetch_add(1, std::memory_order_relaxed);
    return Errno("syncing an NVMe segment");
  }
  rocksdb::WriteBatch batch = StartIndexBatch();
  const BlockAttributes& attributes = block.attributes();
  const Extent extent{active_->id,
                      offset,
                      length,
                      block.checksum(),
                      marked,
                      attributes.pin,
                      attributes.expires_at_ms,
                      attributes.token_count,
                      attributes.position_offset,
                      attributes.producer};
  batch.Put(index_key, EncodeEntry(extent));
  KVTIER_RETURN_IF_ERROR(CommitIndexBatch(batch, sync, "indexing an NVMe block"));
  {
    std::unique_lock lock(index_mu_);
    active_->keys.push_back(index_key);
    entries_[std::move(index_key)] = extent;
  }
  counters_.puts.fetch_add(1, std::memory_order_relaxed);
  counters_.put_bytes.fetch_add(length, std::memory_order_relaxed);
  return Status::Ok();
}

void NvmeTier::DropEntry(const std::string& index_key, const Extent& extent) {
  std::lock_guard write_lock(write_mu_);
  {
    std::unique_lock lock(index_mu_);
    auto entry = entries_.find(index_key);
    // Only the entry that failed: a newer put of the key stays.
    if (entry == entries_.end() || entry->second.segment != extent.segment ||
        entry->second.offset != extent.offset) {
      return;
    }
    entries_.erase(entry);
  }
  DeleteFromIndex(index_key).IgnoreError();
}

Result<BlockHandle> NvmeTier::Get(const BlockKey& key) {
  std::string index_key;
  EncodeIndexKey(key, index_key);
  Extent extent;
  std::shared_ptr<Segment> segment;
  {
    std::shared_lock lock(index_mu_);
    auto entry = entries_.find(index_key);
    if (entry != entries_.end()) {
      extent = entry->second;
      auto found = segments_.find(extent.segment);
      if (found != segments_.end()) segment = found->second;
    }
  }
  if (segment && extent.attributes().Expired()) {
    counters_.expired.fetch_add(1, std::memory_order_relaxed);
    DropEntry(index_key, extent);
    segment.reset();
  }
  if (!segment) {
    counters_.misses.fetch_add(1, std::memory_order_relaxed);
    return NotFound("key not in NVMe tier");
  }
  Result<BlockHandle> block = ReadExtent(*segment, extent);
  if (!block.ok()) {
    if (block.status().code() != StatusCode::kCorruption) {
      counters_.io_errors.fetch_add(1, std::memory_order_relaxed);
      return block.status();
    }
    counters_.checksum_failures.fetch_add(1, std::memory_order_relaxed);
    DropEntry(index_key, extent);
    return Corruption("NVMe block failed its checksum; dropped");
  }
  counters_.hits.fetch_add(1, std::memory_order_relaxed);
  return block;
}

bool NvmeTier::Contains(const BlockKey& key) const {
  std::string index_key;
  EncodeIndexKey(key, index_key);
  std::shared_lock lock(index_mu_);
  auto it = entries_.find(index_key);
  return it != entries_.end() && !it->second.attributes().Expired();
}

std::optional<uint64_t> NvmeTier::StoredChecksum(const BlockKey& key) const {
  std::string index_key;
  EncodeIndexKey(key, index_key);
  std::shared_lock lock(index_mu_);
  auto it = entries_.find(index_key);
  if (it == entries_.end()) return std::nullopt;
  return it->second.checksum;
}

Status NvmeTier::Erase(const BlockKey& key) {
  std::string index_key;
  EncodeIndexKey(key, index_key);
  std::lock_guard write_lock(write_mu_);
  {
    std::unique_lock lock(index_mu_);
    if (entries_.erase(index_key) == 0) return NotFound("key not in NVMe tier");
  }
  counters_.erases.fetch_add(1, std::memory_order_relaxed);
  return DeleteFromIndex(std::move(index_key));
}

Status NvmeTier::ClearUploadMark(const BlockKey& key, uint64_t checksum) {
  std::string index_key;
  EncodeIndexKey(key, index_key);
  std::lock_guard write_lock(write_mu_);
  Extent extent;
  {
    std::shared_lock lock(index_mu_);
    auto entry = entries_.find(index_key);
    if (entry == entries_.end() || entry->second.checksum != checksum) {
      return NotFound("the block is gone or was replaced");
    }
    if (!entry->second.marked) return Status::Ok();
    extent = entry->second;
  }
  rocksdb::WriteBatch batch = StartIndexBatch();
  Extent cleared = extent;
  cleared.marked = false;
  batch.Put(index_key, EncodeEntry(cleared));
  // Not synced: a mark that comes back after a crash costs one more upload.
  KVTIER_RETURN_IF_ERROR(CommitIndexBatch(batch, /*sync=*/false, "clearing an upload mark"));
  std::unique_lock lock(index_mu_);
  auto entry = entries_.find(index_key);
  if (entry != entries_.end() && entry->second.segment == extent.segment &&
      entry->second.offset == extent.offset) {
    entry->second.marked = false;
  }
  return Status::Ok();
}

std::vector<std::string> NvmeTier::MarkedForUpload() const {
  std::vector<std::pair<std::pair<uint64_t, uint64_t>, std::string>> marked;
  {
    std::shared_lock lock(index_mu_);
    for (const auto& [key, extent] : entries_) {
      if (extent.marked) marked.push_back({{extent.segment, extent.offset}, key});
    }
  }
  std::sort(marked.begin(), marked.end());  // write order
  std::vector<std::string> keys;
  keys.reserve(marked.size());
  for (auto& [position, key] : marked) keys.push_back(std::move(key));
  return keys;
}

Status NvmeTier::DeleteFromIndex(std::string index_key) {
  rocksdb::WriteBatch batch = StartIndexBatch();
  batch.Delete(index_key);
  Status status = CommitIndexBatch(batch, /*sync=*/false, "erasing an NVMe block");
  if (!status.ok()) {
    if (unpersisted_erases_.size() < kMaxUnpersistedErases) {
      unpersisted_erases_.push_back(std::move(index_key));
    } else {
      counters_.unpersisted_erases_dropped.fetch_add(1, std::memory_order_relaxed);
    }
  }
  return status;
}

rocksdb::WriteBatch NvmeTier::StartIndexBatch() {
  rocksdb::WriteBatch batch;
  for (const std::string& key : unpersisted_erases_) batch.Delete(key);
  return batch;
}

Status NvmeTier::SyncWrites() {
  // One sync at a time: a caller whose writes another caller's sync took
  // must not return before that sync has finished.
  std::lock_guard sync_lock(sync_mu_);
  std::vector<std::shared_ptr<Segment>> segments;
  bool index = false;
  {
    // A write that returned before this call is in a listed segment. The
    // segments' syncs run without the write lock: writers go on.
    std::lock_guard write_lock(write_mu_);
    segments.swap(unsynced_segments_);
    index = std::exchange(index_unsynced_, false);
  }
  auto keep_for_next_time = [&] {
    std::lock_guard write_lock(write_mu_);
    unsynced_segments_.insert(unsynced_segments_.begin(), segments.begin(), segments.end());
    index_unsynced_ = index_unsynced_ || index;
  };
  for (const auto& segment : segments) {  // held: the fd stays open if the segment is dropped
    if (fdatasync(segment->fd) != 0) {
      const int error = errno;
      counters_.io_errors.fetch_add(1, std::memory_order_relaxed);
      keep_for_next_time();
      // A file system that allocates at writeback reports a full disk here.
      if (error == ENOSPC || error == EDQUOT) {
        disk_full_.store(true, std::memory_order_relaxed);
        return ResourceExhausted("NVMe tier: disk full while syncing written blocks");
      }
      errno = error;
      return Errno("syncing an NVMe segment");
    }
  }
  if (index) {
    // A synced write of a WAL-only record syncs every index write before it.
    // Under the write lock, as every use of the index: it may be reopened
    // after a failed write (ReopeningDb).
    std::lock_guard write_lock(write_mu_);
    rocksdb::WriteBatch batch = StartIndexBatch();
    batch.PutLogData("sync");
    if (Status synced = CommitIndexBatch(batch, /*sync=*/true, "syncing the NVMe index");
        !synced.ok()) {
      index_unsynced_ = true;  // the segments are synced; the index is not
      return synced;
    }
  }
  return Status::Ok();
}

Status NvmeTier::CommitIndexBatch(rocksdb::WriteBatch& batch, bool sync, const char* what) {
  // After a failed write the index reopens before the next (ReopeningDb).
  const Status status = index_->Write(batch, sync, what);
  if (!status.ok()) {
    counters_.io_errors.fetch_add(1, std::memory_order_relaxed);
    if (status.code() == StatusCode::kResourceExhausted) {
      disk_full_.store(true, std::memory_order_relaxed);
    }
    return status;
  }
  unpersisted_erases_.clear();
  disk_full_.store(false, std::memory_order_relaxed);
  return Status::Ok();
}

uint64_t NvmeTier::DiskBytes() const {
  std::shared_lock lock(index_mu_);
  uint64_t bytes = 0;
  for (const auto& [id, segment] : segments_) {
    struct stat st {};
    if (fstat(segment->fd, &st) == 0) bytes += static_cast<uint64_t>(st.st_blocks) * 512;
  }
  return bytes;
}

void NvmeTier::VisitKeys(uint32_t namespace_id, const KeyVisitor& visit) const {
  std::shared_lock lock(index_mu_);
  for (const auto& [index_key, extent] : entries_) {
    const BlockKey key = DecodeIndexKey(index_key);
    if (key.namespace_id == namespace_id && !visit(key.key)) return;
  }
}

TierStats NvmeTier::Stats() const {
  TierStats stats;
  stats.name = "nvme";
  stats.capacity_bytes = options_.capacity_bytes;
  stats.used_bytes = DiskBytes();
  uint64_t marked = 0;
  {
    std::shared_lock lock(index_mu_);
    stats.items = entries_.size();
    for (const auto& [key, extent] : entries_) {
      marked += extent.marked ? 1 : 0;
      stats.namespace_bytes[DecodeIndexKey(key).namespace_id] += extent.length;
    }
  }
  stats.Add("hits", counters_.hits);
  stats.Add("misses", counters_.misses);
  stats.Add("puts", counters_.puts);
  stats.Add("put_bytes", counters_.put_bytes);
  stats.Add("erases", counters_.erases);
  stats.Add("evictions", counters_.evictions);
  stats.Add("segments_dropped", counters_.segments_dropped);
  stats.Add("checksum_failures", counters_.checksum_failures);
  stats.Add("io_errors", counters_.io_errors);
  stats.Add("index_reopens", index_->reopens());
  stats.Add("recovered_entries", counters_.recovered_entries);
  stats.Add("dropped_at_recovery", counters_.dropped_at_recovery);
  stats.Add("unpersisted_erases_dropped", counters_.unpersisted_erases_dropped);
  stats.Add("evictions_handed_off", counters_.evictions_handed_off);
  stats.Add("upload_backlog_full", counters_.upload_backlog_full);
  stats.Add("expired", counters_.expired);
  stats.counters.push_back({"marked_for_upload", marked});
  stats.counters.push_back({"disk_full", disk_full_.load() ? 1u : 0u});
  return stats;
}

}  // namespace kvtier::tiers
