#include "protocol/messages.h"

#include <cstring>

#include "kvtier_generated.h"

namespace kvtier::protocol {
namespace fb = ::flatbuffers;
namespace w = ::kvtier::wire;

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

namespace {

const uint8_t* Data(std::span<const std::byte> bytes) {
  return reinterpret_cast<const uint8_t*>(bytes.data());
}

// Element i of a verified vector of 64-bit scalars. The verifier checks a
// vector's length word for 4-byte alignment but not its elements for 8, so a
// hostile buffer can misalign them: they are read with memcpy, which needs
// no alignment, never through a uint64_t pointer.
uint64_t Read64(const fb::Vector<uint64_t>* vector, uint32_t i) {
  uint64_t value;
  std::memcpy(&value, vector->Data() + static_cast<size_t>(i) * sizeof(value), sizeof(value));
  return fb::EndianScalar(value);
}

std::vector<uint64_t> Copy64(const fb::Vector<uint64_t>* vector) {
  std::vector<uint64_t> out(vector->size());
  for (uint32_t i = 0; i < vector->size(); ++i) out[i] = Read64(vector, i);
  return out;
}

// Runs the verifier for root type T; nullptr when the buffer does not verify.
template <typename T>
const T* VerifiedRoot(std::span<const std::byte> metadata) {
  if (metadata.empty()) return nullptr;
  fb::Verifier verifier(Data(metadata), metadata.size(), /*max_depth=*/16,
                        /*max_tables=*/1 << 16);
  if (!verifier.VerifyBuffer<T>(nullptr)) return nullptr;
  return fb::GetRoot<T>(Data(metadata));
}

Metadata Finish(fb::FlatBufferBuilder& builder) { return Metadata(builder.Release()); }

std::string_view View(const fb::String* s) {
  return s == nullptr ? std::string_view() : std::string_view(s->data(), s->size());
}

Status BadRequest(std::string what) { return InvalidArgument(std::move(what)); }
Status VerifyFailure(std::string_view what) {
  return InvalidArgument(std::string(kVerifyFailurePrefix) + " as " + std::string(what));
}
Status BadResponse(std::string what) { return ProtocolError("malformed response: " + what); }

Status CheckNamespaceName(std::string_view name) {
  if (name.empty()) return BadRequest("namespace name is empty");
  if (name.size() > kMaxNamespaceNameBytes) {
    return BadRequest("namespace name longer than " + std::to_string(kMaxNamespaceNameBytes) +
                      " bytes");
  }
  return Status::Ok();
}

// Splits packed keys, checking every length against the limits.
Result<std::vector<std::string_view>> UnpackKeys(const fb::Vector<uint8_t>* keys,
                                                 const fb::Vector<uint16_t>* lengths,
                                                 const Limits& limits) {
  if (lengths->size() > limits.max_keys_per_request) {
    return BadRequest("request has " + std::to_string(lengths->size()) + " keys; limit is " +
                      std::to_string(limits.max_keys_per_request));
  }
  std::vector<std::string_view> out;
  out.reserve(lengths->size());
  const char* base = reinterpret_cast<const char*>(keys->data());
  size_t offset = 0;
  for (uint32_t i = 0; i < lengths->size(); ++i) {
    const size_t length = lengths->Get(i);
    if (length == 0) return BadRequest("key " + std::to_string(i) + " is empty");
    if (length > limits.max_key_bytes) {
      return BadRequest("key " + std::to_string(i) + " is " + std::to_string(length) +
                        " bytes; limit is " + std::to_string(limits.max_key_bytes));
    }
    if (length > keys->size() - offset) {
      return BadRequest("key lengths run past the key bytes");
    }
    out.emplace_back(base + offset, length);
    offset += length;
  }
  if (offset != keys->size()) return BadRequest("key bytes left over after the last key");
  return out;
}

std::pair<fb::Offset<fb::Vector<uint8_t>>, fb::Offset<fb::Vector<uint16_t>>> PackKeys(
    fb::FlatBufferBuilder& builder, std::span<const std::string> keys) {
  std::vector<uint8_t> bytes;
  std::vector<uint16_t> lengths;
  lengths.reserve(keys.size());
  for (const std::string& key : keys) {
    bytes.insert(bytes.end(), key.begin(), key.end());
    lengths.push_back(static_cast<uint16_t>(key.size()));
  }
  auto key_bytes = builder.CreateVector(bytes);
  auto key_lengths = builder.CreateVector(lengths);
  return {key_bytes, key_lengths};
}

std::vector<uint8_t> CodesToBytes(const std::vector<StatusCode>& codes) {
  std::vector<uint8_t> out;
  out.reserve(codes.size());
  for (StatusCode code : codes) out.push_back(static_cast<uint8_t>(code));
  return out;
}

Result<std::vector<StatusCode>> BytesToCodes(const fb::Vector<uint8_t>* codes, size_t key_count) {
  if (codes == nullptr || codes->size() != key_count) {
    return BadResponse("expected " + std::to_string(key_count) + " codes");
  }
  std::vector<StatusCode> out;
  out.reserve(codes->size());
  for (uint8_t code : *codes) {
    if (code > kMaxStatusCode) return BadResponse("unknown status code " + std::to_string(code));
    out.push_back(static_cast<StatusCode>(code));
  }
  return out;
}

struct KbVectors {
  fb::Offset<fb::Vector<uint32_t>> token_counts;
  fb::Offset<fb::Vector<uint32_t>> position_offsets;
  fb::Offset<fb::Vector<uint64_t>> producers;
};

// The three KB vectors, or none when `kb` is empty.
KbVectors EncodeKb(fb::FlatBufferBuilder& builder, std::span<const KbMetadata> kb) {
  if (kb.empty()) return {};
  std::vector<uint32_t> tokens, positions;
  std::vector<uint64_t> producers;
  for (const KbMetadata& m : kb) {
    tokens.push_back(m.token_count);
    positions.push_back(m.position_offset);
    producers.push_back(m.producer);
  }
  return {builder.CreateVector(tokens), builder.CreateVector(positions),
          builder.CreateVector(producers)};
}

// Decodes the three KB vectors: all absent (empty result) or all of `count`.
Result<std::vector<KbMetadata>> DecodeKb(const fb::Vector<uint32_t>* tokens,
                                         const fb::Vector<uint32_t>* positions,
                                         const fb::Vector<uint64_t>* producers, size_t count,
                                         bool response) {
  std::vector<KbMetadata> out;
  if (tokens == nullptr && positions == nullptr && producers == nullptr) return out;
  if (tokens == nullptr || positions == nullptr || producers == nullptr ||
      tokens->size() != count || positions->size() != count || producers->size() != count) {
    const std::string what = "KB metadata must be all three vectors with one entry per key";
    return response ? ProtocolError(what) : InvalidArgument(what);
  }
  for (size_t i = 0; i < count; ++i) {
    out.push_back({tokens->Get(static_cast<uint32_t>(i)), positions->Get(static_cast<uint32_t>(i)),
                   Read64(producers, static_cast<uint32_t>(i))});
  }
  return out;
}

std::vector<uint8_t> TiersToBytes(const std::vector<TierId>& tiers) {
  std::vector<uint8_t> out;
  out.reserve(tiers.size());
  for (TierId tier : tiers) out.push_back(static_cast<uint8_t>(tier));
  return out;
}

Result<std::vector<TierId>> BytesToTiers(const fb::Vector<uint8_t>* tiers, size_t count) {
  if (tiers == nullptr || tiers->size() != count) {
    return BadResponse("expected " + std::to_string(count) + " tiers");
  }
  std::vector<TierId> out;
  out.reserve(count);
  for (uint8_t tier : *tiers) {
    if (tier > kMaxTierId) return BadResponse("unknown tier " + std::to_string(tier));
    out.push_back(static_cast<TierId>(tier));
  }
  return out;
}

fb::Offset<fb::Vector<fb::Offset<w::Counter>>> EncodeCounters(
    fb::FlatBufferBuilder& builder, const std::vector<NamedCounter>& counters) {
  std::vector<fb::Offset<w::Counter>> offsets;
  offsets.reserve(counters.size());
  for (const NamedCounter& counter : counters) {
    offsets.push_back(w::CreateCounterDirect(builder, counter.name.c_str(), counter.value));
  }
  return builder.CreateVector(offsets);
}

std::vector<NamedCounter> DecodeCounters(const fb::Vector<fb::Offset<w::Counter>>* counters) {
  std::vector<NamedCounter> out;
  if (counters == nullptr) return out;
  out.reserve(counters->size());
  for (const w::Counter* counter : *counters) {
    out.push_back({std::string(View(counter->name())), counter->value()});
  }
  return out;
}

}  // namespace

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

namespace {

fb::Offset<w::RdmaEndpoint> EncodeRdmaEndpoint(fb::FlatBufferBuilder& builder,
                                               const std::optional<RdmaEndpoint>& endpoint) {
  if (!endpoint) return 0;
  auto gid = builder.CreateVector(endpoint->gid.data(), endpoint->gid.size());
  return w::CreateRdmaEndpoint(builder, endpoint->qp_num, endpoint->psn, endpoint->lid, gid,
                               endpoint->mtu);
}

Result<std::optional<RdmaEndpoint>> DecodeRdmaEndpoint(const w::RdmaEndpoint* in,
                                                       std::string_view where) {
  if (in == nullptr) return std::optional<RdmaEndpoint>();
  RdmaEndpoint out;
  out.qp_num = in->qp_num();
  out.psn = in->psn();
  out.lid = in->lid();
  out.mtu = in->mtu();
  if (out.qp_num >= (1u << 24) || out.psn >= (1u << 24)) {
    return InvalidArgument(std::string(where) + ": RDMA qp_num and psn are 24-bit numbers");
  }
  if (in->gid() == nullptr || in->gid()->size() != out.gid.size()) {
    return InvalidArgument(std::string(where) + ": RDMA gid must be 16 bytes");
  }
  std::memcpy(out.gid.data(), in->gid()->data(), out.gid.size());
  if (out.mtu < 1 || out.mtu > 5) {
    return InvalidArgument(std::string(where) + ": RDMA mtu must be 1..5 (256..4096 bytes), got " +
                           std::to_string(out.mtu));
  }
  return std::optional<RdmaEndpoint>(out);
}

}  // namespace

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
  builder.Finish(w::CreateHelloResponse(builder, response.version, server_name, server_id, limits,
                                        namespaces, models, transports, rdma, refusal));
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

// ---- Request decoders ----

Result<HelloRequest> DecodeHelloRequest(std::span<const std::byte> metadata) {
  const auto* root = VerifiedRoot<w::HelloRequest>(metadata);
  if (root == nullptr) return VerifyFailure("Hello");
  HelloRequest out;
  out.min_version = root->min_version();
  out.max_version = root->max_version();
  if (out.min_version > out.max_version) {
    return BadRequest("Hello min_version > max_version");
  }
  out.client_name = std::string(View(root->client_name()).substr(0, 256));
  out.shm_region_bytes = root->shm_region_bytes();
  const std::string_view token = View(root->token());
  if (token.size() > kMaxTokenBytes) {
    return BadRequest("Hello token is " + std::to_string(token.size()) + " bytes; limit is " +
                      std::to_string(kMaxTokenBytes));
  }
  out.token = std::string(token);
  KVTIER_ASSIGN_OR_RETURN(out.rdma, DecodeRdmaEndpoint(root->rdma(), "Hello"));
  if (root->rdma_regions() != nullptr) {
    if (!out.rdma) return BadRequest("Hello names RDMA regions without an RDMA endpoint");
    RegisteredRegions check;  // refuses empty, wrapping, overlapping and too many
    for (const w::RdmaRegion* region : *root->rdma_regions()) {
      const BufferRef ref{region->address(), region->length(), region->rkey()};
      if (Status added = check.Add(ref.address, ref.length, ref.key); !added.ok()) {
        return BadRequest("Hello RDMA region: " + added.message());
      }
      out.rdma_regions.push_back(ref);
    }
  }
  return out;
}

Result<PutRequest> DecodePutRequest(std::span<const std::byte> metadata, const Limits& limits,
                                    uint64_t payload_length, bool checksums_trail) {
  const auto* root = VerifiedRoot<w::PutRequest>(metadata);
  if (root == nullptr) return VerifyFailure("Put");
  PutRequest out;
  out.namespace_name = View(root->namespace_name());
  KVTIER_RETURN_IF_ERROR(CheckNamespaceName(out.namespace_name));
  KVTIER_ASSIGN_OR_RETURN(out.keys, UnpackKeys(root->keys(), root->key_lengths(), limits));
  const auto* lengths = root->value_lengths();
  if (lengths->size() != out.keys.size()) {
    return BadRequest("Put has " + std::to_string(out.keys.size()) + " keys but " +
                      std::to_string(lengths->size()) + " value lengths");
  }
  uint64_t total = 0;
  out.value_lengths.reserve(lengths->size());
  for (uint32_t i = 0; i < lengths->size(); ++i) {
    const uint64_t length = Read64(lengths, i);
    if (length > limits.max_value_bytes) {
      return BadRequest("value " + std::to_string(i) + " is " + std::to_string(length) +
                        " bytes; limit is " + std::to_string(limits.max_value_bytes));
    }
    total += length;  // cannot overflow: keys and value sizes are both bounded
    out.value_lengths.push_back(length);
  }
  if (checksums_trail) total += kTrailingChecksumBytes * out.keys.size();
  if (total != payload_length) {
    return BadRequest(
        std::string(checksums_trail ? "value lengths and trailing checksums" : "value lengths") +
        " add up to " + std::to_string(total) + " bytes but the payload is " +
        std::to_string(payload_length));
  }
  if (const auto* sums = root->checksums(); sums != nullptr) {
    if (checksums_trail) return BadRequest("Put has checksums both in metadata and trailing");
    if (sums->size() != out.keys.size()) {
      return BadRequest("Put has " + std::to_string(out.keys.size()) + " keys but " +
                        std::to_string(sums->size()) + " checksums");
    }
    out.checksums = Copy64(sums);
  }
  if (const auto* ttls = root->ttls_ms(); ttls != nullptr) {
    if (ttls->size() != out.keys.size()) {
      return BadRequest("Put has " + std::to_string(out.keys.size()) + " keys but " +
                        std::to_string(ttls->size()) + " TTLs");
    }
    out.ttls_ms.assign(ttls->begin(), ttls->end());
  }
  if (const auto* pins = root->pins(); pins != nullptr) {
    if (pins->size() != out.keys.size()) {
      return BadRequest("Put has " + std::to_string(out.keys.size()) + " keys but " +
                        std::to_string(pins->size()) + " pins");
    }
    for (uint8_t pin : *pins) {
      if (pin > static_cast<uint8_t>(Pin::kHard)) {
        return BadRequest("pin level " + std::to_string(pin) + " is not 0, 1 or 2");
      }
      out.pins.push_back(static_cast<Pin>(pin));
    }
  }
  out.bulk = root->bulk();
  KVTIER_ASSIGN_OR_RETURN(out.kb, DecodeKb(root->token_counts(), root->position_offsets(),
                                           root->producers(), out.keys.size(),
                                           /*response=*/false));
  if (const auto* offsets = root->region_offsets(); offsets != nullptr) {
    if (offsets->size() != out.keys.size()) {
      return BadRequest("Put has " + std::to_string(out.keys.size()) + " keys but " +
                        std::to_string(offsets->size()) + " region offsets");
    }
    out.region_offsets = Copy64(offsets);
  }
  out.region_key = root->region_key();
  if (const auto* parent = root->parent_key(); parent != nullptr) {
    if (parent->size() == 0 || parent->size() > limits.max_key_bytes) {
      return BadRequest("Put's parent_key is " + std::to_string(parent->size()) +
                        " bytes; it must be 1.." + std::to_string(limits.max_key_bytes));
    }
    out.parent_key =
        std::string_view(reinterpret_cast<const char*>(parent->data()), parent->size());
  }
  out.partial_tail = root->partial_tail();
  return out;
}

Result<KeysRequest> DecodeKeysRequest(std::span<const std::byte> metadata, const Limits& limits) {
  const auto* root = VerifiedRoot<w::KeysRequest>(metadata);
  if (root == nullptr) return VerifyFailure("keys request");
  KeysRequest out;
  out.namespace_name = View(root->namespace_name());
  KVTIER_RETURN_IF_ERROR(CheckNamespaceName(out.namespace_name));
  KVTIER_ASSIGN_OR_RETURN(out.keys, UnpackKeys(root->keys(), root->key_lengths(), limits));
  out.lease_ms = root->lease_ms();
  out.lease_id = root->lease_id();
  out.deadline_ms = root->deadline_ms();
  out.bulk = root->bulk();
  out.area = RegionArea{root->region_offset(), root->region_capacity(), root->region_key()};
  return out;
}

RegionArea DecodeRegionArea(std::span<const std::byte> metadata) {
  const auto* root = VerifiedRoot<w::KeysRequest>(metadata);
  if (root == nullptr) return {};
  return RegionArea{root->region_offset(), root->region_capacity(), root->region_key()};
}

Result<uint64_t> DecodeReleaseRequest(std::span<const std::byte> metadata) {
  const auto* root = VerifiedRoot<w::ReleaseRequest>(metadata);
  if (root == nullptr) return VerifyFailure("Release");
  return root->lease_id();
}

Status DecodeStatsRequest(std::span<const std::byte> metadata) {
  if (VerifiedRoot<w::StatsRequest>(metadata) == nullptr) {
    return VerifyFailure("Stats");
  }
  return Status::Ok();
}

// ---- Response decoders ----

Status DecodeFlushResponse(std::span<const std::byte> metadata) {
  if (VerifiedRoot<w::FlushResponse>(metadata) == nullptr) {
    return BadResponse("FlushResponse failed verification");
  }
  return Status::Ok();
}

Status DecodeErrorReply(std::span<const std::byte> metadata) {
  const auto* root = VerifiedRoot<w::ErrorReply>(metadata);
  if (root == nullptr) return BadResponse("ErrorReply failed verification");
  if (root->code() == 0 || root->code() > kMaxStatusCode) {
    return BadResponse("ErrorReply has code " + std::to_string(root->code()));
  }
  return Status(static_cast<StatusCode>(root->code()), std::string(View(root->message())));
}

Result<HelloResponse> DecodeHelloResponse(std::span<const std::byte> metadata) {
  const auto* root = VerifiedRoot<w::HelloResponse>(metadata);
  if (root == nullptr) return BadResponse("HelloResponse failed verification");
  if (root->limits() == nullptr) return BadResponse("HelloResponse has no limits");
  HelloResponse out;
  out.version = root->version();
  out.server_name = std::string(View(root->server_name()));
  out.server_id = std::string(View(root->server_id()));
  const auto* l = root->limits();
  out.limits = Limits{l->max_metadata_bytes(), l->max_keys_per_request(), l->max_key_bytes(),
                      l->max_value_bytes(), l->max_payload_bytes()};
  if (Status s = out.limits.Validate(); !s.ok()) return BadResponse(s.message());
  if (root->namespaces() != nullptr) {
    for (const fb::String* name : *root->namespaces()) out.namespaces.emplace_back(View(name));
  }
  // Older servers send no models: every namespace then names none.
  out.namespace_models.assign(out.namespaces.size(), "");
  if (root->namespace_models() != nullptr) {
    if (root->namespace_models()->size() != out.namespaces.size()) {
      return BadResponse("HelloResponse has " + std::to_string(out.namespaces.size()) +
                         " namespaces but " + std::to_string(root->namespace_models()->size()) +
                         " models");
    }
    for (uint32_t i = 0; i < out.namespaces.size(); ++i) {
      out.namespace_models[i] = std::string(View(root->namespace_models()->Get(i)));
    }
  }
  if (root->transports() != nullptr) {
    for (const fb::String* name : *root->transports()) out.transports.emplace_back(View(name));
  }
  auto rdma = DecodeRdmaEndpoint(root->rdma(), "HelloResponse");
  if (!rdma.ok()) return BadResponse(rdma.status().message());
  out.rdma = *rdma;
  out.rdma_refusal = std::string(View(root->rdma_refusal()));
  return out;
}

Result<PutResponse> DecodePutResponse(std::span<const std::byte> metadata, size_t key_count) {
  const auto* root = VerifiedRoot<w::PutResponse>(metadata);
  if (root == nullptr) return BadResponse("PutResponse failed verification");
  PutResponse out;
  KVTIER_ASSIGN_OR_RETURN(out.codes, BytesToCodes(root->codes(), key_count));
  return out;
}

Result<GetResponse> DecodeGetResponse(std::span<const std::byte> metadata, size_t key_count,
                                      uint64_t payload_length) {
  const auto* root = VerifiedRoot<w::GetResponse>(metadata);
  if (root == nullptr) return BadResponse("GetResponse failed verification");
  GetResponse out;
  KVTIER_ASSIGN_OR_RETURN(out.codes, BytesToCodes(root->codes(), key_count));
  const auto* tiers = root->tiers();
  KVTIER_ASSIGN_OR_RETURN(
      out.tiers, BytesToTiers(reinterpret_cast<const fb::Vector<uint8_t>*>(tiers), key_count));
  if (root->value_lengths() == nullptr || root->value_lengths()->size() != key_count ||
      root->checksums() == nullptr || root->checksums()->size() != key_count) {
    return BadResponse("GetResponse vectors do not match the key count");
  }
  out.value_lengths = Copy64(root->value_lengths());
  out.checksums = Copy64(root->checksums());
  uint64_t total = 0;
  for (size_t i = 0; i < key_count; ++i) {
    if (out.codes[i] != StatusCode::kOk && out.value_lengths[i] != 0) {
      return BadResponse("value length given for a missing key");
    }
    if (out.value_lengths[i] > payload_length - total) {
      return BadResponse("value lengths run past the payload");
    }
    total += out.value_lengths[i];
  }
  if (total != payload_length) return BadResponse("payload has bytes no value accounts for");
  KVTIER_ASSIGN_OR_RETURN(out.kb, DecodeKb(root->token_counts(), root->position_offsets(),
                                           root->producers(), key_count, /*response=*/true));
  return out;
}

Result<ExistsResponse> DecodeExistsResponse(std::span<const std::byte> metadata, size_t key_count) {
  const auto* root = VerifiedRoot<w::ExistsResponse>(metadata);
  if (root == nullptr) return BadResponse("ExistsResponse failed verification");
  ExistsResponse out;
  KVTIER_ASSIGN_OR_RETURN(
      out.tiers,
      BytesToTiers(reinterpret_cast<const fb::Vector<uint8_t>*>(root->tiers()), key_count));
  return out;
}

Result<DeleteResponse> DecodeDeleteResponse(std::span<const std::byte> metadata, size_t key_count) {
  const auto* root = VerifiedRoot<w::DeleteResponse>(metadata);
  if (root == nullptr) return BadResponse("DeleteResponse failed verification");
  DeleteResponse out;
  KVTIER_ASSIGN_OR_RETURN(out.codes, BytesToCodes(root->codes(), key_count));
  return out;
}

Result<MatchPrefixResponse> DecodeMatchPrefixResponse(std::span<const std::byte> metadata,
                                                      size_t key_count) {
  const auto* root = VerifiedRoot<w::MatchPrefixResponse>(metadata);
  if (root == nullptr) return BadResponse("MatchPrefixResponse failed verification");
  MatchPrefixResponse out;
  out.matched = root->matched();
  if (out.matched > key_count) return BadResponse("matched more keys than were asked");
  KVTIER_ASSIGN_OR_RETURN(
      out.tiers,
      BytesToTiers(reinterpret_cast<const fb::Vector<uint8_t>*>(root->tiers()), out.matched));
  out.lease_id = root->lease_id();
  out.lease_ms = root->lease_ms();
  return out;
}

Result<GetPrefixResponse> DecodeGetPrefixResponse(std::span<const std::byte> metadata,
                                                  size_t key_count, uint64_t payload_length) {
  const auto* root = VerifiedRoot<w::GetPrefixResponse>(metadata);
  if (root == nullptr) return BadResponse("GetPrefixResponse failed verification");
  GetPrefixResponse out;
  out.delivered = root->delivered();
  if (out.delivered > key_count) return BadResponse("delivered more keys than were asked");
  const auto stop = static_cast<uint8_t>(root->stop_reason());
  if (stop > static_cast<uint8_t>(PrefixStop::kError)) {
    return BadResponse("unknown stop reason " + std::to_string(stop));
  }
  out.stop_reason = static_cast<PrefixStop>(stop);
  if (root->stop_code() > kMaxStatusCode) return BadResponse("unknown stop code");
  out.stop_code = static_cast<StatusCode>(root->stop_code());
  if ((out.stop_reason == PrefixStop::kComplete) != (out.delivered == key_count)) {
    return BadResponse("a complete answer must deliver every key, and only it");
  }
  if (root->value_lengths() == nullptr || root->value_lengths()->size() != out.delivered ||
      root->checksums() == nullptr || root->checksums()->size() != out.delivered) {
    return BadResponse("GetPrefixResponse vectors do not match the delivered count");
  }
  KVTIER_ASSIGN_OR_RETURN(
      out.tiers,
      BytesToTiers(reinterpret_cast<const fb::Vector<uint8_t>*>(root->tiers()), out.delivered));
  out.value_lengths = Copy64(root->value_lengths());
  out.checksums = Copy64(root->checksums());
  uint64_t total = 0;
  for (uint64_t length : out.value_lengths) {
    if (length > payload_length - total) return BadResponse("value lengths run past the payload");
    total += length;
  }
  if (total != payload_length) return BadResponse("payload has bytes no value accounts for");
  KVTIER_ASSIGN_OR_RETURN(out.kb, DecodeKb(root->token_counts(), root->position_offsets(),
                                           root->producers(), out.delivered, /*response=*/true));
  return out;
}

Result<bool> DecodeReleaseResponse(std::span<const std::byte> metadata) {
  const auto* root = VerifiedRoot<w::ReleaseResponse>(metadata);
  if (root == nullptr) return BadResponse("ReleaseResponse failed verification");
  return root->released();
}

Result<StatsResponse> DecodeStatsResponse(std::span<const std::byte> metadata) {
  const auto* root = VerifiedRoot<w::StatsResponse>(metadata);
  if (root == nullptr) return BadResponse("StatsResponse failed verification");
  StatsResponse out;
  out.server_name = std::string(View(root->server_name()));
  out.server_id = std::string(View(root->server_id()));
  out.uptime_seconds = root->uptime_seconds();
  out.counters = DecodeCounters(root->counters());
  if (root->tiers() != nullptr) {
    for (const w::TierStats* tier : *root->tiers()) {
      out.tiers.push_back({std::string(View(tier->name())), tier->capacity_bytes(),
                           tier->used_bytes(), tier->items(), DecodeCounters(tier->counters())});
    }
  }
  if (root->namespaces() != nullptr) {
    for (const w::NamespaceStats* ns : *root->namespaces()) {
      out.namespaces.push_back({std::string(View(ns->name())), std::string(View(ns->kind())),
                                DecodeCounters(ns->counters())});
    }
  }
  return out;
}

}  // namespace kvtier::protocol
