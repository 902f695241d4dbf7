#include "protocol/transport.h"

#include <string>

namespace kvtier::protocol {
namespace {

// Sets *end to address + length; false when that wraps past 2^64.
bool RangeEnd(uint64_t address, uint64_t length, uint64_t* end) {
  *end = address + length;
  return *end >= address;
}

std::string Describe(const BufferRef& ref) {
  return "[" + std::to_string(ref.address) + ", +" + std::to_string(ref.length) + ") key " +
         std::to_string(ref.key);
}

}  // namespace

std::string_view TransportName(TransportKind kind) {
  switch (kind) {
    case TransportKind::kTcp:
      return "tcp";
    case TransportKind::kSharedMemory:
      return "shm";
    case TransportKind::kRdma:
      return "rdma";
  }
  return "unknown";
}

TransportCaps CapsOf(TransportKind kind) {
  switch (kind) {
    case TransportKind::kTcp:
      return {.one_sided = false, .kernel_copies = true, .max_sge = 0};
    case TransportKind::kSharedMemory:
      return {.one_sided = true, .kernel_copies = false, .max_sge = 0};
    case TransportKind::kRdma:
      return {.one_sided = true, .kernel_copies = false, .max_sge = kRdmaMaxSge};
  }
  return {};
}

Status RegisteredRegions::Add(uint64_t address, uint64_t length, uint32_t key) {
  uint64_t end = 0;
  if (length == 0 || !RangeEnd(address, length, &end)) {
    return InvalidArgument("cannot register " + Describe({address, length, key}) +
                           ": empty or wrapping range");
  }
  if (regions_.size() >= kMaxRegions) {
    return ResourceExhausted("a connection registers at most " + std::to_string(kMaxRegions) +
                             " regions");
  }
  for (const Region& r : regions_) {
    if (r.key == key && address < r.address + r.length && r.address < end) {
      return InvalidArgument("cannot register " + Describe({address, length, key}) +
                             ": overlaps a registered region");
    }
  }
  regions_.push_back({address, length, key});
  return Status::Ok();
}

Status RegisteredRegions::Remove(uint64_t address, uint32_t key) {
  for (auto it = regions_.begin(); it != regions_.end(); ++it) {
    if (it->address == address && it->key == key) {
      regions_.erase(it);
      return Status::Ok();
    }
  }
  return NotFound("no region registered at " + std::to_string(address) + " with key " +
                  std::to_string(key));
}

Status RegisteredRegions::Check(const BufferRef& ref) const {
  uint64_t end = 0;
  if (!RangeEnd(ref.address, ref.length, &end)) {
    return InvalidArgument("buffer " + Describe(ref) + " wraps around");
  }
  for (const Region& r : regions_) {
    if (r.key == ref.key && ref.address >= r.address && end <= r.address + r.length) {
      return Status::Ok();
    }
  }
  return InvalidArgument("buffer " + Describe(ref) + " is not inside a registered region");
}

}  // namespace kvtier::protocol
