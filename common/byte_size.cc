#include "common/byte_size.h"

#include <array>
#include <cctype>
#include <limits>
#include <utility>

namespace kvtier {
namespace {

std::string Lower(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (!std::isspace(static_cast<unsigned char>(c))) {
      out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  return out;
}

}  // namespace

Result<uint64_t> ParseByteSize(std::string_view text) {
  const std::string s = Lower(text);
  size_t digits = 0;
  while (digits < s.size() && std::isdigit(static_cast<unsigned char>(s[digits]))) ++digits;
  if (digits == 0) return InvalidArgument("byte size '" + std::string(text) + "' has no number");

  uint64_t number = 0;
  for (size_t i = 0; i < digits; ++i) {
    const uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (number > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return InvalidArgument("byte size '" + std::string(text) + "' overflows");
    }
    number = number * 10 + digit;
  }

  static const std::array<std::pair<std::string_view, uint64_t>, 16> kUnits = {{
      {"", 1},
      {"b", 1},
      {"k", kKiB},
      {"kib", kKiB},
      {"kb", 1000},
      {"m", kMiB},
      {"mib", kMiB},
      {"mb", 1000 * 1000},
      {"g", kGiB},
      {"gib", kGiB},
      {"gb", 1000ull * 1000 * 1000},
      {"t", 1024 * kGiB},
      {"tib", 1024 * kGiB},
      {"tb", 1000ull * 1000 * 1000 * 1000},
      {"ki", kKiB},
      {"mi", kMiB},
  }};
  const std::string_view suffix = std::string_view(s).substr(digits);
  for (const auto& [name, multiplier] : kUnits) {
    if (suffix == name) {
      if (number > std::numeric_limits<uint64_t>::max() / multiplier) {
        return InvalidArgument("byte size '" + std::string(text) + "' overflows");
      }
      return number * multiplier;
    }
  }
  return InvalidArgument("byte size '" + std::string(text) + "' has unknown unit '" +
                         std::string(suffix) + "'");
}

std::string FormatByteSize(uint64_t bytes) {
  static constexpr std::array<std::pair<const char*, uint64_t>, 4> kUnits = {{
      {"TiB", 1024 * kGiB},
      {"GiB", kGiB},
      {"MiB", kMiB},
      {"KiB", kKiB},
  }};
  for (const auto& [name, size] : kUnits) {
    if (bytes != 0 && bytes % size == 0) return std::to_string(bytes / size) + name;
  }
  return std::to_string(bytes) + "B";
}

}  // namespace kvtier
