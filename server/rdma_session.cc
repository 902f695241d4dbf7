#include "server/rdma_session.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <unordered_map>
#include <utility>

#include <spdlog/spdlog.h>

#include "common/byte_size.h"
#include "protocol/rdma/provider.h"
#include "protocol/rdma/send_queue.h"
#include "protocol/transport.h"

namespace kvtier::server {

namespace rdma = protocol::rdma;

namespace {

// Work requests outstanding per queue pair, and how often one is signalled
// when a request has many (its last always is).
constexpr uint32_t kQueueDepth = 256;
constexpr uint32_t kSignalEvery = 32;
// Pieces gathered into one WRITE: a get reply of many blocks into one
// client area takes one WRITE per this many blocks. Every device allows at
// least this many send SGEs.
constexpr uint32_t kMaxSge = 8;

class Session final : public RdmaSession, public std::enable_shared_from_this<Session> {
 public:
  Session(std::unique_ptr<rdma::WorkQueue> pair, protocol::RegisteredRegions client,
          const rdma::LocalRegions& local, asio::posix::stream_descriptor events)
      : pair_(std::move(pair)),
        client_(std::move(client)),
        local_(local),
        queue_(kQueueDepth, kSignalEvery),
        events_(std::move(events)),
        endpoint_(pair_->LocalEndpoint()) {}

  ~Session() override { Close(); }

  // Arms the completion channel and starts waiting on it.
  Status Listen() {
    KVTIER_RETURN_IF_ERROR(pair_->Arm());
    WaitForEvents();
    return Status::Ok();
  }

  protocol::RdmaEndpoint endpoint() const override { return endpoint_; }
  bool down() const override { return pair_ == nullptr || queue_.failed(); }

  Status Start(std::vector<rdma::Transfer> transfers, Done done) override {
    if (down()) return Unavailable("the RDMA queue pair is down; values go over the stream");
    const uint64_t request = next_request_++;
    if (transfers.empty()) {
      // Nothing to move (empty values): done at once, on this thread.
      asio::post(events_.get_executor(), [done = std::move(done)] { done(Status::Ok()); });
      return Status::Ok();
    }
    KVTIER_ASSIGN_OR_RETURN(
        std::vector<rdma::PlannedWorkRequest> planned,
        rdma::PlanTransfers(request, transfers, client_, local_, kMaxSge, queue_));
    if (Status posted = pair_->Post(planned); !posted.ok()) {
      TearDown(posted);  // this request is not pending: its `done` never runs
      return Unavailable("RDMA post failed: " + posted.message());
    }
    pending_.emplace(request, std::move(done));
    return Status::Ok();
  }

  void Close() override {
    if (pair_ == nullptr) return;
    TearDown(Unavailable("the connection closed"));
  }

 private:
  void WaitForEvents() {
    events_.async_wait(asio::posix::descriptor_base::wait_read,
                       [weak = weak_from_this()](const boost::system::error_code& ec) {
                         auto self = weak.lock();
                         if (ec || self == nullptr || self->pair_ == nullptr) return;
                         self->OnEvent();
                       });
  }

  // The channel turned readable: take the event, re-arm, then poll until
  // the CQ is empty, so nothing that arrived between the two is missed.
  void OnEvent() {
    Status status = pair_->TakeEvent();
    if (status.ok()) status = pair_->Arm();
    std::vector<std::pair<Done, Status>> finished;
    while (status.ok()) {
      auto completions = pair_->Poll(32);
      if (!completions.ok()) {
        status = completions.status();
        break;
      }
      if (completions->empty()) break;
      for (const rdma::WorkCompletion& completion : *completions) {
        if (!completion.status.ok()) {
          status = completion.status;
          break;
        }
        auto requests = queue_.Complete(completion.wr_id);
        if (!requests.ok()) {
          status = Internal("RDMA completion for an unknown work request: " +
                            requests.status().message());
          break;
        }
        for (uint64_t request : *requests) {
          auto it = pending_.find(request);
          if (it == pending_.end()) continue;
          finished.emplace_back(std::move(it->second), Status::Ok());
          pending_.erase(it);
        }
      }
    }
    for (auto& [done, result] : finished) done(result);
    if (!status.ok()) {
      TearDown(status);
      return;
    }
    if (pair_ != nullptr) WaitForEvents();
  }

