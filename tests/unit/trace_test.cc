#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "bench/trace.h"

namespace kvtier::bench {
namespace {

TraceRequest Request(std::vector<uint64_t> ids, uint64_t input_length) {
  TraceRequest r;
  r.hash_ids = std::move(ids);
  r.input_length = input_length;
  return r;
}

TEST(TraceParse, ReadsTheMooncakeFields) {
  auto r = ParseTraceLine(
      R"({"timestamp": 27482, "input_length": 6955, "output_length": 52, "hash_ids": [46, 47, 48]})");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->timestamp_ms, 27482u);
  EXPECT_EQ(r->input_length, 6955u);
  EXPECT_EQ(r->output_length, 52u);
  EXPECT_EQ(r->hash_ids, (std::vector<uint64_t>{46, 47, 48}));
}

TEST(TraceParse, AnyOrderUnknownFieldsAndFractions) {
  auto r = ParseTraceLine(
      R"( { "hash_ids":[1,2] ,"extra": [9], "timestamp": 12.0, "input_length":700 } )");
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->timestamp_ms, 12u);
  EXPECT_EQ(r->hash_ids.size(), 2u);
  EXPECT_TRUE(ParseTraceLine(R"({"hash_ids": []})").ok());
}

TEST(TraceParse, RejectsMalformedLines) {
  EXPECT_FALSE(ParseTraceLine(R"({"timestamp": 1})").ok());  // no hash_ids
  EXPECT_FALSE(ParseTraceLine(R"({"hash_ids": [1, 2})").ok());
  EXPECT_FALSE(ParseTraceLine(R"({"hash_ids": [1 2]})").ok());
  EXPECT_FALSE(ParseTraceLine(R"({"hash_ids": [-1]})").ok());
  EXPECT_FALSE(ParseTraceLine(R"({"hash_ids": [1]} trailing)").ok());
  EXPECT_FALSE(ParseTraceLine(R"([1, 2])").ok());
  EXPECT_FALSE(ParseTraceLine("").ok());
}

TEST(TraceParse, FormatRoundTrips) {
  TraceRequest r = Request({5, 6, 7}, 1500);
  r.timestamp_ms = 99;
  r.output_length = 3;
  auto back = ParseTraceLine(FormatTraceLine(r));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->hash_ids, r.hash_ids);
  EXPECT_EQ(back->timestamp_ms, 99u);
  EXPECT_EQ(back->input_length, 1500u);
}

TEST(TraceParse, LoadSkipsBlankLinesAndNamesTheBadOne) {
  const auto path = std::filesystem::temp_directory_path() / "kvtier_trace_test.jsonl";
  std::ofstream(path) << "{\"hash_ids\": [1]}\n\n{\"hash_ids\": [1, 2]}\n";
  auto trace = LoadTrace(path.string());
  ASSERT_TRUE(trace.ok());
  EXPECT_EQ(trace->size(), 2u);
  std::ofstream(path) << "{\"hash_ids\": [1]}\n{\"hash_ids\": oops}\n";
  auto bad = LoadTrace(path.string());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find(":2:"), std::string::npos) << bad.status().message();
  std::filesystem::remove(path);
}

// Capacity 3, worked by hand (MRU first after each request):
//   [1,2,3] hits 0 -> 1 2 3
//   [1,2,4] hits 2 -> evict 3 -> 1 2 4
//   [1,2,3] hits 2 -> evict 4 -> 1 2 3
//   [5]     hits 0 -> evict 3 -> 5 1 2
//   [1,2,3] hits 2 (3 is gone)
TEST(PrefixLruSimulator, MatchesAHandWorkedSequence) {
  PrefixLruSimulator lru(3);
  EXPECT_EQ(lru.Access({1, 2, 3}), 0u);
  EXPECT_EQ(lru.Access({1, 2, 4}), 2u);
  EXPECT_EQ(lru.Access({1, 2, 3}), 2u);
  EXPECT_EQ(lru.Access({5}), 0u);
  EXPECT_EQ(lru.Access({1, 2, 3}), 2u);
  EXPECT_EQ(lru.size(), 3u);
}

TEST(PrefixLruSimulator, HitsAreALeadingRunOnly) {
  PrefixLruSimulator lru(10);
  lru.Access({1, 2, 3});
  EXPECT_EQ(lru.Access({9, 2, 3}), 0u);  // 2 and 3 cached, but not as a prefix
  EXPECT_EQ(lru.Access({1, 2, 8}), 2u);
}

TEST(PrefixLruSimulator, ZeroCapacityNeverHits) {
  PrefixLruSimulator lru(0);
  lru.Access({1});
  EXPECT_EQ(lru.Access({1}), 0u);
}

TEST(PrefixHits, BlockAndTokenWeightingByHand) {
  // The same five requests as the hand-worked sequence, with input lengths
  // 1536, 900, 1536, 512, 1536 tokens and hits 0, 2, 2, 0, 2 blocks.
  PrefixHits hits;
  hits.Add(Request({1, 2, 3}, 1536), 0);
  hits.Add(Request({1, 2, 4}, 900), 2);  // 2 blocks = 1024 tokens, capped at 900
  hits.Add(Request({1, 2, 3}, 1536), 2);
  hits.Add(Request({5}, 512), 0);
  hits.Add(Request({1, 2, 3}, 1536), 2);
  EXPECT_EQ(hits.requests, 5u);
  EXPECT_DOUBLE_EQ(hits.BlockRatio(), 6.0 / 13.0);
  EXPECT_DOUBLE_EQ(hits.TokenRatio(), (900.0 + 1024 + 1024) / 6020.0);
  EXPECT_EQ(PrefixHits{}.BlockRatio(), 0.0);
}

}  // namespace
}  // namespace kvtier::bench
