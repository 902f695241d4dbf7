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
                 const std::vector<NamespaceSources>& sources)
    : server_name_(config.server_name),
      server_id_(MakeServerId()),
      limits_(config.limits),
      transports_(config.listener.unix_socket.empty() ? std::vector<std::string>{"tcp"}
                                                      : std::vector<std::string>{"tcp", "shm"}),
      started_(std::chrono::steady_clock::now()),
      stack_(stack),
      stats_(stats),
      authenticator_(config.auth, config.namespaces) {
  for (size_t i = 0; i < config.namespaces.size(); ++i) {
    auto ns = std::make_unique<NamespaceState>();
    ns->id = static_cast<uint32_t>(i + 1);
    ns->name = config.namespaces[i].name;
    if (config.namespaces[i].has_model) ns->model = config.namespaces[i].model.Canonical();
    ns->ttl_ms = config.namespaces[i].ttl_ms;
    ns->pin = config.namespaces[i].pin;
    ns->bulk = config.namespaces[i].bulk;
    ns->kind = config.namespaces[i].kind;
    stack_.SetNamespacePolicy(
        ns->id, {.use_nvme = config.namespaces[i].use_nvme,
                 .write_mode = config.namespaces[i].write_mode,
                 // Checkpoint objects go to Blob whole, never as blocks.
                 .blob = ns->kind == NamespaceKind::kCheckpoint ? tiers::BlobUse::kNone
                                                                : config.namespaces[i].blob,
                 .origin = i < sources.size() ? sources[i].origin : nullptr,
                 .objects = i < sources.size() ? sources[i].objects : nullptr,
                 .checkpoints = i < sources.size() ? sources[i].checkpoints : nullptr,
                 .publisher = i < sources.size() ? sources[i].publisher : nullptr,
                 .hard_pin_quota = config.namespaces[i].pin_quota});
    namespaces_.push_back(std::move(ns));
  }
}

Service::~Service() { StopWorkers(); }

void Service::StopWorkers() { stack_.StopOperations(); }

JobClass Service::ClassOf(const NamespaceState& ns, bool bulk_requested) {
  return ns.bulk || bulk_requested ? JobClass::kBulk : JobClass::kLatency;
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
  // Checkpoint namespaces take only the blocks of open write sessions
  // (other namespaces skip the check: this is every put's path).
  for (size_t i = 0; put.ns->kind == NamespaceKind::kCheckpoint && i < count; ++i) {
    Status allowed =
        stack_.CheckObjectBlockPut(put.ns->id, put.request.keys[i], put.request.value_lengths[i]);
    if (!allowed.ok()) return Reject(std::move(allowed));
  }
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

// Counts each value of a finished put as stored or rejected, and encodes
// the reply.
ReplyBody FinishedPut(const PendingPut& put, std::vector<StatusCode> codes) {
  NamespaceState& ns = *put.ns;
  for (size_t i = 0; i < codes.size(); ++i) {
    if (codes[i] == StatusCode::kOk) {
      ns.puts.fetch_add(1, std::memory_order_relaxed);
      ns.put_bytes.fetch_add(put.request.value_lengths[i], std::memory_order_relaxed);
    } else {
      ns.rejected_puts.fetch_add(1, std::memory_order_relaxed);
    }
  }
  return ReplyBody{protocol::EncodePutResponse({std::move(codes)}), {}, 0};
}

}  // namespace

