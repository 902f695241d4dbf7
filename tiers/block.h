#pragma once

// Block memory shared by every tier: a small header (this class) and the
// value bytes it points to. Blocks are immutable once sealed and reference
// counted;
// BlockHandle is the move-only pin that keeps the bytes alive while they are
// being sent or copied. A tier's index holds one handle per stored block, so
// "refs() == 1" under the index lock means nobody else is using the block and
// it may be evicted.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>

namespace kvtier::tiers {

class BlockBuffer;

// How hard a tier holds on to a block.
enum class PinLevel : uint8_t {
  kNone = 0,
  kSoft = 1,  // evicted only when nothing unpinned can be
  kHard = 2,  // never evicted; counts against its namespace's pin quota
};

// The current Unix time in milliseconds (what expires_at_ms is compared with).
uint64_t UnixNowMs();

// Per-block policy that travels with the bytes through every tier.
struct BlockAttributes {
  uint64_t expires_at_ms = 0;  // Unix time in ms after which the block is a miss; 0: never
  PinLevel pin = PinLevel::kNone;
  // KB blocks (precomputed KV of a document): what a retrieval system needs
  // to place position-independent KV. Zero when not given.
  uint32_t token_count = 0;
  uint32_t position_offset = 0;
  uint64_t producer = 0;  // fingerprint of the producing model (ModelIdentity::Fingerprint)
  // KV blocks: the ChainHash (tiers/index_key.h) of the block before this
  // one in its prefix chain, 0 when none is known; and whether the block is
  // the partial last block of a request. Eviction order only: the DRAM tier
  // keeps chains whole and lets unread partial tails go first.
  uint64_t parent_hash = 0;
  bool partial_tail = false;

  // Whether the block has expired at `now_ms` (Unix ms).
  bool ExpiredAt(uint64_t now_ms) const { return expires_at_ms != 0 && now_ms >= expires_at_ms; }
  // Whether it has expired now; reads the clock only for blocks with an
  // expiry, so lookups of blocks without one stay clock-free.
  bool Expired() const { return expires_at_ms != 0 && UnixNowMs() >= expires_at_ms; }
};

// Owner of block allocations: returns the memory when the last handle goes.
// Must outlive every block it allocated.
class BlockAllocator {
 public:
  virtual ~BlockAllocator() = default;
  // Called exactly once per block, from whichever thread drops the last ref.
  virtual void Free(BlockBuffer* block) = 0;
};

// The header of a block. An allocator may place the value bytes right after
// it (one allocation) or apart from it: the DRAM tier keeps them apart so a
// power-of-two value fills its allocator size class exactly, where a header
// in front would push it into the next class (25% more memory for 64 KiB,
// 256 KiB or 2 MiB values under jemalloc).
class alignas(64) BlockBuffer {
 public:
  std::span<const std::byte> bytes() const { return {data(), size_}; }
  uint64_t checksum() const { return checksum_; }
  uint64_t size() const { return size_; }
  const BlockAttributes& attributes() const { return attributes_; }
  // Bytes this block counts against its tier's capacity (0 for heap blocks).
  uint64_t charge() const { return charge_; }
  BlockAllocator* allocator() const { return allocator_; }
  uint32_t refs() const { return refs_.load(std::memory_order_acquire); }

  // Placement-constructs a header at `memory` (HeaderSize() bytes, 64-byte
  // aligned) for `size` value bytes at `data`.
  static BlockBuffer* Construct(void* memory, std::byte* data, uint64_t size, uint64_t charge,
                                BlockAllocator* allocator) {
    return new (memory) BlockBuffer(data, size, charge, allocator);
  }
  static constexpr size_t HeaderSize() { return sizeof(BlockBuffer); }

  // For the owning allocator only: the block stops counting against its
  // tier (it was handed elsewhere, which bounds it). Call while no other
  // thread can reach the block.
  void ReleaseCharge() { charge_ = 0; }

 private:
  friend class BlockHandle;
  friend class WritableBlock;

  BlockBuffer(std::byte* data, uint64_t size, uint64_t charge, BlockAllocator* allocator)
      : data_(data), size_(size), charge_(charge), allocator_(allocator) {}

  std::byte* data() const { return data_; }
  void Ref() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void Unref() {
    if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) allocator_->Free(this);
  }

  std::atomic<uint32_t> refs_{1};
  std::byte* data_;
  uint64_t size_;
  uint64_t checksum_ = 0;
  uint64_t charge_;
  BlockAllocator* allocator_;
  BlockAttributes attributes_;
};

// A pin on a sealed block. Move-only: copying a pin is an explicit Clone().
// Thread-safe as a value: distinct handles to one block may be used and
// dropped from different threads.
class BlockHandle {
 public:
  BlockHandle() = default;
  ~BlockHandle() { Reset(); }
  BlockHandle(BlockHandle&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}
  BlockHandle& operator=(BlockHandle&& other) noexcept {
    if (this != &other) {
      Reset();
      block_ = std::exchange(other.block_, nullptr);
    }
    return *this;
  }
  BlockHandle(const BlockHandle&) = delete;
  BlockHandle& operator=(const BlockHandle&) = delete;

  // Another pin on the same block.
  BlockHandle Clone() const {
    if (block_ != nullptr) block_->Ref();
    return BlockHandle(block_);
  }

  explicit operator bool() const { return block_ != nullptr; }
  std::span<const std::byte> bytes() const { return block_->bytes(); }
  uint64_t checksum() const { return block_->checksum(); }
  uint64_t size() const { return block_->size(); }
  const BlockAttributes& attributes() const { return block_->attributes(); }
  const BlockBuffer* buffer() const { return block_; }

  void Reset() {
    if (block_ != nullptr) std::exchange(block_, nullptr)->Unref();
  }

 private:
  friend class WritableBlock;
  explicit BlockHandle(BlockBuffer* block) : block_(block) {}
  BlockBuffer* block_ = nullptr;
};

// A freshly allocated block that only its owner can see and write. Sealing
// records the checksum and turns it into an immutable, shareable block.
// Dropping it unsealed frees the memory (and its capacity charge).
class WritableBlock {
 public:
  WritableBlock() = default;
  explicit WritableBlock(BlockBuffer* block) : block_(block) {}
  ~WritableBlock() { BlockHandle discard(std::exchange(block_, nullptr)); }
  WritableBlock(WritableBlock&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}
  WritableBlock& operator=(WritableBlock&& other) noexcept {
    if (this != &other) {
      BlockHandle discard(std::exchange(block_, other.block_));
      other.block_ = nullptr;
    }
    return *this;
  }
  WritableBlock(const WritableBlock&) = delete;
  WritableBlock& operator=(const WritableBlock&) = delete;

  explicit operator bool() const { return block_ != nullptr; }
  std::span<std::byte> mutable_bytes() { return {block_->data(), block_->size_}; }
  const BlockBuffer* buffer() const { return block_; }
  uint64_t size() const { return block_->size_; }

  BlockHandle Seal(uint64_t checksum, const BlockAttributes& attributes = {}) && {
    block_->checksum_ = checksum;
    block_->attributes_ = attributes;
    return BlockHandle(std::exchange(block_, nullptr));
  }

 private:
  BlockBuffer* block_ = nullptr;
};

// Plain heap blocks that count against nothing, header and bytes in one
// allocation: for bytes read from lower tiers and for tests. Thread-safe;
// one process-wide instance.
class HeapBlockAllocator final : public BlockAllocator {
 public:
  static HeapBlockAllocator& Instance();
  WritableBlock Allocate(uint64_t size);
  void Free(BlockBuffer* block) override;
};

}  // namespace kvtier::tiers
