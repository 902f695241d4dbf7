#pragma once

// Read-ahead of an origin for sequential readers (tiers/blob/dataset_origin.h).
// A reader that streams an object asks for its blocks one after the other
// (several at once with the mount's or the Blob endpoint's read-ahead);
// reading each as its own ranged GET pays the origin's per-request cost per
// block, and small ranges stream far slower than large ones. OriginRuns
// reads such a reader's next blocks as one range (a run) on a thread of its
// own, and hands each block on as soon as its bytes have arrived: to the
// request that waits for it, else held until that request comes. Runs
// start only at a reader's frontier (the block right after the furthest one
// of the object asked for lately), so they cover blocks nobody asked for
// yet and no block is read twice; any other block is read alone, so random
// readers fetch nothing extra. A reader that keeps going gets longer runs:
// each run of an object is twice as long as its last, from `run_blocks` up
// to `max_run_blocks`, and the next run starts once the reader has taken
// half of the current one (so the origin's time to answer a new range
// overlaps the rest of the current one instead of stalling the reader).
// Up to `streams` runs of an object read at once, one after the other in
// the object, while half the run slots are free: an origin streams several
// ranges of one object faster than one (Blob's per-connection throughput is
// bounded; parallel ranges are how its own tools read large blobs).
//
// Bounded: at most `max_running` runs read at once (past that, blocks are
// read alone); a run holds at most its share of `max_held_bytes`
// (max_held_bytes / max_running) and, when it would hold more, waits for
// its blocks to be taken (the origin's socket is not read meanwhile; a
// reader that stops stalls only its own run) and gives up after
// `hold_for`; a finished run's blocks are dropped after `hold_for` or when
// all runs together hold more than `max_held_bytes`; the recent positions of at most
// `tracked_objects` objects are kept. A block held at one version is never handed out for another.
// Thread-safe; the destructor stops the runs and waits for their threads.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "tiers/block.h"

namespace kvtier::tiers::blob {

struct OriginRunsOptions {
  // Runs of one object reading at once (1: one, the next starting at the
  // middle of the current one). Runs past the first start only while fewer
  // than half of max_running read, so other readers still get theirs.
  uint32_t streams = 4;
  uint32_t run_blocks = 4;       // the first run of an object; 1: every block read alone
  uint32_t max_run_blocks = 64;  // runs grow up to this (at least run_blocks)
  uint32_t max_running = 8;
  uint64_t max_held_bytes = 256ull << 20;
  std::chrono::milliseconds hold_for{30'000};
  size_t tracked_objects = 1024;
};

class OriginRuns {
 public:
  using Clock = std::chrono::steady_clock;
  // Takes block `index` as soon as it has been read; an error stops the
  // read.
  using Deliver = std::function<Status(uint64_t index, BlockHandle block)>;
  // Reads blocks [first, first + count) of the object as one range, handing
  // each to `deliver` in order as it arrives; OK once all were. `*changed`:
  // the object is no longer at the version asked for. May run on a run's
  // thread after the Get that started it returned: it must own what it uses.
  using ReadRun =
      std::function<Status(uint64_t first, uint64_t count, bool* changed, const Deliver& deliver)>;

  explicit OriginRuns(OriginRunsOptions options);
  ~OriginRuns();
  OriginRuns(const OriginRuns&) = delete;
  OriginRuns& operator=(const OriginRuns&) = delete;

  // Block `index` of `object` at `version` (`blocks`: the object's block
  // count at that version): taken from a run that holds it or is reading
  // it, else read through `read`: as the start of a run at the object's
  // frontier, else alone.
  // `*changed` as ReadRun's.
  Result<BlockHandle> Get(const std::string& object, const std::string& version, uint64_t index,
                          uint64_t blocks, ReadRun read, bool* changed);

  // Block `index` alone, through `read` (a run of one).
  static Result<BlockHandle> ReadOne(const ReadRun& read, uint64_t index, bool* changed);

  struct Counts {
    uint64_t runs = 0;            // reads of more than one block
    uint64_t blocks_joined = 0;   // blocks taken from a run instead of read
    uint64_t blocks_dropped = 0;  // read ahead, never asked for
  };
  Counts counts() const;

