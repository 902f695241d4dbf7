#include "tiers/dram/dram_tier.h"

#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <thread>
#include <utility>

#include "common/byte_size.h"

#ifdef KVTIER_HAVE_JEMALLOC
#include <jemalloc/jemalloc.h>
#endif

namespace kvtier::tiers {
namespace {

// Headers and value bytes are separate allocations, both 64-byte aligned
// (value bytes start on a cache line; see BlockBuffer on why apart).
constexpr size_t kBlockAlignment = 64;

#ifdef KVTIER_HAVE_JEMALLOC
// All block memory comes from one jemalloc arena of its own, bypassing the
// thread caches. Eviction on one I/O thread frees blocks that another thread
// allocated; with per-thread arenas those pages would sit dirty in the other
// arena while this one grew. The tier keeps freed value memory itself (see
// KeepFreeChunk) and counts it; what it hands back to this arena is released
// to the kernel at once (decay 0), because the allocator's own dirty pages
// would be memory held beyond the capacity. In a test writing 2 MiB, then
// 256 KiB, then 64 KiB blocks through a 1 GiB tier, peak RSS was 1359 MiB
// with jemalloc's defaults and 1035 MiB with this arena and LargePad().
int BlockFlags() {
  static const int flags = [] {
    unsigned arena = 0;
    size_t size = sizeof(arena);
    if (mallctl("arenas.create", &arena, &size, nullptr, 0) != 0) {
      return MALLOCX_ALIGN(kBlockAlignment) | MALLOCX_TCACHE_NONE;
    }
    ssize_t decay_ms = 0;
    for (const char* knob : {"dirty_decay_ms", "muzzy_decay_ms"}) {
      const std::string name = "arena." + std::to_string(arena) + "." + knob;
      mallctl(name.c_str(), nullptr, nullptr, &decay_ms, sizeof(decay_ms));
    }
    return MALLOCX_ALIGN(kBlockAlignment) | MALLOCX_ARENA(arena) | MALLOCX_TCACHE_NONE;
  }();
  return flags;
}
#endif

#ifdef KVTIER_HAVE_JEMALLOC
// Bytes jemalloc maps beyond nallocx for an allocation of `bytes`: when it
// is built cache-oblivious (Debian's is, and it cannot be turned off at run
// time), every large allocation gets one extra page for a random offset.
uint64_t LargePad(uint64_t bytes) {
  static const std::pair<uint64_t, uint64_t> small_max_and_pad = [] {
    bool oblivious = false;
    size_t page = 4096;
    unsigned bins = 0;
    size_t size = sizeof(oblivious);
    mallctl("opt.cache_oblivious", &oblivious, &size, nullptr, 0);
    size = sizeof(page);
    mallctl("arenas.page", &page, &size, nullptr, 0);
    size = sizeof(bins);
    mallctl("arenas.nbins", &bins, &size, nullptr, 0);
    size_t small_max = 14336;
    size = sizeof(small_max);
    const std::string name = "arenas.bin." + std::to_string(bins - 1) + ".size";
    mallctl(name.c_str(), &small_max, &size, nullptr, 0);
    return std::pair<uint64_t, uint64_t>(small_max, oblivious ? page : 0);
  }();
  return bytes > small_max_and_pad.first ? small_max_and_pad.second : 0;
}
#endif

// The allocator's size class for `bytes` of value: what a block of that size
// really gets, and the key of the free chunk lists.
uint64_t HeapClassSize(uint64_t bytes) {
  bytes = std::max<uint64_t>(bytes, 1);
#ifdef KVTIER_HAVE_JEMALLOC
  return nallocx(bytes, BlockFlags());
#else
  return (bytes + kBlockAlignment - 1) / kBlockAlignment * kBlockAlignment;
#endif
}

// Bytes a value allocation of `class_size` holds: the class plus, under
// jemalloc, its cache-oblivious page.
uint64_t HeapChunkCharge(uint64_t class_size) {
#ifdef KVTIER_HAVE_JEMALLOC
  return class_size + LargePad(class_size);
#else
  return class_size + 16;
#endif
}

void* AllocateHeader() {
#ifdef KVTIER_HAVE_JEMALLOC
  return mallocx(BlockBuffer::HeaderSize(), MALLOCX_ALIGN(kBlockAlignment));
#else
  return std::aligned_alloc(kBlockAlignment, BlockBuffer::HeaderSize());
#endif
}

void FreeHeader(void* header) {
#ifdef KVTIER_HAVE_JEMALLOC
  sdallocx(header, BlockBuffer::HeaderSize(), MALLOCX_ALIGN(kBlockAlignment));
#else
  std::free(header);
#endif
}

uint64_t HeaderCharge() {
#ifdef KVTIER_HAVE_JEMALLOC
  return nallocx(BlockBuffer::HeaderSize(), MALLOCX_ALIGN(kBlockAlignment));
#else
  return BlockBuffer::HeaderSize() + 16;
#endif
}

// Value memory of `class_size` bytes (a ClassSize result).
void* AllocateHeapMemory(uint64_t bytes) {
#ifdef KVTIER_HAVE_JEMALLOC
  return mallocx(bytes, BlockFlags());
#else
  return std::aligned_alloc(kBlockAlignment, bytes);
#endif
}

void FreeHeapMemory(void* memory, uint64_t bytes) {
#ifdef KVTIER_HAVE_JEMALLOC
  sdallocx(memory, bytes, BlockFlags());
#else
  (void)bytes;
  std::free(memory);
#endif
}

thread_local std::string tls_index_key;

}  // namespace

Status DramTierOptions::Validate() const {
  if (capacity_bytes < kMiB) {
    return InvalidArgument("dram.capacity must be at least 1MiB, got " +
                           FormatByteSize(capacity_bytes));
  }
  if (shards == 0 || shards > 4096) {
    return InvalidArgument("dram.shards must be in 1..4096, got " + std::to_string(shards));
  }
  return Status::Ok();
}

size_t DramTier::TransparentHash::operator()(std::string_view s) const {
  return XXH3_64bits(s.data(), s.size());
}

DramTier::DramTier(const DramTierOptions& options) : DramTier(options, nullptr) {}

DramTier::DramTier(const DramTierOptions& options, std::unique_ptr<BlockPool> pool)
    : options_(options), pool_(std::move(pool)), order_(options.policy) {
  const uint32_t shard_count = std::bit_ceil(std::max<uint32_t>(1, options.shards));
  shards_.reserve(shard_count);
  for (uint32_t i = 0; i < shard_count; ++i) shards_.push_back(std::make_unique<Shard>());
}

DramTier::~DramTier() {
  for (auto& shard : shards_) {
    std::lock_guard lock(shard->mu);
    std::lock_guard order_lock(order_mu_);
    for (auto& [key, entry] : shard->index) order_.Remove(entry.get());
    shard->index.clear();
  }
  ReleaseFreeChunks(std::numeric_limits<uint64_t>::max());
}

DramTier::Shard& DramTier::ShardFor(std::string_view index_key, uint64_t* hash_out) const {
  const uint64_t hash = IndexKeyHash(index_key);
  if (hash_out != nullptr) *hash_out = hash;
  return ShardOfHash(hash);
}

DramTier::Shard& DramTier::ShardOfHash(uint64_t hash) const {
  // High bits pick the shard; the map uses the full hash for buckets.
  return *shards_[(hash >> 40) & (shards_.size() - 1)];
}

uint64_t DramTier::ClassSize(uint64_t bytes) const {
  if (pool_ == nullptr) return HeapClassSize(bytes);
  const uint64_t step = bytes <= 4096 ? BlockPool::kAlignment : 4096;
  return (std::max<uint64_t>(bytes, 1) + step - 1) / step * step;
}

uint64_t DramTier::ChunkCharge(uint64_t class_size) const {
  return pool_ == nullptr ? HeapChunkCharge(class_size) : class_size;
}

void* DramTier::AllocateValueMemory(uint64_t class_size) {
  return pool_ == nullptr ? AllocateHeapMemory(class_size) : pool_->Allocate(class_size);
}

void DramTier::FreeValueMemory(void* memory, uint64_t class_size) {
  if (pool_ == nullptr) {
    FreeHeapMemory(memory, class_size);
  } else {
    pool_->Free(memory, class_size);
  }
}

uint64_t DramTier::BlockCharge(uint64_t key_size, uint64_t value_size) const {
  return HeaderCharge() + ChunkCharge(ClassSize(value_size)) + kEntryOverheadBytes + key_size;
}

bool DramTier::TryReserve(uint64_t charge) {
  uint64_t used = used_bytes_.load(std::memory_order_relaxed);
  while (used + charge <= options_.capacity_bytes) {
    if (used_bytes_.compare_exchange_weak(used, used + charge, std::memory_order_relaxed)) {
      return true;
    }
  }
  return false;
}

Result<WritableBlock> DramTier::Allocate(uint64_t key_size, uint64_t value_size) {
  const uint64_t class_size = ClassSize(value_size);
  const uint64_t chunk_charge = ChunkCharge(class_size);
  const uint64_t charge = BlockCharge(key_size, value_size);
  if (charge > options_.capacity_bytes) {
    counters_.allocation_failures.fetch_add(1, std::memory_order_relaxed);
    return InvalidArgument("a block of " + std::to_string(value_size) +
                           " bytes can never fit the DRAM tier capacity of " +
                           FormatByteSize(options_.capacity_bytes));
  }
  // A kept chunk of the right class is already counted: only the rest of
  // the charge needs room.
  void* data = TakeFreeChunk(class_size);
  auto need = [&] { return data != nullptr ? charge - chunk_charge : charge; };
  while (!TryReserve(need())) {
    if (data == nullptr && (data = TakeFreeChunk(class_size)) != nullptr) continue;
    const uint64_t used = used_bytes_.load(std::memory_order_relaxed);
    const uint64_t shortfall =
        used + need() > options_.capacity_bytes ? used + need() - options_.capacity_bytes : 1;
    // Memory kept for other sizes goes back before any block is evicted.
    if (ReleaseFreeChunks(shortfall) > 0) continue;
    if (EvictAtLeast(shortfall) > 0) continue;
    if (TryReserve(need())) break;
    if (data != nullptr) KeepFreeChunk(data, class_size);
    counters_.allocation_failures.fetch_add(1, std::memory_order_relaxed);
    return ResourceExhausted("DRAM tier is full: " + FormatByteSize(used) + " of " +
                             FormatByteSize(options_.capacity_bytes) +
                             " held by blocks that are pinned or in flight");
  }
  void* header = AllocateHeader();
  if (data == nullptr) data = AllocateValueMemory(class_size);
  // In pool mode the charge can fit while no free run is long enough (the
  // pool is split up): kept chunks of every class go back to merge, then
  // blocks are evicted so theirs can, a bounded number of times.
  for (int round = 0; data == nullptr && pool_ != nullptr && round < 8; ++round) {
    if (round > 0 && EvictAtLeast(class_size) == 0) break;
    ReleaseFreeChunks(std::numeric_limits<uint64_t>::max());
    data = AllocateValueMemory(class_size);
  }
  if (header == nullptr || data == nullptr) {
    if (header != nullptr) FreeHeader(header);
    if (data != nullptr) FreeValueMemory(data, class_size);
    used_bytes_.fetch_sub(charge, std::memory_order_relaxed);
    counters_.allocation_failures.fetch_add(1, std::memory_order_relaxed);
    return ResourceExhausted("out of memory allocating " + std::to_string(value_size) + " bytes");
  }
  return WritableBlock(
      BlockBuffer::Construct(header, static_cast<std::byte*>(data), value_size, charge, this));
}

void DramTier::Free(BlockBuffer* block) {
  const uint64_t charge = block->charge();
  const uint64_t class_size = ClassSize(block->size());
  void* data = const_cast<std::byte*>(block->bytes().data());
  block->~BlockBuffer();
  FreeHeader(block);
  if (charge == 0) {
    // Handed to the eviction listener and uncounted then: nothing to keep.
    FreeValueMemory(data, class_size);
    return;
  }
  // The value memory stays, counted, for the next block of its class: reuse
  // costs no page faults, where memory returned to the kernel would.
  KeepFreeChunk(data, class_size);
  used_bytes_.fetch_sub(charge - ChunkCharge(class_size), std::memory_order_relaxed);
}

void* DramTier::TakeFreeChunk(uint64_t class_size) {
  std::lock_guard lock(free_mu_);
  auto it = free_chunks_.find(class_size);
  if (it == free_chunks_.end() || it->second.empty()) return nullptr;
  void* chunk = it->second.back();
  it->second.pop_back();
  free_bytes_.fetch_sub(ChunkCharge(class_size), std::memory_order_relaxed);
  return chunk;
}

void DramTier::KeepFreeChunk(void* chunk, uint64_t class_size) {
  std::lock_guard lock(free_mu_);
  free_chunks_[class_size].push_back(chunk);
  free_bytes_.fetch_add(ChunkCharge(class_size), std::memory_order_relaxed);
}

uint64_t DramTier::ReleaseFreeChunks(uint64_t bytes) {
  uint64_t released = 0;
  std::lock_guard lock(free_mu_);
  for (auto it = free_chunks_.begin(); it != free_chunks_.end() && released < bytes;) {
    const uint64_t chunk_charge = ChunkCharge(it->first);
    while (!it->second.empty() && released < bytes) {
      FreeValueMemory(it->second.back(), it->first);
      it->second.pop_back();
      released += chunk_charge;
    }
    it = it->second.empty() ? free_chunks_.erase(it) : std::next(it);
  }
  free_bytes_.fetch_sub(released, std::memory_order_relaxed);
  used_bytes_.fetch_sub(released, std::memory_order_relaxed);
  return released;
}

uint64_t DramTier::EvictSome(uint64_t bytes, bool allow_soft, bool* busy) {
  uint64_t freed = 0;
  std::lock_guard order_lock(order_mu_);
  while (freed < bytes) {
    // The victim's shard stays locked from the check to the unlink. Only
    // the index's own handle may exist: refs() == 1 under the shard lock
    // means no reader holds the block, and new readers need this lock.
    std::unique_lock<std::mutex> shard_lock;
    auto evictable = [&](const PolicyEntry& candidate) {
      const auto& entry = static_cast<const Entry&>(candidate);
      const PinLevel pin = entry.block.attributes().pin;
      if (pin == PinLevel::kHard || (!allow_soft && pin == PinLevel::kSoft)) return false;
      std::unique_lock lock(ShardOfHash(entry.key_hash).mu, std::try_to_lock);
      if (!lock.owns_lock()) {
        *busy = true;
        return false;
      }
      if (entry.block.buffer()->refs() != 1) return false;
      shard_lock = std::move(lock);
      return true;
    };
    PolicyEntry* victim = order_.PickVictim(evictable);
    if (victim == nullptr) break;
    auto* entry = static_cast<Entry*>(victim);
    Shard& shard = ShardOfHash(entry->key_hash);
    if (entry->block.attributes().pin == PinLevel::kSoft) {
      counters_.soft_pin_evictions.fetch_add(1, std::memory_order_relaxed);
    }
    order_.Remove(entry, /*evicted=*/true);
    shard.namespace_bytes[DecodeIndexKey(entry->index_key).namespace_id] -= entry->charge;
    freed += entry->charge;
    counters_.evicted_bytes.fetch_add(entry->charge, std::memory_order_relaxed);
    auto it = shard.index.find(std::string_view(entry->index_key));
    std::unique_ptr<Entry> removed = std::move(it->second);
    shard.index.erase(it);
    if (eviction_listener_) {
      // refs() == 1 under the shard lock: no other thread can reach it.
      const_cast<BlockBuffer*>(removed->block.buffer())->ReleaseCharge();
      used_bytes_.fetch_sub(removed->charge, std::memory_order_relaxed);
      eviction_listener_(DecodeIndexKey(removed->index_key), std::move(removed->block),
                         removed->was_read);
    }
    items_.fetch_sub(1, std::memory_order_relaxed);
    counters_.evictions.fetch_add(1, std::memory_order_relaxed);
  }
  return freed;
}

uint64_t DramTier::EvictAtLeast(uint64_t bytes) {
  // A candidate whose shard another thread holds (it may be waiting for
  // order_mu_ to insert) is passed over; a few retries let it finish.
  constexpr int kBusyRetries = 64;
  uint64_t freed = 0;
  // Soft-pinned blocks only when nothing else can go.
  for (bool allow_soft : {false, true}) {
    for (int attempt = 0; freed < bytes && attempt < kBusyRetries; ++attempt) {
      bool busy = false;
      freed += EvictSome(bytes - freed, allow_soft, &busy);
      if (!busy) break;
      std::this_thread::yield();
    }
    if (freed >= bytes) break;
  }
  return freed;
}

Status DramTier::Put(const BlockKey& key, BlockHandle block) {
  return Insert(key, std::move(block), /*replace=*/true).status();
}

Result<bool> DramTier::PutIfAbsent(const BlockKey& key, BlockHandle block) {
  return Insert(key, std::move(block), /*replace=*/false);
}

Result<bool> DramTier::PutPromoted(const BlockKey& key, BlockHandle block) {
  return Insert(key, std::move(block), /*replace=*/false, /*read=*/true);
}

Result<BlockHandle> DramTier::InOwnMemory(uint64_t key_size, const BlockHandle& block) {
  if (block.buffer()->allocator() == this) return block.Clone();
  KVTIER_ASSIGN_OR_RETURN(WritableBlock copy, Allocate(key_size, block.size()));
  std::memcpy(copy.mutable_bytes().data(), block.bytes().data(), block.size());
  counters_.copied_puts.fetch_add(1, std::memory_order_relaxed);
  return std::move(copy).Seal(block.checksum(), block.attributes());
}

Result<bool> DramTier::Insert(const BlockKey& key, BlockHandle block, bool replace, bool read) {
  if (!block) return InvalidArgument("put of an empty block handle");
  // Foreign memory (a lower tier, a test) is copied into our own.
  KVTIER_ASSIGN_OR_RETURN(block, InOwnMemory(key.key.size(), block));
  auto entry = std::make_unique<Entry>();
  EncodeIndexKey(key, entry->index_key);
  KVTIER_RETURN_IF_ERROR(ChargeHardPin(entry->index_key, block));
  Shard& shard = ShardFor(entry->index_key, &entry->key_hash);
  entry->charge = block.buffer()->charge();
  entry->parent_hash = block.attributes().parent_hash;
  entry->partial_tail = block.attributes().partial_tail;
  entry->block = std::move(block);

  BlockHandle replaced;  // dropped after the lock is released
  {
    std::lock_guard lock(shard.mu);
    auto [it, inserted] = shard.index.try_emplace(entry->index_key, nullptr);
    if (!inserted && !replace) {
      UnchargeHardPin(entry->index_key, entry->block);
      return false;  // `entry` and `block` go after the unlock
    }
    shard.namespace_bytes[key.namespace_id] += entry->charge;
    std::lock_guard order_lock(order_mu_);
    if (!inserted) {
      order_.Remove(it->second.get());
      shard.namespace_bytes[key.namespace_id] -= it->second->charge;
      replaced = std::move(it->second->block);
      UnchargeHardPin(entry->index_key, replaced);
    } else {
      items_.fetch_add(1, std::memory_order_relaxed);
    }
    it->second = std::move(entry);
    order_.Insert(it->second.get());
    if (read) {
      order_.RecordAccess(*it->second);
      it->second->was_read = true;
    }
  }
  counters_.puts.fetch_add(1, std::memory_order_relaxed);
  return true;
}

Result<BlockHandle> DramTier::Get(const BlockKey& key) {
  EncodeIndexKey(key, tls_index_key);
  Shard& shard = ShardFor(tls_index_key);
  std::unique_ptr<Entry> expired;  // freed after the lock is released
  std::lock_guard lock(shard.mu);
  auto it = shard.index.find(std::string_view(tls_index_key));
  if (it != shard.index.end() && it->second->block.attributes().Expired()) {
    expired = Unlink(shard, it);
    counters_.expired.fetch_add(1, std::memory_order_relaxed);
    it = shard.index.end();
  }
  if (it == shard.index.end()) {
    counters_.misses.fetch_add(1, std::memory_order_relaxed);
    return NotFound("key not in DRAM tier");
  }
  order_.RecordAccess(*it->second);
  it->second->was_read = true;
  counters_.hits.fetch_add(1, std::memory_order_relaxed);
  return it->second->block.Clone();
}

Result<BlockHandle> DramTier::Pin(const BlockKey& key) const {
  EncodeIndexKey(key, tls_index_key);
  Shard& shard = ShardFor(tls_index_key);
  std::lock_guard lock(shard.mu);
  auto it = shard.index.find(std::string_view(tls_index_key));
  if (it == shard.index.end() || it->second->block.attributes().Expired()) {
    return NotFound("key not in DRAM tier");
  }
  return it->second->block.Clone();
}

bool DramTier::Contains(const BlockKey& key) const {
  EncodeIndexKey(key, tls_index_key);
  Shard& shard = ShardFor(tls_index_key);
  std::lock_guard lock(shard.mu);
  auto it = shard.index.find(std::string_view(tls_index_key));
  return it != shard.index.end() && !it->second->block.attributes().Expired();
}

Status DramTier::Erase(const BlockKey& key) {
  EncodeIndexKey(key, tls_index_key);
  Shard& shard = ShardFor(tls_index_key);
  std::unique_ptr<Entry> removed;  // freed after the lock is released
  {
    std::lock_guard lock(shard.mu);
    auto it = shard.index.find(std::string_view(tls_index_key));
    if (it == shard.index.end()) return NotFound("key not in DRAM tier");
    removed = Unlink(shard, it);
  }
  counters_.erases.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

std::unique_ptr<DramTier::Entry> DramTier::Unlink(Shard& shard,
                                                  decltype(Shard::index)::iterator it) {
  {
    std::lock_guard order_lock(order_mu_);
    order_.Remove(it->second.get());
  }
  std::unique_ptr<Entry> removed = std::move(it->second);
  shard.namespace_bytes[DecodeIndexKey(removed->index_key).namespace_id] -= removed->charge;
  shard.index.erase(it);
  UnchargeHardPin(removed->index_key, removed->block);
  items_.fetch_sub(1, std::memory_order_relaxed);
  return removed;
}

void DramTier::SetHardPinQuota(uint32_t namespace_id, uint64_t bytes) {
  auto& quota = pin_quotas_[namespace_id];
  if (!quota) quota = std::make_unique<PinQuota>();
  quota->limit = bytes;
}

Status DramTier::ChargeHardPin(std::string_view index_key, const BlockHandle& block) {
  if (block.attributes().pin != PinLevel::kHard) return Status::Ok();
  const uint32_t namespace_id = DecodeIndexKey(index_key).namespace_id;
  auto it = pin_quotas_.find(namespace_id);
  PinQuota* quota = it == pin_quotas_.end() ? nullptr : it->second.get();
  const uint64_t size = block.size();
  uint64_t used = quota == nullptr ? 0 : quota->used.load(std::memory_order_relaxed);
  do {
    if (quota == nullptr || used + size > quota->limit) {
      counters_.hard_pin_refusals.fetch_add(1, std::memory_order_relaxed);
      return ResourceExhausted("hard pin quota of the namespace is used up (" +
                               std::to_string(quota == nullptr ? 0 : quota->limit) +
                               " bytes); unpin or delete blocks, or put without a hard pin");
    }
  } while (!quota->used.compare_exchange_weak(used, used + size, std::memory_order_relaxed));
  return Status::Ok();
}

void DramTier::UnchargeHardPin(std::string_view index_key, const BlockHandle& block) {
  if (!block || block.attributes().pin != PinLevel::kHard) return;
  auto it = pin_quotas_.find(DecodeIndexKey(index_key).namespace_id);
  if (it != pin_quotas_.end()) it->second->used.fetch_sub(block.size(), std::memory_order_relaxed);
}

size_t DramTier::ReclaimExpired(size_t max_entries_per_shard) {
  const uint64_t now = UnixNowMs();
  size_t reclaimed = 0;
  for (auto& shard : shards_) {
    std::vector<std::unique_ptr<Entry>> expired;  // freed after the lock is released
    {
      std::lock_guard lock(shard->mu);
      size_t visited = 0;
      for (auto it = shard->index.begin();
           it != shard->index.end() && visited < max_entries_per_shard; ++visited) {
        // Pinned by a reader or a lease: it goes when they let go.
        if (it->second->block.attributes().ExpiredAt(now) &&
            it->second->block.buffer()->refs() == 1) {
          auto next = std::next(it);
          expired.push_back(Unlink(*shard, it));
          it = next;
        } else {
          ++it;
        }
      }
    }
    reclaimed += expired.size();
  }
  counters_.expired.fetch_add(reclaimed, std::memory_order_relaxed);
  return reclaimed;
}

void DramTier::VisitKeys(uint32_t namespace_id, const KeyVisitor& visit) const {
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mu);
    for (const auto& [index_key, entry] : shard->index) {
      const BlockKey key = DecodeIndexKey(index_key);
      if (key.namespace_id != namespace_id || entry->block.attributes().Expired()) continue;
      if (!visit(key.key)) return;
    }
  }
}

