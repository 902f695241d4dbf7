#pragma once

// Helpers shared by the message encoders (messages.cc) and decoders
// (message_decoders.cc): verification of a FlatBuffers root, unaligned
// 64-bit reads, key packing, status codes, tiers, KB metadata, counters
// and RDMA endpoints to and from their wire vectors. Internal to protocol/.

#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kvtier_generated.h"
#include "protocol/messages.h"

namespace kvtier::protocol::codec {
namespace fb = ::flatbuffers;
namespace w = ::kvtier::wire;

inline const uint8_t* Data(std::span<const std::byte> bytes) {
  return reinterpret_cast<const uint8_t*>(bytes.data());
}

// Element i of a verified vector of 64-bit scalars. The verifier checks a
// vector's length word for 4-byte alignment but not its elements for 8, so a
// hostile buffer can misalign them: they are read with memcpy, which needs
// no alignment, never through a uint64_t pointer.
inline uint64_t Read64(const fb::Vector<uint64_t>* vector, uint32_t i) {
  uint64_t value;
  std::memcpy(&value, vector->Data() + static_cast<size_t>(i) * sizeof(value), sizeof(value));
  return fb::EndianScalar(value);
}

inline std::vector<uint64_t> Copy64(const fb::Vector<uint64_t>* vector) {
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

inline Metadata Finish(fb::FlatBufferBuilder& builder) { return Metadata(builder.Release()); }

inline std::string_view View(const fb::String* s) {
  return s == nullptr ? std::string_view() : std::string_view(s->data(), s->size());
}

inline Status BadRequest(std::string what) { return InvalidArgument(std::move(what)); }
inline Status VerifyFailure(std::string_view what) {
  return InvalidArgument(std::string(kVerifyFailurePrefix) + " as " + std::string(what));
}
inline Status BadResponse(std::string what) { return ProtocolError("malformed response: " + what); }

inline Status CheckNamespaceName(std::string_view name) {
  if (name.empty()) return BadRequest("namespace name is empty");
  if (name.size() > kMaxNamespaceNameBytes) {
    return BadRequest("namespace name longer than " + std::to_string(kMaxNamespaceNameBytes) +
                      " bytes");
  }
  return Status::Ok();
}

// Splits packed keys, checking every length against the limits.
inline Result<std::vector<std::string_view>> UnpackKeys(const fb::Vector<uint8_t>* keys,
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

inline std::pair<fb::Offset<fb::Vector<uint8_t>>, fb::Offset<fb::Vector<uint16_t>>> PackKeys(
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

inline std::vector<uint8_t> CodesToBytes(const std::vector<StatusCode>& codes) {
  std::vector<uint8_t> out;
  out.reserve(codes.size());
  for (StatusCode code : codes) out.push_back(static_cast<uint8_t>(code));
  return out;
}

inline Result<std::vector<StatusCode>> BytesToCodes(const fb::Vector<uint8_t>* codes,
                                                    size_t key_count) {
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
inline KbVectors EncodeKb(fb::FlatBufferBuilder& builder, std::span<const KbMetadata> kb) {
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
inline Result<std::vector<KbMetadata>> DecodeKb(const fb::Vector<uint32_t>* tokens,
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

inline std::vector<uint8_t> TiersToBytes(const std::vector<TierId>& tiers) {
  std::vector<uint8_t> out;
  out.reserve(tiers.size());
  for (TierId tier : tiers) out.push_back(static_cast<uint8_t>(tier));
  return out;
}

inline Result<std::vector<TierId>> BytesToTiers(const fb::Vector<uint8_t>* tiers, size_t count) {
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

inline fb::Offset<fb::Vector<fb::Offset<w::Counter>>> EncodeCounters(
    fb::FlatBufferBuilder& builder, const std::vector<NamedCounter>& counters) {
  std::vector<fb::Offset<w::Counter>> offsets;
  offsets.reserve(counters.size());
  for (const NamedCounter& counter : counters) {
    offsets.push_back(w::CreateCounterDirect(builder, counter.name.c_str(), counter.value));
  }
  return builder.CreateVector(offsets);
}

inline std::vector<NamedCounter> DecodeCounters(
    const fb::Vector<fb::Offset<w::Counter>>* counters) {
  std::vector<NamedCounter> out;
  if (counters == nullptr) return out;
  out.reserve(counters->size());
  for (const w::Counter* counter : *counters) {
    out.push_back({std::string(View(counter->name())), counter->value()});
  }
  return out;
}

inline fb::Offset<w::RdmaEndpoint> EncodeRdmaEndpoint(fb::FlatBufferBuilder& builder,
                                                      const std::optional<RdmaEndpoint>& endpoint) {
  if (!endpoint) return 0;
  auto gid = builder.CreateVector(endpoint->gid.data(), endpoint->gid.size());
  return w::CreateRdmaEndpoint(builder, endpoint->qp_num, endpoint->psn, endpoint->lid, gid,
                               endpoint->mtu);
}

inline Result<std::optional<RdmaEndpoint>> DecodeRdmaEndpoint(const w::RdmaEndpoint* in,
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

}  // namespace kvtier::protocol::codec