 private:
  struct Run {
    std::string object;
    std::string version;
    uint64_t first = 0;
    uint64_t count = 0;
    uint64_t next = 0;        // the next block to arrive
    uint64_t held_bytes = 0;  // of `held`
    bool done = false;
    bool changed = false;
    bool followed = false;
    Status status = Status::Ok();
    std::map<uint64_t, BlockHandle> held;  // read, not yet taken
    Clock::time_point finished;
  };
  // The run of `object` at `version` that covers `index`, or null. Under mu_.
  std::shared_ptr<Run> Covering(const std::string& object, const std::string& version,
                                uint64_t index) const;
  // Whether `index` continues what `object`'s readers asked for lately.
  // Under mu_.
  bool LooksSequential(const std::string& object, uint64_t index) const;
  // Notes that blocks up to `last` of `object` were asked for. Under mu_.
  void NoteAsked(const std::string& object, uint64_t last);
  // Drops held blocks past their time or over the bound, and finished runs
  // with nothing held. Under mu_.
  void Trim();
  void Release(Run& run, uint64_t index);
  // Takes a held block out of `run`, with the accounting. Under mu_.
  BlockHandle Unhold(Run& run, std::map<uint64_t, BlockHandle>::iterator it);
  // Waits for block `index` of `run`. True when the run answered for it:
  // `*block` is set, or `*failure` with the run's error (`*changed` too);
  // false when the block will not come from the run (taken already, or the
  // run failed before it without a change). Under mu_.
  bool TakeFrom(const std::shared_ptr<Run>& run, uint64_t index, std::unique_lock<std::mutex>& lock,
                BlockHandle* block, Status* failure, bool* changed);
  // TakeFrom's answer as a result (a block taken may start the next run:
  // MaybeFollow); or read alone when it had none. Under mu_, which it
  // releases.
  Result<BlockHandle> TakeOrReadOne(const std::shared_ptr<Run>& run, uint64_t index,
                                    uint64_t blocks, std::unique_lock<std::mutex>& lock,
                                    const ReadRun& read, bool* changed);
  // Starts a run of `count` blocks from `first` on a thread of its own.
  // Under mu_.
  std::shared_ptr<Run> StartRun(const std::string& object, const std::string& version,
                                uint64_t first, uint64_t count, const ReadRun& read);
  struct Recent;
  // The length of the object's next run from `first`, which doubles the one
  // after it. Under mu_.
  uint64_t NextRunBlocks(Recent& recent, uint64_t first, uint64_t blocks) const;
  // When `run` belongs to a reader whose frontier is a run's end: starts
  // runs from the frontier until `streams` of the object read, and one more
  // once the reader took block `index` past the middle of the frontier's
  // run. Under mu_.
  void MaybeFollow(Run& run, uint64_t index, uint64_t blocks, const ReadRun& read);
  // A run's thread: reads it and hands its blocks on.
  void Execute(const std::shared_ptr<Run>& run, const ReadRun& read);
  // Holds block `index` of `run` once there is room. Takes mu_.
  Status Hold(Run& run, uint64_t index, BlockHandle block);
  // Joins the threads of finished runs. Under mu_.
  void Reap();

  const OriginRunsOptions options_;
  mutable std::mutex mu_;
  std::condition_variable changed_;  // a block held or taken, a run done
  bool stopping_ = false;
  struct Worker {
    std::thread thread;
    bool finished = false;
  };
  std::list<Worker> workers_;  // one per run reading or not yet joined
  uint32_t running_ = 0;
  std::list<std::shared_ptr<Run>> runs_;  // oldest first
  uint64_t held_bytes_ = 0;
  // The highest block index asked for lately, per object (LRU-bounded).
  std::list<std::string> recent_order_;
  struct Recent {
    uint64_t last = 0;
    uint32_t next_run_blocks = 0;  // the length of the object's next run
    std::list<std::string>::iterator position;
  };
  std::unordered_map<std::string, Recent> recent_;
  Counts counts_;
};

}  // namespace kvtier::tiers::blob
