// TierStack's whole operations: the order of steps of a Get, GetPrefix,
// Put, Erase and Match over the lease table and the tiers, and how each
// finishes on the stack's worker pool (stack_operations.h).

#include <algorithm>
#include <chrono>
#include <mutex>

#include "tiers/tier_stack.h"

namespace kvtier::tiers {

bool TierStack::Defer(std::function<void()> job, JobClass job_class) {
  if (workers_.TrySubmit(std::move(job), job_class)) {
    counters_.deferred_requests.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  counters_.worker_queue_full.fetch_add(1, std::memory_order_relaxed);
  return false;
}

void TierStack::StopOperations() { workers_.Shutdown(); }

void TierStack::ScheduleExpirySweep() {
  // Expired blocks are misses at once; this gives their memory back even if
  // nobody reads them again.
  timers_.Schedule(TimerQueue::Clock::now() + std::chrono::seconds(10), [this] {
    dram_.ReclaimExpired(std::numeric_limits<size_t>::max());
    // Abandoned write sessions: freeing their blocks touches NVMe.
    Defer([this] { ExpireWriteSessions(); }, JobClass::kBulk);
    ScheduleExpirySweep();
  });
}

void TierStack::AddOperationCounters(std::vector<TierCounter>& out) const {
  out.push_back({"deferred_requests", counters_.deferred_requests.load()});
  out.push_back({"worker_queue_full", counters_.worker_queue_full.load()});
  out.push_back({"paced_puts", counters_.paced_puts.load()});
  out.push_back({"blob_promotions_started", counters_.blob_promotions_started.load()});
  out.push_back({"objects_committed", counters_.objects_committed.load()});
  out.push_back({"object_blocks_freed", counters_.object_blocks_freed.load()});
  out.push_back({"write_sessions_expired", counters_.write_sessions_expired.load()});
  out.push_back({"worker_queued_jobs", workers_.queued()});
  leases_.AddCounters(out);
}

std::optional<BlockHandle> TierStack::FromMemory(uint64_t lease_id, const BlockKey& key) {
  // A lease's snapshot first; keys it does not hold read as usual.
  if (lease_id != 0) {
    if (auto leased = leases_.Find(lease_id, key.namespace_id, key.key)) return leased;
  }
  if (auto hit = dram_.Get(key); hit.ok()) return std::move(*hit);
  if (auto queued = GetQueued(key); queued.ok()) return std::move(*queued);
  return std::nullopt;
}

bool TierStack::WorthReadingBelow(uint64_t lease_id, const BlockKey& key) const {
  return MayBeBelow(key) ||
         (lease_id != 0 && leases_.ReaderFor(lease_id, key.namespace_id, key.key));
}

Result<BlockHandle> TierStack::ReadBelow(uint64_t lease_id, const BlockKey& key, Location* from) {
  auto handle = GetBelow(key, from);
  if (!handle.ok() && lease_id != 0) {
    // NVMe evicted it after the match: the lease kept its bytes.
    if (auto read = leases_.ReaderFor(lease_id, key.namespace_id, key.key)) {
      handle = (*read)();
      *from = Location::kNvme;
    }
  }
  return handle;
}

void TierStack::PromoteFromBlob(const BlockKey& key) {
  auto job = [this, namespace_id = key.namespace_id, bytes = std::string(key.key)] {
    Location from = Location::kNone;
    GetBelow({namespace_id, bytes}, &from).status().IgnoreError();
  };
  if (Defer(std::move(job), JobClass::kBulk)) {
    counters_.blob_promotions_started.fetch_add(1, std::memory_order_relaxed);
  }
}

std::optional<ReadResult> TierStack::Get(uint32_t namespace_id,
                                         std::span<const std::string_view> keys,
                                         const ReadOptions& options, ReadDone done) {
  struct Job {
    ReadResult result;
    std::vector<size_t> below;  // indexes to read on a worker
  };
  auto job = std::make_shared<Job>();
  const size_t count = keys.size();
  job->result.blocks.resize(count);
  job->result.codes.assign(count, StatusCode::kNotFound);
  job->result.from.assign(count, Location::kNone);
  for (size_t i = 0; i < count; ++i) {
    const BlockKey key{namespace_id, keys[i]};
    if (auto handle = FromMemory(options.lease_id, key)) {
      job->result.blocks[i] = std::move(*handle);
      job->result.codes[i] = StatusCode::kOk;
      job->result.from[i] = Location::kDram;
    } else if (WorthReadingBelow(options.lease_id, key)) {
      job->below.push_back(i);
    }
  }
  if (job->below.empty()) return std::move(job->result);

  auto run = [this, job, namespace_id, keys, lease_id = options.lease_id, done] {
    ReadResult& result = job->result;
    for (size_t i : job->below) {
      Location from = Location::kNone;
      auto handle = ReadBelow(lease_id, {namespace_id, keys[i]}, &from);
      if (handle.ok()) {
        result.blocks[i] = std::move(*handle);
        result.codes[i] = StatusCode::kOk;
        result.from[i] = from;
      } else if (handle.status().code() != StatusCode::kCorruption) {
        // A bad block below was dropped and counted: to the reader it is a
        // miss. Other errors (I/O) are reported per key.
        result.codes[i] = handle.status().code();
      }
    }
    done(std::move(result));
  };
  if (Defer(std::move(run), options.job_class)) return std::nullopt;
  for (size_t i : job->below) job->result.codes[i] = StatusCode::kResourceExhausted;
  return std::move(job->result);
}

std::optional<std::vector<StatusCode>> TierStack::Put(uint32_t namespace_id,
                                                      std::span<const std::string_view> keys,
                                                      std::vector<BlockHandle> blocks,
                                                      std::vector<StatusCode> codes,
                                                      JobClass job_class, CodesDone done) {
  struct Job {
    std::vector<StatusCode> codes;
    std::vector<BlockHandle> sealed;                    // write-through: blocks to store
    std::vector<std::pair<size_t, uint64_t>> barriers;  // write-back: (index, lower barrier)
  };
  auto job = std::make_shared<Job>();
  job->codes = std::move(codes);
  job->sealed.resize(blocks.size());
  const bool write_through = IsWriteThrough(namespace_id);
  bool any_sealed = false;
  for (size_t i = 0; i < blocks.size(); ++i) {
    if (!blocks[i]) continue;
    if (write_through) {
      job->sealed[i] = std::move(blocks[i]);
      any_sealed = true;
      continue;
    }
    uint64_t barrier = 0;
    Status status = PutWriteBack({namespace_id, keys[i]}, std::move(blocks[i]), &barrier);
    job->codes[i] = status.code();
    if (barrier != 0) job->barriers.emplace_back(i, barrier);
  }
  if (!any_sealed && job->barriers.empty()) {
    if (!DemotionBacklogged()) return std::move(job->codes);
    // Write-back pacing: while NVMe lags behind DRAM evictions, the answer
    // waits for the demotion backlog to shrink (no thread waits).
    if (WaitForDemotionRoom([job, done] { done(std::move(job->codes)); })) {
      counters_.paced_puts.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    return std::move(job->codes);
  }

  auto run = [this, job, namespace_id, keys, done] {
    for (size_t i = 0; i < job->sealed.size(); ++i) {
      if (!job->sealed[i]) continue;
      job->codes[i] = PutWriteThrough({namespace_id, keys[i]}, std::move(job->sealed[i])).code();
    }
    for (const auto& [i, barrier] : job->barriers) {
      // A put removes no blob, so this cannot fail.
      RemoveBelow({namespace_id, keys[i]}, barrier, /*erase_dram=*/false).status().IgnoreError();
    }
    done(std::move(job->codes));
  };
  if (Defer(run, job_class)) return std::nullopt;

  // No worker: nothing of this put may be acknowledged. Write-back values
  // already in DRAM are taken out again, so the older copy below stays the
  // only one.
  for (size_t i = 0; i < job->sealed.size(); ++i) {
    if (job->sealed[i]) job->codes[i] = StatusCode::kResourceExhausted;
  }
  for (const auto& [i, barrier] : job->barriers) {
    dram_.Erase({namespace_id, keys[i]}).IgnoreError();
    job->codes[i] = StatusCode::kResourceExhausted;
  }
  return std::move(job->codes);
}

std::optional<std::vector<StatusCode>> TierStack::Erase(uint32_t namespace_id,
                                                        std::span<const std::string_view> keys,
                                                        JobClass job_class, CodesDone done) {
  struct Job {
    std::vector<StatusCode> codes;
    std::vector<std::pair<size_t, uint64_t>> barriers;
  };
  auto job = std::make_shared<Job>();
  job->codes.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    uint64_t barrier = 0;
    Status status = EraseFromDram({namespace_id, keys[i]}, &barrier);
    if (barrier != 0) job->barriers.emplace_back(i, barrier);
    job->codes.push_back(status.code());
  }
  if (job->barriers.empty()) return std::move(job->codes);
  auto run = [this, job, namespace_id, keys, done] {
    for (const auto& [i, barrier] : job->barriers) {
      auto removed = RemoveBelow({namespace_id, keys[i]}, barrier, /*erase_dram=*/true);
      if (!removed.ok()) {
        // The blob is still there: the erase is not done (retryable).
        job->codes[i] = removed.status().code();
      } else if (*removed) {
        job->codes[i] = StatusCode::kOk;
      }
    }
    done(std::move(job->codes));
  };
  if (Defer(run, job_class)) return std::nullopt;
  // The copies below stay: the caller must retry to finish the erase.
  for (const auto& [i, barrier] : job->barriers) job->codes[i] = StatusCode::kResourceExhausted;
  return std::move(job->codes);
}

Result<MatchResult> TierStack::Match(uint32_t namespace_id, std::span<const std::string_view> keys,
                                     uint32_t lease_ms) {
  MatchResult result;
  const LeaseOptions& lease_options = options_.leases;
  lease_ms = std::min(lease_ms != 0 ? lease_ms : lease_options.default_ms, lease_options.max_ms);
  std::vector<LeaseTable::Held> held;
  std::vector<std::string> on_nvme;
  // In-memory indexes only: DRAM's exact one, then NVMe's (which holds every
  // key it stores), then Blob's presence view, so no key costs I/O.
  for (std::string_view key : keys) {
    const BlockKey block_key{namespace_id, key};
    const Location location = Locate(block_key);
    if (location == Location::kNone) break;
    result.tiers.push_back(location);
    if (lease_ms == 0) continue;
    if (location == Location::kNvme) {
      on_nvme.emplace_back(key);  // watched: kept readable if NVMe evicts it
      continue;
    }
    if (location == Location::kBlob) {
      // Only Blob holds it (another rack's spill): the lease starts its
      // promotion, so the Get that follows finds it in DRAM more often.
      PromoteFromBlob(block_key);
      continue;
    }
    // A pin taken now: the block may have gone since Locate (then the lease
    // does not cover it and a Get reads it as usual).
    auto pinned = dram_.Pin(block_key);
    if (!pinned.ok()) pinned = GetQueued(block_key);
    if (pinned.ok()) held.push_back({std::string(key), std::move(*pinned)});
  }
  if (lease_ms != 0 && !result.tiers.empty()) {
    auto lease = leases_.Take(namespace_id, std::move(held), std::move(on_nvme),
                              std::chrono::milliseconds(lease_ms));
    if (!lease.ok()) return lease.status();
    result.lease_id = *lease;
    result.lease_ms = lease_ms;
  }
  return result;
}

}  // namespace kvtier::tiers
