// The named race mechanisms of the tier stack, each on its own:
// SingleFlight (concurrent misses share one read), StripeLocks (per-key
// serialisation of the steps below DRAM) and DemotionQueue (sequence numbers
// and barriers that keep a stale demotion from overwriting a newer put or a
// delete; byte bound and backpressure).

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/checksum.h"
#include "tiers/demotion_queue.h"
#include "tiers/single_flight.h"
#include "tiers/stripe_locks.h"
#include "tiers/tier_stack.h"

namespace kvtier::tiers {
namespace {

BlockHandle HeapBlock(std::string_view text) {
  WritableBlock block = HeapBlockAllocator::Instance().Allocate(text.size());
  std::memcpy(block.mutable_bytes().data(), text.data(), text.size());
  return std::move(block).Seal(BlockChecksum(block.mutable_bytes()));
}

TEST(SingleFlight, ConcurrentMissesOfOneKeyShareOneRead) {
  SingleFlight flights;
  std::atomic<int> reads{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto read = [&](Location* from) -> Result<BlockHandle> {
    reads.fetch_add(1);
    released.wait();  // held until every joiner has joined
    *from = Location::kNvme;
    return HeapBlock("shared bytes");
  };
  constexpr int kJoiners = 7;
  std::vector<std::future<std::pair<std::string, bool>>> callers;
  auto call = [&] {
    Location from = Location::kNone;
    bool joined = false;
    auto got = flights.Do("key", read, &from, &joined);
    EXPECT_EQ(from, Location::kNvme);
    if (!got.ok()) return std::make_pair(got.status().ToString(), joined);
    return std::make_pair(
        std::string(reinterpret_cast<const char*>(got->bytes().data()), got->size()), joined);
  };
  callers.push_back(std::async(std::launch::async, call));
  while (!flights.InFlight("key")) std::this_thread::yield();
  for (int i = 0; i < kJoiners; ++i) callers.push_back(std::async(std::launch::async, call));
  while (flights.joins() < kJoiners) std::this_thread::yield();
  release.set_value();
  int joined = 0;
  for (auto& caller : callers) {
    auto [bytes, did_join] = caller.get();
    EXPECT_EQ(bytes, "shared bytes");
    joined += did_join;
  }
  EXPECT_EQ(reads.load(), 1);
  EXPECT_EQ(joined, kJoiners);
  EXPECT_FALSE(flights.InFlight("key"));
}

TEST(SingleFlight, JoinersShareTheLeadersErrorAndTheNextCallReadsAgain) {
  SingleFlight flights;
  std::atomic<int> reads{0};
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  auto failing = [&](Location*) -> Result<BlockHandle> {
    reads.fetch_add(1);
    released.wait();
    return Unavailable("origin down");
  };
  auto call = [&] {
    Location from = Location::kNone;
    return flights.Do("k", failing, &from).status().code();
  };
  auto leader = std::async(std::launch::async, call);
  while (!flights.InFlight("k")) std::this_thread::yield();
  auto joiner = std::async(std::launch::async, call);
  while (flights.joins() < 1) std::this_thread::yield();
  release.set_value();
  EXPECT_EQ(leader.get(), StatusCode::kUnavailable);
  EXPECT_EQ(joiner.get(), StatusCode::kUnavailable);
  EXPECT_EQ(reads.load(), 1);
  // The flight is over: a later miss reads again.
  EXPECT_EQ(call(), StatusCode::kUnavailable);
  EXPECT_EQ(reads.load(), 2);
}

TEST(StripeLocks, OneKeyAlwaysTakesOneStripeAndKeysSpreadOverAll) {
  StripeLocks stripes;
  EXPECT_EQ(&stripes.For("some key"), &stripes.For(std::string("some key")));
  std::set<size_t> used;
  for (int i = 0; i < 20000; ++i) used.insert(StripeLocks::IndexOf("key" + std::to_string(i)));
  EXPECT_GT(used.size(), StripeLocks::kStripes * 9 / 10);
}

TEST(StripeLocks, HoldersOfOneKeyAreSerialised) {
  StripeLocks stripes;
  int inside = 0;
  int most_inside = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        std::lock_guard lock(stripes.For("hot key"));
        most_inside = std::max(most_inside, ++inside);
        --inside;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(most_inside, 1);
}

// A writer the test holds: each demotion waits until the test lets it go,
// and records what it would have written (only demotions still current).
class HeldWriter {
 public:
  void Write(DemotionQueue::Demotion& demotion, DemotionQueue& queue) {
    std::unique_lock lock(mu_);
    ++started_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return released_ > 0; });
    --released_;
    if (queue.IsCurrent(demotion.index_key, demotion.seq)) {
      written_.push_back(std::string(reinterpret_cast<const char*>(demotion.block.bytes().data()),
                                     demotion.block.size()));
    }
    queue.Finish(demotion.index_key, demotion.seq);
  }
  void WaitStarted(int count) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return started_ >= count; });
  }
  void Release(int count) {
    std::lock_guard lock(mu_);
    released_ += count;
    cv_.notify_all();
  }
  std::vector<std::string> written() {
    std::lock_guard lock(mu_);
    return written_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int started_ = 0;
  int released_ = 0;
  std::vector<std::string> written_;
};

