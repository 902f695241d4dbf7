// OriginRuns: a sequential reader's next blocks read as one range on a
// run's thread and handed on as they arrive, joined by their own requests;
// runs grow, and the next starts when the reader is halfway through the
// current one; random readers read alone; versions never mix; a failed run
// reports the change; held blocks are bounded per run and in time.

#include "tiers/blob/origin_runs.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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

// A ReadRun over an object at `version`, recording each (first, count) it
// was asked for and handing blocks on one by one. Declared before the
// OriginRuns that reads it: a run's thread may still call it until the
// OriginRuns is destroyed.
struct FakeOrigin {
  // Atomic: a test may change the object while a run still reads it.
  std::atomic<char> version{'a'};
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  std::mutex mu;
  // Runs inside each read before block `pause_before` (or before any).
  std::function<void()> while_reading;
  uint64_t pause_before = 0;
  Status fail = Status::Ok();
  uint64_t fail_after = 0;  // blocks handed on before `fail`
  bool changed = false;
  // With `hold_after_first`, a run hands on its first block at once and the
  // rest only once `release` is set, so runs stay reading while a test looks.
  bool hold_after_first = false;
  std::atomic<bool> release{false};

  OriginRuns::ReadRun Reader() {
    return [this](uint64_t first, uint64_t count, bool* out_changed,
                  const OriginRuns::Deliver& deliver) -> Status {
      {
        std::lock_guard lock(mu);
        calls.emplace_back(first, count);
      }
      for (uint64_t i = first; i < first + count; ++i) {
        if (while_reading && (pause_before == 0 || i == pause_before)) while_reading();
        while (hold_after_first && i > first && !release) std::this_thread::yield();
        if (!fail.ok() && i - first >= fail_after) {
          *out_changed = changed;
          return fail;
        }
        KVTIER_RETURN_IF_ERROR(deliver(i, BlockOf(i, version.load())));
      }
      return Status::Ok();
    };
  }
  std::vector<std::pair<uint64_t, uint64_t>> Calls() {
    std::lock_guard lock(mu);
    return calls;
  }
  // The calls once there are `n` (a run records its call on its own
  // thread), or after 5 s; then 20 ms more, for any that should not come.
  std::vector<std::pair<uint64_t, uint64_t>> CallsOnce(size_t n) {
    for (int i = 0; i < 5000 && Calls().size() < n; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return Calls();
  }
};

using Calls = std::vector<std::pair<uint64_t, uint64_t>>;

Result<BlockHandle> Get(OriginRuns& runs, FakeOrigin& origin, uint64_t index, uint64_t blocks = 12,
                        std::string version = "a") {
  bool changed = false;
  return runs.Get("obj", version, index, blocks, origin.Reader(), &changed);
}

TEST(OriginRunsTest, ASequentialReaderReadsGrowingRunsAndEveryBlockOnce) {
  FakeOrigin origin;
  OriginRuns runs({.streams = 1, .run_blocks = 4, .max_run_blocks = 16});
  for (uint64_t i = 0; i < 12; ++i) {
    auto block = Get(runs, origin, i);
    ASSERT_TRUE(block.ok()) << block.status().ToString();
    EXPECT_TRUE(IsBlock(*block, i, 'a')) << i;
  }
  // The first block alone, then runs from the frontier, each twice as long
  // as the last, the last one cut at the object's end.
  EXPECT_EQ(origin.Calls(), (Calls{{0, 1}, {1, 4}, {5, 7}}));
  EXPECT_EQ(runs.counts().runs, 2u);
  EXPECT_EQ(runs.counts().blocks_joined, 11u);
}

TEST(OriginRunsTest, TheNextRunStartsOnceTheReaderIsHalfwayThroughTheCurrentOne) {
  FakeOrigin origin;
  OriginRuns runs({.streams = 1, .run_blocks = 4, .max_run_blocks = 16});
  for (uint64_t i = 0; i < 3; ++i) ASSERT_TRUE(Get(runs, origin, i).ok());
  EXPECT_EQ(origin.Calls(), (Calls{{0, 1}, {1, 4}}));  // block 2: not yet halfway
  ASSERT_TRUE(Get(runs, origin, 3).ok());
  // Block 3 is past the middle of {1,4}: the run from 5 starts although
  // nobody asked for 5 yet.
  EXPECT_EQ(origin.CallsOnce(3), (Calls{{0, 1}, {1, 4}, {5, 7}}));
  for (uint64_t i = 4; i < 12; ++i) {
    auto block = Get(runs, origin, i);
    ASSERT_TRUE(block.ok());
    EXPECT_TRUE(IsBlock(*block, i, 'a')) << i;
  }
  EXPECT_EQ(origin.Calls().size(), 3u);  // every block once
  EXPECT_EQ(runs.counts().blocks_joined, 11u);
}

TEST(OriginRunsTest, UpToStreamsRunsOfOneReaderReadAtOnceEachFromTheFrontier) {
  FakeOrigin origin;  // outlives the runs that read it
  origin.hold_after_first = true;
  OriginRuns runs({.streams = 3, .run_blocks = 4, .max_run_blocks = 4, .max_running = 8});
  ASSERT_TRUE(Get(runs, origin, 0, 40).ok());
  // Block 1 starts a run; taking it starts a second from the frontier.
  ASSERT_TRUE(Get(runs, origin, 1, 40).ok());
  EXPECT_EQ(origin.CallsOnce(3), (Calls{{0, 1}, {1, 4}, {5, 4}}));
  // Taking from the second (both still reading) starts a third; taking
  // from the third starts none: three read at once.
  ASSERT_TRUE(Get(runs, origin, 5, 40).ok());
  ASSERT_TRUE(Get(runs, origin, 9, 40).ok());
  EXPECT_EQ(origin.CallsOnce(4), (Calls{{0, 1}, {1, 4}, {5, 4}, {9, 4}}));
  origin.release = true;
  for (uint64_t i : {2u, 3u, 4u, 6u, 7u, 8u, 10u}) {
    auto block = Get(runs, origin, i, 40);
    ASSERT_TRUE(block.ok()) << i;
    EXPECT_TRUE(IsBlock(*block, i, 'a')) << i;
  }
  // Every block came from a run: none was read alone or twice.
  for (const auto& [first, count] : origin.Calls()) EXPECT_TRUE(first == 0 || count == 4) << first;
}

TEST(OriginRunsTest, ExtraStreamsLeaveHalfTheRunSlotsToOtherReaders) {
  FakeOrigin origin;
  origin.hold_after_first = true;
  OriginRuns runs({.streams = 4, .run_blocks = 4, .max_run_blocks = 4, .max_running = 4});
  ASSERT_TRUE(Get(runs, origin, 0, 40).ok());
  ASSERT_TRUE(Get(runs, origin, 1, 40).ok());  // the first run, and a second (1 of 4 slots used)
  ASSERT_EQ(origin.CallsOnce(3).size(), 3u);
  ASSERT_TRUE(Get(runs, origin, 5, 40).ok());  // 2 of 4 used: no third
  EXPECT_EQ(origin.CallsOnce(4), (Calls{{0, 1}, {1, 4}, {5, 4}}));
  origin.release = true;
}

TEST(OriginRunsTest, AReaderThatStopsEarlyStartsNoFurtherRun) {
  FakeOrigin origin;
  OriginRuns runs({.streams = 1, .run_blocks = 8});
  ASSERT_TRUE(Get(runs, origin, 0, 100).ok());
  ASSERT_TRUE(Get(runs, origin, 1, 100).ok());  // run {1,8}; the reader stops at block 2
  ASSERT_TRUE(Get(runs, origin, 2, 100).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(origin.Calls(), (Calls{{0, 1}, {1, 8}}));
}

TEST(OriginRunsTest, ARunHandsOnItsFirstBlockBeforeTheRestHasCome) {
  std::atomic<bool> release{false};  // outlives the run that reads it
  FakeOrigin origin;
  OriginRuns runs({.streams = 1, .run_blocks = 4});
  ASSERT_TRUE(Get(runs, origin, 0).ok());
  origin.pause_before = 2;  // blocks 2.. wait until released
  origin.while_reading = [&] {
    while (!release) std::this_thread::yield();
  };
  auto first = Get(runs, origin, 1);  // returns although the run is still reading
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(IsBlock(*first, 1, 'a'));
  release = true;
  auto second = Get(runs, origin, 2);  // before the run's middle: nothing follows yet
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(IsBlock(*second, 2, 'a'));
  EXPECT_EQ(origin.Calls(), (Calls{{0, 1}, {1, 4}}));
}

TEST(OriginRunsTest, RandomReadsAndStragglersReadAlone) {
  FakeOrigin origin;
  OriginRuns runs({.streams = 1, .run_blocks = 4});
  for (uint64_t i : {5u, 2u, 9u, 3u}) ASSERT_TRUE(Get(runs, origin, i).ok());
  // 5 then 2 (behind), 9 (a jump), 3 (behind): nothing read ahead.
  EXPECT_EQ(origin.Calls(), (Calls{{5, 1}, {2, 1}, {9, 1}, {3, 1}}));
  // 10 continues 9: a run from there.
  ASSERT_TRUE(Get(runs, origin, 10).ok());
  EXPECT_EQ(origin.Calls().back(), (std::pair<uint64_t, uint64_t>{10, 2}));
}

TEST(OriginRunsTest, AConcurrentRequestWaitsForTheRunInsteadOfReading) {
  std::atomic<bool> reading{false};  // both outlive the run that reads them
  std::atomic<bool> release{false};
  FakeOrigin origin;
  OriginRuns runs({.streams = 1, .run_blocks = 4});
  ASSERT_TRUE(Get(runs, origin, 0).ok());
  origin.while_reading = [&] {
    reading = true;
    while (!release) std::this_thread::yield();
  };
  std::thread leader([&] { EXPECT_TRUE(Get(runs, origin, 1).ok()); });
  while (!reading) std::this_thread::yield();
  Result<BlockHandle> joined = Internal("unset");
  std::thread joiner([&] { joined = Get(runs, origin, 2); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  release = true;
  leader.join();
  joiner.join();
  ASSERT_TRUE(joined.ok()) << joined.status().ToString();
  EXPECT_TRUE(IsBlock(*joined, 2, 'a'));
  EXPECT_EQ(origin.Calls().size(), 2u);  // {0,1} and the run {1,4}; block 2 was not read again
}

TEST(OriginRunsTest, VersionsNeverMix) {
  FakeOrigin origin;
  OriginRuns runs({.streams = 1, .run_blocks = 4});
  ASSERT_TRUE(Get(runs, origin, 0).ok());
  ASSERT_TRUE(Get(runs, origin, 1).ok());  // run {1,4} at version a holds 2..4
  origin.version = 'b';
  auto block = Get(runs, origin, 2, 12, "b");
  ASSERT_TRUE(block.ok());
  EXPECT_TRUE(IsBlock(*block, 2, 'b'));
}

TEST(OriginRunsTest, AFailedRunReportsTheChange) {
  FakeOrigin origin;
  OriginRuns runs({.streams = 1, .run_blocks = 4});
  ASSERT_TRUE(Get(runs, origin, 0).ok());
  origin.fail = Unavailable("the object changed");
  origin.changed = true;
  bool changed = false;
  auto failed = runs.Get("obj", "a", 1, 12, origin.Reader(), &changed);
  EXPECT_FALSE(failed.ok());
  EXPECT_TRUE(changed);
}

TEST(OriginRunsTest, BlocksARunHandedOnBeforeItFailedAreServedAndTheRestReadAlone) {
  FakeOrigin origin;
  OriginRuns runs({.streams = 1, .run_blocks = 4});
  ASSERT_TRUE(Get(runs, origin, 0).ok());
  origin.fail = Unavailable("connection reset");
  origin.fail_after = 2;  // blocks 1 and 2 come, then the read fails (a read of 1 succeeds)
  ASSERT_TRUE(Get(runs, origin, 1).ok());
  auto second = Get(runs, origin, 2);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(IsBlock(*second, 2, 'a'));
  auto third = Get(runs, origin, 3);
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE(IsBlock(*third, 3, 'a'));
  EXPECT_EQ(origin.Calls(), (Calls{{0, 1}, {1, 4}, {3, 1}}));
}

TEST(OriginRunsTest, ARunHoldsAtMostItsShareAndGivesUpWhenItsReaderStops) {
  FakeOrigin origin;
  OriginRuns runs({.streams = 1,
                   .run_blocks = 8,
                   .max_running = 1,
                   .max_held_bytes = 2 * kBlock,
                   .hold_for = std::chrono::milliseconds(50)});
  ASSERT_TRUE(Get(runs, origin, 0).ok());
  ASSERT_TRUE(Get(runs, origin, 1).ok());  // run {1,8}: holds 2 and 3, then waits for room
  // Block 4 never fits: the run gives up after hold_for and 4 is read alone.
  auto fourth = Get(runs, origin, 4);
  ASSERT_TRUE(fourth.ok());
  EXPECT_TRUE(IsBlock(*fourth, 4, 'a'));
  EXPECT_EQ(origin.Calls(), (Calls{{0, 1}, {1, 8}, {4, 1}}));
  // What it held is still served.
  for (uint64_t i : {2u, 3u}) {
    auto block = Get(runs, origin, i);
    ASSERT_TRUE(block.ok());
    EXPECT_TRUE(IsBlock(*block, i, 'a'));
  }
  EXPECT_EQ(origin.Calls().size(), 3u);
}

TEST(OriginRunsTest, AFinishedRunsUntakenBlocksAreDroppedAfterHoldFor) {
  FakeOrigin origin;
  OriginRuns runs({.streams = 1, .run_blocks = 4, .hold_for = std::chrono::milliseconds(20)});
  ASSERT_TRUE(Get(runs, origin, 0).ok());
  ASSERT_TRUE(Get(runs, origin, 1).ok());  // run {1,4}: 2..4 held once it ends
  // Wait for the run to end: a request for 5 (the frontier) waits for it
  // only if it covers 5; it does not, so poll the held count instead.
  for (int i = 0; i < 1000 && runs.counts().blocks_dropped == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    // Any call trims. Every other block, so the polling reads never look
    // sequential and start no run of their own (its origin calls could
    // come after the read of block 2 below).
    ASSERT_TRUE(Get(runs, origin, 100 + 2 * i, 4000).ok());
  }
  EXPECT_EQ(runs.counts().blocks_dropped, 3u);
  auto again = Get(runs, origin, 2);  // dropped: read again, alone
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(IsBlock(*again, 2, 'a'));
  EXPECT_EQ(origin.Calls().back(), (std::pair<uint64_t, uint64_t>{2, 1}));
}

TEST(OriginRunsTest, DestroyingStopsARunThatWaitsForRoom) {
  FakeOrigin origin;
  {
    OriginRuns runs({.streams = 1,
                     .run_blocks = 8,
                     .max_running = 1,
                     .max_held_bytes = kBlock,
                     .hold_for = std::chrono::hours(1)});
    ASSERT_TRUE(Get(runs, origin, 0).ok());
    ASSERT_TRUE(Get(runs, origin, 1).ok());  // the run holds 2 and waits for room for 3
  }                                          // must not wait an hour
  SUCCEED();
}

}  // namespace
}  // namespace kvtier::tiers::blob
