// The named race mechanisms of the tier stack, each on its own:
// SingleFlight (concurrent misses share one read) and StripeLocks (per-key
// serialisation of the steps below DRAM).

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <future>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/checksum.h"
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

}  // namespace
}  // namespace kvtier::tiers
