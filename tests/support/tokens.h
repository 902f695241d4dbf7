#pragma once

// Token sequences for the key tests.

#include <cstddef>
#include <cstdint>
#include <numeric>
#include <vector>

namespace kvtier::testing {

// Tokens 0, 1, ..., n - 1: the prompt of the fixed key vectors in docs/keys.md.
inline std::vector<uint32_t> SequentialTokens(size_t n) {
  std::vector<uint32_t> tokens(n);
  std::iota(tokens.begin(), tokens.end(), 0u);
  return tokens;
}

}  // namespace kvtier::testing
