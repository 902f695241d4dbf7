// The contract of tiers/tier.h, run over every Tier implementation. A new
// tier joins by adding a factory to TierTypes.

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <memory>

#include "common/checksum.h"
#include "tiers/dram/dram_tier.h"
#include "tiers/nvme/nvme_tier.h"
#include "tiers/tier.h"

namespace kvtier::tiers {
namespace {

// Each factory makes a fresh tier; `dir` is an empty directory the test
// removes afterwards.
struct DramFactory {
  static std::unique_ptr<Tier> Make(const std::filesystem::path&) {
    DramTierOptions options;
    options.capacity_bytes = 64ull << 20;
    options.shards = 8;
    return std::make_unique<DramTier>(options);
  }
};

struct NvmeFactory {
  static std::unique_ptr<Tier> Make(const std::filesystem::path& dir) {
    NvmeTierOptions options;
    options.directory = dir;
    options.capacity_bytes = 64ull << 20;
    options.segment_bytes = 4ull << 20;
    auto tier = NvmeTier::Open(options);
    EXPECT_TRUE(tier.ok()) << tier.status().ToString();
    return tier.ok() ? std::move(*tier) : nullptr;
  }
};

template <typename Factory>
class TierConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/kvtier-tier-XXXXXX";
    dir_ = mkdtemp(pattern);
    tier_ = Factory::Make(dir_);
    ASSERT_NE(tier_, nullptr);
  }
  void TearDown() override {
    tier_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Builds a sealed block holding `text`, in the tier's own memory.
  BlockHandle Block(std::string_view text) {
    auto block = tier_->Allocate(8, text.size());
    EXPECT_TRUE(block.ok()) << block.status().ToString();
    std::memcpy(block->mutable_bytes().data(), text.data(), text.size());
    return std::move(*block).Seal(BlockChecksum(std::as_bytes(std::span(text))));
  }

  static std::string Text(const BlockHandle& h) {
    return std::string(reinterpret_cast<const char*>(h.bytes().data()), h.size());
  }

  std::filesystem::path dir_;
  std::unique_ptr<Tier> tier_;
};

using TierTypes = ::testing::Types<DramFactory, NvmeFactory>;
TYPED_TEST_SUITE(TierConformance, TierTypes);

TYPED_TEST(TierConformance, PutThenGetReturnsBytesAndChecksum) {
  ASSERT_TRUE(this->tier_->Put({1, "k"}, this->Block("hello")).ok());
  auto got = this->tier_->Get({1, "k"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(this->Text(*got), "hello");
  EXPECT_EQ(got->checksum(), BlockChecksum(std::as_bytes(std::span(std::string_view("hello")))));
}

TYPED_TEST(TierConformance, MissingKeyIsNotFound) {
  EXPECT_EQ(this->tier_->Get({1, "nope"}).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(this->tier_->Contains({1, "nope"}));
  EXPECT_EQ(this->tier_->Erase({1, "nope"}).code(), StatusCode::kNotFound);
}

TYPED_TEST(TierConformance, MayContainNeverDeniesAPresentKey) {
  ASSERT_TRUE(this->tier_->Put({1, "k"}, this->Block("v")).ok());
  EXPECT_TRUE(this->tier_->MayContain({1, "k"}));
  EXPECT_TRUE(this->tier_->Contains({1, "k"}));
}

TYPED_TEST(TierConformance, NamespacesNeverMeet) {
  ASSERT_TRUE(this->tier_->Put({1, "k"}, this->Block("one")).ok());
  ASSERT_TRUE(this->tier_->Put({2, "k"}, this->Block("two")).ok());
  EXPECT_EQ(this->Text(*this->tier_->Get({1, "k"})), "one");
  EXPECT_EQ(this->Text(*this->tier_->Get({2, "k"})), "two");
  ASSERT_TRUE(this->tier_->Erase({1, "k"}).ok());
  EXPECT_FALSE(this->tier_->Contains({1, "k"}));
  EXPECT_TRUE(this->tier_->Contains({2, "k"}));
}

TYPED_TEST(TierConformance, PutReplacesAndOldHandlesStayValid) {
  ASSERT_TRUE(this->tier_->Put({1, "k"}, this->Block("first")).ok());
  auto old = this->tier_->Get({1, "k"});
  ASSERT_TRUE(old.ok());
  ASSERT_TRUE(this->tier_->Put({1, "k"}, this->Block("second")).ok());
  EXPECT_EQ(this->Text(*this->tier_->Get({1, "k"})), "second");
  EXPECT_EQ(this->Text(*old), "first");
  EXPECT_EQ(this->tier_->Stats().items, 1u);
}

TYPED_TEST(TierConformance, EraseKeepsPinnedBytesReadable) {
  ASSERT_TRUE(this->tier_->Put({1, "k"}, this->Block("pinned")).ok());
  auto pin = this->tier_->Get({1, "k"});
  ASSERT_TRUE(this->tier_->Erase({1, "k"}).ok());
  EXPECT_FALSE(this->tier_->Contains({1, "k"}));
  EXPECT_EQ(this->Text(*pin), "pinned");
}

TYPED_TEST(TierConformance, AcceptsBlocksFromOtherAllocators) {
  WritableBlock heap = HeapBlockAllocator::Instance().Allocate(3);
  std::memcpy(heap.mutable_bytes().data(), "abc", 3);
  const uint64_t checksum = BlockChecksum(heap.mutable_bytes());
  ASSERT_TRUE(this->tier_->Put({1, "k"}, std::move(heap).Seal(checksum)).ok());
  auto got = this->tier_->Get({1, "k"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(this->Text(*got), "abc");
  EXPECT_EQ(got->checksum(), checksum);
}

TYPED_TEST(TierConformance, EmptyValuesAreValues) {
  ASSERT_TRUE(this->tier_->Put({1, "empty"}, this->Block("")).ok());
  auto got = this->tier_->Get({1, "empty"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 0u);
}

TYPED_TEST(TierConformance, StatsCountItems) {
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(this->tier_->Put({1, "k" + std::to_string(i)}, this->Block("v")).ok());
  }
  ASSERT_TRUE(this->tier_->Erase({1, "k3"}).ok());
  const TierStats stats = this->tier_->Stats();
  EXPECT_EQ(stats.items, 9u);
  EXPECT_GT(stats.used_bytes, 0u);
  EXPECT_LE(stats.used_bytes, stats.capacity_bytes);
  EXPECT_EQ(stats.name, this->tier_->name());
}

}  // namespace
}  // namespace kvtier::tiers
