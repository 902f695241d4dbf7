// Engine-compatible keys (common/engine_keys.h) against fixed vectors. The
// vectors come from the engines' own definitions run through the serializers
// the engines use (tests/engine/engine_keys_reference.py --vectors: cbor2,
// hashlib, xxhash); the vLLM chain start for PYTHONHASHSEED "0" and the
// three-token block with an extra key also appear in other projects'
// published tests.

#include <gtest/gtest.h>

#include "common/engine_keys.h"
#include "common/keys.h"
#include "tests/support/tokens.h"

namespace kvtier {
namespace {

std::vector<uint32_t> Tokens(size_t n) { return testing::SequentialTokens(n); }

std::vector<std::string> Hex(const std::vector<std::string>& keys) {
  std::vector<std::string> out;
  for (const std::string& key : keys) out.push_back(ToHex(key));
  return out;
}

VllmHashOptions Vllm(VllmHashAlgo algo, size_t block_size) {
  VllmHashOptions options;
  options.algo = algo;
  options.python_hash_seed = "0";
  options.block_size = block_size;
  return options;
}

TEST(EngineKeys, VllmChainStartIsTheHashOfTheSeedAsCborText) {
  EXPECT_EQ(ToHex(VllmNoneHash(VllmHashAlgo::kSha256Cbor, "0")),
            "4e1195df020de59e0d65a33a4279f1183e7ae4e5d980e309f8b55adff2e61c3e");
  EXPECT_EQ(ToHex(VllmNoneHash(VllmHashAlgo::kXxhashCbor, "0")),
            "1ebe36576dcb573f26b99533a20aaeca");
}

TEST(EngineKeys, VllmSha256CborChain) {
  auto keys = VllmBlockKeys(Tokens(50), Vllm(VllmHashAlgo::kSha256Cbor, 16));
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(Hex(*keys), (std::vector<std::string>{
                            "d830de3d42c00f25a2949b5d12d98642664a44872c1614c5b0147556276afc9c",
                            "fedd9e4abebebbe6f6cf96b682f08d316063fe2f22a5c552192dd62904fcccac",
                            "ee4c34c217da17ac84268f864db16efed5fcefe10fcc4a9625a719adc68e654f",
                        }));  // the trailing two tokens make no block
}

TEST(EngineKeys, VllmXxhashCborChain) {
  auto keys = VllmBlockKeys(Tokens(48), Vllm(VllmHashAlgo::kXxhashCbor, 16));
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(Hex(*keys), (std::vector<std::string>{
                            "209f5d549fc07c8e39d823615ede61ce",
                            "03888914ee75b87e89df867a21beb72b",
                            "f1a782fa3401ed3cb6bd42b1ed0bd4dd",
                        }));
}

TEST(EngineKeys, VllmLoraOnEveryBlockAndSaltOnTheFirst) {
  VllmHashOptions options = Vllm(VllmHashAlgo::kSha256Cbor, 16);
  options.lora_name = "adapter-1";
  options.cache_salt = "tenant-a";
  auto keys = VllmBlockKeys(Tokens(48), options);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(Hex(*keys), (std::vector<std::string>{
                            "6bc01609d217997e4471341fdf09b56a650ff3bb19d6fffb651cf1782ea14071",
                            "5600be280df559f45007cb084b98b54c5f2a8759537546180dedfac963cf5c7e",
                            "2c961d9585415d3a81ba9ce1811f054455cc13169148c9ce798a5c3d4b6aa328",
                        }));
}

TEST(EngineKeys, VllmTokenIdsUseEveryCborIntegerWidth) {
  const std::vector<uint32_t> wide = {0, 23, 24, 255, 256, 65535, 65536, 4294967295u};
  auto keys = VllmBlockKeys(wide, Vllm(VllmHashAlgo::kSha256Cbor, 8));
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(Hex(*keys), (std::vector<std::string>{
                            "39532d759036eca7efd7a6e039e216836a50436ef6b04f2f261c9e2f453fb3ec"}));
}

TEST(EngineKeys, VllmSingleBlocksWithExplicitParentsAndExtraKeys) {
  const std::string none = VllmNoneHash(VllmHashAlgo::kSha256Cbor, "0");
  const std::vector<uint32_t> tokens = {1, 2, 3};
  // vLLM passes None when a block has no extra keys.
  EXPECT_EQ(ToHex(VllmBlockHash(VllmHashAlgo::kSha256Cbor, none, tokens)),
            "cda40c7574ea461341f97ec2da7fd58b6a87bb2dec300b56459988ca24465813");
  const std::vector<std::string> extra = {"image_hash:abc123"};
  EXPECT_EQ(ToHex(VllmBlockHash(VllmHashAlgo::kSha256Cbor, none, tokens, extra)),
            "4186905812c6277a0d7d00e27740140ea7d60be1d75066097331b40dc144b40d");
}

TEST(EngineKeys, VllmEventHashIsTheLow64BitsBigEndian) {
  const std::string hash = *FromHex("000102030405060708090a0b0c0d0e0f1011121314151617");
  EXPECT_EQ(VllmEventHash(hash), 0x1011121314151617u);
}

TEST(EngineKeys, SeedsAndSaltsSeparateChains) {
  VllmHashOptions a = Vllm(VllmHashAlgo::kSha256Cbor, 16);
  VllmHashOptions b = a;
  b.python_hash_seed = "1";
  VllmHashOptions c = a;
  c.cache_salt = "tenant-b";
  auto ka = *VllmBlockKeys(Tokens(32), a);
  auto kb = *VllmBlockKeys(Tokens(32), b);
  auto kc = *VllmBlockKeys(Tokens(32), c);
  for (size_t i = 0; i < ka.size(); ++i) {
    EXPECT_NE(ka[i], kb[i]);
    EXPECT_NE(ka[i], kc[i]);  // a salt on block 0 changes every later key
  }
}

TEST(EngineKeys, SglangPageChain) {
  auto keys = SglangPageKeys(Tokens(48), 16);
  ASSERT_TRUE(keys.ok());
  EXPECT_EQ(*keys, (std::vector<std::string>{
                       "5d85718ec594b982c252d0279e5966ffca33a5eaf2a455038d3ab331fde70cea",
                       "4681c0107c38f402cd1bc30b0b09a65202dba31f98269d9d7f63f5e0dea6901a",
                       "9c9217b40433137e8a734787cbb1fa92045602840c3ab29539366f8ffe21ec2f",
                   }));
  // The same bytes as kvtier's SHA-256 chain continued from an empty parent.
  const std::vector<uint32_t> first_page = Tokens(16);
  EXPECT_EQ(ToHex(ChainNext("", first_page, ChainHash::kSha256)), (*keys)[0]);
}

TEST(EngineKeys, SglangRankKeys) {
  EXPECT_EQ(SglangRankKey("ab", "meta-llama/Llama-3.1-8B", 3, 4, false),
            "ab_meta-llama-Llama-3.1-8B_3_4");
  EXPECT_EQ(SglangRankKey("ab", "deepseek-ai/DeepSeek-V3", 3, 8, true),
            "ab_deepseek-ai-DeepSeek-V3");
}

TEST(EngineKeys, ZeroBlockSizeIsRefused) {
  EXPECT_FALSE(VllmBlockKeys(Tokens(4), Vllm(VllmHashAlgo::kSha256Cbor, 0)).ok());
  EXPECT_FALSE(SglangPageKeys(Tokens(4), 0).ok());
}

}  // namespace
}  // namespace kvtier
