// TrailingChecksums: the groups it hands out are the values, byte for byte
// and in order, followed by each value's BlockChecksum, for every shape of
// batch (empty values, values split across groups, many small ones).

#include "client/trailing_checksums.h"

#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "common/checksum.h"

namespace kvtier::client {
namespace {

std::vector<std::byte> Sent(std::span<const std::span<const std::byte>> values,
                            size_t* groups = nullptr) {
  TrailingChecksums trailing(values);
  std::vector<std::byte> out;
  size_t count = 0;
  for (auto group = trailing.Next(); !group.empty(); group = trailing.Next()) {
    ++count;
    size_t bytes = 0;
    EXPECT_LE(group.size(), TrailingChecksums::kMaxGroupPieces);
    for (const auto& piece : group) {
      EXPECT_FALSE(piece.empty());
      out.insert(out.end(), piece.begin(), piece.end());
      bytes += piece.size();
    }
    EXPECT_LE(bytes, TrailingChecksums::kGroupBytes + 8 * values.size());
  }
  EXPECT_TRUE(trailing.Next().empty());
  if (groups != nullptr) *groups = count;
  return out;
}

std::vector<std::byte> Expected(std::span<const std::span<const std::byte>> values) {
  std::vector<std::byte> out;
  for (const auto& value : values) out.insert(out.end(), value.begin(), value.end());
  for (const auto& value : values) {
    uint64_t checksum = BlockChecksum(value);
    for (int b = 0; b < 8; ++b, checksum >>= 8) out.push_back(static_cast<std::byte>(checksum));
  }
  return out;
}

TEST(TrailingChecksums, SendsTheValuesThenTheirChecksumsForEveryShape) {
  std::mt19937 random(7);
  const std::vector<std::vector<size_t>> shapes = {
      {},                                        // nothing at all
      {0},                                       // one empty value
      {100},                                     // one small value
      {TrailingChecksums::kGroupBytes},          // exactly one group
      {2 << 20},                                 // split across 8 groups
      {5, 0, 300000, 1, (3 << 20) + 17, 0, 64},  // mixed, empty ones between
      std::vector<size_t>(1000, 16 << 10),       // many small ones: groups by bytes
      std::vector<size_t>(700, 10),              // tiny ones: groups by piece count
  };
  for (const auto& shape : shapes) {
    std::vector<std::vector<std::byte>> storage;
    for (size_t size : shape) {
      storage.emplace_back(size);
      for (auto& b : storage.back()) b = static_cast<std::byte>(random());
    }
    const std::vector<std::span<const std::byte>> values(storage.begin(), storage.end());
    EXPECT_EQ(Sent(values), Expected(values)) << shape.size() << " values";
  }
}

TEST(TrailingChecksums, ASmallBatchGoesInOneGroupWithItsTrailer) {
  const std::vector<std::byte> a(1000), b(2000);
  const std::vector<std::span<const std::byte>> values = {a, b};
  size_t groups = 0;
  EXPECT_EQ(Sent(values, &groups).size(), 3000u + 16u);
  EXPECT_EQ(groups, 1u);
}

}  // namespace
}  // namespace kvtier::client
