#include "protocol/rdma/send_queue.h"

#include <algorithm>
#include <string>

namespace kvtier::protocol::rdma {

SendQueue::SendQueue(uint32_t depth, uint32_t signal_every)
    : depth_(std::max<uint32_t>(depth, 1)),
      signal_every_(std::clamp<uint32_t>(signal_every, 1, std::max<uint32_t>(depth, 1))) {}

Result<SendQueue::Admitted> SendQueue::Admit(uint64_t request_id, uint32_t work_requests) {
  if (failed_) return Unavailable("the RDMA queue pair failed; use TCP");
  if (work_requests == 0 || work_requests > depth_) {
    return InvalidArgument("a request of " + std::to_string(work_requests) +
                           " RDMA work requests; the queue holds " + std::to_string(depth_));
  }
  if (work_requests > free_slots()) {
    return ResourceExhausted("RDMA send queue full (" + std::to_string(outstanding()) + " of " +
                             std::to_string(depth_) + " outstanding)");
  }
  Admitted admitted;
  admitted.first_wr_id = next_wr_id_;
  admitted.signalled.reserve(work_requests);
  for (uint32_t i = 0; i < work_requests; ++i) {
    const bool last = i + 1 == work_requests;
    const bool signalled = last || unsignalled_run_ + 1 >= signal_every_;
    unsignalled_run_ = signalled ? 0 : unsignalled_run_ + 1;
    posted_.push_back({next_wr_id_++, request_id, signalled, last});
    admitted.signalled.push_back(signalled);
  }
  return admitted;
}

Result<std::vector<uint64_t>> SendQueue::Complete(uint64_t wr_id) {
  const auto it = std::find_if(posted_.begin(), posted_.end(),
                               [wr_id](const Posted& p) { return p.wr_id == wr_id; });
  if (it == posted_.end() || !it->signalled) {
    return InvalidArgument("completion of work request " + std::to_string(wr_id) +
                           ", which is not an outstanding signalled one");
  }
  std::vector<uint64_t> finished;
  const auto end = std::next(it);
  for (auto p = posted_.begin(); p != end; ++p) {
    if (p->last_of_request) finished.push_back(p->request_id);
  }
  posted_.erase(posted_.begin(), end);
  return finished;
}

std::vector<uint64_t> SendQueue::Fail() {
  failed_ = true;
  std::vector<uint64_t> lost;
  for (const Posted& p : posted_) {
    if (lost.empty() || lost.back() != p.request_id) lost.push_back(p.request_id);
  }
  posted_.clear();
  return lost;
}

}  // namespace kvtier::protocol::rdma
