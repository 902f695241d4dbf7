// The decoders of every message: each checks the buffer's length,
// verifies it as its FlatBuffers root, then checks what the verifier
// cannot (counts that must match, limits, names) before anything is used.

#include <cstring>

#include "protocol/messages.h"
#include "protocol/wire_codec.h"

namespace kvtier::protocol {
using namespace codec;  // NOLINT: the helpers shared with messages.cc

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
    for (const w::RdmaRegion* unaligned : *root->rdma_regions()) {
      // The verifier checks a struct vector's bounds, not its elements'
      // alignment: copy each into an aligned struct before reading it.
      w::RdmaRegion region;
      std::memcpy(static_cast<void*>(&region), unaligned, sizeof(region));
      const BufferRef ref{region.address(), region.length(), region.rkey()};
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
  // Per-namespace lists: absent from older servers (then `fallback` for
  // each), else exactly one entry per namespace.
  auto per_namespace = [&](const auto* list, std::string_view what, auto fallback, auto& out_list,
                           auto convert) -> Status {
    out_list.assign(out.namespaces.size(), fallback);
    if (list == nullptr) return Status::Ok();
    if (list->size() != out.namespaces.size()) {
      return BadResponse("HelloResponse has " + std::to_string(out.namespaces.size()) +
                         " namespaces but " + std::to_string(list->size()) + " " +
                         std::string(what));
    }
    for (uint32_t i = 0; i < out.namespaces.size(); ++i) out_list[i] = convert(list->Get(i));
    return Status::Ok();
  };
  auto text = [](const fb::String* s) { return std::string(View(s)); };
  KVTIER_RETURN_IF_ERROR(
      per_namespace(root->namespace_models(), "models", std::string(), out.namespace_models, text));
  KVTIER_RETURN_IF_ERROR(
      per_namespace(root->namespace_kinds(), "kinds", std::string(), out.namespace_kinds, text));
  KVTIER_RETURN_IF_ERROR(per_namespace(root->namespace_writable(), "write flags", true,
                                       out.namespace_writable,
                                       [](uint8_t flag) { return flag != 0; }));
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
