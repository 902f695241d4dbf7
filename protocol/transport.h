#pragma once

// The transport seam. Every transport carries the same frames (header,
// FlatBuffers metadata) with the same semantics; they differ only in how
// value bytes move:
//   tcp  - values follow the metadata on the stream (two kernel copies);
//   shm  - a Unix-socket stream for frames plus a shared memory region per
//          connection: the server copies values straight between its blocks
//          and the region (docs/transports.md);
//   rdma - frames on TCP, values by one-sided RDMA READ/WRITE into
//          registered client buffers.
// A transport that does not carry values on the stream implements
// ValueChannel; the server checks every client-named range against what the
// connection registered before moving a byte.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace kvtier::protocol {

enum class TransportKind : uint8_t { kTcp, kSharedMemory, kRdma };
std::string_view TransportName(TransportKind kind);

struct TransportCaps {
  bool one_sided = false;      // the server moves value bytes in client memory itself
  bool kernel_copies = false;  // value bytes pass through the kernel
  uint32_t max_sge = 0;        // scatter-gather entries per transfer (0: no limit)
};
TransportCaps CapsOf(TransportKind kind);

// Scatter-gather entries of one RDMA work request: every device allows at
// least this many send SGEs, so a get reply of many blocks takes one WRITE
// per this many.
inline constexpr uint32_t kRdmaMaxSge = 8;

// A client memory range named in a request: on shared memory an offset into
// the connection's region (key 0); on RDMA a registered address and its rkey.
struct BufferRef {
  uint64_t address = 0;
  uint64_t length = 0;
  uint32_t key = 0;
};

// The client memory one connection registered. Every BufferRef from the
// network is checked here before any transfer is posted or copied.
class RegisteredRegions {
 public:
  // kInvalidArgument for an empty or wrapping range, or one overlapping a
  // registration under the same key; kResourceExhausted past max_regions.
  Status Add(uint64_t address, uint64_t length, uint32_t key);
  // kNotFound when no registration has this key and address.
  Status Remove(uint64_t address, uint32_t key);
  // OK when [address, address + length) lies inside one registration with
  // the same key; kInvalidArgument (naming the range) otherwise.
  Status Check(const BufferRef& ref) const;
  size_t size() const { return regions_.size(); }

  static constexpr size_t kMaxRegions = 1024;

 private:
  struct Region {
    uint64_t address;
    uint64_t length;
    uint32_t key;
  };
  std::vector<Region> regions_;
};

// Moves value bytes between server memory and client memory that a request
// names, for transports that do not carry values on the stream.
class ValueChannel {
 public:
  virtual ~ValueChannel() = default;
  virtual TransportKind kind() const = 0;
  // Copies exactly to.size() client bytes at `from` into `to`.
  virtual Status Pull(const BufferRef& from, std::span<std::byte> to) = 0;
  // Places `pieces` one after another in client memory from `to.address`;
  // their total must fit `to.length`.
  virtual Status Push(std::span<const std::span<const std::byte>> pieces, const BufferRef& to) = 0;
};

}  // namespace kvtier::protocol
