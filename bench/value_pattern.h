#pragma once

// Self-checking values for --verify. Every value starts with a 16-byte tag
// (a hash of its key, then the value size) and continues with a fixed
// pseudo-random pattern shared by all values. A reader can then prove that
// the bytes it got belong to the key it asked for and are unchanged,
// without remembering what was written.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace kvtier::bench {

class ValuePattern {
 public:
  explicit ValuePattern(size_t max_value_bytes);

  // Writes the value for `key` of out.size() bytes.
  void Fill(std::string_view key, std::span<std::byte> out) const;

  // True when `value` is exactly what Fill wrote for `key` (any size).
  bool Check(std::string_view key, std::span<const std::byte> value) const;

 private:
  std::vector<std::byte> pattern_;
};

}  // namespace kvtier::bench
