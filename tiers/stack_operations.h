#pragma once

// What the tier stack's whole operations (TierStack::Get, GetPrefix, Put,
// Erase, Match) take and give. Results are per key, in the order of the
// request's keys.
//
// Completion: each operation does what memory can do inline and returns its
// result then; when a step needs a blocking tier (an NVMe read, a
// write-through put, removing a copy below) it returns nullopt and calls its
// `done` exactly once later, from a thread of the stack's bounded worker
// pool (or of its demotion, timer or uploader threads). When the pool is
// full the operation does not wait: the keys it could not finish are
// answered kResourceExhausted (retryable), and a put or erase leaves no
// half-done state behind (see each method).
//
// Keys are views: the caller keeps their bytes alive until the operation
// has returned its result or called `done`.

#include <cstdint>
#include <functional>
#include <limits>
#include <vector>

#include "common/result.h"
#include "common/worker_pool.h"
#include "tiers/block.h"

namespace kvtier::tiers {

// Where a block was found.
enum class Location : uint8_t { kNone, kDram, kNvme, kBlob, kOrigin };

struct ReadOptions {
  // A lease from Match: its snapshot of the matched blocks is read first,
  // and a matched NVMe block that NVMe evicted since is read from what the
  // lease kept.
  uint64_t lease_id = 0;
  JobClass job_class = JobClass::kLatency;
};

struct ReadResult {
  std::vector<BlockHandle> blocks;  // empty where codes[i] is not kOk
  // kOk; kNotFound (also for a block below that failed its checksum: it was
  // dropped and counted); kResourceExhausted when no worker could take the
  // read (retry); or the error of a failed read below.
  std::vector<StatusCode> codes;
  std::vector<Location> from;  // where each block was found
};
using ReadDone = std::function<void(ReadResult)>;

// Why a GetPrefix stopped where it did.
enum class PrefixStop : uint8_t { kComplete, kMiss, kError, kDeadline, kByteLimit };

struct PrefixOptions : ReadOptions {
  uint32_t deadline_ms = 0;  // answer with what is settled by then; 0: no deadline
  // The prefix delivered holds at most this many bytes.
  uint64_t max_bytes = std::numeric_limits<uint64_t>::max();
};

struct PrefixResult {
  std::vector<BlockHandle> blocks;  // the contiguous prefix delivered
  std::vector<Location> from;
  PrefixStop stop = PrefixStop::kComplete;
  StatusCode stop_code = StatusCode::kOk;  // the failed read's code, with kError
};
using PrefixDone = std::function<void(PrefixResult)>;

// The per-key status codes of a Put or Erase.
using CodesDone = std::function<void(std::vector<StatusCode>)>;

struct MatchResult {
  std::vector<Location> tiers;  // of the leading keys found, one per key
  uint64_t lease_id = 0;        // 0: no lease taken
  uint32_t lease_ms = 0;
};

}  // namespace kvtier::tiers
