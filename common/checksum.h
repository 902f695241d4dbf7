#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace kvtier {

// The block checksum: XXH3-64 with seed 0 over the value bytes. Computed once
// at the edge (the client) and verified wherever the bytes come back from a
// medium that can corrupt them.
uint64_t BlockChecksum(std::span<const std::byte> bytes);

// Incremental form of BlockChecksum for bytes that arrive in pieces. Gives the
// same result as BlockChecksum over the concatenation of every Update.
class BlockChecksummer {
 public:
  BlockChecksummer();
  ~BlockChecksummer();
  BlockChecksummer(const BlockChecksummer&) = delete;
  BlockChecksummer& operator=(const BlockChecksummer&) = delete;

  void Update(std::span<const std::byte> bytes);
  uint64_t Digest() const;
  void Reset();  // as newly constructed

 private:
  void* state_;  // XXH3_state_t, kept opaque so xxhash.h stays out of headers
};

}  // namespace kvtier
