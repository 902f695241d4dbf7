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
#include "protocol/rdma/provider.h"
#include "protocol/rdma/transfers.h"

namespace kvtier::protocol::rdma {

// RDMA READs in flight per queue pair, in each direction, at most (the
// device may allow fewer): the server's READs of a put's values are bounded
// by this, and a client accepts as many.
inline constexpr uint8_t kMaxReadsInFlight = 16;

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
class MemoryRegistration final : public Registration {
 public:
  static Result<std::unique_ptr<MemoryRegistration>> Register(VerbsDevice& device,
                                                              std::span<std::byte> memory,
                                                              RemoteAccess access);
  ~MemoryRegistration() override;
  MemoryRegistration(const MemoryRegistration&) = delete;
  MemoryRegistration& operator=(const MemoryRegistration&) = delete;

  uint32_t lkey() const override { return mr_->lkey; }
  uint32_t rkey() const override { return mr_->rkey; }
  std::span<std::byte> memory() const { return memory_; }

 private:
  MemoryRegistration(ibv_mr* mr, std::span<std::byte> memory) : mr_(mr), memory_(memory) {}
  ibv_mr* mr_;
  std::span<std::byte> memory_;
};

// A reliable-connected queue pair and its completion queue.
class QueuePair final : public WorkQueue {
 public:
  // At most `depth` send work requests of `max_sge` entries each.
  static Result<std::unique_ptr<QueuePair>> Create(VerbsDevice& device, uint32_t depth,
                                                   uint32_t max_sge, RemoteAccess access);
  ~QueuePair() override;
  QueuePair(const QueuePair&) = delete;
  QueuePair& operator=(const QueuePair&) = delete;

  RdmaEndpoint LocalEndpoint() const override;
  // INIT -> RTR -> RTS against `remote`; once.
  Status Connect(const RdmaEndpoint& remote) override;
  // Posts the planned work requests in one ibv_post_send.
  Status Post(std::span<const PlannedWorkRequest> planned) override;
  Result<std::vector<WorkCompletion>> Poll(int max) override;
  // The completion channel's descriptor.
  int completion_fd() const override { return channel_->fd; }
  Status Arm() override;
  Status TakeEvent() override;

 private:
  explicit QueuePair(VerbsDevice& device) : device_(device) {}
  VerbsDevice& device_;
  ibv_comp_channel* channel_ = nullptr;
  ibv_cq* cq_ = nullptr;
  ibv_qp* qp_ = nullptr;
  uint32_t psn_ = 0;
  unsigned unacked_events_ = 0;
};

// A verbs device as a Provider.
class VerbsProvider final : public Provider {
 public:
  explicit VerbsProvider(std::unique_ptr<VerbsDevice> device) : device_(std::move(device)) {}
  std::string description() const override;
  Result<std::unique_ptr<Registration>> Register(std::span<std::byte> memory,
                                                 RemoteAccess access) override;
  Result<std::unique_ptr<WorkQueue>> CreateQueue(uint32_t depth, uint32_t max_sge,
                                                 RemoteAccess access) override;

 private:
  std::unique_ptr<VerbsDevice> device_;
};

}  // namespace kvtier::protocol::rdma

#endif  // KVTIER_HAVE_IBVERBS
