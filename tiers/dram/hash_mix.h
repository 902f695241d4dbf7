#pragma once

// A 64-bit finalizer (MurmurHash3's fmix64): every output bit depends on
// every input bit, so sequential or low-entropy key hashes spread. The DRAM
// tier's ghost filter takes its probe positions from it, and the LRU shadow
// its sample.

#include <cstdint>

namespace kvtier::tiers {

inline uint64_t MixHash64(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

}  // namespace kvtier::tiers
