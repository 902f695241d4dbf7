#include "server/service.h"

#include <algorithm>
#include <limits>
#include <random>

#include "common/checksum.h"
#include "tiers/index_key.h"

namespace kvtier::server {
namespace {

using protocol::TierId;

std::string MakeServerId() {
  std::random_device random;
  std::uniform_int_distribution<uint64_t> dist;
  const uint64_t id = dist(random);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kDigits[(id >> shift) & 0xf]);
  return out;
}

std::vector<protocol::NamedCounter> ToNamed(const std::vector<tiers::TierCounter>& counters) {
  std::vector<protocol::NamedCounter> out;
  out.reserve(counters.size());
  for (const auto& c : counters) out.push_back({c.name, c.value});
  return out;
}

}  // namespace

protocol::TierId ToWireTier(tiers::Location location) {
  switch (location) {
    case tiers::Location::kDram:
      return TierId::kDram;
    case tiers::Location::kNvme:
      return TierId::kNvme;
    case tiers::Location::kBlob:
    case tiers::Location::kOrigin:
      return TierId::kBlob;
    case tiers::Location::kNone:
      break;
  }
  return TierId::kNone;
}

Service::Service(const ServerConfig& config, tiers::TierStack& stack, ServerStats& stats,
                 const std::vector<tiers::BlockSource*>& origins)
    : server_name_(config.server_name),
      server_id_(MakeServerId()),
      limits_(config.limits),
      transports_(config.listener.unix_socket.empty() ? std::vector<std::string>{"tcp"}
                                                      : std::vector<std::string>{"tcp", "shm"}),
      lease_options_(config.leases),
      started_(std::chrono::steady_clock::now()),
      stack_(stack),
      stats_(stats),
      workers_("kvtier-io", config.workers.threads, config.workers.max_queued_jobs),
      leases_(config.leases.max_leases, config.leases.max_bytes != 0
                                            ? config.leases.max_bytes
                                            : stack.dram().capacity_bytes() / 4),
      authenticator_(config.auth, config.namespaces) {
  for (size_t i = 0; i < config.namespaces.size(); ++i) {
    auto ns = std::make_unique<NamespaceState>();
    ns->id = static_cast<uint32_t>(i + 1);
    ns->name = config.namespaces[i].name;
    if (config.namespaces[i].has_model) ns->model = config.namespaces[i].model.Canonical();
    ns->ttl_ms = config.namespaces[i].ttl_ms;
    ns->pin = config.namespaces[i].pin;
    ns->bulk = config.namespaces[i].bulk;
    stack_.dram().SetHardPinQuota(ns->id, config.namespaces[i].pin_quota);
    ns->kind = config.namespaces[i].kind;
    stack_.SetNamespacePolicy(ns->id, {.use_nvme = config.namespaces[i].use_nvme,
                                       .write_mode = config.namespaces[i].write_mode,
                                       .blob = config.namespaces[i].blob,
                                       .origin = i < origins.size() ? origins[i] : nullptr});
    namespaces_.push_back(std::move(ns));
  }
  ScheduleExpirySweep();
  stack_.SetNvmeEvictionObserver(
      [this](const tiers::BlockKey& key, uint64_t /*size*/, LeaseTable::Reader read) {
        leases_.OnNvmeEvicted(key, read);
      });
}

Service::~Service() {
  StopWorkers();
  stack_.SetNvmeEvictionObserver(nullptr);  // before leases_ goes
}

void Service::ScheduleExpirySweep() {
  // Expired blocks are misses at once; this gives their memory back even if
  // nobody reads them again.
  timers_.Schedule(TimerQueue::Clock::now() + std::chrono::seconds(10), [this] {
    stack_.dram().ReclaimExpired(std::numeric_limits<size_t>::max());
    ScheduleExpirySweep();
  });
}

void Service::StopWorkers() { workers_.Shutdown(); }

JobClass Service::ClassOf(const NamespaceState& ns, bool bulk_requested) {
  return ns.bulk || bulk_requested ? JobClass::kBulk : JobClass::kLatency;
}

