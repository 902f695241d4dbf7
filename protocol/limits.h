#pragma once

#include <cstdint>

#include "common/status.h"

namespace kvtier::protocol {

// Limits a server enforces on every request; it sends them in Hello so
// clients can split batches before hitting them.
struct Limits {
  uint32_t max_metadata_bytes = 1 << 20;      // FlatBuffers metadata per frame
  uint32_t max_keys_per_request = 4096;       // keys in one batched request
  uint32_t max_key_bytes = 256;               // one key
  uint64_t max_value_bytes = 64ull << 20;     // one value
  uint64_t max_payload_bytes = 256ull << 20;  // all values of one frame

  // Checks the limits are usable together; names the bad field.
  Status Validate() const;
};

}  // namespace kvtier::protocol
