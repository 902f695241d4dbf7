#include "client/client_region.h"

namespace kvtier::client {

Result<std::shared_ptr<ClientRegion>> ClientRegion::Create(uint64_t bytes) {
  KVTIER_ASSIGN_OR_RETURN(auto region, protocol::SharedRegion::Create(bytes));
  return std::shared_ptr<ClientRegion>(new ClientRegion(std::move(region)));
}

ClientRegion::ClientRegion(std::unique_ptr<protocol::SharedRegion> region)
    : region_(std::move(region)) {
  free_.emplace(0, region_->size());
  free_bytes_ = region_->size();
}

std::shared_ptr<ClientRegion::Area> ClientRegion::Allocate(uint64_t bytes) {
  constexpr uint64_t kAlign = 64;
  if (bytes == 0 || bytes > region_->size()) return nullptr;
  const uint64_t size = (bytes + kAlign - 1) / kAlign * kAlign;
  std::lock_guard lock(mu_);
  // First fit: areas live briefly (one request), so the free list stays short.
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < size) continue;
    const uint64_t offset = it->first;
    const uint64_t rest = it->second - size;
    free_.erase(it);
    if (rest > 0) free_.emplace(offset + size, rest);
    free_bytes_ -= size;
    return std::make_shared<Area>(shared_from_this(), offset, size);
  }
  return nullptr;
}

void ClientRegion::Free(uint64_t offset, uint64_t size) {
  std::lock_guard lock(mu_);
  free_bytes_ += size;
  auto next = free_.lower_bound(offset);
  if (next != free_.end() && offset + size == next->first) {
    size += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto previous = std::prev(next);
    if (previous->first + previous->second == offset) {
      previous->second += size;
      return;
    }
  }
  free_.emplace(offset, size);
}

uint64_t ClientRegion::free_bytes() const {
  std::lock_guard lock(mu_);
  return free_bytes_;
}

}  // namespace kvtier::client
