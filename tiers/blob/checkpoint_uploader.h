#pragma once

// Copies the committed objects of one checkpoint namespace to Blob as
// ordinary block blobs at `<prefix><path>` (Put Block per block, then one
// Put Block List, so a reader of the container never sees half an object),
// readable by any Blob tool. Once an object is there its NVMe blocks lose
// their upload marks and NVMe may evict them; reads of an evicted block come
// back here (the namespace's origin) as a range read of the blob, checked
// against the checksum the block had when it was committed.
//
// Work: a commit or a rename queues the object's storage name (Publish).
// A worker reads its blocks through the tier stack, uploads them, then
// records in the catalog that the object is in Blob at its path; if it was
// renamed or replaced meanwhile, the blob just written is removed again
// when no object has its path, and a renamed object is uploaded again under
// its new name. A failed attempt is retried with backoff (the blocks keep
// their marks meanwhile, so nothing is lost while Blob is down). A restart
// queues every object the catalog says is not in Blob yet (Resume).
//
// Thread safety: every method may be called from any thread. Publish,
// Unpublish and Flush never block; Fetch blocks on Blob (worker threads).

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tiers/blob/blob_client.h"
#include "tiers/block_source.h"
#include "tiers/checkpoint_catalog.h"
#include "tiers/object_publisher.h"

namespace kvtier::tiers::blob {

struct CheckpointUploaderOptions {
  BlobClientOptions client;  // its container holds the blobs
  std::string prefix;        // blob name = prefix + object path
  int threads = 2;           // objects uploaded at once
  int blocks_in_flight = 4;  // blocks of one object uploaded at once
  std::chrono::milliseconds retry_initial{200};
  std::chrono::milliseconds retry_max{30'000};
  std::string stats_name = "checkpoint_blobs";
};

// How the uploader reaches the namespace's blocks (TierStack's
// ReadObjectBlock and ReleaseObjectBlock for one namespace).
struct CheckpointBlocks {
  std::function<Result<BlockHandle>(const std::string& storage, uint64_t index)> read;
  std::function<void(const std::string& storage, uint64_t index, uint64_t checksum)> release;
};

class CheckpointUploader final : public ObjectPublisher, public BlockSource {
 public:
  // `catalog` must outlive the uploader. Start() begins uploading.
  static Result<std::unique_ptr<CheckpointUploader>> Create(CheckpointUploaderOptions options,
                                                            CheckpointCatalog& catalog);
  ~CheckpointUploader() override;  // Shutdown()
  CheckpointUploader(const CheckpointUploader&) = delete;
  CheckpointUploader& operator=(const CheckpointUploader&) = delete;

  // Starts the workers with access to the blocks, and queues every object
  // not yet in Blob. Returns how many were queued.
  size_t Start(CheckpointBlocks blocks);
  // Stops the workers after their current attempt; pending flushes fail.
  void Shutdown();

  // Calls `removed` after each attempt to remove a blob that no longer
  // names an object (Unpublish, a rename's old blob, RemoveForeign),
  // whatever its outcome. Set before Start.
  void OnBlobRemoved(std::function<void(const std::string& path)> removed);

  // ObjectPublisher.
  void Publish(const std::string& storage) override;
  void Republish(const std::string& storage, const std::string& old_blob_path) override;
  void Unpublish(const std::string& blob_path) override;
  Status RemoveForeign(const std::string& path) override;
  void Flush(std::vector<std::string> paths, std::function<void(Status)> done) override;

  // BlockSource: block `index` of the committed object under storage name
  // `storage` (the key is ObjectBlockKey(storage, index)), from its blob.
  Result<BlockHandle> Fetch(const BlockKey& key) override;
  TierStats Stats() const override;

 private:
  struct Waiter {
    std::set<std::string> storages;  // not in Blob yet
    std::function<void(Status)> done;
  };

  CheckpointUploader(CheckpointUploaderOptions options, CheckpointCatalog& catalog,
                     std::unique_ptr<BlobClient> client);
  void Loop();
  // One attempt at the object stored under `storage`: OK when it is in Blob
  // (or needs no upload any more).
  Status UploadObject(const std::string& storage);
  void Finished(const std::string& storage, const Status& status);
  // Deletes blob `<prefix><path>` unless an object now sits at `path`.
  void RemoveOrphanBlob(const std::string& path);
  void Enqueue(const std::string& storage, std::chrono::steady_clock::time_point not_before);

  const CheckpointUploaderOptions options_;
  CheckpointCatalog& catalog_;
  std::unique_ptr<BlobClient> client_;
  CheckpointBlocks blocks_;
  std::function<void(const std::string& path)> blob_removed_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  // Storage names waiting, with the time each may run (retries back off).
  std::unordered_map<std::string, std::chrono::steady_clock::time_point> queued_;
  std::set<std::string> running_;
  std::set<std::string> again_;  // published again while running
  std::unordered_map<std::string, std::chrono::milliseconds> backoff_;
  std::unordered_map<std::string, Status> last_error_;
  std::deque<std::string> orphans_;  // blob paths to remove
  std::vector<std::shared_ptr<Waiter>> waiters_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;

  struct Counters {
    std::atomic<uint64_t> objects_uploaded{0};
    std::atomic<uint64_t> blocks_uploaded{0};
    std::atomic<uint64_t> bytes_uploaded{0};
    std::atomic<uint64_t> upload_failures{0};
    std::atomic<uint64_t> blobs_removed{0};
    std::atomic<uint64_t> reads{0};
    std::atomic<uint64_t> read_bytes{0};
    std::atomic<uint64_t> read_checksum_mismatches{0};
  };
  Counters counters_;
};

}  // namespace kvtier::tiers::blob
