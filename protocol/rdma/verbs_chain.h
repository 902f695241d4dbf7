#pragma once

// The ibv_send_wr chain for planned work requests (transfers.h), ready for
// one ibv_post_send. Built only with libibverbs (KVTIER_HAVE_IBVERBS); it
// fills structures and calls nothing, so it runs without a device.

#if defined(KVTIER_HAVE_IBVERBS)

#include <infiniband/verbs.h>

#include <span>
#include <vector>

#include "protocol/rdma/transfers.h"

namespace kvtier::protocol::rdma {

// Owns the work requests and their scatter-gather entries; head() is the
// first of the chain (null when empty). Moving keeps the links valid.
class IbvChain {
 public:
  explicit IbvChain(std::span<const PlannedWorkRequest> planned);
  ibv_send_wr* head() { return wrs_.empty() ? nullptr : wrs_.data(); }
  const std::vector<ibv_send_wr>& work_requests() const { return wrs_; }

 private:
  std::vector<ibv_send_wr> wrs_;
  std::vector<ibv_sge> sges_;
};

}  // namespace kvtier::protocol::rdma

#endif  // KVTIER_HAVE_IBVERBS
