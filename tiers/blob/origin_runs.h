#pragma once

// Read-ahead of an origin for sequential readers (tiers/blob/dataset_origin.h).
// A reader that streams an object asks for its blocks one after the other
// (several at once with the mount's or the Blob endpoint's read-ahead);
// reading each as its own ranged GET pays the origin's per-request cost per
// block. OriginRuns reads such a reader's next blocks as one range (a run
// of up to `run_blocks` blocks) and holds the blocks the caller did not ask
// for until their own requests come, which then wait for the run instead of
// reading again. Runs start only at a reader's frontier (the block right
// after the furthest one of the object asked for lately), so they cover
// blocks nobody asked for yet and no block is read twice; any other block
// is read alone, so random readers fetch nothing extra.
//
// Bounded: held blocks take at most `max_held_bytes` (the oldest completed
// runs' blocks are dropped first) and are dropped after `hold_for`; the
// recent positions of at most `tracked_objects` objects are kept. A block
// held at one version is never handed out for another. Thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "tiers/block.h"

namespace kvtier::tiers::blob {

struct OriginRunsOptions {
  uint32_t run_blocks = 4;  // 1: every block read alone
  uint64_t max_held_bytes = 256ull << 20;
  std::chrono::milliseconds hold_for{30'000};
  size_t tracked_objects = 1024;
};

class OriginRuns {
 public:
  using Clock = std::chrono::steady_clock;
  // Reads blocks [first, first + count) of the object as one range, in
  // order. `*changed`: the object is no longer at the version asked for.
  using ReadRun = std::function<Result<std::vector<BlockHandle>>(uint64_t first, uint64_t count,
                                                                 bool* changed)>;

  explicit OriginRuns(OriginRunsOptions options) : options_(options) {}

  // Block `index` of `object` at `version` (`blocks`: the object's block
  // count at that version): taken from a run that holds it or is reading
  // it, else read through `read`: as the start of a run at the object's
  // frontier, else alone.
  // `*changed` as ReadRun's.
  Result<BlockHandle> Get(const std::string& object, const std::string& version, uint64_t index,
                          uint64_t blocks, const ReadRun& read, bool* changed);

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
    bool done = false;
    bool changed = false;
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

  const OriginRunsOptions options_;
  mutable std::mutex mu_;
  std::condition_variable finished_;
  std::list<std::shared_ptr<Run>> runs_;  // oldest first
  uint64_t held_bytes_ = 0;
  // The highest block index asked for lately, per object (LRU-bounded).
  std::list<std::string> recent_order_;
  struct Recent {
    uint64_t last = 0;
    std::list<std::string>::iterator position;
  };
  std::unordered_map<std::string, Recent> recent_;
  Counts counts_;
};

}  // namespace kvtier::tiers::blob
