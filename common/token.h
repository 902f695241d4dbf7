#pragma once

// Access tokens (docs/config.md, "auth"): servers keep only their SHA-256.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace kvtier {

// The SHA-256 of the token's bytes.
std::array<uint8_t, 32> TokenDigest(std::string_view token);

// TokenDigest as 64 lower-case hex digits: what `auth.tokens[].sha256` holds.
std::string TokenHash(std::string_view token);

// A new token: 32 bytes from the system's random source, as 64 hex digits.
Result<std::string> NewToken();

}  // namespace kvtier
