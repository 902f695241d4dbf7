#include "tiers/dram/eviction_policy.h"

#include <string>

#include "tiers/dram/lru_policy.h"
#include "tiers/dram/s3fifo_policy.h"

namespace kvtier::tiers {

Result<EvictionPolicyKind> ParseEvictionPolicyKind(std::string_view name) {
  if (name == "s3fifo") return EvictionPolicyKind::kS3Fifo;
  if (name == "lru") return EvictionPolicyKind::kLru;
  return InvalidArgument("unknown eviction policy '" + std::string(name) +
                         "' (expected s3fifo or lru)");
}

std::string_view EvictionPolicyName(EvictionPolicyKind kind) {
  return kind == EvictionPolicyKind::kLru ? "lru" : "s3fifo";
}

std::unique_ptr<EvictionPolicy> MakeEvictionPolicy(EvictionPolicyKind kind) {
  if (kind == EvictionPolicyKind::kLru) return std::make_unique<LruPolicy>();
  return std::make_unique<S3FifoPolicy>();
}

}  // namespace kvtier::tiers
