#include "server/service.h"

#include <random>

#include "common/checksum.h"

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

Service::Service(const ServerConfig& config, tiers::Tier& dram, ServerStats& stats)
    : server_name_(config.server_name),
      server_id_(MakeServerId()),
      limits_(config.limits),
      started_(std::chrono::steady_clock::now()),
      dram_(dram),
      stats_(stats) {
  for (size_t i = 0; i < config.namespaces.size(); ++i) {
    auto ns = std::make_unique<NamespaceState>();
    ns->id = static_cast<uint32_t>(i + 1);
    ns->name = config.namespaces[i].name;
    ns->kind = config.namespaces[i].kind;
    namespaces_.push_back(std::move(ns));
  }
}

Status Service::Reject(Status status) {
  if (status.code() == StatusCode::kUnknownNamespace) {
    stats_.CountBadInput(BadInput::kUnknownNamespace);
  } else if (protocol::IsVerifyFailure(status)) {
    stats_.CountBadInput(BadInput::kVerifyFailed);
  } else if (status.code() == StatusCode::kInvalidArgument) {
    stats_.CountBadInput(BadInput::kInvalidRequest);
  }
  return status;
}

Result<NamespaceState*> Service::Resolve(std::string_view name) {
  // A handful of namespaces: a linear scan beats hashing.
  for (auto& ns : namespaces_) {
    if (ns->name == name) return ns.get();
  }
  return UnknownNamespace("namespace '" + std::string(name) + "' is not configured");
}

Result<PendingPut> Service::BeginPut(std::span<const std::byte> metadata, uint64_t payload_length) {
  auto request = protocol::DecodePutRequest(metadata, limits_, payload_length);
  if (!request.ok()) return Reject(request.status());
  auto ns = Resolve(request->namespace_name);
  if (!ns.ok()) return Reject(ns.status());

  PendingPut put;
  put.ns = *ns;
  put.request = std::move(*request);
  const size_t count = put.request.keys.size();
  put.blocks.resize(count);
  put.codes.assign(count, StatusCode::kOk);
  for (size_t i = 0; i < count; ++i) {
    auto block = dram_.Allocate(put.request.keys[i].size(), put.request.value_lengths[i]);
    if (block.ok()) {
      put.blocks[i] = std::move(*block);
    } else {
      put.codes[i] = block.status().code();
    }
  }
  return put;
}

