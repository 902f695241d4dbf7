#pragma once

// The payload of a put sent with trailing checksums (frame flag
// kChecksumsTrail, docs/protocol.md): the values, then one little-endian
// u64 checksum per value. The values go out in groups of about kGroupBytes,
// and each piece is hashed as its group is formed, just before it is sent:
// the bytes are read from memory once for both, while they are in cache.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/checksum.h"

namespace kvtier::client {

class TrailingChecksums {
 public:
  static constexpr uint64_t kGroupBytes = 256 << 10;
  static constexpr size_t kMaxGroupPieces = 256;  // within IOV_MAX

  // `values` must outlive this object and stay unchanged while it is used.
  explicit TrailingChecksums(std::span<const std::span<const std::byte>> values);

  // The next pieces to send, in order, already hashed; the trailer comes
  // after the last value; then empty. Valid until the next call.
  std::span<const std::span<const std::byte>> Next();

 private:
  std::span<const std::span<const std::byte>> values_;
  size_t index_ = 0;     // the value being grouped
  uint64_t offset_ = 0;  // bytes of values_[index_] already grouped
  // A value split across groups, hashed so far; made at the first split.
  std::optional<BlockChecksummer> partial_;
  std::vector<std::byte> trailer_;
  bool trailer_given_ = false;
  std::vector<std::span<const std::byte>> group_;
};

}  // namespace kvtier::client
