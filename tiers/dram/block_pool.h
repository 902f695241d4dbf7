#pragma once

// One contiguous range of memory, reserved up front and carved into block
// value memory. RDMA registers memory with the device once, in large
// regions, not per block: a DRAM tier in pool mode takes every block's
// value bytes from here, so registering memory() once covers every block
// it will ever hold.
//
// Contract: memory handed out and freed stays mapped and resident for the
// pool's whole life. Nothing is returned to the kernel (no munmap, no
// MADV_DONTNEED): a device that registered the range keeps its own page
// translations, and a page the kernel dropped and refilled would no longer
// be the page the device writes. The pool is unmapped only on destruction,
// after its registration is gone.
//
// Population: a fresh page costs a fault and a zeroing the first time a
// block's bytes land in it (on a reader's critical path, at about a third
// of a memory copy's speed). PopulateInBackground makes every page resident
// ahead of use on a thread of its own (MADV_POPULATE_WRITE, which writes
// nothing: blocks allocated meanwhile keep their bytes), as a cache that
// owns its memory does at start.
//
// Allocation is best fit over coalesced free runs, on 64-byte boundaries.
// Thread-safe.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <thread>
#include <utility>

#include "common/result.h"

namespace kvtier::tiers {

class BlockPool {
 public:
  static constexpr uint64_t kAlignment = 64;

  // Maps `bytes` (rounded up to whole pages) of anonymous memory; pages
  // become resident when first touched, or all at once when a device pins
  // them. kResourceExhausted when the mapping fails.
  static Result<std::unique_ptr<BlockPool>> Reserve(uint64_t bytes);
  ~BlockPool();
  BlockPool(const BlockPool&) = delete;
  BlockPool& operator=(const BlockPool&) = delete;

  // `bytes` (rounded up to kAlignment) from the smallest free run that
  // holds them; nullptr when none does.
  void* Allocate(uint64_t bytes);
  // Returns what Allocate(bytes) gave, with the same `bytes`.
  void Free(void* memory, uint64_t bytes);

  // Starts making every page resident on a background thread, in pieces
  // (the destructor stops it between pieces). Once only. Kernels without
  // MADV_POPULATE_WRITE (before 5.14): pages stay lazy, with a log line.
  void PopulateInBackground();
  // Waits until PopulateInBackground's thread is done; its result (OK at
  // once when none was started).
  Status WaitPopulated();

  std::span<std::byte> memory() const { return {base_, size_}; }
  bool Contains(const void* memory) const {
    const auto* p = static_cast<const std::byte*>(memory);
    return p >= base_ && p < base_ + size_;
  }
  uint64_t free_bytes() const;
  uint64_t largest_free_run() const;

 private:
  BlockPool(std::byte* base, uint64_t size);
  static uint64_t Round(uint64_t bytes) {
    return (bytes + kAlignment - 1) / kAlignment * kAlignment;
  }
  void InsertRun(uint64_t offset, uint64_t length);           // mu_ held
  void EraseRun(std::map<uint64_t, uint64_t>::iterator run);  // mu_ held

  std::byte* const base_;
  const uint64_t size_;
  mutable std::mutex mu_;
  std::map<uint64_t, uint64_t> runs_;                  // offset -> length, coalesced
  std::set<std::pair<uint64_t, uint64_t>> by_length_;  // (length, offset) of the same runs
  uint64_t free_bytes_ = 0;

  std::atomic<bool> stop_populating_{false};
  Status populated_ = Status::Ok();  // set by the populating thread before it ends
  std::thread populating_;
};

}  // namespace kvtier::tiers
