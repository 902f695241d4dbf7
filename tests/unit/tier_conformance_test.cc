// The conformance suite (tier_conformance.h) over the DRAM and NVMe tiers;
// the Blob tier runs it against Azurite in tests/integration/blob_tier_test.cc.

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <memory>

#include "common/checksum.h"
#include "tests/unit/tier_conformance.h"
#include "tiers/dram/dram_tier.h"
#include "tiers/nvme/nvme_tier.h"

namespace kvtier::tiers {
namespace {

// Each factory makes a fresh tier; `dir` is an empty directory the test
// removes afterwards.
struct DramFactory {
  std::unique_ptr<Tier> Make(const std::filesystem::path&) {
    DramTierOptions options;
    options.capacity_bytes = 64ull << 20;
    options.shards = 8;
    return std::make_unique<DramTier>(options);
  }
};

// Pool mode: value memory from one reserved BlockPool (what RDMA registers).
struct DramPoolFactory {
  std::unique_ptr<Tier> Make(const std::filesystem::path&) {
    DramTierOptions options;
    options.capacity_bytes = 64ull << 20;
    options.shards = 8;
    auto pool = BlockPool::Reserve(DramTier::PoolBytesFor(options.capacity_bytes));
    EXPECT_TRUE(pool.ok()) << pool.status().ToString();
    return pool.ok() ? std::make_unique<DramTier>(options, std::move(*pool)) : nullptr;
  }
};

struct NvmeFactory {
  std::unique_ptr<Tier> Make(const std::filesystem::path& dir) {
    NvmeTierOptions options;
    options.directory = dir;
    options.capacity_bytes = 64ull << 20;
    options.segment_bytes = 4ull << 20;
    auto tier = NvmeTier::Open(options);
    EXPECT_TRUE(tier.ok()) << tier.status().ToString();
    return tier.ok() ? std::move(*tier) : nullptr;
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Dram, TierConformance, DramFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(DramPool, TierConformance, DramPoolFactory);
INSTANTIATE_TYPED_TEST_SUITE_P(Nvme, TierConformance, NvmeFactory);

}  // namespace
}  // namespace kvtier::tiers
