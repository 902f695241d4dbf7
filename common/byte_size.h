#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace kvtier {

inline constexpr uint64_t kKiB = 1024;
inline constexpr uint64_t kMiB = 1024 * kKiB;
inline constexpr uint64_t kGiB = 1024 * kMiB;

// Parses "4096", "64KiB", "1 GiB", "2MB" (decimal units: KB, MB, GB, TB are
// powers of 1000; KiB, MiB, GiB, TiB powers of 1024; a bare "K", "M", "G" is
// binary). Rejects negatives, fractions, unknown suffixes and overflow.
Result<uint64_t> ParseByteSize(std::string_view text);

// Formats with the largest binary unit that divides exactly: "1GiB", "1536B".
std::string FormatByteSize(uint64_t bytes);

}  // namespace kvtier
