#pragma once

// The contract of tiers/tier.h as a type-parameterized suite, run over every
// Tier implementation: a test binary instantiates it with a factory type,
//   INSTANTIATE_TYPED_TEST_SUITE_P(Name, TierConformance, FactoryType);
// A factory is default-constructible, outlives the tier it makes, and has
//   std::unique_ptr<Tier> Make(const std::filesystem::path& empty_dir);

#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <memory>

#include "common/checksum.h"
#include "tiers/tier.h"

namespace kvtier::tiers {

template <typename Factory>
class TierConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/kvtier-tier-XXXXXX";
    dir_ = mkdtemp(pattern);
    tier_ = factory_.Make(dir_);
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

  Factory factory_;  // outlives the tier (it may own a service the tier uses)
  std::filesystem::path dir_;
  std::unique_ptr<Tier> tier_;
};

TYPED_TEST_SUITE_P(TierConformance);

TYPED_TEST_P(TierConformance, PutThenGetReturnsBytesAndChecksum) {
  ASSERT_TRUE(this->tier_->Put({1, "k"}, this->Block("hello")).ok());
  auto got = this->tier_->Get({1, "k"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(this->Text(*got), "hello");
  EXPECT_EQ(got->checksum(), BlockChecksum(std::as_bytes(std::span(std::string_view("hello")))));
}

TYPED_TEST_P(TierConformance, MissingKeyIsNotFound) {
  EXPECT_EQ(this->tier_->Get({1, "nope"}).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(this->tier_->Contains({1, "nope"}));
  EXPECT_EQ(this->tier_->Erase({1, "nope"}).code(), StatusCode::kNotFound);
}

TYPED_TEST_P(TierConformance, MayContainNeverDeniesAPresentKey) {
  ASSERT_TRUE(this->tier_->Put({1, "k"}, this->Block("v")).ok());
  EXPECT_TRUE(this->tier_->MayContain({1, "k"}));
  EXPECT_TRUE(this->tier_->Contains({1, "k"}));
}

TYPED_TEST_P(TierConformance, NamespacesNeverMeet) {
  ASSERT_TRUE(this->tier_->Put({1, "k"}, this->Block("one")).ok());
  ASSERT_TRUE(this->tier_->Put({2, "k"}, this->Block("two")).ok());
  EXPECT_EQ(this->Text(*this->tier_->Get({1, "k"})), "one");
  EXPECT_EQ(this->Text(*this->tier_->Get({2, "k"})), "two");
  ASSERT_TRUE(this->tier_->Erase({1, "k"}).ok());
  EXPECT_FALSE(this->tier_->Contains({1, "k"}));
  EXPECT_TRUE(this->tier_->Contains({2, "k"}));
}

TYPED_TEST_P(TierConformance, PutReplacesAndOldHandlesStayValid) {
  ASSERT_TRUE(this->tier_->Put({1, "k"}, this->Block("first")).ok());
  auto old = this->tier_->Get({1, "k"});
  ASSERT_TRUE(old.ok());
  ASSERT_TRUE(this->tier_->Put({1, "k"}, this->Block("second")).ok());
  EXPECT_EQ(this->Text(*this->tier_->Get({1, "k"})), "second");
  EXPECT_EQ(this->Text(*old), "first");
  EXPECT_EQ(this->tier_->Stats().items, 1u);
}

TYPED_TEST_P(TierConformance, EraseKeepsPinnedBytesReadable) {
  ASSERT_TRUE(this->tier_->Put({1, "k"}, this->Block("pinned")).ok());
  auto pin = this->tier_->Get({1, "k"});
  ASSERT_TRUE(this->tier_->Erase({1, "k"}).ok());
  EXPECT_FALSE(this->tier_->Contains({1, "k"}));
  EXPECT_EQ(this->Text(*pin), "pinned");
}

TYPED_TEST_P(TierConformance, AcceptsBlocksFromOtherAllocators) {
  WritableBlock heap = HeapBlockAllocator::Instance().Allocate(3);
  std::memcpy(heap.mutable_bytes().data(), "abc", 3);
  const uint64_t checksum = BlockChecksum(heap.mutable_bytes());
  ASSERT_TRUE(this->tier_->Put({1, "k"}, std::move(heap).Seal(checksum)).ok());
  auto got = this->tier_->Get({1, "k"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(this->Text(*got), "abc");
  EXPECT_EQ(got->checksum(), checksum);
}

TYPED_TEST_P(TierConformance, EmptyValuesAreValues) {
  ASSERT_TRUE(this->tier_->Put({1, "empty"}, this->Block("")).ok());
  auto got = this->tier_->Get({1, "empty"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->size(), 0u);
}

TYPED_TEST_P(TierConformance, StatsCountItems) {
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

REGISTER_TYPED_TEST_SUITE_P(TierConformance, PutThenGetReturnsBytesAndChecksum,
                            MissingKeyIsNotFound, MayContainNeverDeniesAPresentKey,
                            NamespacesNeverMeet, PutReplacesAndOldHandlesStayValid,
                            EraseKeepsPinnedBytesReadable, AcceptsBlocksFromOtherAllocators,
                            EmptyValuesAreValues, StatsCountItems);

}  // namespace kvtier::tiers
