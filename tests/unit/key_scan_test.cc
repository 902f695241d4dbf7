// SCAN's paging over keys held in several tiers (tiers/key_scan.h).

#include "tiers/key_scan.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

namespace kvtier::tiers {
namespace {

// One page from `cursor` over the keys of both "tiers".
KeyPage Page(const std::set<std::string>& dram, const std::set<std::string>& nvme, uint64_t cursor,
             size_t limit) {
  KeyPageBuilder builder(cursor, limit);
  for (const std::string& key : dram) builder.Offer(key);
  for (const std::string& key : nvme) builder.Offer(key);
  return builder.Take();
}

TEST(KeyScanTest, PagesReturnEveryKeyOnceEvenWhenTwoTiersHoldIt) {
  std::set<std::string> dram;
  std::set<std::string> nvme;
  for (int i = 0; i < 1000; ++i) {
    (i % 3 == 0 ? nvme : dram).insert("key" + std::to_string(i));
    if (i % 10 == 0) nvme.insert("key" + std::to_string(i));  // in both
  }
  std::vector<std::string> seen;
  uint64_t cursor = 0;
  int pages = 0;
  do {
    const KeyPage page = Page(dram, nvme, cursor, 64);
    EXPECT_LE(page.keys.size(), 64u);
    seen.insert(seen.end(), page.keys.begin(), page.keys.end());
    cursor = page.next_cursor;
    ++pages;
  } while (cursor != 0 && pages < 1000);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end()) << "a key came twice";
  EXPECT_EQ(seen.size(), 1000u);
  EXPECT_GE(pages, 1000 / 64);
}

TEST(KeyScanTest, KeysThatStayAreSeenWhileOthersComeGoAndMove) {
  std::set<std::string> dram;
  std::set<std::string> nvme;
  std::set<std::string> stable;
  for (int i = 0; i < 500; ++i) {
    dram.insert("stable" + std::to_string(i));
    stable.insert("stable" + std::to_string(i));
  }
  std::set<std::string> seen;
  uint64_t cursor = 0;
  int round = 0;
  do {
    const KeyPage page = Page(dram, nvme, cursor, 50);
    seen.insert(page.keys.begin(), page.keys.end());
    cursor = page.next_cursor;
    // Between pages: new keys arrive, some go, stable ones move to NVMe.
    for (int i = 0; i < 20; ++i) dram.insert("new" + std::to_string(round * 20 + i));
    dram.erase("new" + std::to_string(round * 10));
    for (int i = round * 25; i < round * 25 + 25 && i < 500; ++i) {
      dram.erase("stable" + std::to_string(i));
      nvme.insert("stable" + std::to_string(i));
    }
    ++round;
  } while (cursor != 0 && round < 10'000);
  for (const std::string& key : stable) EXPECT_EQ(seen.count(key), 1u) << key;
}

TEST(KeyScanTest, AnEmptyNamespaceEndsAtOnce) {
  const KeyPage page = Page({}, {}, 0, 10);
  EXPECT_TRUE(page.keys.empty());
  EXPECT_EQ(page.next_cursor, 0u);
}

}  // namespace
}  // namespace kvtier::tiers
