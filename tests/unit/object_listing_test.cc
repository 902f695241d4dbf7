// Pages of object listings (tiers/object_listing.h) and the HTTP dates
// listings carry.

#include <gtest/gtest.h>

#include "tiers/blob/blob_client.h"
#include "tiers/object_listing.h"

namespace kvtier::tiers {
namespace {

ObjectMap Objects(std::initializer_list<const char*> paths) {
  ObjectMap out;
  for (const char* path : paths) out.emplace(path, ObjectInfo{path, 1, "v", 0, 4});
  return out;
}

std::vector<std::string> Paths(const ObjectListing& page) {
  std::vector<std::string> out;
  for (const auto& object : page.objects) out.push_back(object.path);
  return out;
}

const ObjectMap kTree = Objects({"a.bin", "d/1", "d/2", "d/e/3", "d0", "dz/4", "z.bin"});

TEST(ListPage, APrefixSelectsOnlyThePathsThatStartWithIt) {
  auto page = ListPage(kTree, {.prefix = "d/"});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Paths(*page), (std::vector<std::string>{"d/1", "d/2", "d/e/3"}));
  EXPECT_TRUE(page->prefixes.empty());
  EXPECT_TRUE(page->next_page_token.empty());
}

TEST(ListPage, ADelimiterRollsDeeperPathsUpIntoPrefixesOnce) {
  auto page = ListPage(kTree, {.delimiter = "/"});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Paths(*page), (std::vector<std::string>{"a.bin", "d0", "z.bin"}));
  EXPECT_EQ(page->prefixes, (std::vector<std::string>{"d/", "dz/"}));

  page = ListPage(kTree, {.prefix = "d/", .delimiter = "/"});
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(Paths(*page), (std::vector<std::string>{"d/1", "d/2"}));
  EXPECT_EQ(page->prefixes, std::vector<std::string>{"d/e/"});
}

TEST(ListPage, PagesOfOneVisitEveryEntryOnceAcrossRolledUpDirectories) {
  std::vector<std::string> seen;
  ListQuery query{.delimiter = "/", .max_results = 1};
  for (int pages = 0;; ++pages) {
    ASSERT_LT(pages, 20);
    auto page = ListPage(kTree, query);
    ASSERT_TRUE(page.ok());
    ASSERT_EQ(page->objects.size() + page->prefixes.size(), 1u);
    seen.push_back(page->objects.empty() ? page->prefixes[0] : page->objects[0].path);
    if (page->next_page_token.empty()) break;
    query.page_token = page->next_page_token;
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"a.bin", "d/", "d0", "dz/", "z.bin"}));
}

TEST(ListPage, ForeignPageTokensAreRefused) {
  EXPECT_EQ(ListPage(kTree, {.page_token = "xyz"}).status().code(), StatusCode::kInvalidArgument);
  // A token of another prefix's listing.
  EXPECT_EQ(ListPage(kTree, {.prefix = "d/", .page_token = "oa.bin"}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(ListPage(kTree, {.delimiter = "//"}).status().code(), StatusCode::kInvalidArgument);
}

TEST(HttpDate, ParsesTheFixedDateFormAndRefusesOthers) {
  EXPECT_EQ(blob::ParseHttpDateMs("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777000u);
  EXPECT_EQ(blob::ParseHttpDateMs("Sunday, 06-Nov-94 08:49:37 GMT"), 0u);
  EXPECT_EQ(blob::ParseHttpDateMs(""), 0u);
}

}  // namespace
}  // namespace kvtier::tiers