std::optional<Result<ReplyBody>> Service::FinishPut(PendingPut put, const DeferredReply& deferred) {
  const NamespaceState& ns = *put.ns;
  const uint64_t now_ms = tiers::UnixNowMs();
  std::vector<tiers::BlockHandle> sealed(put.blocks.size());
  for (size_t i = 0; i < put.blocks.size(); ++i) {
    if (!put.blocks[i]) continue;
    tiers::WritableBlock& block = put.blocks[i];
    const uint64_t checksum =
        put.edge_checksums.empty() ? BlockChecksum(block.mutable_bytes()) : put.edge_checksums[i];
    if (!put.request.checksums.empty() && put.request.checksums[i] != checksum) {
      // The bytes changed between the client and us: never store them.
      put.codes[i] = StatusCode::kCorruption;
      stats_.CountBadInput(BadInput::kChecksumMismatch);
      continue;
    }
    sealed[i] = std::move(block).Seal(checksum, AttributesFor(ns, put.request, i, now_ms));
  }
  // The stack's keys view into the put's metadata: it lives until the end.
  auto owned = std::make_shared<PendingPut>(std::move(put));
  auto codes = stack_.Put(owned->ns->id, owned->request.keys, std::move(sealed), owned->codes,
                          ClassOf(*owned->ns, owned->request.bulk),
                          [owned, deferred](std::vector<StatusCode> codes) {
                            deferred(FinishedPut(*owned, std::move(codes)));
                          });
  if (!codes) return std::nullopt;
  return FinishedPut(*owned, std::move(*codes));
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
    case protocol::Opcode::kList:
      return ListObjects(metadata, deferred, access);
    case protocol::Opcode::kStat:
      return StatObject(metadata, deferred, access);
    case protocol::Opcode::kReadRange:
      return ReadRange(metadata, deferred, access);
    case protocol::Opcode::kCreateObject:
    case protocol::Opcode::kCommitObject:
    case protocol::Opcode::kAbortObject:
    case protocol::Opcode::kRenameObject:
    case protocol::Opcode::kDeleteObject:
      return WriteObject(opcode, metadata, deferred, access);
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
    response.namespace_kinds.emplace_back(NamespaceKindName(ns->kind));
    response.namespace_writable.push_back(Grants(access, *ns, Grant::kReadWrite));
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

// Builds a Get reply in key order. One reply frame carries at most
// max_payload_bytes; hits past that are answered as retryable so the client
// asks for them again.
ReplyBody AssembleGet(const KeysJob& job, tiers::ReadResult read, uint64_t max_payload_bytes) {
  const size_t count = read.blocks.size();
  protocol::GetResponse response;
  response.codes = std::move(read.codes);
  response.value_lengths.assign(count, 0);
  response.checksums.assign(count, 0);
  response.tiers.assign(count, TierId::kNone);
  const bool kb = job.ns->kind == NamespaceKind::kKb;
  if (kb) response.kb.assign(count, {});
  ReplyBody body;
  body.payload.reserve(count);
  uint64_t hits = 0;
  for (size_t i = 0; i < count; ++i) {
    tiers::BlockHandle& handle = read.blocks[i];
    if (!handle) continue;
    if (body.payload_bytes + handle.size() > max_payload_bytes) {
      response.codes[i] = StatusCode::kResourceExhausted;
      continue;
    }
    response.value_lengths[i] = handle.size();
    response.checksums[i] = handle.checksum();
    response.tiers[i] = ToWireTier(read.from[i]);
    if (kb) {
      const tiers::BlockAttributes& a = handle.attributes();
      response.kb[i] = {a.token_count, a.position_offset, a.producer};
    }
    body.payload_bytes += handle.size();
    body.payload.push_back(PayloadPiece::Whole(std::move(handle)));
    ++hits;
  }
  job.ns->hits.fetch_add(hits, std::memory_order_relaxed);
  job.ns->misses.fetch_add(count - hits, std::memory_order_relaxed);
  job.ns->get_bytes.fetch_add(body.payload_bytes, std::memory_order_relaxed);
  body.metadata = protocol::EncodeGetResponse(response);
  return body;
}

// Builds a GetPrefix reply: the delivered prefix and why it stopped there.
ReplyBody AssemblePrefix(const KeysJob& job, tiers::PrefixResult prefix) {
  protocol::GetPrefixResponse response;
  switch (prefix.stop) {
    case tiers::PrefixStop::kComplete:
      response.stop_reason = protocol::PrefixStop::kComplete;
      break;
    case tiers::PrefixStop::kMiss:
      response.stop_reason = protocol::PrefixStop::kMiss;
      break;
    case tiers::PrefixStop::kError:
      response.stop_reason = protocol::PrefixStop::kError;
      response.stop_code = prefix.stop_code;
      break;
    case tiers::PrefixStop::kDeadline:
      response.stop_reason = protocol::PrefixStop::kDeadline;
      break;
    case tiers::PrefixStop::kByteLimit:
      response.stop_reason = protocol::PrefixStop::kPayloadLimit;
      break;
  }
  const size_t delivered = prefix.blocks.size();
  response.delivered = static_cast<uint32_t>(delivered);
  const bool kb = job.ns->kind == NamespaceKind::kKb;
  ReplyBody body;
  body.payload.reserve(delivered);
  for (size_t k = 0; k < delivered; ++k) {
    tiers::BlockHandle& block = prefix.blocks[k];
    if (kb) {
      const tiers::BlockAttributes& a = block.attributes();
      response.kb.push_back({a.token_count, a.position_offset, a.producer});
    }
    response.value_lengths.push_back(block.size());
    response.checksums.push_back(block.checksum());
    response.tiers.push_back(ToWireTier(prefix.from[k]));
    body.payload_bytes += block.size();
    body.payload.push_back(PayloadPiece::Whole(std::move(block)));
  }
  job.ns->hits.fetch_add(delivered, std::memory_order_relaxed);
  if (prefix.stop == tiers::PrefixStop::kMiss) {
    job.ns->misses.fetch_add(1, std::memory_order_relaxed);
  }
  job.ns->get_bytes.fetch_add(body.payload_bytes, std::memory_order_relaxed);
  body.metadata = protocol::EncodeGetPrefixResponse(response);
  return body;
}

ReplyBody FinishedDelete(const KeysJob& job, std::vector<StatusCode> codes) {
  for (StatusCode code : codes) {
    if (code == StatusCode::kOk) job.ns->deletes.fetch_add(1, std::memory_order_relaxed);
  }
  return ReplyBody{protocol::EncodeDeleteResponse({std::move(codes)}), {}, 0};
}

}  // namespace

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
  // The stack's keys view into the job's metadata: it lives until the end.
  auto job = std::make_shared<KeysJob>();
  if (Status status = DecodeKeysJob(std::move(metadata), *job, access, Grant::kRead);
      !status.ok()) {
    return Result<ReplyBody>(std::move(status));
  }
  const uint64_t max_payload_bytes = limits_.max_payload_bytes;
  auto read = stack_.Get(
      job->ns->id, job->request.keys,
      {.lease_id = job->request.lease_id, .job_class = ClassOf(*job->ns, job->request.bulk)},
      [job, deferred, max_payload_bytes](tiers::ReadResult read) {
        deferred(AssembleGet(*job, std::move(read), max_payload_bytes));
      });
  if (!read) return std::nullopt;
  return AssembleGet(*job, std::move(*read), max_payload_bytes);
}

