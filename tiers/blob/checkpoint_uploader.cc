#include "tiers/blob/checkpoint_uploader.h"

#include <algorithm>
#include <cstring>

#include "common/checksum.h"
#include "common/keys.h"

namespace kvtier::tiers::blob {
namespace {

using Clock = std::chrono::steady_clock;

// Blob metadata naming the version (storage name) a blob holds.
constexpr char kVersionMetadata[] = "kvtier_version";

}  // namespace

Result<std::unique_ptr<CheckpointUploader>> CheckpointUploader::Create(
    CheckpointUploaderOptions options, CheckpointCatalog& catalog) {
  if (options.threads <= 0) return InvalidArgument("checkpoint uploader: threads must be > 0");
  KVTIER_ASSIGN_OR_RETURN(std::unique_ptr<BlobClient> client, BlobClient::Create(options.client));
  return std::unique_ptr<CheckpointUploader>(
      new CheckpointUploader(std::move(options), catalog, std::move(client)));
}

CheckpointUploader::CheckpointUploader(CheckpointUploaderOptions options,
                                       CheckpointCatalog& catalog,
                                       std::unique_ptr<BlobClient> client)
    : options_(std::move(options)), catalog_(catalog), client_(std::move(client)) {}

CheckpointUploader::~CheckpointUploader() { Shutdown(); }

size_t CheckpointUploader::Start(CheckpointBlocks blocks) {
  blocks_ = std::move(blocks);
  const std::vector<ObjectInfo> pending = catalog_.NotInBlob();
  for (const ObjectInfo& object : pending) Enqueue(object.storage, Clock::now());
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { Loop(); });
  return pending.size();
}

