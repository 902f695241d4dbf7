// TierStack::GetPrefix: the longest contiguous prefix of a prompt's blocks
// that can be delivered by a deadline. Blocks in memory are taken inline;
// the rest are read from the lower tiers in parallel on the worker pool, and
// the answer goes out as soon as the prefix is settled (a miss, a failed
// read, the byte limit, or every read done) or when the deadline passes,
// whichever is first. Reads still running then finish unseen. No gap is
// ever returned.

#include <memory>
#include <mutex>

#include "tiers/tier_stack.h"

namespace kvtier::tiers {
namespace {

enum class ReadState : uint8_t { kPending, kFound, kMissing, kFailed };

// State of one GetPrefix; shared by its reads and its deadline.
struct PrefixJob {
  uint32_t namespace_id = 0;
  uint64_t lease_id = 0;
  uint64_t max_bytes = 0;
  PrefixDone done;

  std::mutex mu;
  std::vector<BlockHandle> found;
  std::vector<Location> from;
  std::vector<ReadState> state;
  std::vector<StatusCode> codes;
  size_t end = 0;  // keys at and past it are certainly absent
  bool answered = false;

  // The result if the prefix is settled (or `deadline_passed`), else
  // nullopt; marks the job answered. Requires mu.
  std::optional<PrefixResult> TryAnswer(bool deadline_passed) {
    if (answered) return std::nullopt;
    const size_t count = found.size();
    PrefixResult result;
    uint64_t bytes = 0;
    size_t i = 0;
    for (; i < end && state[i] == ReadState::kFound; ++i) {
      if (bytes + found[i].size() > max_bytes) break;
      bytes += found[i].size();
    }
    if (i < end && state[i] == ReadState::kFound) {
      result.stop = PrefixStop::kByteLimit;
    } else if (i == count) {
      result.stop = PrefixStop::kComplete;
    } else if (i == end || state[i] == ReadState::kMissing) {
      result.stop = PrefixStop::kMiss;
    } else if (state[i] == ReadState::kFailed) {
      result.stop = PrefixStop::kError;
      result.stop_code = codes[i];
    } else if (deadline_passed) {
      result.stop = PrefixStop::kDeadline;
    } else {
      return std::nullopt;  // still reading the next block of the prefix
    }
    result.blocks.reserve(i);
    for (size_t k = 0; k < i; ++k) {
      result.blocks.push_back(found[k].Clone());
      result.from.push_back(from[k]);
    }
    answered = true;
    return result;
  }
};

}  // namespace

std::optional<PrefixResult> TierStack::GetPrefix(uint32_t namespace_id,
                                                 std::span<const std::string_view> keys,
                                                 const PrefixOptions& options, PrefixDone done) {
  auto job = std::make_shared<PrefixJob>();
  const size_t count = keys.size();
  job->namespace_id = namespace_id;
  job->lease_id = options.lease_id;
  job->max_bytes = options.max_bytes;
  job->done = std::move(done);
  job->found.resize(count);
  job->from.assign(count, Location::kNone);
  job->state.assign(count, ReadState::kPending);
  job->codes.assign(count, StatusCode::kOk);

  // Memory first, inline: the lease's snapshot, DRAM, the demotion queue.
  // The first key that is in no tier's in-memory index (and that no lower
  // tier may hold) ends the prefix: `end`. Keys before it that are not in
  // memory are read below, on workers.
  std::vector<size_t> below;
  for (job->end = 0; job->end < count; ++job->end) {
    const size_t i = job->end;
    const BlockKey key{namespace_id, keys[i]};
    if (std::optional<BlockHandle> handle = FromMemory(options.lease_id, key)) {
      job->found[i] = std::move(*handle);
      job->from[i] = Location::kDram;
      job->state[i] = ReadState::kFound;
    } else if (WorthReadingBelow(options.lease_id, key)) {
      below.push_back(i);
    } else {
      break;
    }
  }
  if (below.empty()) {
    std::lock_guard lock(job->mu);
    return job->TryAnswer(false);
  }

  for (size_t i : below) {
    // The read owns its key: it may still run after the answer, when the
    // caller's keys are gone.
    auto read = [this, job, i, key = std::string(keys[i])] {
      {
        std::lock_guard lock(job->mu);
        if (job->answered) return;  // settled without this block
      }
      Location from = Location::kNone;
      auto handle = ReadBelow(job->lease_id, {job->namespace_id, key}, &from);
      std::optional<PrefixResult> result;
      {
        std::lock_guard lock(job->mu);
        if (handle.ok()) {
          job->found[i] = std::move(*handle);
          job->from[i] = from;
          job->state[i] = ReadState::kFound;
        } else if (handle.status().code() == StatusCode::kNotFound ||
                   handle.status().code() == StatusCode::kCorruption) {
          job->state[i] = ReadState::kMissing;
        } else {
          job->state[i] = ReadState::kFailed;
          job->codes[i] = handle.status().code();
        }
        result = job->TryAnswer(false);
      }
      if (result) job->done(std::move(*result));
    };
    if (Defer(std::move(read), options.job_class)) continue;
    // No worker: the prefix ends here, retryably.
    std::lock_guard lock(job->mu);
    job->state[i] = ReadState::kFailed;
    job->codes[i] = StatusCode::kResourceExhausted;
    break;
  }
  if (options.deadline_ms != 0) {
    timers_.Schedule(TimerQueue::Clock::now() + std::chrono::milliseconds(options.deadline_ms),
                     [job] {
                       std::optional<PrefixResult> result;
                       {
                         std::lock_guard lock(job->mu);
                         result = job->TryAnswer(/*deadline_passed=*/true);
                       }
                       if (result) job->done(std::move(*result));
                     });
  }
  // Reads that already finished may have settled it (then `done` has run or
  // is running: the caller posts whichever answer comes, and only one does).
  std::lock_guard lock(job->mu);
  return job->TryAnswer(false);
}

}  // namespace kvtier::tiers