  // Destroys the queue pair (the device stops touching memory), then fails
  // every pending request.
  void TearDown(const Status& why) {
    if (pair_ == nullptr) return;
    if (why.code() != StatusCode::kUnavailable || why.message() != "the connection closed") {
      spdlog::warn("RDMA queue pair {} down ({}); its connection goes on over the stream",
                   endpoint_.qp_num, why.ToString());
    }
    boost::system::error_code ec;
    events_.close(ec);
    pair_.reset();
    queue_.Fail();
    auto pending = std::exchange(pending_, {});
    const Status failed = Unavailable("RDMA transfer failed: " + why.message());
    for (auto& [request, done] : pending) done(failed);
  }

  std::unique_ptr<rdma::WorkQueue> pair_;
  protocol::RegisteredRegions client_;
  const rdma::LocalRegions& local_;
  rdma::SendQueue queue_;
  asio::posix::stream_descriptor events_;  // a duplicate of the completion channel's descriptor
  const protocol::RdmaEndpoint endpoint_;
  uint64_t next_request_ = 1;
  std::unordered_map<uint64_t, Done> pending_;
};

}  // namespace

struct RdmaHost::Device {
  // Destroyed in reverse: the pool's registration, then the provider.
  std::unique_ptr<rdma::Provider> provider;
  std::unique_ptr<rdma::Registration> pool;
  rdma::LocalRegions local;
  std::string description;
  std::mutex mu;  // Accept runs on any I/O thread
};

Result<std::unique_ptr<RdmaHost>> RdmaHost::Open(const std::string& device_name,
                                                 std::span<std::byte> pool) {
  auto device = std::make_unique<Device>();
  KVTIER_ASSIGN_OR_RETURN(device->provider, rdma::OpenProvider(device_name));
  auto registration = device->provider->Register(pool, rdma::RemoteAccess::kNone);
  if (!registration.ok()) {
    return Unavailable("cannot register the block pool of " + FormatByteSize(pool.size()) +
                       " with " + device->provider->description() + ": " +
                       registration.status().message());
  }
  device->pool = std::move(*registration);
  KVTIER_RETURN_IF_ERROR(device->local.Add(reinterpret_cast<uint64_t>(pool.data()), pool.size(),
                                           device->pool->lkey()));
  device->description = device->provider->description() + ", " + FormatByteSize(pool.size()) +
                        " of block memory registered";
  return std::unique_ptr<RdmaHost>(new RdmaHost(std::move(device)));
}

Result<std::shared_ptr<RdmaSession>> RdmaHost::Accept(const protocol::RdmaEndpoint& client,
                                                      std::span<const protocol::BufferRef> regions,
                                                      const asio::any_io_executor& executor) {
  protocol::RegisteredRegions registered;
  for (const protocol::BufferRef& region : regions) {
    KVTIER_RETURN_IF_ERROR(registered.Add(region.address, region.length, region.key));
  }
  std::unique_ptr<rdma::WorkQueue> pair;
  {
    std::lock_guard lock(device_->mu);
    KVTIER_ASSIGN_OR_RETURN(
        pair, device_->provider->CreateQueue(kQueueDepth, kMaxSge, rdma::RemoteAccess::kNone));
  }
  KVTIER_RETURN_IF_ERROR(pair->Connect(client));
  const int fd = ::dup(pair->completion_fd());
  if (fd < 0) return Unavailable(std::string("dup(completion channel): ") + std::strerror(errno));
  auto session = std::make_shared<Session>(std::move(pair), std::move(registered), device_->local,
                                           asio::posix::stream_descriptor(executor, fd));
  KVTIER_RETURN_IF_ERROR(session->Listen());
  return std::shared_ptr<RdmaSession>(std::move(session));
}

const std::string& RdmaHost::description() const { return device_->description; }

RdmaHost::RdmaHost(std::unique_ptr<Device> device) : device_(std::move(device)) {}
RdmaHost::~RdmaHost() = default;

}  // namespace kvtier::server