void Service::PromoteFromBlob(const tiers::BlockKey& key) {
  auto job = [this, namespace_id = key.namespace_id, bytes = std::string(key.key)] {
    tiers::Location from = tiers::Location::kNone;
    stack_.GetBelow({namespace_id, bytes}, &from).status().IgnoreError();
  };
  if (Defer(std::move(job), JobClass::kBulk)) {
    blob_promotions_started_.fetch_add(1, std::memory_order_relaxed);
  }
}

bool Service::Defer(std::function<void()> job, JobClass job_class) {
  if (workers_.TrySubmit(std::move(job), job_class)) {
    deferred_requests_.fetch_add(1, std::memory_order_relaxed);
    return true;
  }
  worker_queue_full_.fetch_add(1, std::memory_order_relaxed);
  return false;
}

Status Service::Reject(Status status) {
  if (status.code() == StatusCode::kUnknownNamespace) {
    stats_.CountBadInput(BadInput::kUnknownNamespace);
  } else if (protocol::IsVerifyFailure(status)) {
    stats_.CountBadInput(BadInput::kVerifyFailed);
  } else if (status.code() == StatusCode::kInvalidArgument) {
    stats_.CountBadInput(BadInput::kInvalidRequest);
  } else if (status.code() == StatusCode::kPermissionDenied) {
    stats_.CountBadInput(BadInput::kPermissionDenied);
  }
  return status;
}

bool Service::Grants(const Access& access, const NamespaceState& ns, Grant need) {
  // Tier namespace ids start at 1; access is by position in the config.
  return access.Allows(ns.id - 1, need);
}

Result<NamespaceState*> Service::Resolve(std::string_view name, const Access& access, Grant need) {
  // A handful of namespaces: a linear scan beats hashing.
  for (auto& ns : namespaces_) {
    if (ns->name != name) continue;
    if (!Grants(access, *ns, need)) {
      return PermissionDenied("the access token does not grant " +
                              std::string(need == Grant::kRead ? "reads" : "writes") +
                              " in namespace '" + ns->name + "'");
    }
    return ns.get();
  }
  return UnknownNamespace("namespace '" + std::string(name) + "' is not configured");
}

Result<PendingPut> Service::BeginPut(std::vector<std::byte> metadata, uint64_t payload_length,
                                     const Access& access, bool checksums_trail) {
  PendingPut put;
  put.metadata = std::move(metadata);  // the heap buffer, and views into it, stay put
  auto request = protocol::DecodePutRequest(put.metadata, limits_, payload_length, checksums_trail);
  if (!request.ok()) return Reject(request.status());
  auto ns = Resolve(request->namespace_name, access, Grant::kReadWrite);
  if (!ns.ok()) return Reject(ns.status());

  put.ns = *ns;
  put.request = std::move(*request);
  const size_t count = put.request.keys.size();
  put.blocks.resize(count);
  put.codes.assign(count, StatusCode::kOk);
  for (size_t i = 0; i < count; ++i) {
    auto block = stack_.Allocate(put.request.keys[i].size(), put.request.value_lengths[i]);
    if (block.ok()) {
      put.blocks[i] = std::move(*block);
    } else {
      put.codes[i] = block.status().code();
    }
  }
  return put;
}

void Service::TakeTrailingChecksums(PendingPut& put, std::span<const std::byte> trailer) {
  const size_t count = put.request.keys.size();
  put.request.checksums.resize(count);
  for (size_t i = 0; i < count && (i + 1) * 8 <= trailer.size(); ++i) {
    uint64_t value = 0;
    for (int b = 7; b >= 0; --b)
      value = (value << 8) | std::to_integer<uint8_t>(trailer[i * 8 + b]);
    put.request.checksums[i] = value;
  }
}

