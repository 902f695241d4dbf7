#include "bench/value_pattern.h"

#include <cstring>
#include <random>

#include "common/checksum.h"

namespace kvtier::bench {
namespace {

constexpr size_t kTagBytes = 16;

void Tag(std::string_view key, uint64_t size, std::byte* out) {
  const uint64_t hash = BlockChecksum(std::as_bytes(std::span(key.data(), key.size())));
  std::memcpy(out, &hash, 8);
  std::memcpy(out + 8, &size, 8);
}

}  // namespace

ValuePattern::ValuePattern(size_t max_value_bytes) : pattern_(max_value_bytes) {
  std::mt19937_64 random(0x6b767469);
  for (size_t i = 0; i + 8 <= pattern_.size(); i += 8) {
    const uint64_t word = random();
    std::memcpy(&pattern_[i], &word, 8);
  }
}

void ValuePattern::Fill(std::string_view key, std::span<std::byte> out) const {
  std::memcpy(out.data(), pattern_.data(), std::min(out.size(), pattern_.size()));
  if (out.size() >= kTagBytes) Tag(key, out.size(), out.data());
}

bool ValuePattern::Check(std::string_view key, std::span<const std::byte> value) const {
  if (value.size() > pattern_.size()) return false;
  if (value.size() < kTagBytes) {
    return std::memcmp(value.data(), pattern_.data(), value.size()) == 0;
  }
  std::byte tag[kTagBytes];
  Tag(key, value.size(), tag);
  return std::memcmp(value.data(), tag, kTagBytes) == 0 &&
         std::memcmp(value.data() + kTagBytes, pattern_.data() + kTagBytes,
                     value.size() - kTagBytes) == 0;
}

}  // namespace kvtier::bench
