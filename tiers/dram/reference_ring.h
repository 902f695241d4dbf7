#pragma once

// A bounded queue of 64-bit values with many producers and one consumer
// (after Vyukov's bounded MPMC queue): producers never block and never
// allocate; a push into a full ring is refused. PolicyGuard passes the
// sampled reads it sees on any thread to the order's lock through it.
//
// Threads: Push from any thread; Pop from one thread at a time (the
// caller serializes consumers, PolicyGuard under the order's lock).

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace kvtier::tiers {

template <size_t kCapacity>
class ReferenceRing {
  static_assert((kCapacity & (kCapacity - 1)) == 0, "a power of two");

 public:
  ReferenceRing() {
    for (size_t i = 0; i < kCapacity; ++i) slots_[i].sequence.store(i, std::memory_order_relaxed);
  }

  // False when the ring is full: the value is dropped.
  bool Push(uint64_t value) {
    uint64_t position = enqueue_.load(std::memory_order_relaxed);
    for (;;) {
      Slot& slot = slots_[position & (kCapacity - 1)];
      const uint64_t sequence = slot.sequence.load(std::memory_order_acquire);
      const auto lag = static_cast<int64_t>(sequence - position);
      if (lag == 0) {
        if (enqueue_.compare_exchange_weak(position, position + 1, std::memory_order_relaxed)) {
          slot.value = value;
          slot.sequence.store(position + 1, std::memory_order_release);
          return true;
        }
      } else if (lag < 0) {
        return false;  // full: the consumer has not freed this slot yet
      } else {
        position = enqueue_.load(std::memory_order_relaxed);
      }
    }
  }

  // False when empty (or the oldest push is still being written).
  bool Pop(uint64_t* value) {
    Slot& slot = slots_[dequeue_ & (kCapacity - 1)];
    const uint64_t sequence = slot.sequence.load(std::memory_order_acquire);
    if (static_cast<int64_t>(sequence - (dequeue_ + 1)) < 0) return false;
    *value = slot.value;
    slot.sequence.store(dequeue_ + kCapacity, std::memory_order_release);
    ++dequeue_;
    return true;
  }

 private:
  struct Slot {
    std::atomic<uint64_t> sequence{0};
    uint64_t value = 0;
  };
  std::array<Slot, kCapacity> slots_;
  alignas(64) std::atomic<uint64_t> enqueue_{0};
  alignas(64) uint64_t dequeue_ = 0;
};

}  // namespace kvtier::tiers
