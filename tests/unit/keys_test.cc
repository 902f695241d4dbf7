// The key layouts of docs/keys.md, pinned by fixed vectors so that other
// languages can check their implementations against the same numbers.

#include <gtest/gtest.h>
#include <xxhash.h>

#include "common/keys.h"
#include "tests/support/tokens.h"

namespace kvtier {
namespace {

std::vector<uint32_t> Tokens(size_t n) { return testing::SequentialTokens(n); }

TEST(Keys, Xxh128CanonicalFormOfEmptyInput) {
  // Published XXH3-128 of "" is 0x99aa06d3014798d86001c324468d497f; the
  // canonical form writes it big-endian, high half first.
  EXPECT_EQ(HashHex(ContentHash({})), "99aa06d3014798d86001c324468d497f");
}

TEST(Keys, PrefixChainMatchesItsDefinition) {
  // Recompute the chain straight from the definition with the xxHash API.
  const std::string seed = "model-x/fp16";
  const std::vector<uint32_t> tokens = Tokens(40);
  const std::vector<std::string> keys = PrefixBlockKeys(tokens, 16, seed);
  ASSERT_EQ(keys.size(), 2u);  // the trailing 8 tokens make no key

  XXH128_canonical_t prev;
  XXH128_canonicalFromHash(&prev, XXH3_128bits(seed.data(), seed.size()));
  for (size_t block = 0; block < 2; ++block) {
    std::string input(reinterpret_cast<const char*>(prev.digest), 16);
    for (size_t t = block * 16; t < block * 16 + 16; ++t) {
      for (int b = 0; b < 4; ++b) input.push_back(static_cast<char>((tokens[t] >> (8 * b)) & 0xff));
    }
    XXH128_canonicalFromHash(&prev, XXH3_128bits(input.data(), input.size()));
    EXPECT_EQ(keys[block], std::string(reinterpret_cast<const char*>(prev.digest), 16));
  }
}

TEST(Keys, PrefixChainFixedVectors) {
  const std::vector<std::string> keys = PrefixBlockKeys(Tokens(48), 16, "kvtier-test-seed");
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(ToHex(keys[0]), "c6eb566181e7874c254cfba450673800");
  EXPECT_EQ(ToHex(keys[1]), "c38202b31848f20aeefc15ef7b56d3e3");
  EXPECT_EQ(ToHex(keys[2]), "f119e73a1e3945231bad7ecdd97b4e1c");
}

// Vectors computed independently with Python's hashlib:
//   prev = sha256(seed); prev = sha256(prev + b"".join(struct.pack("<I", t) ...))
TEST(Keys, Sha256PrefixChainFixedVectors) {
  const std::vector<std::string> keys =
      PrefixBlockKeys(Tokens(48), 16, "kvtier-test-seed", ChainHash::kSha256);
  ASSERT_EQ(keys.size(), 3u);
  EXPECT_EQ(ToHex(keys[0]), "44aa4aa403cd070dc40f551e1295b650b6ae030acee47ba4eda9ede66c1a64ed");
  EXPECT_EQ(ToHex(keys[1]), "194cb726946c545127efd5c25549662bd75a8c5e5f9a470fb08ad9033bd4a07c");
  EXPECT_EQ(ToHex(keys[2]), "e0d17098e6f6f48b5996986bc0b7a84f6d959146a0d588b16075b21821cc6932");
}

TEST(Keys, ChainStepsEqualTheBatchAndTheXxh3HasherForEitherHash) {
  const std::vector<uint32_t> tokens = Tokens(32);
  for (ChainHash hash : {ChainHash::kXxh3_128, ChainHash::kSha256}) {
    const auto keys = PrefixBlockKeys(tokens, 8, "salt", hash);
    std::string previous = ChainStart("salt", hash);
    for (size_t i = 0; i < keys.size(); ++i) {
      previous = ChainNext(previous, std::span(tokens).subspan(i * 8, 8), hash);
      EXPECT_EQ(previous, keys[i]) << i;
    }
    EXPECT_EQ(keys[0].size(), hash == ChainHash::kSha256 ? 32u : 16u);
  }
  PrefixHasher hasher("salt");
  EXPECT_EQ(HashKey(hasher.Next(std::span(tokens).subspan(0, 8))),
            PrefixBlockKeys(tokens, 8, "salt")[0]);
}

TEST(Keys, ModelIdentityCanonicalFormAndSeed) {
  const ModelIdentity identity{"meta-llama/Llama-3.1-8B", "bf16", "vllm-nhd-16", 4};
  EXPECT_EQ(identity.Canonical(),
            "model=meta-llama/Llama-3.1-8B;dtype=bf16;layout=vllm-nhd-16;tp_size=4");
  EXPECT_EQ(identity.Seed(3),
            "model=meta-llama/Llama-3.1-8B;dtype=bf16;layout=vllm-nhd-16;tp_size=4;tp_rank=3");
  // XXH3-64 of the canonical form above (the value docs/keys.md gives).
  EXPECT_EQ(identity.Fingerprint(), 0x4fb6219d69e64719ull);
  EXPECT_EQ(identity.Fingerprint(),
            XXH3_64bits(identity.Canonical().data(), identity.Canonical().size()));
  EXPECT_EQ(identity.Seed(0, "tenant-7"),
            "model=meta-llama/Llama-3.1-8B;dtype=bf16;layout=vllm-nhd-16;tp_size=4;tp_rank=0;"
            "salt=tenant-7");
}

TEST(Keys, ChainDependsOnSeedAndEveryEarlierToken) {
  std::vector<uint32_t> tokens = Tokens(64);
  const auto base = PrefixBlockKeys(tokens, 16, "a");
  EXPECT_NE(PrefixBlockKeys(tokens, 16, "b")[0], base[0]);
  tokens[3] += 1;  // a change in block 0 changes every later key
  const auto changed = PrefixBlockKeys(tokens, 16, "a");
  for (size_t i = 0; i < base.size(); ++i) EXPECT_NE(changed[i], base[i]) << i;
  // The same tokens in the same order give the same keys: shared prefixes
  // of two prompts share keys.
  std::vector<uint32_t> longer = Tokens(80);
  const auto longer_keys = PrefixBlockKeys(longer, 16, "a");
  for (size_t i = 0; i < base.size(); ++i) EXPECT_EQ(longer_keys[i], base[i]);
}

TEST(Keys, IncrementalHasherEqualsBatch) {
  const std::vector<uint32_t> tokens = Tokens(32);
  PrefixHasher hasher("s");
  const auto keys = PrefixBlockKeys(tokens, 16, "s");
  EXPECT_EQ(HashKey(hasher.Next(std::span(tokens).subspan(0, 16))), keys[0]);
  EXPECT_EQ(HashKey(hasher.Next(std::span(tokens).subspan(16, 16))), keys[1]);
  EXPECT_TRUE(PrefixBlockKeys(tokens, 0, "s").empty());
}

TEST(Keys, ContentHashFixedVector) {
  const std::string text = "The quick brown fox";
  EXPECT_EQ(HashHex(ContentHash(std::as_bytes(std::span(text)))),
            "b2c100c26f5d723ab7859350537dfedc");
}

TEST(Keys, ObjectBlockKeyLayoutAndRoundTrip) {
  auto key = ObjectBlockKey("shards/train-0001.bin", 258, 256);
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(ToHex(key->substr(key->size() - 9)), "000000000000000102");
  auto parsed = ParseObjectBlockKey(*key);
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->first, "shards/train-0001.bin");
  EXPECT_EQ(parsed->second, 258u);
  // Blocks of one object sort by index.
  EXPECT_LT(*ObjectBlockKey("o", 255, 256), *ObjectBlockKey("o", 256, 256));
}

TEST(Keys, ObjectBlockKeyRejectsBadNames) {
  EXPECT_FALSE(ObjectBlockKey("", 0, 256).ok());
  EXPECT_FALSE(ObjectBlockKey(std::string("a\0b", 3), 0, 256).ok());
  EXPECT_FALSE(ObjectBlockKey(std::string(248, 'x'), 0, 256).ok());
  EXPECT_TRUE(ObjectBlockKey(std::string(247, 'x'), 0, 256).ok());
  EXPECT_FALSE(ParseObjectBlockKey("short").ok());
}

}  // namespace
}  // namespace kvtier
