// Memory under overload: writes of several times the DRAM capacity at full
// speed must keep the server's resident memory within the capacity x 1.05
// plus its fixed overhead (its resident memory when idle), as
// docs/reliability.md promises.

#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <future>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"

namespace kvtier {
namespace {

// VmRSS of `pid` in bytes (0 when unreadable).
uint64_t ResidentBytes(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return 0;
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif

TEST(Overload, WritesOfFourTimesTheDramCapacityKeepMemoryBounded) {
  if (kSanitized) {
    GTEST_SKIP() << "AddressSanitizer keeps freed memory in quarantine and ThreadSanitizer "
                    "maps shadow memory: RSS says nothing here";
  }
  constexpr uint64_t kCapacity = 64ull << 20;
  testing::ServerProcess server({},
                                "tiers: {dram: {capacity: 64MiB}}\nnamespaces: [{name: demo}]\n");
  ASSERT_TRUE(server.Start().ok()) << server.log();
  // Connected and answered once: what is resident now is the fixed overhead.
  std::vector<std::unique_ptr<client::Client>> clients;
  for (int i = 0; i < 2; ++i) {
    clients.push_back(testing::ConnectTo(server));
    ASSERT_NE(clients.back(), nullptr);
    ASSERT_TRUE(clients.back()->Stats().ok());
  }
  const uint64_t idle = ResidentBytes(server.pid());
  ASSERT_GT(idle, 0u);

  std::atomic<bool> writing = true;
  std::atomic<uint64_t> peak = idle;
  std::thread sampler([&] {
    while (writing) {
      const uint64_t now = ResidentBytes(server.pid());
      uint64_t seen = peak.load();
      while (now > seen && !peak.compare_exchange_weak(seen, now)) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  // 256 MiB of distinct 1 MiB values, 8 puts in flight per client.
  const auto value = testing::RandomBytes(1 << 20, 3);
  const std::vector<std::span<const std::byte>> values = {value};
  std::vector<std::thread> writers;
  std::atomic<int> failed = 0;
  for (int c = 0; c < 2; ++c) {
    writers.emplace_back([&, c] {
      std::vector<std::vector<std::string>> keys;
      std::vector<std::future<Result<client::KeyStatuses>>> in_flight;
      for (int i = 0; i < 128; ++i) {
        keys.push_back({"c" + std::to_string(c) + "-" + std::to_string(i)});
      }
      for (int i = 0; i < 128; ++i) {
        in_flight.push_back(clients[c]->PutAsync("demo", keys[i], values));
        if (in_flight.size() == 8 || i == 127) {
          for (auto& put : in_flight) {
            auto done = put.get();
            if (!done.ok() || !done->all_ok()) ++failed;
          }
          in_flight.clear();
        }
      }
    });
  }
  for (auto& writer : writers) writer.join();
  writing = false;
  sampler.join();
  const uint64_t after = ResidentBytes(server.pid());
  EXPECT_EQ(failed.load(), 0);

  const uint64_t bound = kCapacity + kCapacity / 20 + idle;
  EXPECT_LE(peak.load(), bound) << "peak " << (peak >> 20) << " MiB, idle " << (idle >> 20)
                                << " MiB, bound " << (bound >> 20) << " MiB";
  EXPECT_LE(after, bound);
  // Every write was taken: the DRAM tier evicted to make room.
  auto stats = clients[0]->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_GE(client::FindTierCounter(*stats, "dram", "evictions").value_or(0), 128u);
  std::cout << "idle " << (idle >> 20) << " MiB, peak " << (peak >> 20) << " MiB, bound "
            << (bound >> 20) << " MiB\n";
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

}  // namespace
}  // namespace kvtier
