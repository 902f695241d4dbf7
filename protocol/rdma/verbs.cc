#include "protocol/rdma/verbs.h"

#if defined(KVTIER_HAVE_IBVERBS)

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "protocol/rdma/verbs_chain.h"

namespace kvtier::protocol::rdma {
namespace {

Status VerbFailed(const char* verb, int error) {
  return Unavailable(std::string(verb) + " failed: " + std::strerror(error != 0 ? error : EIO));
}

// Values every connection uses; see the InfiniBand spec's QP attributes.
constexpr uint8_t kMinRnrTimer = 12;  // 0.64 ms before a receiver-not-ready retry
constexpr uint8_t kAckTimeout = 14;   // 4.096 us * 2^14 = 67 ms per try
constexpr uint8_t kRetryCount = 7;
constexpr uint8_t kRnrRetry = 7;   // 7: retry without limit
constexpr uint8_t kHopLimit = 64;  // routable RoCE v2

uint32_t RandomPsn() {
  std::random_device random;
  return random() & 0xffffff;
}

}  // namespace

ibv_qp_attr InitAttributes(uint8_t port, RemoteAccess access, int* mask) {
  ibv_qp_attr attr{};
  attr.qp_state = IBV_QPS_INIT;
  attr.pkey_index = 0;
  attr.port_num = port;
  attr.qp_access_flags =
      access == RemoteAccess::kReadWrite ? IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE : 0;
  *mask = IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS;
  return attr;
}

ibv_qp_attr ReadyToReceiveAttributes(const RdmaEndpoint& remote, ibv_mtu local_mtu, uint8_t port,
                                     uint8_t gid_index, uint8_t reads, int* mask) {
  ibv_qp_attr attr{};
  attr.qp_state = IBV_QPS_RTR;
  attr.path_mtu = std::min(local_mtu, static_cast<ibv_mtu>(remote.mtu));
  attr.dest_qp_num = remote.qp_num;
  attr.rq_psn = remote.psn;
  attr.max_dest_rd_atomic = reads;
  attr.min_rnr_timer = kMinRnrTimer;
  attr.ah_attr.dlid = remote.lid;
  attr.ah_attr.sl = 0;
  attr.ah_attr.src_path_bits = 0;
  attr.ah_attr.port_num = port;
  const bool global =
      std::any_of(remote.gid.begin(), remote.gid.end(), [](uint8_t b) { return b != 0; });
  attr.ah_attr.is_global = global ? 1 : 0;
  if (global) {
    std::memcpy(attr.ah_attr.grh.dgid.raw, remote.gid.data(), remote.gid.size());
    attr.ah_attr.grh.sgid_index = gid_index;
    attr.ah_attr.grh.hop_limit = kHopLimit;
  }
  *mask = IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
          IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER;
  return attr;
}

ibv_qp_attr ReadyToSendAttributes(uint32_t local_psn, uint8_t reads, int* mask) {
  ibv_qp_attr attr{};
  attr.qp_state = IBV_QPS_RTS;
  attr.sq_psn = local_psn;
  attr.timeout = kAckTimeout;
  attr.retry_cnt = kRetryCount;
  attr.rnr_retry = kRnrRetry;
  attr.max_rd_atomic = reads;
  *mask = IBV_QP_STATE | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY | IBV_QP_SQ_PSN |
          IBV_QP_MAX_QP_RD_ATOMIC;
  return attr;
}

Result<std::unique_ptr<VerbsDevice>> VerbsDevice::Open(const std::string& name, uint8_t port,
                                                       uint8_t gid_index) {
  int count = 0;
  errno = 0;
  ibv_device** list = ibv_get_device_list(&count);
  if (list == nullptr) return VerbFailed("ibv_get_device_list", errno);
  ibv_device* chosen = nullptr;
  for (int i = 0; i < count && chosen == nullptr; ++i) {
    if (name.empty() || name == ibv_get_device_name(list[i])) chosen = list[i];
  }
  if (chosen == nullptr) {
    ibv_free_device_list(list);
    return Unavailable(name.empty() ? "no RDMA device" : "no RDMA device named " + name);
  }
  std::unique_ptr<VerbsDevice> device(new VerbsDevice());
  device->name_ = ibv_get_device_name(chosen);
  device->context_ = ibv_open_device(chosen);
  const int open_error = errno;
  ibv_free_device_list(list);
  if (device->context_ == nullptr) return VerbFailed("ibv_open_device", open_error);
  device->pd_ = ibv_alloc_pd(device->context_);
  if (device->pd_ == nullptr) return VerbFailed("ibv_alloc_pd", errno);
  ibv_device_attr device_attr{};
  if (int error = ibv_query_device(device->context_, &device_attr); error != 0) {
    return VerbFailed("ibv_query_device", error);
  }
  device->reads_in_flight_ = static_cast<uint8_t>(std::clamp<int>(
      std::min(device_attr.max_qp_rd_atom, device_attr.max_qp_init_rd_atom), 1, kMaxReadsInFlight));
  ibv_port_attr port_attr{};
  if (int error = ibv_query_port(device->context_, port, &port_attr); error != 0) {
    return VerbFailed("ibv_query_port", error);
  }
  if (port_attr.state != IBV_PORT_ACTIVE) {
    return Unavailable("RDMA device " + device->name_ + " port " + std::to_string(port) +
                       " is not active");
  }
  device->port_ = port;
  device->gid_index_ = gid_index;
  device->lid_ = port_attr.lid;
  device->active_mtu_ = port_attr.active_mtu;
  ibv_gid gid{};
  if (int error = ibv_query_gid(device->context_, port, gid_index, &gid); error != 0) {
    return VerbFailed("ibv_query_gid", error);
  }
  std::memcpy(device->gid_.data(), gid.raw, device->gid_.size());
  return device;
}

VerbsDevice::~VerbsDevice() {
  if (pd_ != nullptr) ibv_dealloc_pd(pd_);
  if (context_ != nullptr) ibv_close_device(context_);
}

Result<std::unique_ptr<MemoryRegistration>> MemoryRegistration::Register(
    VerbsDevice& device, std::span<std::byte> memory, RemoteAccess access) {
  int flags = IBV_ACCESS_LOCAL_WRITE;
  if (access == RemoteAccess::kReadWrite) flags |= IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_WRITE;
  ibv_mr* mr = ibv_reg_mr(device.pd(), memory.data(), memory.size(), flags);
  if (mr == nullptr) return VerbFailed("ibv_reg_mr", errno);
  return std::unique_ptr<MemoryRegistration>(new MemoryRegistration(mr, memory));
}

MemoryRegistration::~MemoryRegistration() { ibv_dereg_mr(mr_); }

Result<std::unique_ptr<QueuePair>> QueuePair::Create(VerbsDevice& device, uint32_t depth,
                                                     uint32_t max_sge, RemoteAccess access) {
  std::unique_ptr<QueuePair> pair(new QueuePair(device));
  pair->channel_ = ibv_create_comp_channel(device.context());
  if (pair->channel_ == nullptr) return VerbFailed("ibv_create_comp_channel", errno);
  const int flags = fcntl(pair->channel_->fd, F_GETFL);
  if (flags < 0 || fcntl(pair->channel_->fd, F_SETFL, flags | O_NONBLOCK) != 0) {
    return VerbFailed("fcntl(completion channel, O_NONBLOCK)", errno);
  }
  pair->cq_ = ibv_create_cq(device.context(), static_cast<int>(depth), nullptr, pair->channel_, 0);
  if (pair->cq_ == nullptr) return VerbFailed("ibv_create_cq", errno);
  ibv_qp_init_attr init{};
  init.send_cq = pair->cq_;
  init.recv_cq = pair->cq_;
  init.qp_type = IBV_QPT_RC;
  init.sq_sig_all = 0;  // selective signalling (SendQueue)
  init.cap.max_send_wr = depth;
  init.cap.max_send_sge = max_sge;
  init.cap.max_recv_wr = 1;  // one-sided only: nothing is received
  init.cap.max_recv_sge = 1;
  pair->qp_ = ibv_create_qp(device.pd(), &init);
  if (pair->qp_ == nullptr) return VerbFailed("ibv_create_qp", errno);
  int mask = 0;
  ibv_qp_attr attr = InitAttributes(device.port(), access, &mask);
  if (int error = ibv_modify_qp(pair->qp_, &attr, mask); error != 0) {
    return VerbFailed("ibv_modify_qp(INIT)", error);
  }
  pair->psn_ = RandomPsn();
  return pair;
}

QueuePair::~QueuePair() {
  if (qp_ != nullptr) ibv_destroy_qp(qp_);
  if (cq_ != nullptr) {
    if (unacked_events_ > 0) ibv_ack_cq_events(cq_, unacked_events_);
    ibv_destroy_cq(cq_);
  }
  if (channel_ != nullptr) ibv_destroy_comp_channel(channel_);
}

Status QueuePair::Arm() {
  if (int error = ibv_req_notify_cq(cq_, 0); error != 0)
    return VerbFailed("ibv_req_notify_cq", error);
  return Status::Ok();
}

Status QueuePair::TakeEvent() {
  ibv_cq* cq = nullptr;
  void* context = nullptr;
  if (ibv_get_cq_event(channel_, &cq, &context) != 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::Ok();
    return VerbFailed("ibv_get_cq_event", errno);
  }
  // Events are acknowledged in batches: each ack takes a lock in the
  // library, and destroying the CQ needs them all acknowledged.
  if (++unacked_events_ >= 64) {
    ibv_ack_cq_events(cq_, unacked_events_);
    unacked_events_ = 0;
  }
  return Status::Ok();
}

RdmaEndpoint QueuePair::LocalEndpoint() const {
  RdmaEndpoint endpoint;
  endpoint.qp_num = qp_->qp_num;
  endpoint.psn = psn_;
  endpoint.lid = device_.lid();
  endpoint.gid = device_.gid();
  endpoint.mtu = static_cast<uint8_t>(device_.active_mtu());
  return endpoint;
}

Status QueuePair::Connect(const RdmaEndpoint& remote) {
  int mask = 0;
  ibv_qp_attr attr =
      ReadyToReceiveAttributes(remote, device_.active_mtu(), device_.port(), device_.gid_index(),
                               device_.reads_in_flight(), &mask);
  if (int error = ibv_modify_qp(qp_, &attr, mask); error != 0) {
    return VerbFailed("ibv_modify_qp(RTR)", error);
  }
  attr = ReadyToSendAttributes(psn_, device_.reads_in_flight(), &mask);
  if (int error = ibv_modify_qp(qp_, &attr, mask); error != 0) {
    return VerbFailed("ibv_modify_qp(RTS)", error);
  }
  return Status::Ok();
}

Status QueuePair::Post(std::span<const PlannedWorkRequest> planned) {
  if (planned.empty()) return Status::Ok();
  IbvChain chain(planned);
  ibv_send_wr* bad = nullptr;
  if (int error = ibv_post_send(qp_, chain.head(), &bad); error != 0) {
    return VerbFailed("ibv_post_send", error);
  }
  return Status::Ok();
}

Result<std::vector<WorkCompletion>> QueuePair::Poll(int max) {
  std::vector<ibv_wc> completions(static_cast<size_t>(std::max(max, 1)));
  const int n = ibv_poll_cq(cq_, static_cast<int>(completions.size()), completions.data());
  if (n < 0) return Unavailable("ibv_poll_cq failed");
  std::vector<WorkCompletion> out;
  out.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    const ibv_wc& wc = completions[static_cast<size_t>(i)];
    WorkCompletion done{wc.wr_id, Status::Ok()};
    if (wc.status != IBV_WC_SUCCESS) {
      done.status =
          Unavailable(std::string("RDMA work request failed: ") + ibv_wc_status_str(wc.status));
    }
    out.push_back(std::move(done));
  }
  return out;
}

std::string VerbsProvider::description() const {
  return device_->name() + " port " + std::to_string(device_->port());
}

Result<std::unique_ptr<Registration>> VerbsProvider::Register(std::span<std::byte> memory,
                                                              RemoteAccess access) {
  KVTIER_ASSIGN_OR_RETURN(auto registration,
                          MemoryRegistration::Register(*device_, memory, access));
  return std::unique_ptr<Registration>(std::move(registration));
}

Result<std::unique_ptr<WorkQueue>> VerbsProvider::CreateQueue(uint32_t depth, uint32_t max_sge,
                                                              RemoteAccess access) {
  KVTIER_ASSIGN_OR_RETURN(auto pair, QueuePair::Create(*device_, depth, max_sge, access));
  return std::unique_ptr<WorkQueue>(std::move(pair));
}

}  // namespace kvtier::protocol::rdma

#endif  // KVTIER_HAVE_IBVERBS
