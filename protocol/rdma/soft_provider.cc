#include "protocol/rdma/soft_provider.h"

#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <random>
#include <string>

namespace kvtier::protocol::rdma {
namespace {

constexpr std::array<uint8_t, 16> kSoftGid = {'k', 'v', 't', 'i', 'e', 'r', '-', 's',
                                              'o', 'f', 't', '-', 'r', 'd', 'm', 'a'};

// Work requests the whole process may complete before every later one
// fails (KVTIER_SOFT_RDMA_FAIL_AFTER); -1: never.
int64_t FailAfter() {
  static const int64_t limit = [] {
    const char* value = std::getenv("KVTIER_SOFT_RDMA_FAIL_AFTER");
    return value != nullptr ? std::strtoll(value, nullptr, 10) : int64_t{-1};
  }();
  return limit;
}
std::atomic<int64_t> g_work_requests{0};

class SoftRegistration final : public Registration {
 public:
  explicit SoftRegistration(uint32_t key) : key_(key) {}
  uint32_t lkey() const override { return key_; }
  uint32_t rkey() const override { return key_; }

 private:
  uint32_t key_;
};

class SoftQueue final : public WorkQueue {
 public:
  static Result<std::unique_ptr<SoftQueue>> Create() {
    const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return Unavailable(std::string("eventfd: ") + std::strerror(errno));
    return std::unique_ptr<SoftQueue>(new SoftQueue(fd));
  }
  ~SoftQueue() override { ::close(event_fd_); }

  RdmaEndpoint LocalEndpoint() const override {
    RdmaEndpoint endpoint;
    endpoint.qp_num = static_cast<uint32_t>(getpid()) & 0xffffff;
    endpoint.psn = psn_;
    endpoint.gid = kSoftGid;
    endpoint.mtu = 5;
    return endpoint;
  }

  Status Connect(const RdmaEndpoint& remote) override {
    if (!IsSoftEndpoint(remote)) {
      return InvalidArgument("a software queue pair connects only to another software one");
    }
    if (remote_pid_ != 0) return InvalidArgument("this queue pair is connected already");
    remote_pid_ = static_cast<pid_t>(remote.qp_num);
    return Status::Ok();
  }

  Status Post(std::span<const PlannedWorkRequest> planned) override {
    if (remote_pid_ == 0) return Unavailable("post on a queue pair that is not connected");
    if (in_error_) return Unavailable("post on a queue pair in the error state");
    for (const PlannedWorkRequest& wr : planned) {
      Status status = Execute(wr);
      // As on a device: success is reported for signalled work requests
      // only; a failure always, and it takes the queue pair to the error
      // state, so nothing after it runs.
      in_error_ = !status.ok();
      if (wr.signalled || in_error_) completions_.push_back({wr.wr_id, std::move(status)});
      if (in_error_) break;
    }
    const uint64_t one = 1;
    if (!completions_.empty() && ::write(event_fd_, &one, sizeof(one)) < 0 && errno != EAGAIN) {
      return Unavailable(std::string("eventfd write: ") + std::strerror(errno));
    }
    return Status::Ok();
  }

  Result<std::vector<WorkCompletion>> Poll(int max) override {
    std::vector<WorkCompletion> out;
    while (!completions_.empty() && static_cast<int>(out.size()) < max) {
      out.push_back(std::move(completions_.front()));
      completions_.pop_front();
    }
    return out;
  }

  int completion_fd() const override { return event_fd_; }
  Status Arm() override { return Status::Ok(); }
  Status TakeEvent() override {
    uint64_t count = 0;
    if (::read(event_fd_, &count, sizeof(count)) < 0 && errno != EAGAIN) {
      return Unavailable(std::string("eventfd read: ") + std::strerror(errno));
    }
    return Status::Ok();
  }

 private:
  explicit SoftQueue(int event_fd) : event_fd_(event_fd) {
    std::random_device random;
    psn_ = random() & 0xffffff;
  }

  // One WRITE (gather local, write remote) or READ (read remote, scatter
  // local), all or nothing as far as the caller can tell.
  Status Execute(const PlannedWorkRequest& wr) {
    const int64_t limit = FailAfter();
    if (limit >= 0 && g_work_requests.fetch_add(1) >= limit) {
      return Unavailable("RDMA work request failed: injected failure (software provider)");
    }
    std::vector<iovec> local;
    size_t bytes = 0;
    for (const PlannedWorkRequest::Sge& sge : wr.sges) {
      local.push_back({reinterpret_cast<void*>(sge.address), sge.length});
      bytes += sge.length;
    }
    iovec remote{reinterpret_cast<void*>(wr.remote_address), bytes};
    const ssize_t moved =
        wr.op == Transfer::Op::kWrite
            ? process_vm_writev(remote_pid_, local.data(), local.size(), &remote, 1, 0)
            : process_vm_readv(remote_pid_, local.data(), local.size(), &remote, 1, 0);
    if (moved < 0) {
      return Unavailable(
          std::string("RDMA work request failed: ") +
          (wr.op == Transfer::Op::kWrite ? "process_vm_writev: " : "process_vm_readv: ") +
          std::strerror(errno));
    }
    if (static_cast<size_t>(moved) != bytes) {
      return Unavailable("RDMA work request failed: moved " + std::to_string(moved) + " of " +
                         std::to_string(bytes) + " bytes");
    }
    return Status::Ok();
  }

  const int event_fd_;
  uint32_t psn_ = 0;
  pid_t remote_pid_ = 0;
  bool in_error_ = false;
  std::deque<WorkCompletion> completions_;
};

class SoftProvider final : public Provider {
 public:
  std::string description() const override {
    return std::string(kSoftProviderName) + " (software, process_vm_readv/writev on this host)";
  }

  Result<std::unique_ptr<Registration>> Register(std::span<std::byte>,
                                                 RemoteAccess access) override {
    if (access == RemoteAccess::kReadWrite) {
      // As a device would for registered memory: let the peer process at
      // it where Yama restricts ptrace to descendants. EINVAL without Yama.
      prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
    }
    return std::unique_ptr<Registration>(new SoftRegistration(next_key_++));
  }

  Result<std::unique_ptr<WorkQueue>> CreateQueue(uint32_t, uint32_t, RemoteAccess) override {
    KVTIER_ASSIGN_OR_RETURN(auto queue, SoftQueue::Create());
    return std::unique_ptr<WorkQueue>(std::move(queue));
  }

 private:
  std::atomic<uint32_t> next_key_{1};
};

}  // namespace

bool IsSoftEndpoint(const RdmaEndpoint& endpoint) { return endpoint.gid == kSoftGid; }

std::unique_ptr<Provider> OpenSoftProvider() { return std::make_unique<SoftProvider>(); }

}  // namespace kvtier::protocol::rdma
