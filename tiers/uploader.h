#pragma once

// Copies blocks from the NVMe tier to the Blob tier in the background, for
// the two ways a namespace uses Blob:
//
//   write-back  A put is acknowledged once it is durable on NVMe with an
//               upload mark (UploadJournal::PutDurableForUpload); Upload(key) queues
//               it. The uploader reads the key's current bytes from NVMe,
//               writes the blob (replacing an older one: the newest
//               acknowledged put wins) and clears the mark. Marks survive a
//               crash; ResumeMarked() queues them again at start (those its
//               filter includes). A failed
//               attempt is retried with backoff until it succeeds or the key
//               is deleted.
//   spill       NVMe evicts a live block (Tier::EvictionSink); Spill() queues
//               it and the uploader writes it if no blob of that name exists
//               (If-None-Match: *, so servers sharing a container never
//               replace each other's blocks). Spills are a cache's best
//               effort: past `spill_queue_bytes`, or after a failed attempt,
//               the block is dropped and counted.
//
// Per key at most one upload runs at a time, and a put during an upload
// queues another, so Blob ends with the newest bytes. Cancel() (deletes)
// drops queued work and waits out a running upload, so nothing the caller
// deletes afterwards is written again.
//
// Flush(keys, done) calls `done` once the named keys (or, with none named,
// every write-back queued before the call) are in Blob, or with the error of
// the first attempt on one of them that failed after the Blob client's own
// retries. Keys waiting for a retry are retried at once for a Flush, so a
// Flush fails fast while Blob is down.
//
// Bounds: spills hold at most `spill_queue_bytes` of evicted blocks (on disk,
// in removed segment files still open: disk use past the NVMe capacity).
// Write-backs are bounded by the NVMe tier itself: marked blocks are never
// evicted, so a backlog ends in refused NVMe writes, not in lost blocks.
//
// Thread safety: all methods may be called from any thread. Upload, Spill,
// ReadSpilling and Flush never block on I/O; Cancel and Shutdown may wait for
// a running upload.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tiers/tier.h"

namespace kvtier::tiers {

struct UploaderOptions {
  int threads = 4;  // uploads in flight at once
  uint64_t spill_queue_bytes = 256ull << 20;
  std::chrono::milliseconds retry_initial{200};
  std::chrono::milliseconds retry_max{30'000};

  Status Validate() const;
};

class Uploader {
 public:
  // `source` (NVMe) and `target` (Blob) must outlive the uploader. Marks
  // are read and cleared in source's upload journal, when it has one.
  Uploader(Tier& source, Tier& target, const UploaderOptions& options);
  ~Uploader();  // Shutdown()
  Uploader(const Uploader&) = delete;
  Uploader& operator=(const Uploader&) = delete;

  // Queues every block `source` still has marked for upload (after a
  // restart). Returns how many.
  size_t ResumeMarked(const std::function<bool(std::string_view index_key)>& include);
  // Queues the write-back of `index_key`, just written to `source` marked.
  void Upload(const std::string& index_key);
  // Queues a block `source` evicted; `read` returns its bytes.
  void Spill(const BlockKey& key, uint64_t size, std::function<Result<BlockHandle>()> read);
  // The bytes of a spill that has not been written yet; kNotFound otherwise.
  Result<BlockHandle> ReadSpilling(const std::string& index_key) const;
  // Whether any work for `index_key` is queued or running.
  bool Tracks(const std::string& index_key) const;
  // Drops queued work for `index_key` and waits for a running upload of it.
  // Blocking.
  void Cancel(const std::string& index_key);
  // See the header comment. `done` runs on an uploader thread, or inline
  // when nothing is pending.
  void Flush(std::vector<std::string> index_keys, std::function<void(Status)> done);
  // Stops the threads after the uploads in flight; queued write-backs stay
  // marked in `source` for the next start; waiting Flushes get kUnavailable.
  void Shutdown();

  // Counters, added to the Blob tier's stats.
  void AddStats(TierStats& stats) const;

 private:
  enum class Kind { kWriteBack, kSpill };
  struct Work {
    Kind kind = Kind::kWriteBack;
    uint64_t seq = 0;  // write-back: order of first queueing (for Flush)
    bool queued = false;
    bool running = false;
    bool again = false;  // a newer put arrived while running
    int failures = 0;
    uint64_t size = 0;  // spill: bytes held
    std::function<Result<BlockHandle>()> read;
  };
  struct Waiter {
    uint64_t seq_limit = 0;         // all write-backs numbered below
    std::vector<std::string> keys;  // or these keys
    std::function<void(Status)> done;
  };
  using Clock = std::chrono::steady_clock;

  void Loop();
  // Runs one attempt; returns its status.
  Status Attempt(const std::string& index_key, const Work& work);
  bool WaiterCovers(const Waiter& waiter, const std::string& index_key, const Work& work) const;
  bool WaiterDone(const Waiter& waiter) const;
  // Moves finished waiters (and, with `failed`, those covering it) out.
  void CollectWaiters(const std::string* failed_key, const Work* failed_work, const Status& error,
                      std::vector<std::pair<std::function<void(Status)>, Status>>& out);
  void Forget(const std::string& index_key);  // requires mu_

  Tier& source_;
  UploadJournal* const journal_;  // source_'s; null: nothing is marked
  Tier& target_;
  const UploaderOptions options_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;  // a running upload finished
  std::unordered_map<std::string, Work> work_;
  std::deque<std::string> ready_;                        // may hold stale keys: checked on pop
  std::multimap<Clock::time_point, std::string> retry_;  // failed write-backs
  std::map<uint64_t, std::string> write_backs_;          // seq -> key, still to upload
  std::vector<Waiter> waiters_;
  uint64_t next_seq_ = 1;
  uint64_t spill_bytes_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;

  struct Counters {
    std::atomic<uint64_t> uploads{0};
    std::atomic<uint64_t> upload_bytes{0};
    std::atomic<uint64_t> upload_failures{0};
    std::atomic<uint64_t> uploads_resumed{0};
    std::atomic<uint64_t> spills{0};
    std::atomic<uint64_t> spill_bytes{0};
    std::atomic<uint64_t> spills_already_present{0};
    std::atomic<uint64_t> spill_queue_full{0};
    std::atomic<uint64_t> spill_failures{0};
    std::atomic<uint64_t> cancelled{0};
  };
  mutable Counters counters_;
};

}  // namespace kvtier::tiers
