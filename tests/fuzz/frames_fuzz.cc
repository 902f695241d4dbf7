// Fuzz target: one frame as it arrives on a socket (32-byte header,
// metadata, payload). The header goes through the frame decoder; the
// metadata through every request decoder (the server's side) and every
// response decoder (the client's side), each of which must verify the
// FlatBuffers before reading them. Whatever the bytes, nothing may crash,
// read out of bounds or allocate beyond the limits; a header that decodes
// must encode back to the same bytes.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "protocol/frame.h"
#include "protocol/messages.h"

namespace kvtier::protocol {
namespace {

void Check(bool condition) {
  if (!condition) std::abort();
}

void DecodeAsRequests(std::span<const std::byte> metadata, const Limits& limits,
                      uint64_t payload_length) {
  (void)DecodeHelloRequest(metadata);
  for (const bool trail : {false, true}) {
    if (auto put = DecodePutRequest(metadata, limits, payload_length, trail); put.ok()) {
      // A decoded put is consistent: one length and checksum per key, and
      // the lengths (with the trailing checksums) add up to the payload.
      Check(put->value_lengths.size() == put->keys.size());
      Check(put->checksums.empty() || put->checksums.size() == put->keys.size());
      Check(!trail || put->checksums.empty());
      uint64_t total = trail ? kTrailingChecksumBytes * put->keys.size() : 0;
      for (uint64_t length : put->value_lengths) total += length;
      Check(total == payload_length);
    }
  }
  if (auto keys = DecodeKeysRequest(metadata, limits); keys.ok()) {
    Check(keys->keys.size() <= limits.max_keys_per_request);
    for (const auto& key : keys->keys) Check(!key.empty() && key.size() <= limits.max_key_bytes);
  }
  (void)DecodeRegionArea(metadata);
  (void)DecodeStatsRequest(metadata);
  (void)DecodeReleaseRequest(metadata);
}

void DecodeAsResponses(std::span<const std::byte> metadata, size_t key_count,
                       uint64_t payload_length) {
  Check(!DecodeErrorReply(metadata).ok());
  (void)DecodeHelloResponse(metadata);
  (void)DecodePutResponse(metadata, key_count);
  if (auto get = DecodeGetResponse(metadata, key_count, payload_length); get.ok()) {
    // The client slices the payload by these lengths: they must fit it.
    Check(get->codes.size() == key_count && get->value_lengths.size() == key_count);
    uint64_t total = 0;
    for (uint64_t length : get->value_lengths) total += length;
    Check(total <= payload_length);
  }
  (void)DecodeExistsResponse(metadata, key_count);
  (void)DecodeDeleteResponse(metadata, key_count);
  if (auto match = DecodeMatchPrefixResponse(metadata, key_count); match.ok()) {
    Check(match->matched <= key_count && match->tiers.size() >= match->matched);
  }
  (void)DecodeStatsResponse(metadata);
  (void)DecodeFlushResponse(metadata);
  (void)DecodeReleaseResponse(metadata);
  if (auto prefix = DecodeGetPrefixResponse(metadata, key_count, payload_length); prefix.ok()) {
    Check(prefix->delivered <= key_count);
    Check(prefix->value_lengths.size() >= prefix->delivered);
    uint64_t total = 0;
    for (uint32_t i = 0; i < prefix->delivered; ++i) total += prefix->value_lengths[i];
    Check(total <= payload_length);
  }
}

}  // namespace
}  // namespace kvtier::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace kvtier::protocol;
  if (size < kFrameHeaderSize) return 0;
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  FrameHeaderBytes header_bytes;
  std::memcpy(header_bytes.data(), bytes, kFrameHeaderSize);
  // Small limits, as a server configured tightly would send.
  Limits limits;
  limits.max_metadata_bytes = 1 << 16;
  limits.max_keys_per_request = 64;
  limits.max_key_bytes = 64;
  limits.max_value_bytes = 1 << 20;
  limits.max_payload_bytes = 4 << 20;
  auto header = DecodeFrameHeader(header_bytes, limits);
  if (!header.ok()) return 0;
  Check(EncodeFrameHeader(*header) == header_bytes);
  const std::span<const std::byte> rest(bytes + kFrameHeaderSize, size - kFrameHeaderSize);
  const std::span<const std::byte> metadata =
      rest.first(std::min<size_t>(rest.size(), header->metadata_length));
  DecodeAsRequests(metadata, limits, header->payload_length);
  // The reply to a request of (request_id mod 65) keys.
  DecodeAsResponses(metadata, header->request_id % 65, header->payload_length);
  return 0;
}
