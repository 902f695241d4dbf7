#include "common/token.h"

#include <openssl/rand.h>
#include <openssl/sha.h>

namespace kvtier {
namespace {

std::string Hex(const uint8_t* bytes, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * size);
  for (size_t i = 0; i < size; ++i) {
    out.push_back(kHex[bytes[i] >> 4]);
    out.push_back(kHex[bytes[i] & 0xf]);
  }
  return out;
}

}  // namespace

std::array<uint8_t, 32> TokenDigest(std::string_view token) {
  std::array<uint8_t, 32> out;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), out.data());
  return out;
}

std::string TokenHash(std::string_view token) {
  const std::array<uint8_t, 32> digest = TokenDigest(token);
  return Hex(digest.data(), digest.size());
}

Result<std::string> NewToken() {
  std::array<uint8_t, 32> bytes;
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    return Internal("the system's random source failed");
  }
  return Hex(bytes.data(), bytes.size());
}

}  // namespace kvtier
