// The encoders of every message (the decoders are in message_decoders.cc).

#include "protocol/messages.h"

#include "protocol/wire_codec.h"

namespace kvtier::protocol {
using namespace codec;  // NOLINT: the helpers shared with message_decoders.cc

std::string_view TierName(TierId tier) {
  switch (tier) {
    case TierId::kNone:
      return "none";
    case TierId::kDram:
      return "dram";
    case TierId::kNvme:
      return "nvme";
    case TierId::kBlob:
      return "blob";
  }
  return "unknown";
}

bool IsVerifyFailure(const Status& status) {
  return status.code() == StatusCode::kInvalidArgument &&
         std::string_view(status.message()).starts_with(kVerifyFailurePrefix);
}

// ---- Encoders ----

Metadata EncodeErrorReply(const Status& status) {
  fb::FlatBufferBuilder builder(64 + status.message().size());
  builder.Finish(w::CreateErrorReplyDirect(builder, static_cast<uint8_t>(status.code()),
                                           status.message().c_str()));
  return Finish(builder);
}

Metadata EncodeHelloRequest(const HelloRequest& request) {
  fb::FlatBufferBuilder builder(128);
  auto rdma = EncodeRdmaEndpoint(builder, request.rdma);
  std::vector<w::RdmaRegion> regions;
  for (const BufferRef& region : request.rdma_regions) {
    regions.emplace_back(region.address, region.length, region.key);
  }
  builder.Finish(w::CreateHelloRequestDirect(
      builder, request.min_version, request.max_version, request.client_name.c_str(),
      request.shm_region_bytes, request.token.empty() ? nullptr : request.token.c_str(), rdma,
      regions.empty() ? nullptr : &regions));
  return Finish(builder);
}

Metadata EncodeHelloResponse(const HelloResponse& response) {
  fb::FlatBufferBuilder builder(512);
  const Limits& l = response.limits;
  auto limits = w::CreateLimits(builder, l.max_metadata_bytes, l.max_keys_per_request,
                                l.max_key_bytes, l.max_value_bytes, l.max_payload_bytes);
  std::vector<fb::Offset<fb::String>> names;
  for (const std::string& name : response.namespaces) names.push_back(builder.CreateString(name));
  auto namespaces = builder.CreateVector(names);
  std::vector<fb::Offset<fb::String>> model_names;
  for (const std::string& model : response.namespace_models) {
    model_names.push_back(builder.CreateString(model));
  }
  auto models = builder.CreateVector(model_names);
  std::vector<fb::Offset<fb::String>> transport_names;
  for (const std::string& transport : response.transports) {
    transport_names.push_back(builder.CreateString(transport));
  }
  auto transports = builder.CreateVector(transport_names);
  auto server_name = builder.CreateString(response.server_name);
  auto server_id = builder.CreateString(response.server_id);
  auto rdma = EncodeRdmaEndpoint(builder, response.rdma);
  auto refusal = response.rdma_refusal.empty() ? 0 : builder.CreateString(response.rdma_refusal);
  std::vector<fb::Offset<fb::String>> kind_names;
  for (const std::string& kind : response.namespace_kinds) {
    kind_names.push_back(builder.CreateString(kind));
  }
  // Absent when not given (as from an older server).
  auto kinds = kind_names.empty() ? 0 : builder.CreateVector(kind_names);
  const std::vector<uint8_t> writable_flags(response.namespace_writable.begin(),
                                            response.namespace_writable.end());
  auto writable = writable_flags.empty() ? 0 : builder.CreateVector(writable_flags);
  builder.Finish(w::CreateHelloResponse(builder, response.version, server_name, server_id, limits,
                                        namespaces, models, transports, rdma, refusal, kinds,
                                        writable));
  return Finish(builder);
}

Metadata EncodeKeysRequest(std::string_view namespace_name, std::span<const std::string> keys,
                           uint32_t lease_ms, uint64_t lease_id, uint32_t deadline_ms, bool bulk,
                           RegionArea area) {
  fb::FlatBufferBuilder builder(64 + keys.size() * 24);
  auto ns = builder.CreateString(namespace_name.data(), namespace_name.size());
  auto [key_bytes, key_lengths] = PackKeys(builder, keys);
  builder.Finish(w::CreateKeysRequest(builder, ns, key_bytes, key_lengths, lease_ms, lease_id,
                                      deadline_ms, bulk, area.offset, area.capacity, area.key));
  return Finish(builder);
}

std::string_view PrefixStopName(PrefixStop stop) {
  switch (stop) {
    case PrefixStop::kComplete:
      return "complete";
    case PrefixStop::kMiss:
      return "miss";
    case PrefixStop::kDeadline:
      return "deadline";
    case PrefixStop::kPayloadLimit:
      return "payload_limit";
    case PrefixStop::kError:
      return "error";
  }
  return "unknown";
}

Metadata EncodeGetPrefixResponse(const GetPrefixResponse& response) {
  fb::FlatBufferBuilder builder(64 + response.value_lengths.size() * 17);
  auto lengths = builder.CreateVector(response.value_lengths);
  auto sums = builder.CreateVector(response.checksums);
  auto tiers = builder.CreateVector(TiersToBytes(response.tiers));
  auto [token_counts, position_offsets, producers] = EncodeKb(builder, response.kb);
  builder.Finish(w::CreateGetPrefixResponse(
      builder, response.delivered, static_cast<w::PrefixStop>(response.stop_reason),
      static_cast<uint8_t>(response.stop_code), lengths, sums,
      fb::Offset<fb::Vector<w::TierId>>(tiers.o), token_counts, position_offsets, producers));
  return Finish(builder);
}

Metadata EncodeReleaseRequest(uint64_t lease_id) {
  fb::FlatBufferBuilder builder(32);
  builder.Finish(w::CreateReleaseRequest(builder, lease_id));
  return Finish(builder);
}

Metadata EncodeReleaseResponse(bool released) {
  fb::FlatBufferBuilder builder(32);
  builder.Finish(w::CreateReleaseResponse(builder, released));
  return Finish(builder);
}

Metadata EncodePutRequest(std::string_view namespace_name, std::span<const std::string> keys,
                          std::span<const uint64_t> value_lengths,
                          std::span<const uint64_t> checksums, std::span<const uint32_t> ttls_ms,
                          std::span<const Pin> pins, bool bulk, std::span<const KbMetadata> kb,
                          std::span<const uint64_t> region_offsets, uint32_t region_key,
                          const PutChain& chain) {
  fb::FlatBufferBuilder builder(64 + keys.size() * 40 + chain.parent.size());
  auto ns = builder.CreateString(namespace_name.data(), namespace_name.size());
  auto [key_bytes, key_lengths] = PackKeys(builder, keys);
  auto lengths = builder.CreateVector(value_lengths.data(), value_lengths.size());
  fb::Offset<fb::Vector<uint64_t>> sums;
  if (!checksums.empty()) sums = builder.CreateVector(checksums.data(), checksums.size());
  fb::Offset<fb::Vector<uint32_t>> ttls;
  if (!ttls_ms.empty()) ttls = builder.CreateVector(ttls_ms.data(), ttls_ms.size());
  fb::Offset<fb::Vector<uint8_t>> pin_bytes;
  if (!pins.empty()) {
    pin_bytes = builder.CreateVector(reinterpret_cast<const uint8_t*>(pins.data()), pins.size());
  }
  auto [token_counts, position_offsets, producers] = EncodeKb(builder, kb);
  fb::Offset<fb::Vector<uint64_t>> offsets;
  if (!region_offsets.empty()) {
    offsets = builder.CreateVector(region_offsets.data(), region_offsets.size());
  }
  fb::Offset<fb::Vector<uint8_t>> parent;
  if (!chain.parent.empty()) {
    parent = builder.CreateVector(reinterpret_cast<const uint8_t*>(chain.parent.data()),
                                  chain.parent.size());
  }
  builder.Finish(w::CreatePutRequest(builder, ns, key_bytes, key_lengths, lengths, sums, ttls,
                                     pin_bytes, bulk, token_counts, position_offsets, producers,
                                     offsets, region_key, parent, chain.partial_tail));
  return Finish(builder);
}

Metadata EncodePutResponse(const PutResponse& response) {
  fb::FlatBufferBuilder builder(32 + response.codes.size());
  auto codes = builder.CreateVector(CodesToBytes(response.codes));
  builder.Finish(w::CreatePutResponse(builder, codes));
  return Finish(builder);
}

Metadata EncodeGetResponse(const GetResponse& response) {
  fb::FlatBufferBuilder builder(64 + response.codes.size() * 18);
  auto codes = builder.CreateVector(CodesToBytes(response.codes));
  auto lengths = builder.CreateVector(response.value_lengths);
  auto checksums = builder.CreateVector(response.checksums);
  auto tiers = builder.CreateVector(TiersToBytes(response.tiers));
  auto [token_counts, position_offsets, producers] = EncodeKb(builder, response.kb);
  builder.Finish(w::CreateGetResponse(builder, codes, lengths, checksums,
                                      fb::Offset<fb::Vector<w::TierId>>(tiers.o), token_counts,
                                      position_offsets, producers));
  return Finish(builder);
}

Metadata EncodeExistsResponse(const ExistsResponse& response) {
  fb::FlatBufferBuilder builder(32 + response.tiers.size());
  auto tiers = builder.CreateVector(TiersToBytes(response.tiers));
  builder.Finish(w::CreateExistsResponse(builder, fb::Offset<fb::Vector<w::TierId>>(tiers.o)));
  return Finish(builder);
}

Metadata EncodeDeleteResponse(const DeleteResponse& response) {
  fb::FlatBufferBuilder builder(32 + response.codes.size());
  auto codes = builder.CreateVector(CodesToBytes(response.codes));
  builder.Finish(w::CreateDeleteResponse(builder, codes));
  return Finish(builder);
}

Metadata EncodeMatchPrefixResponse(const MatchPrefixResponse& response) {
  fb::FlatBufferBuilder builder(32 + response.tiers.size());
  auto tiers = builder.CreateVector(TiersToBytes(response.tiers));
  builder.Finish(w::CreateMatchPrefixResponse(builder, response.matched,
                                              fb::Offset<fb::Vector<w::TierId>>(tiers.o),
                                              response.lease_id, response.lease_ms));
  return Finish(builder);
}

Metadata EncodeFlushResponse() {
  fb::FlatBufferBuilder builder(16);
  builder.Finish(w::CreateFlushResponse(builder));
  return Finish(builder);
}

Metadata EncodeStatsRequest() {
  fb::FlatBufferBuilder builder(16);
  builder.Finish(w::CreateStatsRequest(builder));
  return Finish(builder);
}

Metadata EncodeStatsResponse(const StatsResponse& response) {
  fb::FlatBufferBuilder builder(4096);
  auto counters = EncodeCounters(builder, response.counters);
  std::vector<fb::Offset<w::TierStats>> tiers;
  for (const TierStatsInfo& tier : response.tiers) {
    auto tier_counters = EncodeCounters(builder, tier.counters);
    tiers.push_back(w::CreateTierStats(builder, builder.CreateString(tier.name),
                                       tier.capacity_bytes, tier.used_bytes, tier.items,
                                       tier_counters));
  }
  auto tier_vector = builder.CreateVector(tiers);
  std::vector<fb::Offset<w::NamespaceStats>> namespaces;
  for (const NamespaceStatsInfo& ns : response.namespaces) {
    auto ns_counters = EncodeCounters(builder, ns.counters);
    namespaces.push_back(w::CreateNamespaceStats(builder, builder.CreateString(ns.name),
                                                 builder.CreateString(ns.kind), ns_counters));
  }
  auto ns_vector = builder.CreateVector(namespaces);
  auto server_name = builder.CreateString(response.server_name);
  auto server_id = builder.CreateString(response.server_id);
  builder.Finish(w::CreateStatsResponse(builder, server_name, server_id, response.uptime_seconds,
                                        counters, tier_vector, ns_vector));
  return Finish(builder);
}

}  // namespace kvtier::protocol
