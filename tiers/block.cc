#include "tiers/block.h"

#include <chrono>
#include <cstdlib>
#include <new>

namespace kvtier::tiers {

uint64_t UnixNowMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

HeapBlockAllocator& HeapBlockAllocator::Instance() {
  static HeapBlockAllocator instance;
  return instance;
}

WritableBlock HeapBlockAllocator::Allocate(uint64_t size) {
  const uint64_t bytes = (BlockBuffer::HeaderSize() + size + 63) / 64 * 64;
  void* memory = std::aligned_alloc(64, bytes);
  if (memory == nullptr) throw std::bad_alloc();
  auto* data = static_cast<std::byte*>(memory) + BlockBuffer::HeaderSize();
  return WritableBlock(BlockBuffer::Construct(memory, data, size, /*charge=*/0, this));
}

void HeapBlockAllocator::Free(BlockBuffer* block) {
  block->~BlockBuffer();
  std::free(block);
}

}  // namespace kvtier::tiers
