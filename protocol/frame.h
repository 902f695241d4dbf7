#pragma once

// The fixed 32-byte frame header that starts every message in both
// directions. Layout (little-endian), as in docs/protocol.md:
//
//   offset size field
//   0      4    magic           "KVTR" (0x4B 0x56 0x54 0x52)
//   4      1    version         kProtocolVersion
//   5      1    opcode          Opcode
//   6      2    flags           FrameFlags bits
//   8      8    request_id      chosen by the client, echoed in the response
//   16     4    metadata_length bytes of FlatBuffers metadata that follow
//   20     4    reserved        must be 0
//   24     8    payload_length  raw value bytes after the metadata

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "common/result.h"
#include "protocol/limits.h"

namespace kvtier::protocol {

inline constexpr size_t kFrameHeaderSize = 32;
inline constexpr std::array<uint8_t, 4> kMagic = {'K', 'V', 'T', 'R'};
inline constexpr uint8_t kProtocolVersion = 1;

enum class Opcode : uint8_t {
  kHello = 1,
  kPut = 2,
  kGet = 3,
  kExists = 4,
  kDelete = 5,
  kMatchPrefix = 6,
  kStats = 7,
  kFlush = 8,
  kRelease = 9,
  kGetPrefix = 10,
  kList = 11,
  kStat = 12,
  kReadRange = 13,
  kCreateObject = 14,
  kCommitObject = 15,
  kAbortObject = 16,
  kRenameObject = 17,
  kDeleteObject = 18,
};
// The highest opcode above: tables indexed by opcode have kMaxOpcode + 1 slots.
inline constexpr uint8_t kMaxOpcode = static_cast<uint8_t>(Opcode::kDeleteObject);

// True for the opcodes listed above.
bool IsKnownOpcode(uint8_t opcode);
std::string_view OpcodeName(Opcode opcode);

namespace frame_flags {
inline constexpr uint16_t kResponse = 1 << 0;  // set on every server-to-client frame
inline constexpr uint16_t kError = 1 << 1;     // the metadata is an ErrorReply
// The frame's payload_length bytes are in the connection's shared region
// (at the offset its metadata names), not on the stream.
inline constexpr uint16_t kPayloadInRegion = 1 << 2;
// Put only, on the stream: the payload is the values followed by one
// little-endian u64 checksum per value, instead of checksums in the
// metadata. A client then hashes each piece of a value just before it
// sends it, while the bytes are in its cache.
inline constexpr uint16_t kChecksumsTrail = 1 << 3;
inline constexpr uint16_t kKnownMask = kResponse | kError | kPayloadInRegion | kChecksumsTrail;
}  // namespace frame_flags

struct FrameHeader {
  uint8_t version = kProtocolVersion;
  uint8_t opcode = 0;  // raw: may be unknown when decoded from the wire
  uint16_t flags = 0;
  uint64_t request_id = 0;
  uint32_t metadata_length = 0;
  uint64_t payload_length = 0;
};

// Why a header was rejected, for counters and logs.
enum class FrameProblem : uint8_t { kNone, kBadMagic, kBadVersion, kBadHeader, kOversize };

using FrameHeaderBytes = std::array<std::byte, kFrameHeaderSize>;

FrameHeaderBytes EncodeFrameHeader(const FrameHeader& header);

// Decodes and checks a header against `limits`, before anything is allocated
// for the rest of the frame. Errors (all kProtocolError, since after any of
// them the stream cannot be trusted): bad magic, unsupported version, nonzero
// reserved bytes, unknown flag bits, metadata or payload over the limits.
// An unknown opcode is NOT an error here: the frame is still well delimited
// and the caller answers it with kUnsupported and carries on.
// `problem`, when given, receives the kind of rejection (kNone on success).
Result<FrameHeader> DecodeFrameHeader(std::span<const std::byte, kFrameHeaderSize> bytes,
                                      const Limits& limits, FrameProblem* problem = nullptr);

}  // namespace kvtier::protocol
