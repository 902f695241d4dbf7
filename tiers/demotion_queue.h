#pragma once

// The blocks DRAM evicted that wait to be written to NVMe, in eviction
// order, bounded in bytes, with one thread that hands each to a writer.
//
// Sequence numbers order demotions against puts and deletes of the same
// key (see tier_stack.h): each queued demotion takes one, and a put or
// delete takes a barrier number (NextBarrier) after changing DRAM; its
// lower step cancels every demotion of the key numbered below its barrier
// (CancelBefore). The writer checks IsCurrent under its per-key lock before
// writing, and calls Finish after; until then the demotion's bytes stay
// readable (Find) and Holds reports the key, so a reader or a delete always
// sees the block in the queue or in NVMe.
//
// Backpressure: past half the byte bound, WaitForRoom keeps callbacks that
// run once the backlog falls below half again; a full queue refuses blocks
// (Enqueue false), never waits.
//
// Thread-safe. The writer runs on the queue's thread and must not call
// Enqueue (the queue's lock is not held while it runs, but Stop waits for it).

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "tiers/block.h"

namespace kvtier::tiers {

class DemotionQueue {
 public:
  struct Demotion {
    std::string index_key;
    BlockHandle block;
    uint64_t seq = 0;
    bool refresh = false;  // written although the tier below has these bytes
  };
  using Writer = std::function<void(Demotion&)>;

  // `limit_bytes` bounds the bytes queued; `write` is called for each
  // demotion in order, on the queue's own thread (started here).
  DemotionQueue(uint64_t limit_bytes, Writer write);
  ~DemotionQueue();  // Stop()
  DemotionQueue(const DemotionQueue&) = delete;
  DemotionQueue& operator=(const DemotionQueue&) = delete;

  // Queues `block` under `index_key` with the next sequence number. False
  // when it would pass the byte bound or the queue is stopped: the block is
  // dropped.
  bool Enqueue(std::string index_key, BlockHandle block, bool refresh = false);
  // A number above every demotion queued so far.
  uint64_t NextBarrier();
  // Drops the key's demotion if it is numbered below `barrier` (queued or
  // being written: its writer then finds it is no longer current). Returns
  // whether one was dropped.
  bool CancelBefore(const std::string& index_key, uint64_t barrier);
  // Whether demotion `seq` is still the key's current one.
  bool IsCurrent(const std::string& index_key, uint64_t seq) const;
  // The writer is done with demotion `seq` (written, skipped or failed).
  void Finish(const std::string& index_key, uint64_t seq);

  // Whether a demotion of the key is queued or being written.
  bool Holds(const std::string& index_key) const;
  // Its bytes, readable until Finish.
  std::optional<BlockHandle> Find(const std::string& index_key) const;

  // Backpressure, see the header. Both non-blocking.
  bool Backlogged() const { return backlog_.load(std::memory_order_relaxed) >= limit_bytes_ / 2; }
  bool WaitForRoom(std::function<void()> on_room);

  uint64_t queued_bytes() const { return backlog_.load(std::memory_order_relaxed); }
  uint64_t limit_bytes() const { return limit_bytes_; }

  // Waits until every demotion queued before the call has been handed to
  // the writer and the writer has returned. Blocking.
  void WaitIdle();
  // Hands what is queued to the writer, then stops the thread and runs the
  // room callbacks. Later Enqueues are refused. Idempotent.
  void Stop();

 private:
  struct Queued {
    uint64_t seq = 0;   // the key's newest demotion
    BlockHandle block;  // its bytes, readable until written
  };
  void Loop();

  const uint64_t limit_bytes_;
  const Writer write_;

  mutable std::mutex mu_;  // everything below up to the thread
  std::condition_variable work_cv_;
  std::condition_variable idle_cv_;
  std::deque<Demotion> queue_;
  std::unordered_map<std::string, Queued> current_;
  std::vector<std::function<void()>> room_waiters_;
  uint64_t queued_bytes_ = 0;
  uint64_t next_seq_ = 1;
  bool writing_ = false;
  bool stopping_ = false;
  std::atomic<uint64_t> backlog_{0};  // queued_bytes_, readable without mu_
  std::thread thread_;
};

}  // namespace kvtier::tiers
