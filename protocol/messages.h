#pragma once

// Typed forms of every metadata table in kvtier.fbs, with encoders and
// checking decoders. A decoder first runs the FlatBuffers verifier (bounds),
// then validates meaning (counts, lengths, enum ranges, limits); nothing from
// the network is used before both pass. Decoded requests hold string_views
// into the metadata buffer, which must outlive them.

#include <flatbuffers/flatbuffers.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "protocol/limits.h"
#include "protocol/transport.h"

namespace kvtier::protocol {

enum class TierId : uint8_t { kNone = 0, kDram = 1, kNvme = 2, kBlob = 3 };
inline constexpr uint8_t kMaxTierId = 3;
std::string_view TierName(TierId tier);

inline constexpr size_t kMaxNamespaceNameBytes = 128;

// Encoded metadata, owned. bytes() stays valid while the object lives.
class Metadata {
 public:
  Metadata() = default;
  explicit Metadata(flatbuffers::DetachedBuffer buffer) : buffer_(std::move(buffer)) {}
  std::span<const std::byte> bytes() const {
    return {reinterpret_cast<const std::byte*>(buffer_.data()), buffer_.size()};
  }

 private:
  flatbuffers::DetachedBuffer buffer_;
};

// One side's RDMA queue pair (reliable connected), as exchanged in Hello.
struct RdmaEndpoint {
  uint32_t qp_num = 0;  // below 2^24
  uint32_t psn = 0;     // below 2^24
  uint16_t lid = 0;
  std::array<uint8_t, 16> gid{};
  uint8_t mtu = 0;  // 1..5, libibverbs' enum ibv_mtu
  bool operator==(const RdmaEndpoint&) const = default;
};

struct HelloRequest {
  uint8_t min_version = 1;
  uint8_t max_version = 1;
  std::string client_name;
  uint64_t shm_region_bytes = 0;  // a sealed memfd of this size came with the frame
  std::string token;              // access token ("" for none); never logged
  // Values by RDMA: the client's queue pair and the memory it registered
  // (checked on decode: valid, disjoint per rkey, at most
  // RegisteredRegions::kMaxRegions).
  std::optional<RdmaEndpoint> rdma;
  std::vector<BufferRef> rdma_regions;
};
inline constexpr size_t kMaxTokenBytes = 256;

struct HelloResponse {
  uint8_t version = 0;
  std::string server_name;
  std::string server_id;
  Limits limits;
  std::vector<std::string> namespaces;
  std::vector<std::string> namespace_models;  // as namespaces; "" for none
  std::vector<std::string> namespace_kinds;   // as namespaces; "" when the server did not say
  std::vector<bool> namespace_writable;       // as namespaces; true when the server did not say
  std::vector<std::string> transports;        // "tcp", "shm"
  // Answering a Hello that asked for RDMA: the server's queue pair, or, when
  // absent, why the values go over the stream (rdma_refusal).
  std::optional<RdmaEndpoint> rdma;
  std::string rdma_refusal;
};

// Where in client memory a reply's values may be placed: an offset into
// the connection's shared region (key 0), or on RDMA a registered address
// and its rkey.
struct RegionArea {
  uint64_t offset = 0;
  uint64_t capacity = 0;  // 0: none offered
  uint32_t key = 0;
};

// Get, Exists, Delete and MatchPrefix requests: a namespace and keys.
struct KeysRequest {
  std::string_view namespace_name;
  std::vector<std::string_view> keys;
  uint32_t lease_ms = 0;     // MatchPrefix: lease the matched blocks this long
  uint64_t lease_id = 0;     // Get: serve the blocks this lease holds
  uint32_t deadline_ms = 0;  // GetPrefix: answer within this long (0: none)
  bool bulk = false;         // bulk class (else: the namespace's class)
  RegionArea area;           // Get, GetPrefix over shared memory
};

// KB metadata of one block (all zero when not given).
struct KbMetadata {
  uint32_t token_count = 0;
  uint32_t position_offset = 0;
  uint64_t producer = 0;
};

enum class PrefixStop : uint8_t {
  kComplete = 0,
  kMiss = 1,
  kDeadline = 2,
  kPayloadLimit = 3,
  kError = 4
};
std::string_view PrefixStopName(PrefixStop stop);

struct GetPrefixResponse {
  uint32_t delivered = 0;
  PrefixStop stop_reason = PrefixStop::kComplete;
  StatusCode stop_code = StatusCode::kOk;  // with kError
  std::vector<uint64_t> value_lengths;     // `delivered` of each
  std::vector<uint64_t> checksums;
  std::vector<TierId> tiers;
  std::vector<KbMetadata> kb;  // `delivered` of each, or empty (not a kb namespace)
};

// How hard the server should hold a block (tiers::PinLevel on the wire).
enum class Pin : uint8_t { kNone = 0, kSoft = 1, kHard = 2 };

// Bytes per value of a trailing checksum (frame flag kChecksumsTrail).
inline constexpr uint64_t kTrailingChecksumBytes = 8;

// How the keys of a put continue a prefix chain (KV namespaces: the keys
// of one put are consecutive links; docs/keys.md).
struct PutChain {
  std::string_view parent;    // the key before keys[0]; empty: keys[0] starts a chain or is unknown
  bool partial_tail = false;  // the last key is the partial last block of a request
};

struct PutRequest {
  std::string_view namespace_name;
  std::vector<std::string_view> keys;
  std::vector<uint64_t> value_lengths;   // one per key, sums to the payload length
  std::vector<uint64_t> checksums;       // one per key, or empty when the client sent none
  std::vector<uint32_t> ttls_ms;         // one per key, or empty: the namespace's default
  std::vector<Pin> pins;                 // one per key, or empty: the namespace's default
  bool bulk = false;                     // bulk class (else: the namespace's class)
  std::vector<KbMetadata> kb;            // KB metadata: one per key, or empty
  std::vector<uint64_t> region_offsets;  // with kPayloadInRegion: where each value is
  uint32_t region_key = 0;               // on RDMA: the rkey of those addresses
  std::string_view parent_key;           // the chain key before keys[0]; empty: none given
  bool partial_tail = false;             // the last key is a request's partial last block
};

struct PutResponse {
  std::vector<StatusCode> codes;
};

struct GetResponse {
  std::vector<StatusCode> codes;
  std::vector<uint64_t> value_lengths;  // 0 where codes[i] != kOk
  std::vector<uint64_t> checksums;
  std::vector<TierId> tiers;
  std::vector<KbMetadata> kb;  // one per key, or empty (not a kb namespace)
};

struct ExistsResponse {
  std::vector<TierId> tiers;  // kNone: absent
};

struct DeleteResponse {
  std::vector<StatusCode> codes;  // kOk deleted, kNotFound absent
};

struct MatchPrefixResponse {
  uint32_t matched = 0;
  std::vector<TierId> tiers;  // size() == matched
  uint64_t lease_id = 0;      // 0: no lease taken
  uint32_t lease_ms = 0;
};

struct NamedCounter {
  std::string name;
  uint64_t value = 0;
};

struct TierStatsInfo {
  std::string name;
  uint64_t capacity_bytes = 0;
  uint64_t used_bytes = 0;
  uint64_t items = 0;
  std::vector<NamedCounter> counters;
};

struct NamespaceStatsInfo {
  std::string name;
  std::string kind;
  std::vector<NamedCounter> counters;
};

struct StatsResponse {
  std::string server_name;
  std::string server_id;
  uint64_t uptime_seconds = 0;
  std::vector<NamedCounter> counters;
  std::vector<TierStatsInfo> tiers;
  std::vector<NamespaceStatsInfo> namespaces;
};

// ---- Encoders (cannot fail: inputs come from our own code) ----
Metadata EncodeErrorReply(const Status& status);
Metadata EncodeHelloRequest(const HelloRequest& request);
Metadata EncodeHelloResponse(const HelloResponse& response);
Metadata EncodeKeysRequest(std::string_view namespace_name, std::span<const std::string> keys,
                           uint32_t lease_ms = 0, uint64_t lease_id = 0, uint32_t deadline_ms = 0,
                           bool bulk = false, RegionArea area = {});
Metadata EncodeGetPrefixResponse(const GetPrefixResponse& response);
Metadata EncodeReleaseRequest(uint64_t lease_id);
Metadata EncodeReleaseResponse(bool released);
Metadata EncodePutRequest(std::string_view namespace_name, std::span<const std::string> keys,
                          std::span<const uint64_t> value_lengths,
                          std::span<const uint64_t> checksums,
                          std::span<const uint32_t> ttls_ms = {}, std::span<const Pin> pins = {},
                          bool bulk = false, std::span<const KbMetadata> kb = {},
                          std::span<const uint64_t> region_offsets = {}, uint32_t region_key = 0,
                          const PutChain& chain = {});
Metadata EncodePutResponse(const PutResponse& response);
Metadata EncodeGetResponse(const GetResponse& response);
Metadata EncodeExistsResponse(const ExistsResponse& response);
Metadata EncodeDeleteResponse(const DeleteResponse& response);
Metadata EncodeMatchPrefixResponse(const MatchPrefixResponse& response);
Metadata EncodeFlushResponse();
Metadata EncodeStatsRequest();
Metadata EncodeStatsResponse(const StatsResponse& response);

// ---- Request decoders (server side): kInvalidArgument on any failure ----
// A request whose metadata fails the FlatBuffers verifier gets a status whose
// message starts with kVerifyFailurePrefix, so servers can count it apart.
inline constexpr std::string_view kVerifyFailurePrefix = "metadata failed verification";
bool IsVerifyFailure(const Status& status);

Result<HelloRequest> DecodeHelloRequest(std::span<const std::byte> metadata);
// `payload_length` is the frame's; the value lengths must add up to it.
// With `checksums_trail` (frame flag kChecksumsTrail) the payload also
// holds one 8-byte checksum per value after the values, and the metadata
// must carry none.
Result<PutRequest> DecodePutRequest(std::span<const std::byte> metadata, const Limits& limits,
                                    uint64_t payload_length, bool checksums_trail = false);
Result<KeysRequest> DecodeKeysRequest(std::span<const std::byte> metadata, const Limits& limits);
// Only the reply area of a keys request (for the connection, before the
// service decodes the rest); none when the metadata does not verify.
RegionArea DecodeRegionArea(std::span<const std::byte> metadata);
Status DecodeStatsRequest(std::span<const std::byte> metadata);
Result<uint64_t> DecodeReleaseRequest(std::span<const std::byte> metadata);

// ---- Response decoders (client side): kProtocolError on any failure ----
// The carried status of an ErrorReply (never OK; a malformed reply yields
// kProtocolError).
Status DecodeErrorReply(std::span<const std::byte> metadata);
Result<HelloResponse> DecodeHelloResponse(std::span<const std::byte> metadata);
Result<PutResponse> DecodePutResponse(std::span<const std::byte> metadata, size_t key_count);
Result<GetResponse> DecodeGetResponse(std::span<const std::byte> metadata, size_t key_count,
                                      uint64_t payload_length);
Result<ExistsResponse> DecodeExistsResponse(std::span<const std::byte> metadata, size_t key_count);
Result<DeleteResponse> DecodeDeleteResponse(std::span<const std::byte> metadata, size_t key_count);
Result<MatchPrefixResponse> DecodeMatchPrefixResponse(std::span<const std::byte> metadata,
                                                      size_t key_count);
Result<StatsResponse> DecodeStatsResponse(std::span<const std::byte> metadata);
Status DecodeFlushResponse(std::span<const std::byte> metadata);
Result<bool> DecodeReleaseResponse(std::span<const std::byte> metadata);
Result<GetPrefixResponse> DecodeGetPrefixResponse(std::span<const std::byte> metadata,
                                                  size_t key_count, uint64_t payload_length);

}  // namespace kvtier::protocol
