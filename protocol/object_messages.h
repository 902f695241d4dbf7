#pragma once

// Typed forms of the object messages (List, Stat, ReadRange; kvtier.fbs,
// docs/protocol.md "Objects"), with encoders and checking decoders in the
// manner of messages.h: the verifier first, then meaning and limits.
// Decoded requests hold string_views into the metadata buffer, which must
// outlive them.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "protocol/frame.h"
#include "protocol/messages.h"

namespace kvtier::protocol {

// An object path: 1..kMaxObjectPathBytes bytes of UTF-8, no 0x00 byte (the object
// block key separates the path from the block index with one), no "." or
// ".." segment between slashes.
inline constexpr size_t kMaxObjectPathBytes = 1024;
// A List page holds at most this many objects and prefixes together.
inline constexpr uint32_t kMaxListResults = 5000;
inline constexpr size_t kMaxPageTokenBytes = 2048;

struct ObjectEntry {
  std::string path;
  uint64_t size = 0;
  std::string version;
  uint64_t modified_ms = 0;
  uint64_t block_bytes = 0;
  bool in_blob = false;
  bool operator==(const ObjectEntry&) const = default;
};

struct ListRequest {
  std::string_view namespace_name;
  std::string_view prefix;
  std::string_view delimiter;  // "" or one byte
  std::string_view page_token;
  uint32_t max_results = 0;  // 0: kMaxListResults
};

struct ListResponse {
  std::vector<ObjectEntry> objects;
  std::vector<std::string> prefixes;
  std::string next_page_token;  // "": complete
};

struct StatRequest {
  std::string_view namespace_name;
  std::string_view path;
};

struct ReadRangeRequest {
  std::string_view namespace_name;
  std::string_view path;
  uint64_t offset = 0;
  uint64_t length = 0;
  bool bulk = false;
};

struct ReadRangeResponse {
  ObjectEntry object;
  uint64_t offset = 0;
  uint64_t length = 0;
};

// The five writes of checkpoint objects share one request and one
// response table; the opcode says which fields matter (kvtier.fbs).
struct ObjectWriteRequest {
  std::string_view namespace_name;
  std::string_view path;     // CreateObject, RenameObject (from), DeleteObject
  std::string_view to_path;  // RenameObject
  std::string_view session;  // CommitObject, AbortObject
  uint64_t size = 0;         // CommitObject
};

struct ObjectWriteResponse {
  std::string session;  // CreateObject
  uint64_t block_bytes = 0;
  bool has_object = false;
  ObjectEntry object;  // CommitObject
};

inline constexpr size_t kMaxSessionBytes = 64;

// Checks an object path (kInvalidArgument with the reason).
Status CheckObjectPath(std::string_view path);

// ---- Encoders ----
Metadata EncodeListRequest(const ListRequest& request);
Metadata EncodeListResponse(const ListResponse& response);
Metadata EncodeStatRequest(const StatRequest& request);
Metadata EncodeStatResponse(const ObjectEntry& object);
Metadata EncodeReadRangeRequest(const ReadRangeRequest& request);
Metadata EncodeReadRangeResponse(const ReadRangeResponse& response);
Metadata EncodeObjectWriteRequest(const ObjectWriteRequest& request);
Metadata EncodeObjectWriteResponse(const ObjectWriteResponse& response);

// ---- Request decoders (server side): kInvalidArgument on any failure ----
Result<ListRequest> DecodeListRequest(std::span<const std::byte> metadata);
Result<StatRequest> DecodeStatRequest(std::span<const std::byte> metadata);
// `limits.max_payload_bytes` bounds the length one request may ask for.
Result<ReadRangeRequest> DecodeReadRangeRequest(std::span<const std::byte> metadata,
                                                const Limits& limits);

// The fields `opcode` (kCreateObject .. kDeleteObject) needs must be
// present and valid: paths by CheckObjectPath, a session of 1..64 bytes.
Result<ObjectWriteRequest> DecodeObjectWriteRequest(std::span<const std::byte> metadata,
                                                    Opcode opcode);

// ---- Response decoders (client side): kProtocolError on any failure ----
Result<ListResponse> DecodeListResponse(std::span<const std::byte> metadata);
Result<ObjectEntry> DecodeStatResponse(std::span<const std::byte> metadata);
// The payload must hold exactly `length` bytes, within what was asked.
Result<ReadRangeResponse> DecodeReadRangeResponse(std::span<const std::byte> metadata,
                                                  uint64_t asked_length, uint64_t payload_length);
Result<ObjectWriteResponse> DecodeObjectWriteResponse(std::span<const std::byte> metadata);

}  // namespace kvtier::protocol
