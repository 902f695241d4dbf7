#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <vector>

#include "common/byte_size.h"
#include "common/checksum.h"
#include "common/keys.h"
#include "common/result.h"
#include "common/timer_queue.h"
#include "common/worker_pool.h"

namespace kvtier {
namespace {

TEST(Status, OkHasNoMessageAndIsNotRetryable) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.ToString(), "ok");
  EXPECT_FALSE(ok.retryable());
}

TEST(Status, RetryableFollowsTheCode) {
  EXPECT_TRUE(ResourceExhausted("full").retryable());
  EXPECT_TRUE(Unavailable("stopping").retryable());
  EXPECT_TRUE(DeadlineExceeded("late").retryable());
  EXPECT_FALSE(InvalidArgument("bad").retryable());
  EXPECT_FALSE(Corruption("flip").retryable());
  EXPECT_EQ(InvalidArgument("bad key").ToString(), "invalid_argument: bad key");
}

TEST(Status, EveryCodeHasADistinctName) {
  std::set<std::string_view> names;
  for (uint8_t code = 0; code <= kMaxStatusCode; ++code) {
    names.insert(StatusCodeName(static_cast<StatusCode>(code)));
  }
  EXPECT_EQ(names.size(), kMaxStatusCode + 1u);
  EXPECT_EQ(names.count("unknown_code"), 0u);
}

Result<int> Half(int n) {
  if (n % 2 != 0) return InvalidArgument("odd");
  return n / 2;
}

Result<int> Quarter(int n) {
  KVTIER_ASSIGN_OR_RETURN(int half, Half(n));
  return Half(half);
}

TEST(Result, CarriesValueOrStatus) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Quarter(4).status().ok());
}

TEST(Result, OkStatusBecomesInternal) {
  Result<int> r{Status::Ok()};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(ByteSize, ParsesUnits) {
  EXPECT_EQ(*ParseByteSize("4096"), 4096u);
  EXPECT_EQ(*ParseByteSize("64KiB"), 64u * 1024);
  EXPECT_EQ(*ParseByteSize("1 GiB"), 1ull << 30);
  EXPECT_EQ(*ParseByteSize("2MB"), 2000000u);
  EXPECT_EQ(*ParseByteSize("3g"), 3ull << 30);
  EXPECT_EQ(*ParseByteSize("256MiB"), 256ull << 20);
}

TEST(ByteSize, RejectsNonsense) {
  EXPECT_FALSE(ParseByteSize("").ok());
  EXPECT_FALSE(ParseByteSize("-1").ok());
  EXPECT_FALSE(ParseByteSize("1.5GiB").ok());
  EXPECT_FALSE(ParseByteSize("12 parsecs").ok());
  EXPECT_FALSE(ParseByteSize("99999999999999999999").ok());
  EXPECT_FALSE(ParseByteSize("99999999999TiB").ok());
}

TEST(ByteSize, FormatsWithTheLargestExactUnit) {
  EXPECT_EQ(FormatByteSize(1ull << 30), "1GiB");
  EXPECT_EQ(FormatByteSize(1536), "1536B");
  EXPECT_EQ(FormatByteSize(3 * 1024), "3KiB");
  EXPECT_EQ(FormatByteSize(0), "0B");
}

TEST(Checksum, MatchesPublishedXxh3Vector) {
  // XXH3-64 of the empty input with seed 0, from the xxHash reference.
  EXPECT_EQ(BlockChecksum({}), 0x2D06800538D394C2ull);
}

TEST(Checksum, IncrementalEqualsOneShot) {
  std::vector<std::byte> data(100000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 31 + 7);
  BlockChecksummer incremental;
  incremental.Update(std::span(data).subspan(0, 333));
  incremental.Update(std::span(data).subspan(333));
  EXPECT_EQ(incremental.Digest(), BlockChecksum(data));
  data[5000] ^= std::byte{1};
  EXPECT_NE(incremental.Digest(), BlockChecksum(data));
}

TEST(Hex, RoundTripsAndRejectsBadDigits) {
  const std::string bytes("\x00\x7f\xff k", 5);
  EXPECT_EQ(ToHex(bytes), "007fff206b");
  EXPECT_EQ(*FromHex("007FFF206b"), bytes);
  EXPECT_FALSE(FromHex("abc").ok());
  EXPECT_FALSE(FromHex("zz").ok());
}

}  // namespace
}  // namespace kvtier

namespace kvtier {
namespace {

// Holds a pool's only thread until Open(), so jobs queue up behind it.
struct Gate {
  std::mutex mu;
  std::condition_variable cv;
  bool open = false;
  void Wait() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return open; });
  }
  void Open() {
    {
      std::lock_guard lock(mu);
      open = true;
    }
    cv.notify_all();
  }
};

TEST(WorkerPool, LatencyJobsRunBeforeQueuedBulkJobsWhichStillGetAShare) {
  WorkerPool pool("test", 1, 1000);
  Gate gate;
  std::promise<void> running;
  ASSERT_TRUE(pool.TrySubmit([&] {
    running.set_value();
    gate.Wait();
  }));
  running.get_future().wait();  // the thread is busy: what follows queues
  std::mutex mu;
  std::vector<char> order;
  auto record = [&](char c) {
    return [&, c] {
      std::lock_guard lock(mu);
      order.push_back(c);
    };
  };
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(pool.TrySubmit(record('b'), JobClass::kBulk));
  for (int i = 0; i < 16; ++i) ASSERT_TRUE(pool.TrySubmit(record('l'), JobClass::kLatency));
  gate.Open();
  pool.Shutdown();
  // Seven latency jobs, then a bulk one, and so on; bulk jobs never starve.
  const std::string got(order.begin(), order.end());
  EXPECT_EQ(got, "lllllllblllllllbllb");
}

TEST(WorkerPool, TheBoundCountsBothClasses) {
  WorkerPool pool("test", 1, 2);
  Gate gate;
  ASSERT_TRUE(pool.TrySubmit([&] { gate.Wait(); }));
  // The blocking job may or may not have been taken yet: fill up to the bound.
  while (pool.queued() < 2) {
    ASSERT_TRUE(pool.TrySubmit([] {}, pool.queued() == 0 ? JobClass::kBulk : JobClass::kLatency));
  }
  EXPECT_FALSE(pool.TrySubmit([] {}, JobClass::kLatency));
  EXPECT_FALSE(pool.TrySubmit([] {}, JobClass::kBulk));
  EXPECT_EQ(pool.rejected(), 2u);
  gate.Open();
}

TEST(TimerQueue, RunsCallbacksInDeadlineOrder) {
  TimerQueue timers;
  std::mutex mu;
  std::vector<int> order;
  std::promise<void> done;
  const auto now = TimerQueue::Clock::now();
  timers.Schedule(now + std::chrono::milliseconds(30), [&] {
    std::lock_guard lock(mu);
    order.push_back(3);
    done.set_value();
  });
  timers.Schedule(now + std::chrono::milliseconds(10), [&] {
    std::lock_guard lock(mu);
    order.push_back(2);
  });
  timers.Schedule(now - std::chrono::milliseconds(1), [&] {
    std::lock_guard lock(mu);
    order.push_back(1);
  });
  done.get_future().wait();
  std::lock_guard lock(mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

}  // namespace
}  // namespace kvtier
