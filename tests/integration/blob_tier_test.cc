// The Blob tier against a real Azurite: the Tier conformance suite, then
// what only Blob does (verified reads of foreign bytes, conditional puts,
// sharing between servers).

#include "tiers/blob/blob_tier.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "common/checksum.h"
#include "tests/support/azurite_process.h"
#include "tests/unit/tier_conformance.h"

namespace kvtier::tiers {
namespace {

blob::BlobTierOptions TierOptions(const kvtier::testing::AzuriteProcess& azurite) {
  blob::BlobTierOptions options;
  options.client.endpoint = azurite.endpoint();
  options.client.account = kvtier::testing::kAzuriteAccount;
  options.client.account_key = kvtier::testing::kAzuriteKey;
  options.client.container = "tier";
  options.name_prefix = "kvtier/";
  options.namespace_names = {"", "demo"};
  return options;
}

struct BlobFactory {
  kvtier::testing::AzuriteProcess azurite;
  std::unique_ptr<Tier> Make(const std::filesystem::path&) {
    const Status started = azurite.Start();
    EXPECT_TRUE(started.ok()) << started.ToString() << azurite.log();
    if (!started.ok()) return nullptr;
    auto tier = blob::BlobTier::Open(TierOptions(azurite));
    EXPECT_TRUE(tier.ok()) << tier.status().ToString();
    return tier.ok() ? std::move(*tier) : nullptr;
  }
};

INSTANTIATE_TYPED_TEST_SUITE_P(Blob, TierConformance, BlobFactory);

BlockHandle HeapBlock(std::string_view text) {
  WritableBlock block = HeapBlockAllocator::Instance().Allocate(text.size());
  std::memcpy(block.mutable_bytes().data(), text.data(), text.size());
  return std::move(block).Seal(BlockChecksum(std::as_bytes(std::span(text))));
}

uint64_t Counter(const TierStats& stats, const std::string& name) {
  const auto value = stats.Counter(name);
  if (!value) ADD_FAILURE() << "no counter " << name;
  return value.value_or(0);
}

class BlobTierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(azurite_.Start().ok()) << azurite_.log();
    auto tier = blob::BlobTier::Open(TierOptions(azurite_));
    ASSERT_TRUE(tier.ok()) << tier.status().ToString();
    tier_ = std::move(*tier);
  }
  // Writes the blob of `key` behind the tier's back, as another writer or a
  // fault would.
  Status Overwrite(const BlockKey& key, const std::string& bytes,
                   const std::map<std::string, std::string>& metadata) {
    return tier_->client()
        .PutBlob(tier_->BlobName(key), std::as_bytes(std::span(bytes)), metadata, false)
        .status();
  }

  kvtier::testing::AzuriteProcess azurite_;
  std::unique_ptr<blob::BlobTier> tier_;
};

TEST_F(BlobTierTest, NamesUseTheNamespaceNameAndHexKey) {
  EXPECT_EQ(tier_->BlobName({1, "ab"}), "kvtier/demo/6162");
  EXPECT_EQ(tier_->BlobName({7, "ab"}), "kvtier/ns7/6162");
}

TEST_F(BlobTierTest, BytesThatFailTheirChecksumAreNeverServed) {
  // Another writer (or bit rot) left bytes that do not match the checksum.
  const std::string good = "the right bytes";
  const std::string bad = "the wrong bytes";
  char checksum[17];
  std::snprintf(checksum, sizeof(checksum), "%016llx",
                static_cast<unsigned long long>(BlockChecksum(std::as_bytes(std::span(good)))));
  const std::string name = tier_->BlobName({1, "k"});
  ASSERT_TRUE(
      tier_->client()
          .PutBlob(name, std::as_bytes(std::span(bad)), {{"kvtier_checksum", checksum}}, false)
          .ok());
  auto got = tier_->Get({1, "k"});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Counter(tier_->Stats(), "checksum_failures"), 1u);
  EXPECT_FALSE(tier_->Contains({1, "k"}));  // dropped

  // A blob without a checksum is not served either.
  ASSERT_TRUE(tier_->client().PutBlob(name, std::as_bytes(std::span(good)), {}, false).ok());
  EXPECT_EQ(tier_->Get({1, "k"}).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Counter(tier_->Stats(), "checksum_failures"), 2u);
}