void CheckpointUploader::Shutdown() {
  std::vector<std::shared_ptr<Waiter>> waiters;
  {
    std::lock_guard lock(mu_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
    waiters.swap(waiters_);
  }
  work_cv_.notify_all();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  for (auto& waiter : waiters) waiter->done(Unavailable("shutting down before the upload ended"));
}

void CheckpointUploader::Enqueue(const std::string& storage, Clock::time_point not_before) {
  {
    std::lock_guard lock(mu_);
    if (running_.contains(storage)) {
      again_.insert(storage);
      return;
    }
    auto [it, inserted] = queued_.try_emplace(storage, not_before);
    if (!inserted) it->second = std::min(it->second, not_before);
  }
  work_cv_.notify_one();
}

void CheckpointUploader::Publish(const std::string& storage) { Enqueue(storage, Clock::now()); }

void CheckpointUploader::Republish(const std::string& storage, const std::string& old_blob_path) {
  // The catalog still names the old blob; the upload removes it after.
  static_cast<void>(old_blob_path);
  Publish(storage);
}

Status CheckpointUploader::RemoveForeign(const std::string& path) {
  if (catalog_.Stat(path).ok())
    return Internal("object " + path + " is written here, not by another server");
  Status removed = client_->DeleteBlob(options_.prefix + path);
  if (removed.ok()) counters_.blobs_removed.fetch_add(1, std::memory_order_relaxed);
  if (removed.code() == StatusCode::kNotFound) removed = NotFound("no object " + path);
  if (blob_removed_) blob_removed_(path);
  return removed;
}

void CheckpointUploader::OnBlobRemoved(std::function<void(const std::string& path)> removed) {
  blob_removed_ = std::move(removed);
}

void CheckpointUploader::Unpublish(const std::string& blob_path) {
  {
    std::lock_guard lock(mu_);
    orphans_.push_back(blob_path);
  }
  work_cv_.notify_one();
}

void CheckpointUploader::Flush(std::vector<std::string> paths, std::function<void(Status)> done) {
  auto waiter = std::make_shared<Waiter>();
  waiter->done = std::move(done);
  if (paths.empty()) {
    for (const ObjectInfo& object : catalog_.NotInBlob()) waiter->storages.insert(object.storage);
  } else {
    for (const std::string& path : paths) {
      auto object = catalog_.Stat(path);
      if (!object.ok()) return waiter->done(object.status());
      if (!object->in_blob) waiter->storages.insert(object->storage);
    }
  }
  if (waiter->storages.empty()) return waiter->done(Status::Ok());
  {
    std::lock_guard lock(mu_);
    if (stopping_) return waiter->done(Unavailable("shutting down"));
    // Objects waiting out a retry's backoff are tried again at once, so a
    // Flush fails fast while Blob is down.
    for (const std::string& storage : waiter->storages) {
      if (!running_.contains(storage)) queued_[storage] = Clock::now();
    }
    waiters_.push_back(waiter);
  }
  work_cv_.notify_all();
}

void CheckpointUploader::Loop() {
  std::unique_lock lock(mu_);
  while (true) {
    if (stopping_) return;
    if (!orphans_.empty()) {
      const std::string path = std::move(orphans_.front());
      orphans_.pop_front();
      lock.unlock();
      RemoveOrphanBlob(path);
      lock.lock();
      continue;
    }
    // The queued object whose time has come first.
    auto next = std::min_element(queued_.begin(), queued_.end(),
                                 [](const auto& a, const auto& b) { return a.second < b.second; });
    if (next == queued_.end()) {
      work_cv_.wait(lock);
      continue;
    }
    if (next->second > Clock::now()) {
      work_cv_.wait_until(lock, next->second);
      continue;
    }
    const std::string storage = next->first;
    queued_.erase(next);
    running_.insert(storage);
    lock.unlock();
    const Status status = UploadObject(storage);
    Finished(storage, status);
    lock.lock();
  }
}

Status CheckpointUploader::UploadObject(const std::string& storage) {
  std::optional<ObjectInfo> object = catalog_.ObjectOfStorage(storage);
  if (!object) return Status::Ok();  // deleted or replaced: nothing to upload
  if (object->in_blob && object->blob_path == object->path) return Status::Ok();
  const std::string name = options_.prefix + object->path;
  const uint64_t blocks = object->block_count();
  std::vector<std::string> ids(blocks);
  std::vector<uint64_t> checksums(blocks);
  // One block: read it through the tiers, check it, stage it in Blob.
  auto stage = [&](uint64_t index) -> Status {
    KVTIER_ASSIGN_OR_RETURN(BlockHandle block, blocks_.read(storage, index));
    const std::optional<uint64_t> expected = catalog_.BlockChecksum(storage, index);
    if (expected && *expected != block.checksum()) {
      return Corruption("block " + std::to_string(index) + " of " + object->path +
                        " does not have the checksum it was committed with");
    }
    ids[index] = BlobClient::StagedBlockId(index);
    Status put = client_->PutBlock(name, ids[index], block.bytes());
    if (put.code() == StatusCode::kNotFound && client_->CreateContainer().ok()) {
      put = client_->PutBlock(name, ids[index], block.bytes());
    }
    KVTIER_RETURN_IF_ERROR(put);
    checksums[index] = block.checksum();
    counters_.blocks_uploaded.fetch_add(1, std::memory_order_relaxed);
    counters_.bytes_uploaded.fetch_add(block.size(), std::memory_order_relaxed);
    return Status::Ok();
  };
  // Blocks go up `blocks_in_flight` at a time (lanes take every n-th
  // block); the first failure stops the others at their next block.
  const uint64_t lanes =
      std::max<uint64_t>(1, std::min<uint64_t>(options_.blocks_in_flight, blocks));
  std::vector<Status> lane_status(lanes, Status::Ok());
  std::atomic<bool> failed{false};
  auto run_lane = [&](uint64_t lane) {
    for (uint64_t index = lane; index < blocks && !failed.load(); index += lanes) {
      lane_status[lane] = stage(index);
      if (!lane_status[lane].ok()) failed = true;
    }
  };
  std::vector<std::thread> helpers;
  for (uint64_t lane = 1; lane < lanes; ++lane) helpers.emplace_back(run_lane, lane);
  run_lane(0);
  for (std::thread& helper : helpers) helper.join();
  for (const Status& status : lane_status) KVTIER_RETURN_IF_ERROR(status);
  // Deleted or replaced while its blocks went up: commit nothing (the
  // staged blocks expire in Blob unless a later commit uses them).
  const std::optional<ObjectInfo> current = catalog_.ObjectOfStorage(storage);
  if (!current || current->path != object->path) return Status::Ok();
  KVTIER_RETURN_IF_ERROR(
      client_->PutBlockList(name, ids, {{kVersionMetadata, storage}}, /*if_absent=*/false)
          .status());
  KVTIER_ASSIGN_OR_RETURN(bool recorded, catalog_.MarkInBlob(storage, object->path));
  if (!recorded) {
    // Renamed, replaced or deleted while it was uploaded: the blob is not
    // what the catalog says, unless another object took the path (it will
    // upload over it). A renamed object was queued again.
    RemoveOrphanBlob(object->path);
    return Status::Ok();
  }
  counters_.objects_uploaded.fetch_add(1, std::memory_order_relaxed);
  // In Blob now: NVMe may drop the blocks (reads then come from the blob).
  for (uint64_t index = 0; index < blocks; ++index) {
    blocks_.release(storage, index, checksums[index]);
  }
  // Renamed after an earlier upload: the blob under the old name goes.
  if (!object->blob_path.empty() && object->blob_path != object->path) {
    RemoveOrphanBlob(object->blob_path);
  }
  return Status::Ok();
}

void CheckpointUploader::Finished(const std::string& storage, const Status& status) {
  std::vector<std::pair<std::shared_ptr<Waiter>, Status>> answers;
  bool again = false;
  {
    std::lock_guard lock(mu_);
    running_.erase(storage);
    again = again_.erase(storage) > 0;
    if (!status.ok()) {
      counters_.upload_failures.fetch_add(1, std::memory_order_relaxed);
      auto [backoff, inserted] = backoff_.try_emplace(storage, options_.retry_initial);
      if (!inserted) backoff->second = std::min(backoff->second * 2, options_.retry_max);
      if (!stopping_) queued_[storage] = again ? Clock::now() : Clock::now() + backoff->second;
    } else {
      backoff_.erase(storage);
      if (again && !stopping_) queued_[storage] = Clock::now();
    }
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      Waiter& waiter = **it;
      if (!waiter.storages.contains(storage)) {
        ++it;
        continue;
      }
      if (!status.ok()) {
        answers.emplace_back(*it, Unavailable("uploading a checkpoint to Blob failed (retrying): " +
                                              status.ToString()));
      } else if (again) {
        ++it;  // renamed meanwhile: done once it is in Blob under its new name
        continue;
      } else {
        waiter.storages.erase(storage);
        if (!waiter.storages.empty()) {
          ++it;
          continue;
        }
        answers.emplace_back(*it, Status::Ok());
      }
      it = waiters_.erase(it);
    }
  }
  if (!status.ok() || again) work_cv_.notify_one();
  for (auto& [waiter, answer] : answers) waiter->done(answer);
}

