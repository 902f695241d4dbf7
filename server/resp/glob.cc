#include "server/resp/glob.h"

#include <cstddef>
#include <utility>

namespace kvtier::server::resp {
namespace {

// Matches the set starting after '[' at pattern[*p] against byte c; moves
// *p past the closing ']' (or to the end when there is none).
bool MatchSet(std::string_view pattern, size_t* p, char c) {
  size_t i = *p;
  bool negate = false;
  if (i < pattern.size() && pattern[i] == '^') {
    negate = true;
    ++i;
  }
  bool matched = false;
  while (i < pattern.size() && pattern[i] != ']') {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) {
      matched = matched || pattern[i + 1] == c;
      i += 2;
    } else if (i + 2 < pattern.size() && pattern[i + 1] == '-' && pattern[i + 2] != ']') {
      char low = pattern[i];
      char high = pattern[i + 2];
      if (low > high) std::swap(low, high);
      matched = matched || (c >= low && c <= high);
      i += 3;
    } else {
      matched = matched || pattern[i] == c;
      ++i;
    }
  }
  *p = i < pattern.size() ? i + 1 : i;
  return matched != negate;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text) {
  // Iterative, with one backtrack point: the last '*' seen. Linear in
  // pattern times text at worst, never exponential.
  size_t p = 0;
  size_t t = 0;
  size_t star_p = std::string_view::npos;
  size_t star_t = 0;
  while (t < text.size()) {
    if (p < pattern.size()) {
      const char pc = pattern[p];
      if (pc == '*') {
        star_p = ++p;
        star_t = t;
        continue;
      }
      if (pc == '?') {
        ++p;
        ++t;
        continue;
      }
      if (pc == '[') {
        size_t next = p + 1;
        if (MatchSet(pattern, &next, text[t])) {
          p = next;
          ++t;
          continue;
        }
      } else {
        char literal = pc;
        size_t next = p + 1;
        if (pc == '\\' && p + 1 < pattern.size()) {
          literal = pattern[p + 1];
          next = p + 2;
        }
        if (literal == text[t]) {
          p = next;
          ++t;
          continue;
        }
      }
    }
    if (star_p == std::string_view::npos) return false;
    p = star_p;
    t = ++star_t;
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace kvtier::server::resp
