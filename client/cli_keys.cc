#include "client/cli_keys.h"

#include <iostream>
#include <optional>
#include <string_view>
#include <vector>

#include "common/engine_keys.h"
#include "common/keys.h"

namespace kvtier::client {
namespace {

constexpr std::string_view kKeysUsage =
    "usage: kvtier keys SCHEME [OPTIONS] TOKEN... (or - to read tokens from stdin)\n"
    "  kvtier [--hash xxh3|sha256] [--seed S] [--block-size N]\n"
    "  vllm   [--algo sha256_cbor|xxhash_cbor] [--seed PYTHONHASHSEED] [--block-size N]\n"
    "         [--lora NAME] [--salt CACHE_SALT]\n"
    "  sglang [--page-size N] [--model NAME --tp-rank R --tp-size N [--mla]]\n";

struct KeysOptions {
  std::string scheme;
  std::string hash = "xxh3";
  std::string algo = "sha256_cbor";
  std::string seed;
  std::string lora;
  std::string salt;
  std::string model;
  size_t block_size = 16;
  uint32_t tp_rank = 0;
  uint32_t tp_size = 1;
  bool mla = false;
  std::vector<uint32_t> tokens;
};

int KeysUsage(std::string_view what) {
  std::cerr << "kvtier keys: " << what << "\n" << kKeysUsage;
  return 2;
}

std::optional<uint64_t> ParseNumber(std::string_view text, uint64_t max) {
  if (text.empty() || text.size() > 20) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

// Appends one token, or every whitespace-separated token on stdin for "-".
bool AddTokens(std::string_view arg, std::vector<uint32_t>& tokens) {
  if (arg != "-") {
    auto token = ParseNumber(arg, UINT32_MAX);
    if (!token) return false;
    tokens.push_back(static_cast<uint32_t>(*token));
    return true;
  }
  std::string word;
  while (std::cin >> word) {
    auto token = ParseNumber(word, UINT32_MAX);
    if (!token) return false;
    tokens.push_back(static_cast<uint32_t>(*token));
  }
  return true;
}

std::optional<std::string> Parse(std::span<const std::string> args, KeysOptions& o) {
  if (args.empty()) return "no scheme";
  o.scheme = args[0];
  for (size_t i = 1; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (!arg.starts_with("--")) {
      if (!AddTokens(arg, o.tokens)) return "bad token '" + std::string(arg) + "'";
      continue;
    }
    if (arg == "--mla") {
      o.mla = true;
      continue;
    }
    if (i + 1 >= args.size()) return std::string(arg) + " needs a value";
    const std::string& value = args[++i];
    std::string* text = arg == "--hash"    ? &o.hash
                        : arg == "--algo"  ? &o.algo
                        : arg == "--seed"  ? &o.seed
                        : arg == "--lora"  ? &o.lora
                        : arg == "--salt"  ? &o.salt
                        : arg == "--model" ? &o.model
                                           : nullptr;
    if (text != nullptr) {
      *text = value;
      continue;
    }
    auto number = ParseNumber(value, UINT32_MAX);
    if (!number) return std::string(arg) + " needs a number, not '" + value + "'";
    if (arg == "--block-size" || arg == "--page-size") {
      if (*number == 0) return std::string(arg) + " must be > 0";
      o.block_size = *number;
    } else if (arg == "--tp-rank") {
      o.tp_rank = static_cast<uint32_t>(*number);
    } else if (arg == "--tp-size") {
      o.tp_size = static_cast<uint32_t>(*number);
    } else {
      return "unknown option " + std::string(arg);
    }
  }
  return std::nullopt;
}

void PrintHexKeys(const std::vector<std::string>& keys) {
  for (const std::string& key : keys) std::cout << ToHex(key) << "\n";
}

}  // namespace

int KeysCommand(std::span<const std::string> args) {
  KeysOptions o;
  if (auto error = Parse(args, o)) return KeysUsage(*error);
  if (o.scheme == "kvtier") {
    if (o.hash != "xxh3" && o.hash != "sha256") return KeysUsage("--hash is xxh3 or sha256");
    const ChainHash hash = o.hash == "sha256" ? ChainHash::kSha256 : ChainHash::kXxh3_128;
    PrintHexKeys(PrefixBlockKeys(o.tokens, o.block_size, o.seed, hash));
    return 0;
  }
  if (o.scheme == "vllm") {
    if (o.algo != "sha256_cbor" && o.algo != "xxhash_cbor") {
      return KeysUsage("--algo is sha256_cbor or xxhash_cbor");
    }
    VllmHashOptions options;
    options.algo = o.algo == "xxhash_cbor" ? VllmHashAlgo::kXxhashCbor : VllmHashAlgo::kSha256Cbor;
    options.python_hash_seed = o.seed;
    options.block_size = o.block_size;
    options.lora_name = o.lora;
    options.cache_salt = o.salt;
    auto keys = VllmBlockKeys(o.tokens, options);
    if (!keys.ok()) return KeysUsage(keys.status().message());
    PrintHexKeys(*keys);
    return 0;
  }
  if (o.scheme == "sglang") {
    auto keys = SglangPageKeys(o.tokens, o.block_size);
    if (!keys.ok()) return KeysUsage(keys.status().message());
    for (const std::string& key : *keys) {
      std::cout << (o.model.empty() ? key
                                    : SglangRankKey(key, o.model, o.tp_rank, o.tp_size, o.mla))
                << "\n";
    }
    return 0;
  }
  return KeysUsage("unknown scheme '" + o.scheme + "'");
}

}  // namespace kvtier::client