TEST(DemotionQueue, ABarrierCancelsOnlyDemotionsQueuedBeforeIt) {
  HeldWriter writer;
  DemotionQueue* self = nullptr;
  DemotionQueue queue(1 << 20, [&](DemotionQueue::Demotion& d) { writer.Write(d, *self); });
  self = &queue;
  ASSERT_TRUE(queue.Enqueue("blocker", HeapBlock("first")));
  writer.WaitStarted(1);  // the thread is busy: what follows stays queued
  ASSERT_TRUE(queue.Enqueue("k", HeapBlock("old value")));
  const uint64_t barrier = queue.NextBarrier();  // a put of "k" after the eviction
  ASSERT_TRUE(queue.Enqueue("j", HeapBlock("evicted after the barrier")));
  EXPECT_TRUE(queue.Holds("k"));
  ASSERT_TRUE(queue.Find("k").has_value());
  EXPECT_TRUE(queue.CancelBefore("k", barrier));
  EXPECT_FALSE(queue.CancelBefore("j", barrier));  // numbered after the barrier
  EXPECT_FALSE(queue.Holds("k"));
  EXPECT_FALSE(queue.Find("k").has_value());
  writer.Release(3);
  queue.WaitIdle();
  EXPECT_EQ(writer.written(), (std::vector<std::string>{"first", "evicted after the barrier"}));
  EXPECT_FALSE(queue.Holds("j"));  // finished
}

TEST(DemotionQueue, ADemotionBeingWrittenStaysReadableUntilItFinishes) {
  HeldWriter writer;
  DemotionQueue* self = nullptr;
  DemotionQueue queue(1 << 20, [&](DemotionQueue::Demotion& d) { writer.Write(d, *self); });
  self = &queue;
  ASSERT_TRUE(queue.Enqueue("k", HeapBlock("bytes")));
  writer.WaitStarted(1);
  EXPECT_TRUE(queue.Holds("k"));
  ASSERT_TRUE(queue.Find("k").has_value());
  // A delete during the write cancels it: the writer sees it is stale.
  EXPECT_TRUE(queue.CancelBefore("k", queue.NextBarrier()));
  writer.Release(1);
  queue.WaitIdle();
  EXPECT_TRUE(writer.written().empty());
}

TEST(DemotionQueue, AFullQueueRefusesAndBackpressureWaitsForHalf) {
  HeldWriter writer;
  DemotionQueue* self = nullptr;
  const std::string value(100, 'x');
  DemotionQueue queue(400, [&](DemotionQueue::Demotion& d) { writer.Write(d, *self); });
  self = &queue;
  EXPECT_FALSE(queue.WaitForRoom([] {}));  // empty: no need to wait
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(queue.Enqueue("k" + std::to_string(i), HeapBlock(value)));
  EXPECT_FALSE(queue.Enqueue("over", HeapBlock(value)));  // past 400 bytes: dropped
  EXPECT_TRUE(queue.Backlogged());
  std::atomic<int> room_calls{0};
  ASSERT_TRUE(queue.WaitForRoom([&] { room_calls.fetch_add(1); }));
  writer.Release(2);  // 200 bytes left: not below half yet
  writer.WaitStarted(3);
  EXPECT_EQ(room_calls.load(), 0);
  writer.Release(2);
  queue.WaitIdle();
  EXPECT_EQ(room_calls.load(), 1);
  EXPECT_FALSE(queue.Backlogged());
  EXPECT_EQ(writer.written().size(), 4u);
}

TEST(DemotionQueue, StopWritesWhatIsQueuedThenRefusesAndRunsRoomCallbacks) {
  std::vector<std::string> written;
  DemotionQueue queue(1 << 20, [&](DemotionQueue::Demotion& d) { written.push_back(d.index_key); });
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(queue.Enqueue("k" + std::to_string(i), HeapBlock("v")));
  queue.Stop();
  EXPECT_EQ(written.size(), 10u);
  EXPECT_FALSE(queue.Enqueue("late", HeapBlock("v")));
  EXPECT_FALSE(queue.WaitForRoom([] {}));
}

}  // namespace
}  // namespace kvtier::tiers