Service::Answer Service::GetPrefix(std::vector<std::byte> metadata, const DeferredReply& deferred,
                                   const Access& access) {
  auto job = std::make_shared<KeysJob>();
  if (Status status = DecodeKeysJob(std::move(metadata), *job, access, Grant::kRead);
      !status.ok()) {
    return Result<ReplyBody>(std::move(status));
  }
  tiers::PrefixOptions options;
  options.lease_id = job->request.lease_id;
  options.job_class = ClassOf(*job->ns, job->request.bulk);
  options.deadline_ms = job->request.deadline_ms;
  options.max_bytes = limits_.max_payload_bytes;
  auto prefix = stack_.GetPrefix(job->ns->id, job->request.keys, options,
                                 [job, deferred](tiers::PrefixResult prefix) {
                                   deferred(AssemblePrefix(*job, std::move(prefix)));
                                 });
  if (!prefix) return std::nullopt;
  return AssemblePrefix(*job, std::move(*prefix));
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
  auto job = std::make_shared<KeysJob>();
  if (Status status = DecodeKeysJob(std::move(metadata), *job, access, Grant::kReadWrite);
      !status.ok()) {
    return Result<ReplyBody>(std::move(status));
  }
  auto codes = stack_.Erase(job->ns->id, job->request.keys, ClassOf(*job->ns, job->request.bulk),
                            [job, deferred](std::vector<StatusCode> codes) {
                              deferred(FinishedDelete(*job, std::move(codes)));
                            });
  if (!codes) return std::nullopt;
  return FinishedDelete(*job, std::move(*codes));
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
  auto match = stack_.Match((*ns)->id, request->keys, request->lease_ms);
  if (!match.ok()) return match.status();
  protocol::MatchPrefixResponse response;
  response.tiers.reserve(match->tiers.size());
  for (tiers::Location location : match->tiers) response.tiers.push_back(ToWireTier(location));
  response.matched = static_cast<uint32_t>(response.tiers.size());
  (*ns)->match_depth.Record(response.matched);
  response.lease_id = match->lease_id;
  response.lease_ms = match->lease_ms;
  return ReplyBody{protocol::EncodeMatchPrefixResponse(response), {}, 0};
}

