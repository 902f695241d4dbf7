#pragma once

// Turns a request's value transfers into work requests for the RDMA send
// queue, after checking every descriptor. A get's values go out by RDMA
// WRITE from the server's blocks into the client's registered buffers; a
// put's values come in by RDMA READ from the client's buffers into new
// blocks. The result is verbs-free (PlannedWorkRequest); ToIbvChain in
// verbs_chain.h makes the ibv_send_wr chain to post.
//
// The server never hands out keys to its own memory: the client names only
// its own buffers (address, length, rkey), and each one is checked against
// what the same connection registered before anything is admitted.

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"
#include "protocol/rdma/send_queue.h"
#include "protocol/transport.h"

namespace kvtier::protocol::rdma {

// Server memory registered with the device once, in large regions (the
// DRAM tier's block memory, sub-allocated into blocks), each with its local
// key.
class LocalRegions {
 public:
  // kInvalidArgument for an empty, wrapping or overlapping region.
  Status Add(uint64_t address, uint64_t length, uint32_t lkey);
  // The local key of the region holding all of `bytes`; kNotFound when no
  // region does (the block is not in registered memory: use TCP).
  Result<uint32_t> KeyFor(std::span<const std::byte> bytes) const;
  size_t size() const { return regions_.size(); }

 private:
  struct Region {
    uint64_t address;
    uint64_t length;
    uint32_t lkey;
  };
  std::vector<Region> regions_;  // sorted by address
};

// One RDMA transfer: server memory pieces (gathered by a WRITE, scattered
// into by a READ) and the one client range on the other side.
struct Transfer {
  enum class Op : uint8_t { kWrite, kRead };
  Op op = Op::kWrite;
  std::vector<std::span<std::byte>> local;
  BufferRef remote;
};

struct PlannedWorkRequest {
  struct Sge {
    uint64_t address = 0;
    uint32_t length = 0;
    uint32_t lkey = 0;
  };
  uint64_t wr_id = 0;
  Transfer::Op op = Transfer::Op::kWrite;
  bool signalled = false;
  std::vector<Sge> sges;
  uint64_t remote_address = 0;
  uint32_t rkey = 0;
};

// The WRITEs that place `pieces` one after another in the client range
// `area` (a get reply's values): pieces are gathered up to `max_sge` per
// WRITE, each WRITE covering the next stretch of the area. Empty pieces
// move nothing. kInvalidArgument when the pieces do not fit the area.
Result<std::vector<Transfer>> GatherIntoArea(std::span<const std::span<std::byte>> pieces,
                                             const BufferRef& area, uint32_t max_sge);

// The READs that fill `targets` (a put's new blocks) from the client
// addresses `addresses`, one each, under rkey `key`. Empty targets move
// nothing. kInvalidArgument when the counts differ.
Result<std::vector<Transfer>> ScatterFromClient(std::span<const std::span<std::byte>> targets,
                                                std::span<const uint64_t> addresses, uint32_t key);

// The checks of PlanTransfers below, without admitting anything: a request
// too large for one admission is checked whole first, then admitted in
// parts.
Status CheckTransfers(std::span<const Transfer> transfers, const RegisteredRegions& client_regions,
                      const LocalRegions& local_regions, uint32_t max_sge);

// Checks every transfer, then admits them into `queue` as request
// `request_id`, one work request each. Checked first, nothing admitted
// unless all pass:
// - the client range lies inside a registration of this connection under
//   its rkey (client_regions) and is exactly as long as the local pieces;
// - the local pieces, 1 to max_sge of them, each under 4 GiB, lie in
//   registered server memory.
// Errors: kInvalidArgument for a bad client descriptor (answer the request
// with it); kNotFound for server memory that is not registered (send the
// values over TCP); SendQueue::Admit's when the queue has no room.
Result<std::vector<PlannedWorkRequest>> PlanTransfers(uint64_t request_id,
                                                      std::span<const Transfer> transfers,
                                                      const RegisteredRegions& client_regions,
                                                      const LocalRegions& local_regions,
                                                      uint32_t max_sge, SendQueue& queue);

}  // namespace kvtier::protocol::rdma
