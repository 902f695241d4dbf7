#pragma once

// The send side of one RDMA queue pair, as bookkeeping: how many work
// requests may be outstanding, which of them are signalled, and which
// requests a completion finishes. It posts nothing itself (see
// transfers.h), so every rule here is tested without a device.
//
// Rules (docs/transports.md, "RDMA"):
// - At most `depth` work requests are outstanding. A request's work
//   requests are admitted all together or not at all; when they do not fit
//   now the answer is kResourceExhausted (retryable: wait for completions,
//   or send the values over TCP).
// - Selective signalling: the last work request of every request is
//   signalled, so its completion is known; so is at least every
//   `signal_every`-th, so slots come back before the queue fills.
// - On a reliable-connected queue pair completions arrive in posting
//   order: a signalled completion retires it and every unsignalled work
//   request posted before it.
// - A failed completion takes the queue pair to the error state: every
//   outstanding request is failed at once, and the caller falls back to
//   TCP.

#include <cstdint>
#include <deque>
#include <vector>

#include "common/result.h"

namespace kvtier::protocol::rdma {

class SendQueue {
 public:
  // depth >= 1; signal_every in 1..depth (clamped).
  SendQueue(uint32_t depth, uint32_t signal_every);

  struct Admitted {
    uint64_t first_wr_id = 0;     // work request ids run from here, one each
    std::vector<bool> signalled;  // per work request, in posting order
  };

  // Admits `work_requests` work requests for request `request_id`.
  // Errors: kInvalidArgument for 0 or more than `depth` (never fits);
  // kResourceExhausted when they do not fit now; kUnavailable after Fail.
  Result<Admitted> Admit(uint64_t request_id, uint32_t work_requests);

  // The successful completion of signalled work request `wr_id`: frees its
  // slot and those of the unsignalled work requests before it. Returns the
  // requests finished by it (their last work request retired), in order.
  // kInvalidArgument for an id that is not an outstanding signalled one.
  Result<std::vector<uint64_t>> Complete(uint64_t wr_id);

  // A failed completion or a queue pair in error: returns every request
  // with work requests outstanding, in order, and empties the queue. Later
  // Admits fail with kUnavailable: a new queue pair starts a new SendQueue.
  std::vector<uint64_t> Fail();

  uint32_t outstanding() const { return static_cast<uint32_t>(posted_.size()); }
  uint32_t free_slots() const { return depth_ - outstanding(); }
  bool failed() const { return failed_; }

 private:
  struct Posted {
    uint64_t wr_id;
    uint64_t request_id;
    bool signalled;
    bool last_of_request;
  };

  const uint32_t depth_;
  const uint32_t signal_every_;
  uint64_t next_wr_id_ = 1;
  uint32_t unsignalled_run_ = 0;  // unsignalled work requests since the last signalled one
  bool failed_ = false;
  std::deque<Posted> posted_;  // outstanding, in posting order
};

}  // namespace kvtier::protocol::rdma
