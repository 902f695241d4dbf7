// OriginRuns: a sequential reader's next blocks read as one range, joined
// by their own requests; random readers read alone; versions never mix;
// a failed run reports the change; held blocks are bounded.

#include "tiers/blob/origin_runs.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <thread>

#include "common/checksum.h"

namespace kvtier::tiers::blob {
namespace {

constexpr uint64_t kBlock = 1024;

BlockHandle BlockOf(uint64_t index, char version) {
  WritableBlock block = HeapBlockAllocator::Instance().Allocate(kBlock);
  std::memset(block.mutable_bytes().data(), static_cast<int>(index * 7 + version), kBlock);
  const uint64_t checksum = BlockChecksum(block.mutable_bytes());
  return std::move(block).Seal(checksum);
}

bool IsBlock(const BlockHandle& block, uint64_t index, char version) {
  return block.size() == kBlock &&
         block.bytes()[0] == static_cast<std::byte>(static_cast<uint8_t>(index * 7 + version));
}

// A ReadRun over an object of `blocks` blocks at `version`, recording each
// (first, count) it was asked for.
struct FakeOrigin {
  char version = 'a';
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  std::mutex mu;
  std::function<void()> while_reading;  // runs inside each read
  Status fail = Status::Ok();
  bool changed = false;

  OriginRuns::ReadRun Reader() {
    return [this](uint64_t first, uint64_t count,
                  bool* out_changed) -> Result<std::vector<BlockHandle>> {
      {
        std::lock_guard lock(mu);
        calls.emplace_back(first, count);
      }
      if (while_reading) while_reading();
      if (!fail.ok()) {
        *out_changed = changed;
        return fail;
      }
      std::vector<BlockHandle> out;
      for (uint64_t i = first; i < first + count; ++i) out.push_back(BlockOf(i, version));
      return out;
    };
  }
};

Result<BlockHandle> Get(OriginRuns& runs, FakeOrigin& origin, uint64_t index, uint64_t blocks = 12,
                        std::string version = "a") {
  bool changed = false;
  return runs.Get("obj", version, index, blocks, origin.Reader(), &changed);
}

TEST(OriginRunsTest, ASequentialReaderReadsRunsAndEveryBlockOnce) {
  OriginRuns runs({.run_blocks = 4});
  FakeOrigin origin;
  for (uint64_t i = 0; i < 12; ++i) {
    auto block = Get(runs, origin, i);
    ASSERT_TRUE(block.ok()) << block.status().ToString();
    EXPECT_TRUE(IsBlock(*block, i, 'a')) << i;
  }
  // The first block alone, then runs from the frontier, the last one cut at
  // the object's end.
  EXPECT_EQ(origin.calls,
            (std::vector<std::pair<uint64_t, uint64_t>>{{0, 1}, {1, 4}, {5, 4}, {9, 3}}));
  EXPECT_EQ(runs.counts().runs, 3u);
  EXPECT_EQ(runs.counts().blocks_joined, 8u);
}

TEST(OriginRunsTest, RandomReadsAndStragglersReadAlone) {
  OriginRuns runs({.run_blocks = 4});
  FakeOrigin origin;
  for (uint64_t i : {5u, 2u, 9u, 3u}) ASSERT_TRUE(Get(runs, origin, i).ok());
  // 5 then 2 (behind), 9 (a jump), 3 (behind): nothing read ahead.
  EXPECT_EQ(origin.calls,
            (std::vector<std::pair<uint64_t, uint64_t>>{{5, 1}, {2, 1}, {9, 1}, {3, 1}}));
  // 10 continues 9: a run from there.
  ASSERT_TRUE(Get(runs, origin, 10).ok());
  EXPECT_EQ(origin.calls.back(), (std::pair<uint64_t, uint64_t>{10, 2}));
}

TEST(OriginRunsTest, AConcurrentRequestWaitsForTheRunInsteadOfReading) {
  OriginRuns runs({.run_blocks = 4});
  FakeOrigin origin;
  ASSERT_TRUE(Get(runs, origin, 0).ok());
  std::atomic<bool> reading{false};
  std::atomic<bool> release{false};
  origin.while_reading = [&] {
    reading = true;
    while (!release) std::this_thread::yield();
  };
  std::thread leader([&] { EXPECT_TRUE(Get(runs, origin, 1).ok()); });
  while (!reading) std::this_thread::yield();
  origin.while_reading = nullptr;
  Result<BlockHandle> joined = Internal("unset");
  std::thread joiner([&] { joined = Get(runs, origin, 3); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  release = true;
  leader.join();
  joiner.join();
  ASSERT_TRUE(joined.ok()) << joined.status().ToString();
  EXPECT_TRUE(IsBlock(*joined, 3, 'a'));
  EXPECT_EQ(origin.calls.size(), 2u);  // {0,1} and the run {1,4}; block 3 was not read again
}

TEST(OriginRunsTest, VersionsNeverMix) {
  OriginRuns runs({.run_blocks = 4});
  FakeOrigin origin;
  ASSERT_TRUE(Get(runs, origin, 0).ok());
  ASSERT_TRUE(Get(runs, origin, 1).ok());  // run {1,4} at version a holds 2..4
  origin.version = 'b';
  auto block = Get(runs, origin, 2, 12, "b");
  ASSERT_TRUE(block.ok());
  EXPECT_TRUE(IsBlock(*block, 2, 'b'));
}

TEST(OriginRunsTest, AFailedRunReportsTheChange) {
  OriginRuns runs({.run_blocks = 4});
  FakeOrigin origin;
  ASSERT_TRUE(Get(runs, origin, 0).ok());
  origin.fail = Unavailable("the object changed");
  origin.changed = true;
  bool changed = false;
  auto failed = runs.Get("obj", "a", 1, 12, origin.Reader(), &changed);
  EXPECT_FALSE(failed.ok());
  EXPECT_TRUE(changed);
}

TEST(OriginRunsTest, HeldBlocksAreBounded) {
  OriginRuns runs({.run_blocks = 8, .max_held_bytes = 2 * kBlock});
  FakeOrigin origin;
  ASSERT_TRUE(Get(runs, origin, 0).ok());
  ASSERT_TRUE(Get(runs, origin, 1).ok());       // run {1,8}: 7 blocks held, over the bound
  ASSERT_TRUE(Get(runs, origin, 20, 40).ok());  // any later call trims
  EXPECT_EQ(runs.counts().blocks_dropped, 7u);
  // A dropped block asked for later is read again, alone (behind the frontier).
  auto again = Get(runs, origin, 2);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(IsBlock(*again, 2, 'a'));
  EXPECT_EQ(origin.calls.back(), (std::pair<uint64_t, uint64_t>{2, 1}));
}

}  // namespace
}  // namespace kvtier::tiers::blob