void CheckpointUploader::RemoveOrphanBlob(const std::string& path) {
  // Unless an object holds the path again.
  if (!catalog_.Stat(path).ok()) {
    const Status removed = client_->DeleteBlob(options_.prefix + path);
    if (removed.ok()) counters_.blobs_removed.fetch_add(1, std::memory_order_relaxed);
  }
  if (blob_removed_) blob_removed_(path);
}

Result<BlockHandle> CheckpointUploader::Fetch(const BlockKey& key) {
  auto parsed = ParseObjectBlockKey(key.key);
  if (!parsed.ok()) return InvalidArgument("not a checkpoint block key");
  const auto& [storage, index] = *parsed;
  std::optional<ObjectInfo> object = catalog_.ObjectOfStorage(storage);
  if (!object || object->blob_path.empty() || index >= object->block_count()) {
    return NotFound("no blob holds block " + std::to_string(index) + " of " + storage);
  }
  const std::optional<uint64_t> expected = catalog_.BlockChecksum(storage, index);
  if (!expected) return NotFound("no checksum recorded for the block");
  const uint64_t offset = index * object->block_bytes;
  const uint64_t length = std::min(object->block_bytes, object->size - offset);
  counters_.reads.fetch_add(1, std::memory_order_relaxed);
  KVTIER_ASSIGN_OR_RETURN(BlobData data, client_->GetBlob(options_.prefix + object->blob_path,
                                                          ByteRange{offset, length}));
  const auto bytes = std::as_bytes(std::span(data.bytes));
  const uint64_t checksum = BlockChecksum(bytes);
  if (bytes.size() != length || checksum != *expected) {
    // Another writer replaced the blob, or it was damaged: never served.
    counters_.read_checksum_mismatches.fetch_add(1, std::memory_order_relaxed);
    return Corruption("block " + std::to_string(index) + " of " + object->path +
                      " read from Blob does not match its checksum");
  }
  counters_.read_bytes.fetch_add(length, std::memory_order_relaxed);
  WritableBlock block = HeapBlockAllocator::Instance().Allocate(bytes.size());
  std::memcpy(block.mutable_bytes().data(), bytes.data(), bytes.size());
  return std::move(block).Seal(checksum);
}

TierStats CheckpointUploader::Stats() const {
  TierStats stats;
  stats.name = options_.stats_name;
  stats.Add("objects_uploaded", counters_.objects_uploaded);
  stats.Add("blocks_uploaded", counters_.blocks_uploaded);
  stats.Add("bytes_uploaded", counters_.bytes_uploaded);
  stats.Add("upload_failures", counters_.upload_failures);
  stats.Add("blobs_removed", counters_.blobs_removed);
  stats.Add("reads", counters_.reads);
  stats.Add("read_bytes", counters_.read_bytes);
  stats.Add("read_checksum_mismatches", counters_.read_checksum_mismatches);
  {
    std::lock_guard lock(mu_);
    stats.counters.push_back({"uploads_queued", queued_.size() + running_.size()});
  }
  return stats;
}

}  // namespace kvtier::tiers::blob
