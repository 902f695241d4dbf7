#pragma once

// Owners of the libibverbs objects one RDMA connection needs: the device
// (context and protection domain), memory registrations, and a reliable-
// connected queue pair with its completion queue. Built only with
// libibverbs (KVTIER_HAVE_IBVERBS). Every call that reaches a device fails
// with a Status naming the verb and errno; nothing here asserts.
//
// The queue pair state changes (INIT, ready to receive, ready to send) take
// their attributes from the pure functions below, which fill structures
// only and are unit-tested without a device (rdma_verbs_test). Everything
// else runs only where a device exists (rdma_loopback_test).

#if defined(KVTIER_HAVE_IBVERBS)

#include <infiniband/verbs.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "protocol/messages.h"
#include "protocol/rdma/transfers.h"

namespace kvtier::protocol::rdma {

// RDMA READs in flight per queue pair, in each direction, at most (the
// device may allow fewer): the server's READs of a put's values are bounded
// by this, and a client accepts as many.
inline constexpr uint8_t kMaxReadsInFlight = 16;

// Whether the remote side may read and write this side's registered memory
// through the queue pair. Only a client allows it; the server's queue pair
// allows nothing, so no client can reach server memory on its own.
enum class RemoteAccess : uint8_t { kNone, kReadWrite };

// RESET -> INIT on `port`.
ibv_qp_attr InitAttributes(uint8_t port, RemoteAccess access, int* mask);
// INIT -> RTR: connects to `remote`. The path MTU is the smaller of the two
// sides'; a non-zero remote GID selects a global route (RoCE, or IB across
// subnets) through local GID `gid_index`.
// `reads` READs of the remote side may be in flight at once.
ibv_qp_attr ReadyToReceiveAttributes(const RdmaEndpoint& remote, ibv_mtu local_mtu, uint8_t port,
                                     uint8_t gid_index, uint8_t reads, int* mask);
// RTR -> RTS, sending from `local_psn`, with up to `reads` READs in flight.
ibv_qp_attr ReadyToSendAttributes(uint32_t local_psn, uint8_t reads, int* mask);

// An open device: its context and one protection domain, on one port.
class VerbsDevice {
 public:
  // Opens the device called `name` ("" for the first one), port `port`,
  // local GID `gid_index`. kUnavailable when there is none.
  static Result<std::unique_ptr<VerbsDevice>> Open(const std::string& name, uint8_t port = 1,
                                                   uint8_t gid_index = 0);
  ~VerbsDevice();
  VerbsDevice(const VerbsDevice&) = delete;
  VerbsDevice& operator=(const VerbsDevice&) = delete;

  ibv_context* context() const { return context_; }
  ibv_pd* pd() const { return pd_; }
  uint8_t port() const { return port_; }
  uint8_t gid_index() const { return gid_index_; }
  uint16_t lid() const { return lid_; }
  ibv_mtu active_mtu() const { return active_mtu_; }
  const std::array<uint8_t, 16>& gid() const { return gid_; }
  const std::string& name() const { return name_; }
  // READs in flight per queue pair: kMaxReadsInFlight or the device's limit.
  uint8_t reads_in_flight() const { return reads_in_flight_; }

 private:
  VerbsDevice() = default;
  std::string name_;
  ibv_context* context_ = nullptr;
  ibv_pd* pd_ = nullptr;
  uint8_t port_ = 1;
  uint8_t gid_index_ = 0;
  uint16_t lid_ = 0;
  ibv_mtu active_mtu_ = IBV_MTU_1024;
  std::array<uint8_t, 16> gid_{};
  uint8_t reads_in_flight_ = 1;
};

// One registration of memory with the device (ibv_reg_mr); deregistered
// when destroyed. The memory must outlive it.
class MemoryRegistration {
 public:
  static Result<std::unique_ptr<MemoryRegistration>> Register(VerbsDevice& device,
                                                              std::span<std::byte> memory,
                                                              RemoteAccess access);
  ~MemoryRegistration();
  MemoryRegistration(const MemoryRegistration&) = delete;
  MemoryRegistration& operator=(const MemoryRegistration&) = delete;

  uint32_t lkey() const { return mr_->lkey; }
  uint32_t rkey() const { return mr_->rkey; }
  std::span<std::byte> memory() const { return memory_; }

 private:
  MemoryRegistration(ibv_mr* mr, std::span<std::byte> memory) : mr_(mr), memory_(memory) {}
  ibv_mr* mr_;
  std::span<std::byte> memory_;
};

// The outcome of one signalled work request.
struct WorkCompletion {
  uint64_t wr_id = 0;
  Status status;  // OK, or kUnavailable naming the completion status
};

// A reliable-connected queue pair and its completion queue.
class QueuePair {
 public:
  // At most `depth` send work requests of `max_sge` entries each.
  static Result<std::unique_ptr<QueuePair>> Create(VerbsDevice& device, uint32_t depth,
                                                   uint32_t max_sge, RemoteAccess access);
  ~QueuePair();
  QueuePair(const QueuePair&) = delete;
  QueuePair& operator=(const QueuePair&) = delete;

  // What the other side needs to connect to this one (sent in Hello).
  RdmaEndpoint LocalEndpoint() const;
  // INIT -> RTR -> RTS against `remote`; once.
  Status Connect(const RdmaEndpoint& remote);
  // Posts the planned work requests in one ibv_post_send.
  Status Post(std::span<const PlannedWorkRequest> planned);
  // Up to `max` completions that arrived; never waits.
  Result<std::vector<WorkCompletion>> Poll(int max);

  // Waiting for completions without spinning: the completion channel's
  // descriptor (non-blocking) turns readable after Arm() once a completion
  // arrives. The owner then calls TakeEvent(), Arm() again, and Poll()s
  // until empty (a completion that came between Poll and Arm is not lost:
  // it is polled after the Arm).
  int completion_fd() const { return channel_->fd; }
  Status Arm();
  // Consumes the channel's pending event, if any; never waits.
  Status TakeEvent();

 private:
  QueuePair(VerbsDevice& device, RemoteAccess access) : device_(device), access_(access) {}
  VerbsDevice& device_;
  const RemoteAccess access_;
  ibv_comp_channel* channel_ = nullptr;
  ibv_cq* cq_ = nullptr;
  ibv_qp* qp_ = nullptr;
  uint32_t psn_ = 0;
  unsigned unacked_events_ = 0;
};

}  // namespace kvtier::protocol::rdma

#endif  // KVTIER_HAVE_IBVERBS
