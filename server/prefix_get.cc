// Service::GetPrefix: the longest contiguous prefix of a prompt's blocks
// that can be delivered by a deadline. Blocks in memory are taken inline;
// the rest are read from the lower tiers in parallel on the worker pool, and
// the answer goes out as soon as the prefix is settled (a miss, a failed
// read, or every read done) or when the deadline passes, whichever is first.
// Reads still running then finish unseen. No gap is ever returned.

#include "server/service.h"

namespace kvtier::server {
namespace {

using protocol::PrefixStop;
using protocol::TierId;

enum class ReadState : uint8_t { kPending, kFound, kMissing, kFailed };

}  // namespace

// State of one GetPrefix; shared by its reads and its deadline.
struct PrefixJob : KeysJob {
  std::mutex mu;
  std::vector<tiers::BlockHandle> found;
  std::vector<TierId> tiers;
  std::vector<ReadState> state;
  std::vector<StatusCode> codes;
  size_t end = 0;  // keys at and past it are certainly absent
  bool answered = false;
  uint64_t max_payload_bytes = 0;
  DeferredReply deferred;

  // The reply if the prefix is settled (or `deadline_passed`), else
  // nullopt; marks the job answered. Requires mu.
  std::optional<ReplyBody> TryAnswer(bool deadline_passed) {
    if (answered) return std::nullopt;
    const size_t count = found.size();
    protocol::GetPrefixResponse response;
    ReplyBody body;
    size_t i = 0;
    for (; i < end && state[i] == ReadState::kFound; ++i) {
      if (body.payload_bytes + found[i].size() > max_payload_bytes) break;
    }
    if (i < end && state[i] == ReadState::kFound) {
      response.stop_reason = PrefixStop::kPayloadLimit;
    } else if (i == count) {
      response.stop_reason = PrefixStop::kComplete;
    } else if (i == end || state[i] == ReadState::kMissing) {
      response.stop_reason = PrefixStop::kMiss;
    } else if (state[i] == ReadState::kFailed) {
      response.stop_reason = PrefixStop::kError;
      response.stop_code = codes[i];
    } else if (deadline_passed) {
      response.stop_reason = PrefixStop::kDeadline;
    } else {
      return std::nullopt;  // still reading the next block of the prefix
    }
    response.delivered = static_cast<uint32_t>(i);
    const bool kb = ns->kind == NamespaceKind::kKb;
    for (size_t k = 0; k < i; ++k) {
      if (kb) {
        const tiers::BlockAttributes& a = found[k].attributes();
        response.kb.push_back({a.token_count, a.position_offset, a.producer});
      }
      response.value_lengths.push_back(found[k].size());
      response.checksums.push_back(found[k].checksum());
      response.tiers.push_back(tiers[k]);
      body.payload_bytes += found[k].size();
      body.payload.push_back(found[k].Clone());
    }
    ns->hits.fetch_add(i, std::memory_order_relaxed);
    if (response.stop_reason == PrefixStop::kMiss)
      ns->misses.fetch_add(1, std::memory_order_relaxed);
    ns->get_bytes.fetch_add(body.payload_bytes, std::memory_order_relaxed);
    body.metadata = protocol::EncodeGetPrefixResponse(response);
    answered = true;
    return body;
  }
};

Service::Answer Service::GetPrefix(std::vector<std::byte> metadata, const DeferredReply& deferred,
                                   const Access& access) {
  auto job = std::make_shared<PrefixJob>();
  if (Status status = DecodeKeysJob(std::move(metadata), *job, access, Grant::kRead);
      !status.ok()) {
    return Result<ReplyBody>(std::move(status));
  }
  const size_t count = job->request.keys.size();
  job->found.resize(count);
  job->tiers.assign(count, TierId::kNone);
  job->state.assign(count, ReadState::kPending);
  job->codes.assign(count, StatusCode::kOk);
  job->max_payload_bytes = limits_.max_payload_bytes;
  job->deferred = deferred;

  // Memory first, inline: the lease's snapshot, DRAM, the demotion queue.
  // The first key that is in no tier's in-memory index (and that no lower
  // tier may hold) ends the prefix: `end`. Keys before it that are not in
  // memory are read below, on workers.
  std::vector<size_t> below;
  for (job->end = 0; job->end < count; ++job->end) {
    const size_t i = job->end;
    const tiers::BlockKey key{job->ns->id, job->request.keys[i]};
    std::optional<tiers::BlockHandle> handle = FromMemory(job->request.lease_id, key);
    if (handle) {
      job->found[i] = std::move(*handle);
      job->tiers[i] = TierId::kDram;
      job->state[i] = ReadState::kFound;
    } else if (WorthReadingBelow(job->request.lease_id, key)) {
      below.push_back(i);
    } else {
      break;
    }
  }
  if (below.empty()) {
    std::lock_guard lock(job->mu);
    return *job->TryAnswer(false);
  }

  for (size_t i : below) {
    auto read = [this, job, i] {
      {
        std::lock_guard lock(job->mu);
        if (job->answered) return;  // settled without this block
      }
      tiers::Location from = tiers::Location::kNone;
      auto handle = ReadBelow(job->request.lease_id, {job->ns->id, job->request.keys[i]}, &from);
      std::optional<ReplyBody> reply;
      {
        std::lock_guard lock(job->mu);
        if (handle.ok()) {
          job->found[i] = std::move(*handle);
          job->tiers[i] = ToWireTier(from);
          job->state[i] = ReadState::kFound;
        } else if (handle.status().code() == StatusCode::kNotFound ||
                   handle.status().code() == StatusCode::kCorruption) {
          job->state[i] = ReadState::kMissing;
        } else {
          job->state[i] = ReadState::kFailed;
          job->codes[i] = handle.status().code();
        }
        reply = job->TryAnswer(false);
      }
      if (reply) job->deferred(std::move(*reply));
    };
    if (Defer(std::move(read), ClassOf(*job->ns, job->request.bulk))) continue;
    // No worker: the prefix ends here, retryably.
    std::lock_guard lock(job->mu);
    job->state[i] = ReadState::kFailed;
    job->codes[i] = StatusCode::kResourceExhausted;
    break;
  }
  if (job->request.deadline_ms != 0) {
    timers_.Schedule(TimerQueue::Clock::now() + std::chrono::milliseconds(job->request.deadline_ms),
                     [job] {
                       std::optional<ReplyBody> reply;
                       {
                         std::lock_guard lock(job->mu);
                         reply = job->TryAnswer(/*deadline_passed=*/true);
                       }
                       if (reply) job->deferred(std::move(*reply));
                     });
  }
  // Reads that already finished may have settled it (then the deferred
  // reply is on its way: the connection posts it after this returns).
  std::lock_guard lock(job->mu);
  if (auto reply = job->TryAnswer(false)) {
    return Result<ReplyBody>(std::move(*reply));
  }
  return std::nullopt;
}

}  // namespace kvtier::server
