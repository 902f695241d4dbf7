#include "tiers/lease_table.h"

#include "tiers/index_key.h"

namespace kvtier::tiers {

Status LeaseOptions::Validate() const {
  if (max_ms == 0 || max_ms > 600'000) {
    return InvalidArgument("leases.max_ms must be in 1..600000, got " + std::to_string(max_ms));
  }
  if (default_ms > max_ms) {
    return InvalidArgument("leases.default_ms (" + std::to_string(default_ms) +
                           ") must not exceed leases.max_ms (" + std::to_string(max_ms) + ")");
  }
  if (max_leases == 0) return InvalidArgument("leases.max_leases must be > 0");
  return Status::Ok();
}

LeaseTable::LeaseTable(uint32_t max_leases, uint64_t max_bytes)
    : max_leases_(max_leases), max_bytes_(max_bytes), ids_(std::random_device{}()) {
  reaper_ = std::thread([this] { ReapLoop(); });
}

LeaseTable::~LeaseTable() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  reaper_cv_.notify_all();
  reaper_.join();
}

Result<uint64_t> LeaseTable::Take(uint32_t namespace_id, std::vector<Held> blocks,
                                  std::vector<std::string> nvme_keys,
                                  std::chrono::milliseconds ttl) {
  Lease lease;
  lease.namespace_id = namespace_id;
  lease.deadline = Clock::now() + ttl;
  for (Held& held : blocks) {
    lease.bytes += held.block.size();
    lease.blocks.emplace(std::move(held.key), std::move(held.block));
  }
  std::vector<std::string> watch;
  for (std::string& key : nvme_keys) {
    watch.emplace_back();
    EncodeIndexKey({namespace_id, key}, watch.back());
    lease.on_nvme.emplace(std::move(key), Reader());
  }
  uint64_t id = 0;
  bool earliest = false;
  {
    std::lock_guard lock(mu_);
    if (leases_.size() >= max_leases_ || bytes_ + lease.bytes > max_bytes_) {
      ++refused_;
      return ResourceExhausted("lease table full (" + std::to_string(leases_.size()) + " leases, " +
                               std::to_string(bytes_) +
                               " bytes leased); retry, or match without a lease");
    }
    do {
      id = ids_();
    } while (id == 0 || leases_.count(id) != 0);
    bytes_ += lease.bytes;
    earliest = deadlines_.empty() || lease.deadline < deadlines_.begin()->first;
    deadlines_.emplace(lease.deadline, id);
    for (std::string& index_key : watch) watched_.emplace(std::move(index_key), id);
    leases_.emplace(id, std::move(lease));
    ++taken_;
  }
  if (earliest) reaper_cv_.notify_one();
  return id;
}

const LeaseTable::Lease* LeaseTable::LiveLease(uint64_t lease_id, uint32_t namespace_id) const {
  auto lease = leases_.find(lease_id);
  if (lease == leases_.end() || lease->second.namespace_id != namespace_id ||
      lease->second.deadline <= Clock::now()) {
    return nullptr;
  }
  return &lease->second;
}

std::optional<BlockHandle> LeaseTable::Find(uint64_t lease_id, uint32_t namespace_id,
                                            std::string_view key) const {
  std::lock_guard lock(mu_);
  const Lease* lease = LiveLease(lease_id, namespace_id);
  if (lease == nullptr) return std::nullopt;
  auto block = lease->blocks.find(std::string(key));
  if (block == lease->blocks.end()) return std::nullopt;
  return block->second.Clone();
}

std::optional<LeaseTable::Reader> LeaseTable::ReaderFor(uint64_t lease_id, uint32_t namespace_id,
                                                        std::string_view key) const {
  std::lock_guard lock(mu_);
  const Lease* lease = LiveLease(lease_id, namespace_id);
  if (lease == nullptr) return std::nullopt;
  auto watched = lease->on_nvme.find(std::string(key));
  if (watched == lease->on_nvme.end() || !watched->second) return std::nullopt;
  return watched->second;
}

void LeaseTable::OnNvmeEvicted(const BlockKey& key, const Reader& read) {
  std::string index_key;
  EncodeIndexKey(key, index_key);
  std::lock_guard lock(mu_);
  auto [first, last] = watched_.equal_range(index_key);
  for (auto it = first; it != last; ++it) {
    auto lease = leases_.find(it->second);
    if (lease == leases_.end()) continue;
    auto watched = lease->second.on_nvme.find(std::string(key.key));
    if (watched != lease->second.on_nvme.end()) watched->second = read;
  }
}

void LeaseTable::Drop(std::unordered_map<uint64_t, Lease>::iterator it,
                      std::vector<Lease>& released) {
  auto [first, last] = deadlines_.equal_range(it->second.deadline);
  for (auto d = first; d != last; ++d) {
    if (d->second == it->first) {
      deadlines_.erase(d);
      break;
    }
  }
  for (const auto& [key, reader] : it->second.on_nvme) {
    std::string index_key;
    EncodeIndexKey({it->second.namespace_id, key}, index_key);
    auto [first, last] = watched_.equal_range(index_key);
    for (auto w = first; w != last; ++w) {
      if (w->second == it->first) {
        watched_.erase(w);
        break;
      }
    }
  }
  bytes_ -= it->second.bytes;
  released.push_back(std::move(it->second));
  leases_.erase(it);
}

bool LeaseTable::Release(uint64_t lease_id) {
  std::vector<Lease> released;  // unpinned after the lock
  std::lock_guard lock(mu_);
  auto it = leases_.find(lease_id);
  if (it == leases_.end()) return false;
  Drop(it, released);
  ++released_;
  return true;
}

void LeaseTable::ReapLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (deadlines_.empty()) {
      reaper_cv_.wait(lock);
      continue;
    }
    const Clock::time_point next = deadlines_.begin()->first;  // a copy: Drop erases it
    if (Clock::now() < next) {
      reaper_cv_.wait_until(lock, next);
      continue;
    }
    std::vector<Lease> expired;
    while (!deadlines_.empty() && deadlines_.begin()->first <= Clock::now()) {
      auto lease = leases_.find(deadlines_.begin()->second);
      Drop(lease, expired);
      ++expired_;
    }
    lock.unlock();
    expired.clear();  // the pins go without the lock held
    lock.lock();
  }
}

void LeaseTable::AddCounters(std::vector<TierCounter>& out) const {
  std::lock_guard lock(mu_);
  out.push_back({"leases_active", leases_.size()});
  out.push_back({"leased_bytes", bytes_});
  out.push_back({"leases_taken", taken_});
  out.push_back({"leases_released", released_});
  out.push_back({"leases_expired", expired_});
  out.push_back({"leases_refused", refused_});
}

}  // namespace kvtier::tiers
