#pragma once

// Redis's glob patterns (SCAN MATCH, KEYS): `*` any run, `?` any one byte,
// `[abc]`, `[^a]`, `[a-z]` sets, `\x` the byte x. Bytes, not characters.

#include <string_view>

namespace kvtier::server::resp {

bool GlobMatch(std::string_view pattern, std::string_view text);

}  // namespace kvtier::server::resp
