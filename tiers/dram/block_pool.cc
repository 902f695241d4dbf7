#include "tiers/dram/block_pool.h"

#include <sys/mman.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <iterator>
#include <string>

#include "common/byte_size.h"

namespace kvtier::tiers {

Result<std::unique_ptr<BlockPool>> BlockPool::Reserve(uint64_t bytes) {
  const auto page = static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  const uint64_t size = (std::max<uint64_t>(bytes, 1) + page - 1) / page * page;
  void* base = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) {
    return ResourceExhausted("cannot map a block pool of " + FormatByteSize(size) + ": " +
                             std::strerror(errno));
  }
  // Huge pages where the kernel has them: fewer translations for a device
  // to hold. Advice only; failure changes nothing else.
  madvise(base, size, MADV_HUGEPAGE);
  return std::unique_ptr<BlockPool>(new BlockPool(static_cast<std::byte*>(base), size));
}

BlockPool::BlockPool(std::byte* base, uint64_t size) : base_(base), size_(size) {
  InsertRun(0, size_);
}

BlockPool::~BlockPool() {
  stop_populating_.store(true, std::memory_order_relaxed);
  if (populating_.joinable()) populating_.join();
  munmap(base_, size_);
}

void BlockPool::PopulateInBackground() {
  if (populating_.joinable()) return;
  populating_ = std::thread([this] {
    constexpr uint64_t kPiece = 64ull << 20;
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t offset = 0; offset < size_; offset += kPiece) {
      if (stop_populating_.load(std::memory_order_relaxed)) return;
      if (madvise(base_ + offset, std::min(kPiece, size_ - offset), MADV_POPULATE_WRITE) != 0) {
        populated_ =
            Unavailable("cannot populate the block pool: " + std::string(std::strerror(errno)));
        spdlog::warn("DRAM block pool stays lazy: {}", populated_.ToString());
        return;
      }
    }
    spdlog::info("DRAM block pool: {} resident in {} ms", FormatByteSize(size_),
                 std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - start)
                     .count());
  });
}

Status BlockPool::WaitPopulated() {
  if (populating_.joinable()) populating_.join();
  return populated_;
}

void BlockPool::InsertRun(uint64_t offset, uint64_t length) {
  runs_.emplace(offset, length);
  by_length_.emplace(length, offset);
  free_bytes_ += length;
}

void BlockPool::EraseRun(std::map<uint64_t, uint64_t>::iterator run) {
  by_length_.erase({run->second, run->first});
  free_bytes_ -= run->second;
  runs_.erase(run);
}

void* BlockPool::Allocate(uint64_t bytes) {
  const uint64_t length = Round(std::max<uint64_t>(bytes, 1));
  std::lock_guard lock(mu_);
  auto fit = by_length_.lower_bound({length, 0});
  if (fit == by_length_.end()) return nullptr;
  const auto [run_length, offset] = *fit;
  EraseRun(runs_.find(offset));
  if (run_length > length) InsertRun(offset + length, run_length - length);
  return base_ + offset;
}

void BlockPool::Free(void* memory, uint64_t bytes) {
  uint64_t offset = static_cast<uint64_t>(static_cast<std::byte*>(memory) - base_);
  uint64_t length = Round(std::max<uint64_t>(bytes, 1));
  std::lock_guard lock(mu_);
  auto next = runs_.lower_bound(offset);
  if (next != runs_.begin()) {
    auto previous = std::prev(next);
    if (previous->first + previous->second == offset) {
      offset = previous->first;
      length += previous->second;
      EraseRun(previous);
    }
  }
  if (next != runs_.end() && offset + length == next->first) {
    length += next->second;
    EraseRun(next);
  }
  InsertRun(offset, length);
}

uint64_t BlockPool::free_bytes() const {
  std::lock_guard lock(mu_);
  return free_bytes_;
}

uint64_t BlockPool::largest_free_run() const {
  std::lock_guard lock(mu_);
  return by_length_.empty() ? 0 : by_length_.rbegin()->first;
}

}  // namespace kvtier::tiers
