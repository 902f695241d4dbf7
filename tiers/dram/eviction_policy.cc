#include "tiers/dram/eviction_policy.h"

#include <string>

#include "tiers/dram/arc_policy.h"
#include "tiers/dram/hit_density_policy.h"
#include "tiers/dram/priority_policy.h"
#include "tiers/dram/s3fifo_policy.h"

namespace kvtier::tiers {

Result<EvictionPolicyKind> ParseEvictionPolicyKind(std::string_view name) {
  if (name == "density") return EvictionPolicyKind::kDensity;
  if (name == "prefix") return EvictionPolicyKind::kPrefix;
  if (name == "lru") return EvictionPolicyKind::kLru;
  if (name == "s3fifo") return EvictionPolicyKind::kS3Fifo;
  if (name == "arc") return EvictionPolicyKind::kArc;
  return InvalidArgument("unknown eviction policy '" + std::string(name) +
                         "' (expected density, prefix, lru, s3fifo or arc)");
}

std::string_view EvictionPolicyName(EvictionPolicyKind kind) {
  switch (kind) {
    case EvictionPolicyKind::kPrefix:
      return "prefix";
    case EvictionPolicyKind::kLru:
      return "lru";
    case EvictionPolicyKind::kS3Fifo:
      return "s3fifo";
    case EvictionPolicyKind::kArc:
      return "arc";
    case EvictionPolicyKind::kDensity:
      break;
  }
  return "density";
}

std::unique_ptr<EvictionPolicy> MakeEvictionPolicy(EvictionPolicyKind kind) {
  switch (kind) {
    case EvictionPolicyKind::kPrefix:
      return std::make_unique<PrefixPolicy>();
    case EvictionPolicyKind::kLru:
      return std::make_unique<LruPolicy>();
    case EvictionPolicyKind::kS3Fifo:
      return std::make_unique<S3FifoPolicy>();
    case EvictionPolicyKind::kArc:
      return std::make_unique<ArcPolicy>();
    case EvictionPolicyKind::kDensity:
      break;
  }
  return std::make_unique<HitDensityPolicy>();
}

}  // namespace kvtier::tiers
