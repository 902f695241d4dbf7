// kvtier-memcpy: single-thread memcpy bandwidth, the machine's ceiling for
// moving bytes in memory. Prints the median GB/s of 7 copies of 256 MiB.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <vector>

int main() {
  constexpr size_t kBytes = 256u << 20;
  std::vector<char> from(kBytes, 1);
  std::vector<char> to(kBytes, 2);  // touched once so page faults are not timed
  std::vector<double> rates;
  for (int i = 0; i < 7; ++i) {
    const auto start = std::chrono::steady_clock::now();
    std::memcpy(to.data(), from.data(), kBytes);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rates.push_back(kBytes / seconds / 1e9);
    from[static_cast<size_t>(i)] = to[kBytes - 1 - static_cast<size_t>(i)];  // keep the copy live
  }
  std::sort(rates.begin(), rates.end());
  std::printf("%.3f\n", rates[rates.size() / 2]);
  return 0;
}