Result<ReplyBody> Service::Release(std::span<const std::byte> metadata) {
  auto lease_id = protocol::DecodeReleaseRequest(metadata);
  if (!lease_id.ok()) return Reject(lease_id.status());
  return ReplyBody{protocol::EncodeReleaseResponse(stack_.ReleaseLease(*lease_id)), {}, 0};
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

Result<NamespaceKind> Service::KindOf(std::string_view name) const {
  for (const auto& ns : namespaces_) {
    if (ns->name == name) return ns->kind;
  }
  return UnknownNamespace("namespace '" + std::string(name) + "' is not configured");
}

std::string Service::FirstKeyValueNamespace() const {
  for (const auto& ns : namespaces_) {
    if (ns->kind == NamespaceKind::kKv || ns->kind == NamespaceKind::kKb) return ns->name;
  }
  return "";
}

Status Service::ScanKeys(std::string_view name, const Access& access, uint64_t cursor, size_t limit,
                         tiers::KeyPageDone done) {
  KVTIER_ASSIGN_OR_RETURN(NamespaceState * ns, Resolve(name, access, Grant::kRead));
  return stack_.ScanKeys(ns->id, cursor, limit, ClassOf(*ns, false), std::move(done));
}

Status Service::CountKeys(std::string_view name, const Access& access, tiers::KeyCountDone done) {
  KVTIER_ASSIGN_OR_RETURN(NamespaceState * ns, Resolve(name, access, Grant::kRead));
  return stack_.CountKeys(ns->id, ClassOf(*ns, false), std::move(done));
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
  add("resp_commands", stats_.resp_commands.load());
  add("resp_unknown_commands", stats_.resp_unknown_commands.load());
  add("blob_requests", stats_.blob_requests.load());
  add("blob_auth_failures", stats_.blob_auth_failures.load());
  add("blob_bytes_sent", stats_.blob_bytes_sent.load());
  for (uint8_t op = 1; op < stats_.requests.size(); ++op) {
    if (!protocol::IsKnownOpcode(op)) continue;
    add("requests_" + std::string(protocol::OpcodeName(static_cast<protocol::Opcode>(op))),
        stats_.requests[op].load());
  }
  for (size_t kind = 0; kind < static_cast<size_t>(BadInput::kCount); ++kind) {
    add("bad_input_" + std::string(BadInputName(static_cast<BadInput>(kind))),
        stats_.bad_input[kind].load());
  }
  std::vector<tiers::TierCounter> operation_counters;  // the workers' and the leases'
  stack_.AddOperationCounters(operation_counters);
  for (auto& counter : operation_counters) add(std::move(counter.name), counter.value);
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