namespace {

// State of a Put that finishes on a worker.
struct PutJob {
  PendingPut put;
  std::vector<tiers::BlockHandle> sealed;             // write-through: blocks to store
  std::vector<std::pair<size_t, uint64_t>> barriers;  // write-back: (index, lower barrier)
};

// The expiry and pin of value `i`: the request's, else the namespace's.
// In KV namespaces also its chain link: the keys of a put are consecutive
// links of one chain, after the request's parent_key when it names one.
tiers::BlockAttributes AttributesFor(const NamespaceState& ns, const protocol::PutRequest& request,
                                     size_t i, uint64_t now_ms) {
  tiers::BlockAttributes attributes;
  if (ns.kind == NamespaceKind::kKv) {
    const std::string_view parent = i > 0 ? request.keys[i - 1] : request.parent_key;
    if (!parent.empty()) attributes.parent_hash = tiers::ChainHash({ns.id, parent});
    attributes.partial_tail = request.partial_tail && i + 1 == request.keys.size();
  }
  const uint32_t ttl_ms = request.ttls_ms.empty() ? ns.ttl_ms : request.ttls_ms[i];
  if (ttl_ms != 0) attributes.expires_at_ms = now_ms + ttl_ms;
  attributes.pin = request.pins.empty() ? ns.pin : static_cast<tiers::PinLevel>(request.pins[i]);
  if (!request.kb.empty()) {
    attributes.token_count = request.kb[i].token_count;
    attributes.position_offset = request.kb[i].position_offset;
    attributes.producer = request.kb[i].producer;
  }
  return attributes;
}

void CountPut(NamespaceState& ns, StatusCode code, uint64_t size) {
  if (code == StatusCode::kOk) {
    ns.puts.fetch_add(1, std::memory_order_relaxed);
    ns.put_bytes.fetch_add(size, std::memory_order_relaxed);
  } else {
    ns.rejected_puts.fetch_add(1, std::memory_order_relaxed);
  }
}

}  // namespace

