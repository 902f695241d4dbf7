#include "protocol/frame.h"

#include <string>

namespace kvtier::protocol {
namespace {

template <typename T>
void StoreLe(std::byte* out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    out[i] = static_cast<std::byte>((static_cast<uint64_t>(value) >> (8 * i)) & 0xff);
  }
}

template <typename T>
T LoadLe(const std::byte* in) {
  uint64_t value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) {
    value |= static_cast<uint64_t>(std::to_integer<uint8_t>(in[i])) << (8 * i);
  }
  return static_cast<T>(value);
}

}  // namespace

bool IsKnownOpcode(uint8_t opcode) {
  return opcode >= static_cast<uint8_t>(Opcode::kHello) && opcode <= kMaxOpcode;
}

std::string_view OpcodeName(Opcode opcode) {
  switch (opcode) {
    case Opcode::kHello:
      return "hello";
    case Opcode::kPut:
      return "put";
    case Opcode::kGet:
      return "get";
    case Opcode::kExists:
      return "exists";
    case Opcode::kDelete:
      return "delete";
    case Opcode::kMatchPrefix:
      return "match_prefix";
    case Opcode::kStats:
      return "stats";
    case Opcode::kFlush:
      return "flush";
    case Opcode::kRelease:
      return "release";
    case Opcode::kGetPrefix:
      return "get_prefix";
    case Opcode::kList:
      return "list";
    case Opcode::kStat:
      return "stat";
    case Opcode::kReadRange:
      return "read_range";
    case Opcode::kCreateObject:
      return "create_object";
    case Opcode::kCommitObject:
      return "commit_object";
    case Opcode::kAbortObject:
      return "abort_object";
    case Opcode::kRenameObject:
      return "rename_object";
    case Opcode::kDeleteObject:
      return "delete_object";
  }
  return "unknown";
}

FrameHeaderBytes EncodeFrameHeader(const FrameHeader& header) {
  FrameHeaderBytes out{};
  for (size_t i = 0; i < kMagic.size(); ++i) out[i] = static_cast<std::byte>(kMagic[i]);
  out[4] = static_cast<std::byte>(header.version);
  out[5] = static_cast<std::byte>(header.opcode);
  StoreLe<uint16_t>(&out[6], header.flags);
  StoreLe<uint64_t>(&out[8], header.request_id);
  StoreLe<uint32_t>(&out[16], header.metadata_length);
  StoreLe<uint32_t>(&out[20], 0);
  StoreLe<uint64_t>(&out[24], header.payload_length);
  return out;
}

Result<FrameHeader> DecodeFrameHeader(std::span<const std::byte, kFrameHeaderSize> bytes,
                                      const Limits& limits, FrameProblem* problem) {
  FrameProblem ignored;
  FrameProblem& why = problem != nullptr ? *problem : ignored;
  why = FrameProblem::kNone;
  for (size_t i = 0; i < kMagic.size(); ++i) {
    if (std::to_integer<uint8_t>(bytes[i]) != kMagic[i]) {
      why = FrameProblem::kBadMagic;
      return ProtocolError("bad magic: not a kvtier frame");
    }
  }
  FrameHeader header;
  header.version = std::to_integer<uint8_t>(bytes[4]);
  header.opcode = std::to_integer<uint8_t>(bytes[5]);
  header.flags = LoadLe<uint16_t>(&bytes[6]);
  header.request_id = LoadLe<uint64_t>(&bytes[8]);
  header.metadata_length = LoadLe<uint32_t>(&bytes[16]);
  const uint32_t reserved = LoadLe<uint32_t>(&bytes[20]);
  header.payload_length = LoadLe<uint64_t>(&bytes[24]);

  if (header.version != kProtocolVersion) {
    why = FrameProblem::kBadVersion;
    return ProtocolError("unsupported protocol version " + std::to_string(header.version) +
                         " (this side speaks " + std::to_string(kProtocolVersion) + ")");
  }
  if (reserved != 0) {
    why = FrameProblem::kBadHeader;
    return ProtocolError("reserved header bytes are not zero");
  }
  if ((header.flags & ~frame_flags::kKnownMask) != 0) {
    why = FrameProblem::kBadHeader;
    return ProtocolError("unknown frame flags 0x" + std::to_string(header.flags));
  }
  if (header.metadata_length > limits.max_metadata_bytes) {
    why = FrameProblem::kOversize;
    return ProtocolError("metadata length " + std::to_string(header.metadata_length) +
                         " exceeds limit " + std::to_string(limits.max_metadata_bytes));
  }
  if (header.payload_length > limits.max_payload_bytes) {
    why = FrameProblem::kOversize;
    return ProtocolError("payload length " + std::to_string(header.payload_length) +
                         " exceeds limit " + std::to_string(limits.max_payload_bytes));
  }
  return header;
}

}  // namespace kvtier::protocol
