#include "protocol/limits.h"

#include <string>

namespace kvtier::protocol {

Status Limits::Validate() const {
  if (max_metadata_bytes < 1024) {
    return InvalidArgument("limits.max_metadata_bytes must be at least 1024, got " +
                           std::to_string(max_metadata_bytes));
  }
  if (max_keys_per_request == 0) return InvalidArgument("limits.max_keys_per_request must be > 0");
  if (max_key_bytes == 0 || max_key_bytes > 65535) {
    return InvalidArgument("limits.max_key_bytes must be in 1..65535, got " +
                           std::to_string(max_key_bytes));
  }
  if (max_value_bytes == 0) return InvalidArgument("limits.max_value_bytes must be > 0");
  if (max_payload_bytes < max_value_bytes) {
    return InvalidArgument("limits.max_payload_bytes (" + std::to_string(max_payload_bytes) +
                           ") must be >= limits.max_value_bytes (" +
                           std::to_string(max_value_bytes) + ")");
  }
  return Status::Ok();
}

}  // namespace kvtier::protocol
