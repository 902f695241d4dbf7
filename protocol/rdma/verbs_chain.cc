#include "protocol/rdma/verbs_chain.h"

#if defined(KVTIER_HAVE_IBVERBS)

namespace kvtier::protocol::rdma {

IbvChain::IbvChain(std::span<const PlannedWorkRequest> planned) {
  size_t total_sges = 0;
  for (const PlannedWorkRequest& p : planned) total_sges += p.sges.size();
  // Sized once: the work requests point into sges_ and at each other.
  sges_.reserve(total_sges);
  wrs_.resize(planned.size());
  for (size_t i = 0; i < planned.size(); ++i) {
    const PlannedWorkRequest& p = planned[i];
    ibv_send_wr& wr = wrs_[i];
    wr = {};
    wr.wr_id = p.wr_id;
    wr.sg_list = sges_.data() + sges_.size();
    wr.num_sge = static_cast<int>(p.sges.size());
    for (const PlannedWorkRequest::Sge& sge : p.sges) {
      sges_.push_back({sge.address, sge.length, sge.lkey});
    }
    wr.opcode = p.op == Transfer::Op::kWrite ? IBV_WR_RDMA_WRITE : IBV_WR_RDMA_READ;
    wr.send_flags = p.signalled ? IBV_SEND_SIGNALED : 0;
    wr.wr.rdma.remote_addr = p.remote_address;
    wr.wr.rdma.rkey = p.rkey;
    wr.next = i + 1 < planned.size() ? &wrs_[i + 1] : nullptr;
  }
}

}  // namespace kvtier::protocol::rdma

#endif  // KVTIER_HAVE_IBVERBS