TierStats DramTier::Stats() const {
  TierStats stats;
  stats.name = "dram";
  stats.capacity_bytes = options_.capacity_bytes;
  stats.used_bytes = used_bytes_.load(std::memory_order_relaxed);
  stats.items = items_.load(std::memory_order_relaxed);
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mu);
    for (const auto& [namespace_id, bytes] : shard->namespace_bytes) {
      if (bytes != 0) stats.namespace_bytes[namespace_id] += bytes;
    }
  }
  stats.Add("hits", counters_.hits);
  stats.Add("misses", counters_.misses);
  stats.Add("puts", counters_.puts);
  stats.Add("erases", counters_.erases);
  stats.Add("evictions", counters_.evictions);
  stats.Add("evicted_bytes", counters_.evicted_bytes);
  stats.Add("allocation_failures", counters_.allocation_failures);
  stats.Add("expired", counters_.expired);
  stats.Add("hard_pin_refusals", counters_.hard_pin_refusals);
  stats.Add("soft_pin_evictions", counters_.soft_pin_evictions);
  stats.Add("copied_puts", counters_.copied_puts);
  stats.Add("kept_free_bytes", free_bytes_);
  {
    std::lock_guard order_lock(order_mu_);
    stats.counters.push_back({"chain_breaks", order_.chain_breaks()});
    stats.counters.push_back({"policy_recency_mode", order_.policy().recency_mode() ? 1u : 0u});
    stats.counters.push_back({"policy_recency_switches", order_.policy().recency_switches()});
  }
  return stats;
}

}  // namespace kvtier::tiers
