#include "tiers/dram/ghost_filter.h"

#include <algorithm>

#include "tiers/dram/hash_mix.h"

namespace kvtier::tiers {

// The probe positions come from the hash's two halves (Kirsch and
// Mitzenmacher's double hashing), mixed once so that sequential hashes
// spread.
bool GhostFilter::Test(const std::vector<uint64_t>& bits, uint64_t hash) {
  if (bits.empty()) return false;
  const uint64_t mixed = MixHash64(hash);
  const uint64_t h1 = mixed & 0xffffffffu;
  const uint64_t h2 = (mixed >> 32) | 1;
  const uint64_t size = bits.size() * 64;
  for (int i = 0; i < kProbes; ++i) {
    const uint64_t bit = (h1 + i * h2) % size;
    if ((bits[bit / 64] & (uint64_t{1} << (bit % 64))) == 0) return false;
  }
  return true;
}

void GhostFilter::Set(std::vector<uint64_t>& bits, uint64_t hash) {
  const uint64_t mixed = MixHash64(hash);
  const uint64_t h1 = mixed & 0xffffffffu;
  const uint64_t h2 = (mixed >> 32) | 1;
  const uint64_t size = bits.size() * 64;
  for (int i = 0; i < kProbes; ++i) {
    const uint64_t bit = (h1 + i * h2) % size;
    bits[bit / 64] |= uint64_t{1} << (bit % 64);
  }
}

void GhostFilter::Add(uint64_t hash, size_t live_entries) {
  if (added_ >= quota_) {
    previous_ = std::move(current_);
    quota_ = std::max(kMinQuota, live_entries * kTurnoversPerGeneration);
    current_.assign((quota_ * kBitsPerAdd + 63) / 64, 0);
    added_ = 0;
  }
  Set(current_, hash);
  ++added_;
}

bool GhostFilter::MayContain(uint64_t hash) const {
  return Test(current_, hash) || Test(previous_, hash);
}

}  // namespace kvtier::tiers
