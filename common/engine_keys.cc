#include "common/engine_keys.h"

#include <openssl/sha.h>
#include <xxhash.h>

#include "common/keys.h"

namespace kvtier {
namespace {

// The subset of CBOR (RFC 8949) that vLLM's block tuples use, in the
// shortest ("canonical") form cbor2 writes: unsigned integers, byte and text
// strings, definite-length arrays, and null.
class CborWriter {
 public:
  void Unsigned(uint64_t value) { Head(0, value); }
  void Bytes(std::string_view bytes) {
    Head(2, bytes.size());
    out_.append(bytes);
  }
  void Text(std::string_view text) {
    Head(3, text.size());
    out_.append(text);
  }
  void Array(size_t count) { Head(4, count); }
  void Null() { out_.push_back(static_cast<char>(0xf6)); }
  const std::string& bytes() const { return out_; }

 private:
  void Head(uint8_t major, uint64_t value) {
    const auto type = static_cast<uint8_t>(major << 5);
    if (value < 24) {
      out_.push_back(static_cast<char>(type | value));
      return;
    }
    int width = 8;
    uint8_t info = 27;
    if (value <= 0xff) {
      width = 1, info = 24;
    } else if (value <= 0xffff) {
      width = 2, info = 25;
    } else if (value <= 0xffffffff) {
      width = 4, info = 26;
    }
    out_.push_back(static_cast<char>(type | info));
    for (int shift = 8 * (width - 1); shift >= 0; shift -= 8) {
      out_.push_back(static_cast<char>(value >> shift));
    }
  }

  std::string out_;
};

std::string Sha256(std::string_view input) {
  std::string out(SHA256_DIGEST_LENGTH, '\0');
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(),
         reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

std::string Digest(VllmHashAlgo algo, std::string_view input) {
  if (algo == VllmHashAlgo::kSha256Cbor) return Sha256(input);
  // xxhash.xxh3_128_digest: the canonical (big-endian) 16 bytes.
  XXH128_canonical_t canonical;
  XXH128_canonicalFromHash(&canonical, XXH3_128bits(input.data(), input.size()));
  return std::string(reinterpret_cast<const char*>(canonical.digest), sizeof(canonical.digest));
}

void AppendUint32Le(uint32_t value, std::string& out) {
  for (int shift = 0; shift < 32; shift += 8) out.push_back(static_cast<char>(value >> shift));
}

}  // namespace

std::string VllmNoneHash(VllmHashAlgo algo, std::string_view python_hash_seed) {
  CborWriter cbor;
  cbor.Text(python_hash_seed);
  return Digest(algo, cbor.bytes());
}

std::string VllmBlockHash(VllmHashAlgo algo, std::string_view parent_hash,
                          std::span<const uint32_t> block_tokens,
                          std::span<const std::string> extra_keys) {
  CborWriter cbor;
  cbor.Array(3);
  cbor.Bytes(parent_hash);
  cbor.Array(block_tokens.size());
  for (uint32_t token : block_tokens) cbor.Unsigned(token);
  if (extra_keys.empty()) {
    cbor.Null();
  } else {
    cbor.Array(extra_keys.size());
    for (const std::string& key : extra_keys) cbor.Text(key);
  }
  return Digest(algo, cbor.bytes());
}

Result<std::vector<std::string>> VllmBlockKeys(std::span<const uint32_t> tokens,
                                               const VllmHashOptions& options) {
  if (options.block_size == 0) return InvalidArgument("block_size must be > 0");
  std::vector<std::string> keys;
  keys.reserve(tokens.size() / options.block_size);
  std::string parent = VllmNoneHash(options.algo, options.python_hash_seed);
  std::vector<std::string> extra;
  for (size_t start = 0; start + options.block_size <= tokens.size(); start += options.block_size) {
    extra.clear();
    if (!options.lora_name.empty()) extra.push_back(options.lora_name);
    if (start == 0 && !options.cache_salt.empty()) extra.push_back(options.cache_salt);
    parent = VllmBlockHash(options.algo, parent, tokens.subspan(start, options.block_size), extra);
    keys.push_back(parent);
  }
  return keys;
}

uint64_t VllmEventHash(std::string_view block_hash) {
  uint64_t value = 0;
  const size_t first = block_hash.size() > 8 ? block_hash.size() - 8 : 0;
  for (size_t i = first; i < block_hash.size(); ++i) {
    value = (value << 8) | static_cast<uint8_t>(block_hash[i]);
  }
  return value;
}

Result<std::vector<std::string>> SglangPageKeys(std::span<const uint32_t> tokens,
                                                size_t page_size) {
  if (page_size == 0) return InvalidArgument("page_size must be > 0");
  std::vector<std::string> keys;
  keys.reserve(tokens.size() / page_size);
  std::string prior;  // raw digest of the previous page; empty on the first
  for (size_t start = 0; start + page_size <= tokens.size(); start += page_size) {
    std::string input = prior;
    input.reserve(prior.size() + 4 * page_size);
    for (uint32_t token : tokens.subspan(start, page_size)) AppendUint32Le(token, input);
    prior = Sha256(input);
    keys.push_back(ToHex(prior));
  }
  return keys;
}

std::string SglangRankKey(std::string_view page_key, std::string_view model_name, uint32_t tp_rank,
                          uint32_t tp_size, bool is_mla) {
  std::string key(page_key);
  key += '_';
  for (char c : model_name) key.push_back(c == '/' ? '-' : c);
  if (!is_mla) key += "_" + std::to_string(tp_rank) + "_" + std::to_string(tp_size);
  return key;
}

}  // namespace kvtier
