#include "protocol/rdma/transfers.h"

#include <algorithm>
#include <limits>
#include <string>

namespace kvtier::protocol::rdma {

Status LocalRegions::Add(uint64_t address, uint64_t length, uint32_t lkey) {
  if (length == 0 || address + length < address) {
    return InvalidArgument("an empty or wrapping registered region");
  }
  const auto at = std::lower_bound(regions_.begin(), regions_.end(), address,
                                   [](const Region& r, uint64_t a) { return r.address < a; });
  const bool overlaps_next = at != regions_.end() && at->address < address + length;
  const bool overlaps_previous =
      at != regions_.begin() && std::prev(at)->address + std::prev(at)->length > address;
  if (overlaps_next || overlaps_previous) {
    return InvalidArgument("registered region at " + std::to_string(address) + " overlaps another");
  }
  regions_.insert(at, {address, length, lkey});
  return Status::Ok();
}

Result<uint32_t> LocalRegions::KeyFor(std::span<const std::byte> bytes) const {
  const uint64_t address = reinterpret_cast<uint64_t>(bytes.data());
  const uint64_t length = bytes.size();
  // The last region starting at or before `address`.
  auto at = std::upper_bound(regions_.begin(), regions_.end(), address,
                             [](uint64_t a, const Region& r) { return a < r.address; });
  if (at != regions_.begin()) {
    const Region& region = *std::prev(at);
    if (address - region.address <= region.length &&
        length <= region.length - (address - region.address)) {
      return region.lkey;
    }
  }
  return NotFound("server memory at " + std::to_string(address) + " (" + std::to_string(length) +
                  " bytes) is not registered for RDMA");
}

Result<std::vector<Transfer>> GatherIntoArea(std::span<const std::span<std::byte>> pieces,
                                             const BufferRef& area, uint32_t max_sge) {
  uint64_t total = 0;
  for (const std::span<std::byte> piece : pieces) total += piece.size();
  if (total > area.length) {
    return InvalidArgument("values of " + std::to_string(total) + " bytes for a client area of " +
                           std::to_string(area.length));
  }
  std::vector<Transfer> transfers;
  uint64_t at = area.address;
  for (const std::span<std::byte> piece : pieces) {
    if (piece.empty()) continue;
    if (transfers.empty() || transfers.back().local.size() >= std::max<uint32_t>(max_sge, 1)) {
      transfers.push_back({Transfer::Op::kWrite, {}, BufferRef{at, 0, area.key}});
    }
    transfers.back().local.push_back(piece);
    transfers.back().remote.length += piece.size();
    at += piece.size();
  }
  return transfers;
}

Result<std::vector<Transfer>> ScatterFromClient(std::span<const std::span<std::byte>> targets,
                                                std::span<const uint64_t> addresses, uint32_t key) {
  if (targets.size() != addresses.size()) {
    return InvalidArgument(std::to_string(targets.size()) + " values but " +
                           std::to_string(addresses.size()) + " client addresses");
  }
  std::vector<Transfer> transfers;
  for (size_t i = 0; i < targets.size(); ++i) {
    if (targets[i].empty()) continue;
    transfers.push_back(
        {Transfer::Op::kRead, {targets[i]}, BufferRef{addresses[i], targets[i].size(), key}});
  }
  return transfers;
}

namespace {

// One work request per transfer, checked; not yet admitted (no ids).
Result<std::vector<PlannedWorkRequest>> BuildChecked(std::span<const Transfer> transfers,
                                                     const RegisteredRegions& client_regions,
                                                     const LocalRegions& local_regions,
                                                     uint32_t max_sge) {
  std::vector<PlannedWorkRequest> planned(transfers.size());
  for (size_t i = 0; i < transfers.size(); ++i) {
    const Transfer& transfer = transfers[i];
    PlannedWorkRequest& wr = planned[i];
    if (transfer.local.empty() || transfer.local.size() > max_sge) {
      return InvalidArgument("an RDMA transfer of " + std::to_string(transfer.local.size()) +
                             " pieces; 1 to " + std::to_string(max_sge) + " allowed");
    }
    uint64_t local_bytes = 0;
    for (const std::span<std::byte> piece : transfer.local) {
      if (piece.size() > std::numeric_limits<uint32_t>::max()) {
        return InvalidArgument("an RDMA piece of 4 GiB or more");
      }
      KVTIER_ASSIGN_OR_RETURN(const uint32_t lkey, local_regions.KeyFor(piece));
      wr.sges.push_back(
          {reinterpret_cast<uint64_t>(piece.data()), static_cast<uint32_t>(piece.size()), lkey});
      local_bytes += piece.size();
    }
    KVTIER_RETURN_IF_ERROR(client_regions.Check(transfer.remote));
    if (transfer.remote.length != local_bytes) {
      return InvalidArgument("client buffer of " + std::to_string(transfer.remote.length) +
                             " bytes for a value of " + std::to_string(local_bytes));
    }
    wr.op = transfer.op;
    wr.remote_address = transfer.remote.address;
    wr.rkey = transfer.remote.key;
  }
  return planned;
}

}  // namespace

Status CheckTransfers(std::span<const Transfer> transfers, const RegisteredRegions& client_regions,
                      const LocalRegions& local_regions, uint32_t max_sge) {
  return BuildChecked(transfers, client_regions, local_regions, max_sge).status();
}

Result<std::vector<PlannedWorkRequest>> PlanTransfers(uint64_t request_id,
                                                      std::span<const Transfer> transfers,
                                                      const RegisteredRegions& client_regions,
                                                      const LocalRegions& local_regions,
                                                      uint32_t max_sge, SendQueue& queue) {
  KVTIER_ASSIGN_OR_RETURN(std::vector<PlannedWorkRequest> planned,
                          BuildChecked(transfers, client_regions, local_regions, max_sge));
  if (planned.empty()) return planned;
  if (planned.size() > queue.free_slots() + queue.outstanding()) {
    return InvalidArgument("a request of " + std::to_string(planned.size()) +
                           " RDMA transfers; the queue holds " +
                           std::to_string(queue.free_slots() + queue.outstanding()));
  }
  KVTIER_ASSIGN_OR_RETURN(const SendQueue::Admitted admitted,
                          queue.Admit(request_id, static_cast<uint32_t>(planned.size())));
  for (size_t i = 0; i < planned.size(); ++i) {
    planned[i].wr_id = admitted.first_wr_id + i;
    planned[i].signalled = admitted.signalled[i];
  }
  return planned;
}

}  // namespace kvtier::protocol::rdma
