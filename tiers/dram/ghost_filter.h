#pragma once

// Remembers, approximately and in bounded memory, the key hashes of blocks
// evicted recently: two generations of a Bloom filter. Adds go to the
// current generation; once it holds its quota the previous one is dropped
// and the current one takes its place. So a hash added within the last
// quota adds is always found, one added within the last two quotas usually,
// older ones not; about 2% of other hashes are false positives.
//
// Why: most blocks of a conversation trace are never read again, and a
// block stored again soon after its eviction (a follow-up turn that came
// back after the cache had let its prefix go) is far likelier than a new
// one to be read again; the prefix policy values it as a block read once.
//
// Not thread-safe: the owner serialises every call.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace kvtier::tiers {

class GhostFilter {
 public:
  // Every generation holds at least this many adds.
  static constexpr size_t kMinQuota = 1024;
  static constexpr size_t kBitsPerAdd = 10;
  static constexpr int kProbes = 4;
  static constexpr size_t kTurnoversPerGeneration = 4;

  // Remembers `hash`. `live_entries` (the blocks cached now) sizes the next
  // generation when this one is full: kTurnoversPerGeneration times as many
  // adds, so evicted blocks are remembered for between 4 and 8 turnovers of
  // the cache (longer than 1.5 to 3 caught more follow-ups that came back
  // after long gaps in the generated traces and lost nothing elsewhere;
  // about 10 bytes per cached block).
  void Add(uint64_t hash, size_t live_entries);
  bool MayContain(uint64_t hash) const;

  size_t memory_bytes() const { return (current_.size() + previous_.size()) * sizeof(uint64_t); }

 private:
  static bool Test(const std::vector<uint64_t>& bits, uint64_t hash);
  static void Set(std::vector<uint64_t>& bits, uint64_t hash);

  std::vector<uint64_t> current_;
  std::vector<uint64_t> previous_;
  size_t quota_ = 0;  // adds the current generation takes
  size_t added_ = 0;  // adds in the current generation
};

}  // namespace kvtier::tiers
