#pragma once

// Block keys exactly as inference engines compute them, so a sidecar can share
// a namespace with an engine's own KV connector: given the same tokens and
// settings these functions return the engine's block hashes byte for byte.
// docs/keys.md states each chain; tests/unit/engine_keys_test.cc pins them
// with vectors computed by the engines' own serializers (cbor2, hashlib), and
// tests/engine_keys_crosscheck.py compares random prompts against them.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace kvtier {

// vLLM (v1 engine) prefix-cache hashes: `--prefix-caching-hash-algo
// sha256_cbor` or `xxhash_cbor`. Each block hash is
//   H(CBOR([parent_hash, [token ids...], extra_keys or null]))
// and the chain starts from NONE_HASH = H(CBOR(PYTHONHASHSEED as text)).
// The pickle-based algorithms (`sha256`, `xxhash`) depend on Python's pickle
// and are not reproduced.
enum class VllmHashAlgo : uint8_t { kSha256Cbor, kXxhashCbor };

struct VllmHashOptions {
  VllmHashAlgo algo = VllmHashAlgo::kSha256Cbor;
  // The engine's PYTHONHASHSEED. vLLM draws a random chain start when it is
  // unset; blocks can only be shared when every process sets the same value.
  std::string python_hash_seed;
  size_t block_size = 16;  // tokens per block (the engine's --block-size)
  // Extra keys, in vLLM's order: the LoRA adapter name on every block, then
  // the request's cache salt on the first block only. Empty means absent.
  // Multimodal and prompt-embedding keys are not reproduced.
  std::string lora_name;
  std::string cache_salt;
};

// NONE_HASH: the parent of the first block.
std::string VllmNoneHash(VllmHashAlgo algo, std::string_view python_hash_seed);

// One block's hash (hash_block_tokens). `extra_keys` empty encodes as null.
std::string VllmBlockHash(VllmHashAlgo algo, std::string_view parent_hash,
                          std::span<const uint32_t> block_tokens,
                          std::span<const std::string> extra_keys = {});

// Hashes of every full block of `tokens` (a partial tail has none).
// block_size must be > 0.
Result<std::vector<std::string>> VllmBlockKeys(std::span<const uint32_t> tokens,
                                               const VllmHashOptions& options);

// The 64-bit form vLLM publishes in KV events when
// VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES is set: the hash read as a big-endian
// integer, low 64 bits.
uint64_t VllmEventHash(std::string_view block_hash);

// SGLang HiCache storage keys (get_hash_str): per page,
//   hex( SHA-256( prior page's digest (32 bytes, absent on the first page)
//                 || each token id as uint32 little-endian ) )
// as 64 lower-case hex characters, which is the key SGLang hands its storage
// backends. page_size must be > 0.
Result<std::vector<std::string>> SglangPageKeys(std::span<const uint32_t> tokens, size_t page_size);

// The per-rank key SGLang's file backend stores a page under:
// "<hex>_<model>_<tp_rank>_<tp_size>", or "<hex>_<model>" for MLA models,
// whose KV is the same on every rank; '/' in the model name becomes '-'.
std::string SglangRankKey(std::string_view page_key, std::string_view model_name, uint32_t tp_rank,
                          uint32_t tp_size, bool is_mla);

}  // namespace kvtier