std::optional<Result<ReplyBody>> Service::FinishPut(PendingPut put, const DeferredReply& deferred) {
  auto job = std::make_shared<PutJob>();
  job->sealed.resize(put.blocks.size());
  NamespaceState& ns = *put.ns;
  const bool write_through = stack_.IsWriteThrough(ns.id);
  const uint64_t now_ms = tiers::UnixNowMs();
  for (size_t i = 0; i < put.blocks.size(); ++i) {
    if (!put.blocks[i]) {
      ns.rejected_puts.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    tiers::WritableBlock& block = put.blocks[i];
    const uint64_t checksum = BlockChecksum(block.mutable_bytes());
    if (!put.request.checksums.empty() && put.request.checksums[i] != checksum) {
      // The bytes changed between the client and us: never store them.
      put.codes[i] = StatusCode::kCorruption;
      stats_.CountBadInput(BadInput::kChecksumMismatch);
      ns.rejected_puts.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    const uint64_t size = block.size();
    const tiers::BlockAttributes attributes = AttributesFor(ns, put.request, i, now_ms);
    if (write_through) {
      job->sealed[i] = std::move(block).Seal(checksum, attributes);
      continue;
    }
    uint64_t barrier = 0;
    Status status = stack_.PutWriteBack({ns.id, put.request.keys[i]},
                                        std::move(block).Seal(checksum, attributes), &barrier);
    put.codes[i] = status.code();
    if (barrier != 0) {
      job->barriers.emplace_back(i, barrier);  // counted when the removal below is done
    } else {
      CountPut(ns, status.code(), size);
    }
  }
  bool any_sealed = false;
  for (const auto& block : job->sealed) any_sealed = any_sealed || static_cast<bool>(block);
  if (!any_sealed && job->barriers.empty()) {
    ReplyBody reply{protocol::EncodePutResponse({std::move(put.codes)}), {}, 0};
    if (!stack_.DemotionBacklogged()) return reply;
    // Write-back pacing: while NVMe lags behind DRAM evictions, the ack
    // waits for the demotion backlog to shrink (no thread waits).
    auto held = std::make_shared<ReplyBody>(std::move(reply));
    if (stack_.WaitForDemotionRoom([held, deferred] { deferred(std::move(*held)); })) {
      paced_puts_.fetch_add(1, std::memory_order_relaxed);
      return std::nullopt;
    }
    return std::move(*held);
  }

  job->put = std::move(put);
  auto run = [this, job, deferred] {
    PendingPut& p = job->put;
    for (size_t i = 0; i < job->sealed.size(); ++i) {
      if (!job->sealed[i]) continue;
      const uint64_t size = job->sealed[i].size();
      Status status =
          stack_.PutWriteThrough({p.ns->id, p.request.keys[i]}, std::move(job->sealed[i]));
      p.codes[i] = status.code();
      CountPut(*p.ns, status.code(), size);
    }
    for (const auto& [i, barrier] : job->barriers) {
      // A put removes no blob, so this cannot fail.
      stack_.RemoveBelow({p.ns->id, p.request.keys[i]}, barrier, /*erase_dram=*/false)
          .status()
          .IgnoreError();
      CountPut(*p.ns, StatusCode::kOk, p.request.value_lengths[i]);
    }
    deferred(ReplyBody{protocol::EncodePutResponse({std::move(p.codes)}), {}, 0});
  };
  if (Defer(run, ClassOf(*job->put.ns, job->put.request.bulk))) return std::nullopt;

  // No worker slot: nothing of this put may be acknowledged. Write-back
  // values already in DRAM are taken out again, so the older copy below
  // stays the only one.
  PendingPut& p = job->put;
  for (size_t i = 0; i < job->sealed.size(); ++i) {
    if (job->sealed[i]) p.codes[i] = StatusCode::kResourceExhausted;
  }
  for (const auto& [i, barrier] : job->barriers) {
    stack_.dram().Erase({p.ns->id, p.request.keys[i]}).IgnoreError();
    p.codes[i] = StatusCode::kResourceExhausted;
    p.ns->rejected_puts.fetch_add(1, std::memory_order_relaxed);
  }
  return ReplyBody{protocol::EncodePutResponse({std::move(p.codes)}), {}, 0};
}

std::optional<Result<ReplyBody>> Service::Handle(protocol::Opcode opcode,
                                                 std::vector<std::byte> metadata,
                                                 const DeferredReply& deferred,
                                                 const Access& access) {
  switch (opcode) {
    case protocol::Opcode::kHello:
      return Hello(metadata, access);
    case protocol::Opcode::kGet:
      return Get(std::move(metadata), deferred, access);
    case protocol::Opcode::kExists:
      return Exists(metadata, access);
    case protocol::Opcode::kDelete:
      return Delete(std::move(metadata), deferred, access);
    case protocol::Opcode::kMatchPrefix:
      return MatchPrefix(metadata, access);
    case protocol::Opcode::kStats:
      return Stats(metadata);
    case protocol::Opcode::kFlush:
      return Flush(std::move(metadata), deferred, access);
    case protocol::Opcode::kRelease:
      return Release(metadata);
    case protocol::Opcode::kGetPrefix:
      return GetPrefix(std::move(metadata), deferred, access);
    case protocol::Opcode::kPut:
      break;
  }
  return Result<ReplyBody>(Internal("Put must go through BeginPut"));
}

Result<ReplyBody> Service::Hello(std::span<const std::byte> metadata, const Access& access,
                                 const RdmaAnswer& rdma) {
  auto request = protocol::DecodeHelloRequest(metadata);
  if (!request.ok()) return Reject(request.status());
  if (request->min_version > protocol::kProtocolVersion ||
      request->max_version < protocol::kProtocolVersion) {
    return Unsupported("client speaks protocol versions " + std::to_string(request->min_version) +
                       ".." + std::to_string(request->max_version) + "; server speaks " +
                       std::to_string(protocol::kProtocolVersion));
  }
  protocol::HelloResponse response;
  response.version = protocol::kProtocolVersion;
  response.server_name = server_name_;
  response.server_id = server_id_;
  response.limits = limits_;
  // A token learns of the namespaces it may read, not the others.
  for (const auto& ns : namespaces_) {
    if (!Grants(access, *ns, Grant::kRead)) continue;
    response.namespaces.push_back(ns->name);
    response.namespace_models.push_back(ns->model);
  }
  response.transports = transports_;
  // Asked for RDMA: the connection's queue pair, or why there is none (the
  // client then keeps its values on the stream).
  if (request->rdma) {
    response.rdma = rdma.endpoint;
    if (!rdma.endpoint) response.rdma_refusal = rdma.refusal.empty() ? rdma_refusal_ : rdma.refusal;
  }
  return ReplyBody{protocol::EncodeHelloResponse(response), {}, 0};
}

namespace {

// State of a Get: the blocks found so far, by key index.
struct GetJob : KeysJob {
  std::vector<tiers::BlockHandle> found;
  std::vector<StatusCode> codes;
  std::vector<TierId> tiers;
  std::vector<size_t> below;  // indexes to look up on a worker
};

// Builds the reply in key order. One reply frame carries at most
// max_payload_bytes; hits past that are answered as retryable so the client
// asks for them again.
ReplyBody AssembleGet(GetJob& job, uint64_t max_payload_bytes) {
  const size_t count = job.found.size();
  protocol::GetResponse response;
  response.codes = std::move(job.codes);
  response.value_lengths.assign(count, 0);
  response.checksums.assign(count, 0);
  response.tiers.assign(count, TierId::kNone);
  const bool kb = job.ns->kind == NamespaceKind::kKb;
  if (kb) response.kb.assign(count, {});
  ReplyBody body;
  body.payload.reserve(count);
  uint64_t hits = 0;
  for (size_t i = 0; i < count; ++i) {
    tiers::BlockHandle& handle = job.found[i];
    if (!handle) continue;
    if (body.payload_bytes + handle.size() > max_payload_bytes) {
      response.codes[i] = StatusCode::kResourceExhausted;
      continue;
    }
    response.codes[i] = StatusCode::kOk;
    response.value_lengths[i] = handle.size();
    response.checksums[i] = handle.checksum();
    response.tiers[i] = job.tiers[i];
    if (kb) {
      const tiers::BlockAttributes& a = handle.attributes();
      response.kb[i] = {a.token_count, a.position_offset, a.producer};
    }
    body.payload_bytes += handle.size();
    body.payload.push_back(std::move(handle));
    ++hits;
  }
  job.ns->hits.fetch_add(hits, std::memory_order_relaxed);
  job.ns->misses.fetch_add(count - hits, std::memory_order_relaxed);
  job.ns->get_bytes.fetch_add(body.payload_bytes, std::memory_order_relaxed);
  body.metadata = protocol::EncodeGetResponse(response);
  return body;
}

}  // namespace

std::optional<tiers::BlockHandle> Service::FromMemory(uint64_t lease_id,
                                                      const tiers::BlockKey& key) {
  // A lease's snapshot first; keys it does not hold read as usual.
  if (lease_id != 0) {
    if (auto leased = leases_.Find(lease_id, key.namespace_id, key.key)) return leased;
  }
  if (auto hit = stack_.GetFromDram(key); hit.ok()) return std::move(*hit);
  if (auto queued = stack_.GetQueued(key); queued.ok()) return std::move(*queued);
  return std::nullopt;
}

bool Service::WorthReadingBelow(uint64_t lease_id, const tiers::BlockKey& key) const {
  return stack_.MayBeBelow(key) ||
         (lease_id != 0 && leases_.ReaderFor(lease_id, key.namespace_id, key.key));
}

Result<tiers::BlockHandle> Service::ReadBelow(uint64_t lease_id, const tiers::BlockKey& key,
                                              tiers::Location* from) {
  auto handle = stack_.GetBelow(key, from);
  if (!handle.ok() && lease_id != 0) {
    // NVMe evicted it after the match: the lease kept its bytes.
    if (auto read = leases_.ReaderFor(lease_id, key.namespace_id, key.key)) {
      handle = (*read)();
      *from = tiers::Location::kNvme;
    }
  }
  return handle;
}

Status Service::DecodeKeysJob(std::vector<std::byte> metadata, KeysJob& job, const Access& access,
                              Grant need) {
  job.metadata = std::move(metadata);  // the heap buffer, and views into it, stay put
  auto request = protocol::DecodeKeysRequest(job.metadata, limits_);
  if (!request.ok()) return Reject(request.status());
  auto ns = Resolve(request->namespace_name, access, need);
  if (!ns.ok()) return Reject(ns.status());
  job.request = std::move(*request);
  job.ns = *ns;
  return Status::Ok();
}

Service::Answer Service::Get(std::vector<std::byte> metadata, const DeferredReply& deferred,
                             const Access& access) {
  auto job = std::make_shared<GetJob>();
  if (Status status = DecodeKeysJob(std::move(metadata), *job, access, Grant::kRead);
      !status.ok()) {
    return Result<ReplyBody>(std::move(status));
  }

  const size_t count = job->request.keys.size();
  job->found.resize(count);
  job->codes.assign(count, StatusCode::kNotFound);
  job->tiers.assign(count, TierId::kNone);
  for (size_t i = 0; i < count; ++i) {
    const tiers::BlockKey key{job->ns->id, job->request.keys[i]};
    if (auto handle = FromMemory(job->request.lease_id, key)) {
      job->found[i] = std::move(*handle);
      job->tiers[i] = TierId::kDram;
    } else if (WorthReadingBelow(job->request.lease_id, key)) {
      job->below.push_back(i);
    }
  }
  if (job->below.empty()) return AssembleGet(*job, limits_.max_payload_bytes);

  auto run = [this, job, deferred] {
    for (size_t i : job->below) {
      tiers::Location from = tiers::Location::kNone;
      auto handle = ReadBelow(job->request.lease_id, {job->ns->id, job->request.keys[i]}, &from);
      if (handle.ok()) {
        job->found[i] = std::move(*handle);
        job->tiers[i] = ToWireTier(from);
      } else if (handle.status().code() != StatusCode::kNotFound &&
                 handle.status().code() != StatusCode::kCorruption) {
        // A bad block below was dropped and counted: to the client it is a
        // miss. Other errors (I/O) are reported per key.
        job->codes[i] = handle.status().code();
      }
    }
    deferred(AssembleGet(*job, limits_.max_payload_bytes));
  };
  if (Defer(run, ClassOf(*job->ns, job->request.bulk))) return std::nullopt;
  for (size_t i : job->below) job->codes[i] = StatusCode::kResourceExhausted;
  return AssembleGet(*job, limits_.max_payload_bytes);
}

Result<ReplyBody> Service::Exists(std::span<const std::byte> metadata, const Access& access) {
  auto request = protocol::DecodeKeysRequest(metadata, limits_);
  if (!request.ok()) return Reject(request.status());
  auto ns = Resolve(request->namespace_name, access, Grant::kRead);
  if (!ns.ok()) return Reject(ns.status());
  protocol::ExistsResponse response;
  response.tiers.reserve(request->keys.size());
  for (std::string_view key : request->keys) {
    response.tiers.push_back(ToWireTier(stack_.Locate({(*ns)->id, key})));
  }
  return ReplyBody{protocol::EncodeExistsResponse(response), {}, 0};
}

Service::Answer Service::Delete(std::vector<std::byte> metadata, const DeferredReply& deferred,
                                const Access& access) {
  struct DeleteJob : KeysJob {
    std::vector<StatusCode> codes;
    std::vector<std::pair<size_t, uint64_t>> barriers;
  };
  auto job = std::make_shared<DeleteJob>();
  if (Status status = DecodeKeysJob(std::move(metadata), *job, access, Grant::kReadWrite);
      !status.ok()) {
    return Result<ReplyBody>(std::move(status));
  }
  job->codes.reserve(job->request.keys.size());
  for (size_t i = 0; i < job->request.keys.size(); ++i) {
    uint64_t barrier = 0;
    Status status = stack_.EraseFromDram({job->ns->id, job->request.keys[i]}, &barrier);
    if (barrier != 0) job->barriers.emplace_back(i, barrier);
    if (status.ok()) job->ns->deletes.fetch_add(1, std::memory_order_relaxed);
    job->codes.push_back(status.code());
  }
  if (job->barriers.empty()) {
    return ReplyBody{protocol::EncodeDeleteResponse({std::move(job->codes)}), {}, 0};
  }
  auto run = [this, job, deferred] {
    for (const auto& [i, barrier] : job->barriers) {
      auto removed =
          stack_.RemoveBelow({job->ns->id, job->request.keys[i]}, barrier, /*erase_dram=*/true);
      if (!removed.ok()) {
        // The blob is still there: the delete is not done (retryable).
        job->codes[i] = removed.status().code();
      } else if (*removed && job->codes[i] != StatusCode::kOk) {
        job->codes[i] = StatusCode::kOk;
        job->ns->deletes.fetch_add(1, std::memory_order_relaxed);
      }
    }
    deferred(ReplyBody{protocol::EncodeDeleteResponse({std::move(job->codes)}), {}, 0});
  };
  if (Defer(run, ClassOf(*job->ns, job->request.bulk))) return std::nullopt;
  // The copies below stay: the client must retry to finish the delete.
  for (const auto& [i, barrier] : job->barriers) job->codes[i] = StatusCode::kResourceExhausted;
  return ReplyBody{protocol::EncodeDeleteResponse({std::move(job->codes)}), {}, 0};
}

Service::Answer Service::Flush(std::vector<std::byte> metadata, const DeferredReply& deferred,
                               const Access& access) {
  auto job = std::make_shared<KeysJob>();
  if (Status status = DecodeKeysJob(std::move(metadata), *job, access, Grant::kReadWrite);
      !status.ok()) {
    return Result<ReplyBody>(std::move(status));
  }
  // No thread waits: the uploader calls back when the keys are in Blob.
  // `job` keeps the key bytes alive until then.
  stack_.FlushUploads(job->ns->id, job->request.keys, [job, deferred](Status status) {
    if (!status.ok()) {
      deferred(Result<ReplyBody>(std::move(status)));
      return;
    }
    deferred(ReplyBody{protocol::EncodeFlushResponse(), {}, 0});
  });
  return std::nullopt;
}

Result<ReplyBody> Service::MatchPrefix(std::span<const std::byte> metadata, const Access& access) {
  auto request = protocol::DecodeKeysRequest(metadata, limits_);
  if (!request.ok()) return Reject(request.status());
  auto ns = Resolve(request->namespace_name, access, Grant::kRead);
  if (!ns.ok()) return Reject(ns.status());
  protocol::MatchPrefixResponse response;
  const uint32_t lease_ms =
      std::min(request->lease_ms != 0 ? request->lease_ms : lease_options_.default_ms,
               lease_options_.max_ms);
  std::vector<LeaseTable::Held> held;
  std::vector<std::string> on_nvme;
  // In-memory indexes only: DRAM's exact one, then NVMe's (which holds every
  // key it stores), so no key costs I/O.
  for (std::string_view key : request->keys) {
    const tiers::BlockKey block_key{(*ns)->id, key};
    const TierId tier = ToWireTier(stack_.Locate(block_key));
    if (tier == TierId::kNone) break;
    response.tiers.push_back(tier);
    if (lease_ms == 0) continue;
    if (tier == TierId::kNvme) {
      on_nvme.emplace_back(key);  // watched: kept readable if NVMe evicts it
      continue;
    }
    if (tier == TierId::kBlob) {
      // Only Blob holds it (another rack's spill): the lease starts its
      // promotion, so the Get that follows finds it in DRAM more often.
      PromoteFromBlob(block_key);
      continue;
    }
    // A pin taken now: the block may have gone since Locate (then the lease
    // does not cover it and a Get reads it as usual).
    auto pinned = stack_.dram().Pin(block_key);
    if (!pinned.ok()) pinned = stack_.GetQueued(block_key);
    if (pinned.ok()) held.push_back({std::string(key), std::move(*pinned)});
  }
  response.matched = static_cast<uint32_t>(response.tiers.size());
  (*ns)->match_depth.Record(response.matched);
  if (lease_ms != 0 && response.matched != 0) {
    auto lease = leases_.Take((*ns)->id, std::move(held), std::move(on_nvme),
                              std::chrono::milliseconds(lease_ms));
    if (!lease.ok()) return lease.status();
    response.lease_id = *lease;
    response.lease_ms = lease_ms;
  }
  return ReplyBody{protocol::EncodeMatchPrefixResponse(response), {}, 0};
}

Result<ReplyBody> Service::Release(std::span<const std::byte> metadata) {
  auto lease_id = protocol::DecodeReleaseRequest(metadata);
  if (!lease_id.ok()) return Reject(lease_id.status());
  return ReplyBody{protocol::EncodeReleaseResponse(leases_.Release(*lease_id)), {}, 0};
}

Result<ReplyBody> Service::Stats(std::span<const std::byte> metadata) {
  if (Status status = protocol::DecodeStatsRequest(metadata); !status.ok()) {
    return Reject(status);
  }
  return ReplyBody{protocol::EncodeStatsResponse(Snapshot()), {}, 0};
}

std::vector<NamespaceHistograms> Service::Histograms() const {
  std::vector<NamespaceHistograms> out;
  for (const auto& ns : namespaces_) out.push_back({ns->name, &ns->match_depth});
  return out;
}

protocol::StatsResponse Service::Snapshot() {
  protocol::StatsResponse response;
  response.server_name = server_name_;
  response.server_id = server_id_;
  response.uptime_seconds = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_)
          .count());
  auto add = [&](std::string name, uint64_t value) {
    response.counters.push_back({std::move(name), value});
  };
  add("connections_accepted", stats_.connections_accepted.load());
  add("connections_refused", stats_.connections_refused.load());
  add("connections_active", stats_.connections_active.load());
  add("bytes_received", stats_.bytes_received.load());
  add("bytes_sent", stats_.bytes_sent.load());
  add("shm_regions_attached", stats_.shm_regions_attached.load());
  add("shm_bytes_pulled", stats_.shm_bytes_pulled.load());
  add("shm_bytes_pushed", stats_.shm_bytes_pushed.load());
  add("rdma_queue_pairs", stats_.rdma_queue_pairs.load());
  add("rdma_bytes_read", stats_.rdma_bytes_read.load());
  add("rdma_bytes_written", stats_.rdma_bytes_written.load());
  add("rdma_failures", stats_.rdma_failures.load());
  for (uint8_t op = 1; op < stats_.requests.size(); ++op) {
    if (!protocol::IsKnownOpcode(op)) continue;
    add("requests_" + std::string(protocol::OpcodeName(static_cast<protocol::Opcode>(op))),
        stats_.requests[op].load());
  }
  for (size_t kind = 0; kind < static_cast<size_t>(BadInput::kCount); ++kind) {
    add("bad_input_" + std::string(BadInputName(static_cast<BadInput>(kind))),
        stats_.bad_input[kind].load());
  }
  add("deferred_requests", deferred_requests_.load());
  add("worker_queue_full", worker_queue_full_.load());
  add("paced_puts", paced_puts_.load());
  add("blob_promotions_started", blob_promotions_started_.load());
  add("worker_queued_jobs", workers_.queued());
  std::vector<tiers::TierCounter> lease_counters;
  leases_.AddCounters(lease_counters);
  for (auto& counter : lease_counters) add(std::move(counter.name), counter.value);
  const std::vector<tiers::TierStats> tier_stats = stack_.Stats();
  for (const tiers::TierStats& tier : tier_stats) {
    response.tiers.push_back(
        {tier.name, tier.capacity_bytes, tier.used_bytes, tier.items, ToNamed(tier.counters)});
  }
  for (const auto& ns : namespaces_) {
    response.namespaces.push_back({ns->name,
                                   std::string(NamespaceKindName(ns->kind)),
                                   {{"hits", ns->hits.load()},
                                    {"misses", ns->misses.load()},
                                    {"puts", ns->puts.load()},
                                    {"put_bytes", ns->put_bytes.load()},
                                    {"get_bytes", ns->get_bytes.load()},
                                    {"deletes", ns->deletes.load()},
                                    {"rejected_puts", ns->rejected_puts.load()}}});
    // Bytes held in each tier that indexes by key: "<tier>_bytes".
    for (const tiers::TierStats& tier : tier_stats) {
      if (tier.name != "dram" && tier.name != "nvme") continue;
      const auto held = tier.namespace_bytes.find(ns->id);
      response.namespaces.back().counters.push_back(
          {tier.name + "_bytes", held == tier.namespace_bytes.end() ? 0 : held->second});
    }
  }
  return response;
}

}  // namespace kvtier::server
