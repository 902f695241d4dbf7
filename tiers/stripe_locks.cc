#include "tiers/stripe_locks.h"

#include <xxhash.h>

namespace kvtier::tiers {

size_t StripeLocks::IndexOf(std::string_view index_key) {
  return XXH3_64bits(index_key.data(), index_key.size()) % kStripes;
}

}  // namespace kvtier::tiers
