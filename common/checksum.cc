#include "common/checksum.h"

#include <xxhash.h>

#include <new>

// On x86-64 the library's dispatching entry points pick the widest vector
// unit at run time (AVX-512, AVX2, SSE2); the plain ones are built for SSE2
// only. The results are identical: only the speed differs.
#if defined(__x86_64__)
#include <xxh_x86dispatch.h>
#define KVTIER_XXH3_64 XXH3_64bits_dispatch
#define KVTIER_XXH3_64_UPDATE XXH3_64bits_update_dispatch
#else
#define KVTIER_XXH3_64 XXH3_64bits
#define KVTIER_XXH3_64_UPDATE XXH3_64bits_update
#endif

namespace kvtier {

uint64_t BlockChecksum(std::span<const std::byte> bytes) {
  return KVTIER_XXH3_64(bytes.data(), bytes.size());
}

BlockChecksummer::BlockChecksummer() : state_(XXH3_createState()) {
  if (state_ == nullptr) throw std::bad_alloc();
  XXH3_64bits_reset(static_cast<XXH3_state_t*>(state_));
}

BlockChecksummer::~BlockChecksummer() { XXH3_freeState(static_cast<XXH3_state_t*>(state_)); }

void BlockChecksummer::Update(std::span<const std::byte> bytes) {
  KVTIER_XXH3_64_UPDATE(static_cast<XXH3_state_t*>(state_), bytes.data(), bytes.size());
}

void BlockChecksummer::Reset() { XXH3_64bits_reset(static_cast<XXH3_state_t*>(state_)); }

uint64_t BlockChecksummer::Digest() const {
  return XXH3_64bits_digest(static_cast<const XXH3_state_t*>(state_));
}

}  // namespace kvtier