ReplyBody Service::FinishPut(PendingPut put) {
  protocol::PutResponse response;
  response.codes = std::move(put.codes);
  NamespaceState& ns = *put.ns;
  for (size_t i = 0; i < put.blocks.size(); ++i) {
    if (!put.blocks[i]) {
      ns.rejected_puts.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    tiers::WritableBlock& block = put.blocks[i];
    const uint64_t checksum = BlockChecksum(block.mutable_bytes());
    if (!put.request.checksums.empty() && put.request.checksums[i] != checksum) {
      // The bytes changed between the client and us: never store them.
      response.codes[i] = StatusCode::kCorruption;
      stats_.CountBadInput(BadInput::kChecksumMismatch);
      ns.rejected_puts.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    const uint64_t size = block.size();
    Status status = dram_.Put({ns.id, put.request.keys[i]}, std::move(block).Seal(checksum));
    response.codes[i] = status.code();
    if (status.ok()) {
      ns.puts.fetch_add(1, std::memory_order_relaxed);
      ns.put_bytes.fetch_add(size, std::memory_order_relaxed);
    } else {
      ns.rejected_puts.fetch_add(1, std::memory_order_relaxed);
    }
  }
  return ReplyBody{protocol::EncodePutResponse(response), {}, 0};
}

Result<ReplyBody> Service::Handle(protocol::Opcode opcode, std::span<const std::byte> metadata) {
  switch (opcode) {
    case protocol::Opcode::kHello:
      return Hello(metadata);
    case protocol::Opcode::kGet:
      return Get(metadata);
    case protocol::Opcode::kExists:
      return Exists(metadata);
    case protocol::Opcode::kDelete:
      return Delete(metadata);
    case protocol::Opcode::kMatchPrefix:
      return MatchPrefix(metadata);
    case protocol::Opcode::kStats:
      return Stats(metadata);
    case protocol::Opcode::kPut:
      break;
  }
  return Internal("Put must go through BeginPut");
}

Result<ReplyBody> Service::Hello(std::span<const std::byte> metadata) {
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
  for (const auto& ns : namespaces_) response.namespaces.push_back(ns->name);
  return ReplyBody{protocol::EncodeHelloResponse(response), {}, 0};
}

Result<ReplyBody> Service::Get(std::span<const std::byte> metadata) {
  auto request = protocol::DecodeKeysRequest(metadata, limits_);
  if (!request.ok()) return Reject(request.status());
  auto ns = Resolve(request->namespace_name);
  if (!ns.ok()) return Reject(ns.status());

  const size_t count = request->keys.size();
  protocol::GetResponse response;
  response.codes.assign(count, StatusCode::kNotFound);
  response.value_lengths.assign(count, 0);
  response.checksums.assign(count, 0);
  response.tiers.assign(count, TierId::kNone);
  ReplyBody body;
  body.payload.reserve(count);
  uint64_t hits = 0;
  for (size_t i = 0; i < count; ++i) {
    auto handle = dram_.Get({(*ns)->id, request->keys[i]});
    if (!handle.ok()) continue;
    // One reply frame carries at most max_payload_bytes; later hits are
    // answered as retryable so the client asks for them again.
    if (body.payload_bytes + handle->size() > limits_.max_payload_bytes) {
      response.codes[i] = StatusCode::kResourceExhausted;
      continue;
    }
    response.codes[i] = StatusCode::kOk;
    response.value_lengths[i] = handle->size();
    response.checksums[i] = handle->checksum();
    response.tiers[i] = TierId::kDram;
    body.payload_bytes += handle->size();
    body.payload.push_back(std::move(*handle));
    ++hits;
  }
  (*ns)->hits.fetch_add(hits, std::memory_order_relaxed);
  (*ns)->misses.fetch_add(count - hits, std::memory_order_relaxed);
  (*ns)->get_bytes.fetch_add(body.payload_bytes, std::memory_order_relaxed);
  body.metadata = protocol::EncodeGetResponse(response);
  return body;
}

Result<ReplyBody> Service::Exists(std::span<const std::byte> metadata) {
  auto request = protocol::DecodeKeysRequest(metadata, limits_);
  if (!request.ok()) return Reject(request.status());
  auto ns = Resolve(request->namespace_name);
  if (!ns.ok()) return Reject(ns.status());
  protocol::ExistsResponse response;
  response.tiers.reserve(request->keys.size());
  for (std::string_view key : request->keys) {
    response.tiers.push_back(dram_.Contains({(*ns)->id, key}) ? TierId::kDram : TierId::kNone);
  }
  return ReplyBody{protocol::EncodeExistsResponse(response), {}, 0};
}

Result<ReplyBody> Service::Delete(std::span<const std::byte> metadata) {
  auto request = protocol::DecodeKeysRequest(metadata, limits_);
  if (!request.ok()) return Reject(request.status());
  auto ns = Resolve(request->namespace_name);
  if (!ns.ok()) return Reject(ns.status());
  protocol::DeleteResponse response;
  response.codes.reserve(request->keys.size());
  for (std::string_view key : request->keys) {
    Status status = dram_.Erase({(*ns)->id, key});
    if (status.ok()) (*ns)->deletes.fetch_add(1, std::memory_order_relaxed);
    response.codes.push_back(status.code());
  }
  return ReplyBody{protocol::EncodeDeleteResponse(response), {}, 0};
}

Result<ReplyBody> Service::MatchPrefix(std::span<const std::byte> metadata) {
  auto request = protocol::DecodeKeysRequest(metadata, limits_);
  if (!request.ok()) return Reject(request.status());
  auto ns = Resolve(request->namespace_name);
  if (!ns.ok()) return Reject(ns.status());
  protocol::MatchPrefixResponse response;
  // DRAM's Contains is exact and does no I/O: one lookup per key. (The
  // MayContain check belongs in front of tiers that would do I/O.)
  for (std::string_view key : request->keys) {
    if (!dram_.Contains({(*ns)->id, key})) break;
    response.tiers.push_back(TierId::kDram);
  }
  response.matched = static_cast<uint32_t>(response.tiers.size());
  return ReplyBody{protocol::EncodeMatchPrefixResponse(response), {}, 0};
}

Result<ReplyBody> Service::Stats(std::span<const std::byte> metadata) {
  if (Status status = protocol::DecodeStatsRequest(metadata); !status.ok()) {
    return Reject(status);
  }
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
  for (uint8_t op = 1; op < stats_.requests.size(); ++op) {
    if (!protocol::IsKnownOpcode(op)) continue;
    add("requests_" + std::string(protocol::OpcodeName(static_cast<protocol::Opcode>(op))),
        stats_.requests[op].load());
  }
  for (size_t kind = 0; kind < static_cast<size_t>(BadInput::kCount); ++kind) {
    add("bad_input_" + std::string(BadInputName(static_cast<BadInput>(kind))),
        stats_.bad_input[kind].load());
  }
  const tiers::TierStats dram = dram_.Stats();
  response.tiers.push_back(
      {dram.name, dram.capacity_bytes, dram.used_bytes, dram.items, ToNamed(dram.counters)});
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
  }
  return ReplyBody{protocol::EncodeStatsResponse(response), {}, 0};
}

}  // namespace kvtier::server