// Two blobs' bodies trade places, each keeping its own metadata (a copy
// tool that mixed them up): both are detected, counted and never served.
TEST_F(BlobTierTest, SwappedPayloadsAreDetectedCountedAndNeverServed) {
  ASSERT_TRUE(tier_->Put({1, "a"}, HeapBlock("payload of block a")).ok());
  ASSERT_TRUE(tier_->Put({1, "b"}, HeapBlock("payload of block b")).ok());
  auto a = tier_->client().GetBlob(tier_->BlobName({1, "a"}));
  auto b = tier_->client().GetBlob(tier_->BlobName({1, "b"}));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(Overwrite({1, "a"}, b->bytes, a->properties.metadata).ok());
  ASSERT_TRUE(Overwrite({1, "b"}, a->bytes, b->properties.metadata).ok());
  EXPECT_EQ(tier_->Get({1, "a"}).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(tier_->Get({1, "b"}).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Counter(tier_->Stats(), "checksum_failures"), 2u);
  EXPECT_FALSE(tier_->Contains({1, "a"}));
  EXPECT_FALSE(tier_->Contains({1, "b"}));
}

TEST_F(BlobTierTest, WholeBlobsTradedBetweenKeysAreDetectedCountedAndNeverServed) {
  // Each blob moves with its own checksum: only the name binding tells.
  ASSERT_TRUE(tier_->Put({1, "a"}, HeapBlock("payload of block a")).ok());
  ASSERT_TRUE(tier_->Put({1, "b"}, HeapBlock("payload of block b")).ok());
  auto a = tier_->client().GetBlob(tier_->BlobName({1, "a"}));
  auto b = tier_->client().GetBlob(tier_->BlobName({1, "b"}));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(Overwrite({1, "a"}, b->bytes, b->properties.metadata).ok());
  ASSERT_TRUE(Overwrite({1, "b"}, a->bytes, a->properties.metadata).ok());
  auto got_a = tier_->Get({1, "a"});
  EXPECT_EQ(got_a.status().code(), StatusCode::kCorruption);
  EXPECT_NE(got_a.status().message().find("another key"), std::string::npos)
      << got_a.status().ToString();
  EXPECT_EQ(tier_->Get({1, "b"}).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Counter(tier_->Stats(), "checksum_failures"), 2u);
  EXPECT_FALSE(tier_->Contains({1, "a"}));
  EXPECT_FALSE(tier_->Contains({1, "b"}));

  // A blob without the binding (an older writer's) is still served when its
  // checksum holds.
  ASSERT_TRUE(tier_->Put({1, "c"}, HeapBlock("payload of block c")).ok());
  auto c = tier_->client().GetBlob(tier_->BlobName({1, "c"}));
  ASSERT_TRUE(c.ok());
  auto legacy = c->properties.metadata;
  ASSERT_EQ(legacy.erase("kvtier_name"), 1u);
  ASSERT_TRUE(Overwrite({1, "c"}, c->bytes, legacy).ok());
  EXPECT_TRUE(tier_->Get({1, "c"}).ok());
}

TEST_F(BlobTierTest, ExpiryAndKbMetadataTravelWithTheBlob) {
  auto with = [](std::string_view text, BlockAttributes attributes) {
    WritableBlock block = HeapBlockAllocator::Instance().Allocate(text.size());
    std::memcpy(block.mutable_bytes().data(), text.data(), text.size());
    return std::move(block).Seal(BlockChecksum(std::as_bytes(std::span(text))), attributes);
  };
  const uint64_t future = UnixNowMs() + 3'600'000;
  ASSERT_TRUE(tier_
                  ->Put({1, "doc"}, with("kv of a document",
                                         {future, PinLevel::kSoft, 300, 40, 0xabcdef0123456789ull}))
                  .ok());
  ASSERT_TRUE(tier_->Put({1, "gone"}, with("old", {UnixNowMs() - 1})).ok());
  auto doc = tier_->Get({1, "doc"});
  ASSERT_TRUE(doc.ok()) << doc.status().ToString();
  EXPECT_EQ(doc->attributes().expires_at_ms, future);
  EXPECT_EQ(doc->attributes().token_count, 300u);
  EXPECT_EQ(doc->attributes().position_offset, 40u);
  EXPECT_EQ(doc->attributes().producer, 0xabcdef0123456789ull);
  EXPECT_EQ(doc->attributes().pin, PinLevel::kNone);  // pins are each server's own
  EXPECT_EQ(tier_->Get({1, "gone"}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Counter(tier_->Stats(), "expired"), 1u);
}

TEST_F(BlobTierTest, PutIfAbsentNeverReplaces) {
  auto first = tier_->PutIfAbsent({1, "k"}, HeapBlock("first"));
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(*first);
  auto second = tier_->PutIfAbsent({1, "k"}, HeapBlock("second"));
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(*second);
  auto got = tier_->Get({1, "k"});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(got->bytes().data()), got->size()), "first");
  EXPECT_EQ(Counter(tier_->Stats(), "already_present"), 1u);
}

TEST_F(BlobTierTest, ABlockOneServerWroteAnotherReads) {
  auto other = blob::BlobTier::Open(TierOptions(azurite_));
  ASSERT_TRUE(other.ok());
  ASSERT_TRUE(tier_->Put({1, "shared"}, HeapBlock("across racks")).ok());
  auto got = (*other)->Get({1, "shared"});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(got->bytes().data()), got->size()),
            "across racks");
  EXPECT_EQ(got->checksum(),
            BlockChecksum(std::as_bytes(std::span(std::string_view("across racks")))));
}

TEST_F(BlobTierTest, ServiceDownIsUnavailableNotAMiss) {
  ASSERT_TRUE(tier_->Put({1, "k"}, HeapBlock("v")).ok());
  azurite_.Kill();
  auto got = tier_->Get({1, "k"});
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kUnavailable) << got.status().ToString();
  EXPECT_EQ(Counter(tier_->Stats(), "errors"), 1u);
  EXPECT_EQ(Counter(tier_->Stats(), "misses"), 0u);
}

}  // namespace
}  // namespace kvtier::tiers
