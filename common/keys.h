#pragma once

// Helpers that make block keys. The exact byte layouts are specified in
// docs/keys.md so that clients in other languages can reproduce them; the
// fixed vectors in tests/unit/keys_test.cc pin them down.

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace kvtier {

// A 128-bit hash in its canonical byte order: the XXH3-128 result written as
// high 64 bits big-endian then low 64 bits big-endian (XXH128_canonical_t).
using Hash128 = std::array<uint8_t, 16>;

// The key bytes of a hash, as a 16-byte string.
std::string HashKey(const Hash128& hash);

// Lower-case hex of the hash (32 characters), for logs and the CLI.
std::string HashHex(const Hash128& hash);

// Computes the chained prefix hash of token blocks:
//   h[-1] = XXH3-128(seed)
//   h[i]  = XXH3-128(h[i-1] || tokens of block i as uint32 little-endian)
// The seed names everything that must keep caches apart (model id, dtype,
// cache salt); two chains with different seeds never share a key.
class PrefixHasher {
 public:
  explicit PrefixHasher(std::string_view seed);

  // Hashes the next full block, advancing the chain.
  Hash128 Next(std::span<const uint32_t> block_tokens);

  // The hash of the last block (h[-1] before any block).
  const Hash128& last() const { return last_; }

 private:
  Hash128 last_;
};

// The hash function of a prefix chain (docs/keys.md): XXH3-128 (16-byte
// keys, the default) or SHA-256 (32-byte keys, for deployments that want a
// cryptographic hash so crafted prompts cannot collide with others' blocks).
enum class ChainHash : uint8_t { kXxh3_128, kSha256 };

// One step of a chain with either hash, on raw bytes:
//   ChainStart(seed)        = H(seed bytes)
//   ChainNext(prev, tokens) = H(prev || each token as uint32 little-endian)
std::string ChainStart(std::string_view seed, ChainHash hash);
std::string ChainNext(std::string_view previous, std::span<const uint32_t> block_tokens,
                      ChainHash hash);

// Keys of every full block of `tokens` (a trailing partial block has no key,
// as in the engines: its KV is not reusable until the block is full).
// block_tokens must be > 0.
std::vector<std::string> PrefixBlockKeys(std::span<const uint32_t> tokens, size_t block_tokens,
                                         std::string_view seed,
                                         ChainHash hash = ChainHash::kXxh3_128);

// What makes KV blocks of one model incompatible with another's: blocks of
// different identities must never be read for each other. A namespace may
// declare one (config `model:`); the client library refuses to use a
// namespace whose identity differs from its own, and derives its chain seed
// from the identity, the tensor-parallel rank and an optional cache salt.
struct ModelIdentity {
  std::string model;   // e.g. "meta-llama/Llama-3.1-8B-Instruct"
  std::string dtype;   // e.g. "bf16"
  std::string layout;  // the engine's KV layout, e.g. "vllm-nhd-16"
  uint32_t tp_size = 1;

  // "model=<model>;dtype=<dtype>;layout=<layout>;tp_size=<n>" (docs/keys.md).
  std::string Canonical() const;
  // Canonical() + ";tp_rank=<r>" + (";salt=<salt>" when a salt is given).
  std::string Seed(uint32_t tp_rank, std::string_view cache_salt = {}) const;
  // XXH3-64 of Canonical(): names the producer of KB blocks in 8 bytes.
  uint64_t Fingerprint() const;
};

// Content key: XXH3-128 over the content bytes, for content-addressed blocks
// (retrieval KB chunks). Not chained.
Hash128 ContentHash(std::span<const std::byte> content);

// Dataset block key: object name bytes, one 0x00 byte, then the block index
// as 8 bytes big-endian (so the blocks of one object sort by index). The name
// must be non-empty, contain no 0x00 byte, and the key must fit max_key_bytes.
Result<std::string> ObjectBlockKey(std::string_view object, uint64_t block_index,
                                   size_t max_key_bytes);

// Inverse of ObjectBlockKey.
Result<std::pair<std::string, uint64_t>> ParseObjectBlockKey(std::string_view key);

// Hex helpers used by the CLI and tests.
std::string ToHex(std::string_view bytes);
Result<std::string> FromHex(std::string_view hex);

}  // namespace kvtier
