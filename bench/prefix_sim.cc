#include "bench/prefix_sim.h"

#include <tuple>

namespace kvtier::bench {
namespace {

// A non-zero 64-bit hash of a trace block id (splitmix64's finaliser).
uint64_t HashId(uint64_t id) {
  uint64_t z = id + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  z ^= z >> 31;
  return z == 0 ? 1 : z;
}

// A request's hits: its leading blocks that `cached` holds.
template <typename Map>
uint64_t LeadingCached(const std::vector<uint64_t>& ids, const Map& cached) {
  uint64_t hits = 0;
  while (hits < ids.size() && cached.count(ids[hits]) != 0) ++hits;
  return hits;
}

}  // namespace

bool LastBlockPartial(const TraceRequest& request) {
  return request.input_length < request.hash_ids.size() * kTraceBlockTokens;
}

struct TierSimulator::Entry : tiers::PolicyEntry {
  uint64_t block_id = 0;
  bool was_read = false;  // read (or promoted) since it entered DRAM
};

TierSimulator::TierSimulator(tiers::EvictionPolicyKind policy, uint64_t dram_blocks,
                             uint64_t nvme_blocks, SimAdmission admission)
    : dram_blocks_(dram_blocks), nvme_blocks_(nvme_blocks), admission_(admission), order_(policy) {}

TierSimulator::~TierSimulator() {
  for (auto& [id, entry] : dram_) order_.Remove(entry.get());
}

uint64_t TierSimulator::Access(const TraceRequest& request) {
  const std::vector<uint64_t>& ids = request.hash_ids;
  uint64_t hits = 0;
  while (hits < ids.size() && (dram_.count(ids[hits]) != 0 || InNvme(ids[hits]))) ++hits;
  const bool partial = LastBlockPartial(request);
  for (size_t i = 0; i < ids.size(); ++i) {
    const uint64_t parent = i == 0 ? 0 : HashId(ids[i - 1]);
    const bool tail = partial && i + 1 == ids.size();
    auto cached = dram_.find(ids[i]);
    if (i < hits) {
      if (cached != dram_.end()) {
        order_.RecordAccess(*cached->second);
        cached->second->was_read = true;
      } else {
        Insert(ids[i], parent, tail);  // promoted from NVMe: read once
        auto promoted = dram_.find(ids[i]);
        if (promoted != dram_.end()) {
          order_.RecordAccess(*promoted->second);
          promoted->second->was_read = true;
        }
      }
      continue;
    }
    if (cached != dram_.end()) {  // a put over a stored block replaces it
      order_.Remove(cached->second.get());
      dram_.erase(cached);
    }
    Insert(ids[i], parent, tail);
  }
  return hits;
}

void TierSimulator::Insert(uint64_t id, uint64_t parent, bool partial) {
  if (dram_blocks_ == 0) return;
  while (dram_.size() >= dram_blocks_) {
    tiers::PolicyEntry* victim = order_.PickVictim([](const tiers::PolicyEntry&) { return true; });
    if (victim == nullptr) return;
    auto* entry = static_cast<Entry*>(victim);
    order_.Remove(entry, /*evicted=*/true);
    Demote(*entry);
    dram_.erase(entry->block_id);
  }
  auto entry = std::make_unique<Entry>();
  entry->block_id = id;
  entry->key_hash = HashId(id);
  entry->parent_hash = parent;
  entry->partial_tail = partial;
  entry->charge = 1;
  order_.Insert(entry.get());
  dram_[id] = std::move(entry);
}

void TierSimulator::Demote(Entry& entry) {
  if (nvme_blocks_ == 0) return;
  // As TierStack: a block NVMe holds is written again (to the newest
  // position) when it was read in DRAM; otherwise not.
  if (InNvme(entry.block_id) && !entry.was_read) return;
  if (admission_ == SimAdmission::kReadOnce && !entry.was_read) return;
  if (admission_ == SimAdmission::kChain && entry.partial_tail && !entry.was_read) return;
  while (nvme_.size() >= nvme_blocks_ && !nvme_writes_.empty()) {
    auto [oldest, write] = nvme_writes_.front();
    nvme_writes_.pop_front();
    auto it = nvme_.find(oldest);
    if (it != nvme_.end() && it->second == write) nvme_.erase(it);
  }
  nvme_[entry.block_id] = next_write_;
  nvme_writes_.emplace_back(entry.block_id, next_write_++);
}

std::vector<std::vector<uint64_t>> NextUses(const std::vector<TraceRequest>& requests) {
  std::vector<std::vector<uint64_t>> next_use(requests.size());
  std::unordered_map<uint64_t, uint64_t> next;  // id -> next request using it
  for (size_t r = requests.size(); r-- > 0;) {
    const auto& ids = requests[r].hash_ids;
    next_use[r].resize(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) {
      auto it = next.find(ids[i]);
      next_use[r][i] = it == next.end() ? kNeverUsedAgain : it->second;
    }
    for (uint64_t id : ids) next[id] = r;
  }
  return next_use;
}

DeadBlockOracleSimulator::DeadBlockOracleSimulator(const std::vector<TraceRequest>& requests,
                                                   uint64_t capacity_blocks)
    : capacity_(capacity_blocks), next_use_(NextUses(requests)) {}

uint64_t DeadBlockOracleSimulator::Access(const TraceRequest& request) {
  const size_t r = position_++;
  const auto& ids = request.hash_ids;
  const uint64_t hits = LeadingCached(ids, cached_);
  if (r >= next_use_.size() || capacity_ == 0) return hits;
  // Deepest first, so that a chain's parent is more recent than its child.
  for (size_t i = ids.size(); i-- > 0;) {
    auto it = cached_.find(ids[i]);
    if (it != cached_.end()) {
      it->second.first->erase(it->second.second);
      cached_.erase(it);
    } else if (cached_.size() >= capacity_) {
      Order& from = dead_.empty() ? live_ : dead_;
      cached_.erase(from.back());
      from.pop_back();
    }
    Order& to = next_use_[r][i] == kNeverUsedAgain ? dead_ : live_;
    to.push_front(ids[i]);
    cached_[ids[i]] = {&to, to.begin()};
  }
  return hits;
}

BeladySimulator::BeladySimulator(const std::vector<TraceRequest>& requests,
                                 uint64_t capacity_blocks)
    : capacity_(capacity_blocks), next_use_(NextUses(requests)) {}

uint64_t BeladySimulator::Access(const TraceRequest& request) {
  const size_t r = position_++;
  const auto& ids = request.hash_ids;
  const uint64_t hits = LeadingCached(ids, cached_);
  if (r >= next_use_.size()) return hits;
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto depth = static_cast<uint32_t>(i);
    auto it = cached_.find(ids[i]);
    if (it != cached_.end()) {
      order_.erase({it->second.first, it->second.second, ids[i]});
      cached_.erase(it);
    }
    const uint64_t next = next_use_[r][i];
    cached_[ids[i]] = {next, depth};
    order_.insert({next, depth, ids[i]});
  }
  while (cached_.size() > capacity_) {
    auto farthest = order_.begin();
    cached_.erase(std::get<2>(*farthest));
    order_.erase(farthest);
  }
  return hits;
}

}  // namespace kvtier::bench
