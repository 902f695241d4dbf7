#pragma once

// The client's side of the shared-memory transport: the region it created
// and passed to the server, and a thread-safe allocator of areas in it. A
// put copies its values into an area and the server copies them out; a get
// offers an area the server fills. Areas are handed out as RegionArea
// handles; the region stays mapped while any handle (or the client) lives,
// so a GetResult that points into the region stays valid after the client
// is gone.

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "common/result.h"
#include "protocol/shared_region.h"

namespace kvtier::client {

class ClientRegion : public std::enable_shared_from_this<ClientRegion> {
 public:
  // An allocated area; returned to the region when the last copy goes.
  class Area {
   public:
    Area(std::shared_ptr<ClientRegion> region, uint64_t offset, uint64_t size)
        : region_(std::move(region)), offset_(offset), size_(size) {}
    ~Area() { region_->Free(offset_, size_); }
    Area(const Area&) = delete;
    Area& operator=(const Area&) = delete;
    uint64_t offset() const { return offset_; }
    uint64_t size() const { return size_; }
    std::byte* data() const { return region_->region_->data() + offset_; }

   private:
    std::shared_ptr<ClientRegion> region_;
    uint64_t offset_;
    uint64_t size_;
  };

  static Result<std::shared_ptr<ClientRegion>> Create(uint64_t bytes);

  // An area of at least `bytes` (rounded up to 64), or nullptr when the
  // region has no free run that long (the caller then uses the stream).
  std::shared_ptr<Area> Allocate(uint64_t bytes);

  // Whether [data, data + size) lies inside the region; sets *offset.
  bool Contains(const std::byte* data, uint64_t size, uint64_t* offset) const {
    const std::byte* base = region_->data();
    if (data < base || data > base + region_->size() ||
        size > static_cast<uint64_t>(base + region_->size() - data)) {
      return false;
    }
    *offset = static_cast<uint64_t>(data - base);
    return true;
  }

  std::byte* base() const { return region_->data(); }
  int fd() const { return region_->fd(); }
  uint64_t size() const { return region_->size(); }
  uint64_t free_bytes() const;

 private:
  explicit ClientRegion(std::unique_ptr<protocol::SharedRegion> region);
  void Free(uint64_t offset, uint64_t size);

  std::unique_ptr<protocol::SharedRegion> region_;
  mutable std::mutex mu_;
  std::map<uint64_t, uint64_t> free_;  // offset -> length, coalesced
  uint64_t free_bytes_ = 0;
};

}  // namespace kvtier::client
