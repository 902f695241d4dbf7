#include "common/keys.h"

#include <openssl/sha.h>
#include <xxhash.h>

#include <cstring>

namespace kvtier {
namespace {

Hash128 Canonical(XXH128_hash_t hash) {
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, hash);
  Hash128 out;
  std::memcpy(out.data(), canonical.digest, out.size());
  return out;
}

void AppendTokensLe(std::span<const uint32_t> tokens, void* out_bytes) {
  auto* out = static_cast<uint8_t*>(out_bytes);
  for (uint32_t token : tokens) {
    *out++ = static_cast<uint8_t>(token);
    *out++ = static_cast<uint8_t>(token >> 8);
    *out++ = static_cast<uint8_t>(token >> 16);
    *out++ = static_cast<uint8_t>(token >> 24);
  }
}

std::string HashBytes(std::span<const std::byte> bytes, ChainHash hash) {
  if (hash == ChainHash::kSha256) {
    std::string out(SHA256_DIGEST_LENGTH, '\0');
    SHA256(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(),
           reinterpret_cast<unsigned char*>(out.data()));
    return out;
  }
  Hash128 canonical = Canonical(XXH3_128bits(bytes.data(), bytes.size()));
  return std::string(reinterpret_cast<const char*>(canonical.data()), canonical.size());
}

}  // namespace

std::string HashKey(const Hash128& hash) {
  return std::string(reinterpret_cast<const char*>(hash.data()), hash.size());
}

std::string HashHex(const Hash128& hash) { return ToHex(HashKey(hash)); }

PrefixHasher::PrefixHasher(std::string_view seed)
    : last_(Canonical(XXH3_128bits(seed.data(), seed.size()))) {}

Hash128 PrefixHasher::Next(std::span<const uint32_t> block_tokens) {
  // One contiguous input: previous hash, then each token as uint32 LE.
  std::vector<uint8_t> input(last_.size() + 4 * block_tokens.size());
  std::memcpy(input.data(), last_.data(), last_.size());
  AppendTokensLe(block_tokens, input.data() + last_.size());
  last_ = Canonical(XXH3_128bits(input.data(), input.size()));
  return last_;
}

std::string ChainStart(std::string_view seed, ChainHash hash) {
  return HashBytes(std::as_bytes(std::span(seed)), hash);
}

std::string ChainNext(std::string_view previous, std::span<const uint32_t> block_tokens,
                      ChainHash hash) {
  std::vector<std::byte> input(previous.size() + 4 * block_tokens.size());
  std::memcpy(input.data(), previous.data(), previous.size());
  AppendTokensLe(block_tokens, input.data() + previous.size());
  return HashBytes(input, hash);
}

std::vector<std::string> PrefixBlockKeys(std::span<const uint32_t> tokens, size_t block_tokens,
                                         std::string_view seed, ChainHash hash) {
  std::vector<std::string> keys;
  if (block_tokens == 0) return keys;
  keys.reserve(tokens.size() / block_tokens);
  std::string previous = ChainStart(seed, hash);
  for (size_t start = 0; start + block_tokens <= tokens.size(); start += block_tokens) {
    previous = ChainNext(previous, tokens.subspan(start, block_tokens), hash);
    keys.push_back(previous);
  }
  return keys;
}

std::string ModelIdentity::Canonical() const {
  return "model=" + model + ";dtype=" + dtype + ";layout=" + layout +
         ";tp_size=" + std::to_string(tp_size);
}

std::string ModelIdentity::Seed(uint32_t tp_rank, std::string_view cache_salt) const {
  std::string seed = Canonical() + ";tp_rank=" + std::to_string(tp_rank);
  if (!cache_salt.empty()) {
    seed += ";salt=";
    seed += cache_salt;
  }
  return seed;
}

uint64_t ModelIdentity::Fingerprint() const {
  const std::string canonical = Canonical();
  return XXH3_64bits(canonical.data(), canonical.size());
}

Hash128 ContentHash(std::span<const std::byte> content) {
  return Canonical(XXH3_128bits(content.data(), content.size()));
}

Result<std::string> ObjectBlockKey(std::string_view object, uint64_t block_index,
                                   size_t max_key_bytes) {
  if (object.empty()) return InvalidArgument("object name is empty");
  if (object.find('\0') != std::string_view::npos) {
    return InvalidArgument("object name contains a NUL byte");
  }
  if (object.size() + 9 > max_key_bytes) {
    return InvalidArgument("object name of " + std::to_string(object.size()) +
                           " bytes makes a key over " + std::to_string(max_key_bytes) + " bytes");
  }
  std::string key(object);
  key.push_back('\0');
  for (int shift = 56; shift >= 0; shift -= 8) {
    key.push_back(static_cast<char>((block_index >> shift) & 0xff));
  }
  return key;
}

Result<std::pair<std::string, uint64_t>> ParseObjectBlockKey(std::string_view key) {
  if (key.size() < 10 || key[key.size() - 9] != '\0') {
    return InvalidArgument("not an object block key");
  }
  const std::string_view object = key.substr(0, key.size() - 9);
  if (object.find('\0') != std::string_view::npos) {
    return InvalidArgument("not an object block key");
  }
  uint64_t index = 0;
  for (size_t i = key.size() - 8; i < key.size(); ++i) {
    index = (index << 8) | static_cast<uint8_t>(key[i]);
  }
  return std::pair<std::string, uint64_t>(std::string(object), index);
}

std::string ToHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) {
    const auto b = static_cast<uint8_t>(c);
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

Result<std::string> FromHex(std::string_view hex) {
  if (hex.size() % 2 != 0) return InvalidArgument("hex string has an odd length");
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]);
    const int lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return InvalidArgument("invalid hex digit in '" + std::string(hex) + "'");
    out.push_back(static_cast<char>((hi << 4) | lo));
  }
  return out;
}

}  // namespace kvtier
