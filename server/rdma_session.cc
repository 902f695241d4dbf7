#include "server/rdma_session.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
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
// Work requests one request posts at a time. A larger request (a put of
// many values) goes in waves, each posted when the one before completes, so
// no request needs the whole queue and several share it.
constexpr size_t kWave = 64;

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
    if (transfers.empty()) {
      // Nothing to move (empty values): done at once, on this thread.
      asio::post(events_.get_executor(), [done = std::move(done)] { done(Status::Ok()); });
      return Status::Ok();
    }
    // Every range is checked before the first wave is posted.
    KVTIER_RETURN_IF_ERROR(rdma::CheckTransfers(transfers, client_, local_, kMaxSge));
    auto job = std::make_shared<Job>(Job{std::move(transfers), 0, std::move(done)});
    if (!waiting_.empty()) {
      waiting_.push_back(std::move(job));  // behind the requests already waiting
      return Status::Ok();
    }
    Status posted = PostWave(job);
    if (posted.code() == StatusCode::kResourceExhausted) {
      waiting_.push_back(std::move(job));  // posted as completions free the queue
      return Status::Ok();
    }
    return posted;  // on an error nothing of this request was posted
  }

  void Close() override {
    if (pair_ == nullptr) return;
    TearDown(Unavailable("the connection closed"));
  }

 private:
  // One request's transfers, posted a wave at a time.
  struct Job {
    std::vector<rdma::Transfer> transfers;
    size_t posted = 0;  // transfers posted so far
    Done done;
  };

  // Admits and posts the job's next wave. kResourceExhausted when the queue
  // has no room now; a failed post takes the queue pair down.
  Status PostWave(const std::shared_ptr<Job>& job) {
    const size_t count = std::min(kWave, job->transfers.size() - job->posted);
    const uint64_t request = next_request_++;
    KVTIER_ASSIGN_OR_RETURN(
        std::vector<rdma::PlannedWorkRequest> planned,
        rdma::PlanTransfers(request, std::span(job->transfers).subspan(job->posted, count), client_,
                            local_, kMaxSge, queue_));
    if (Status posted = pair_->Post(planned); !posted.ok()) {
      TearDown(posted);  // fails the jobs pending before this one
      return Unavailable("RDMA post failed: " + posted.message());
    }
    job->posted += count;
    in_flight_.emplace(request, job);
    return Status::Ok();
  }

  // Posts the next waves of waiting jobs, in order, while the queue has room.
  void PostWaiting() {
    while (!waiting_.empty() && pair_ != nullptr) {
      std::shared_ptr<Job> job = waiting_.front();
      Status posted = PostWave(job);
      // A post failure took the queue pair down, failing every job, this
      // one (still first in waiting_) included.
      if (!posted.ok()) return;
      waiting_.pop_front();
    }
  }

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
    std::vector<Done> finished;  // run after the queue is up to date
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
          auto it = in_flight_.find(request);
          if (it == in_flight_.end()) continue;
          std::shared_ptr<Job> job = std::move(it->second);
          in_flight_.erase(it);
          if (job->posted == job->transfers.size()) {
            finished.push_back(std::move(job->done));
          } else {
            waiting_.push_back(std::move(job));  // its next wave
          }
        }
      }
    }
    if (!status.ok()) {
      TearDown(status);
      for (Done& done : finished) done(Status::Ok());
      return;
    }
    PostWaiting();
    for (Done& done : finished) done(Status::Ok());
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
    auto in_flight = std::exchange(in_flight_, {});
    auto waiting = std::exchange(waiting_, {});
    const Status failed = Unavailable("RDMA transfer failed: " + why.message());
    for (auto& [request, job] : in_flight) job->done(failed);
    for (auto& job : waiting) job->done(failed);
  }

  std::unique_ptr<rdma::WorkQueue> pair_;
  protocol::RegisteredRegions client_;
  const rdma::LocalRegions& local_;
  rdma::SendQueue queue_;
  asio::posix::stream_descriptor events_;  // a duplicate of the completion channel's descriptor
  const protocol::RdmaEndpoint endpoint_;
  uint64_t next_request_ = 1;  // per wave
  // Jobs with a wave in flight, by that wave's request id; jobs whose next
  // wave waits for room. Bounded by what the connection has in flight: one
  // put at a time, and its bounded queue of get replies.
  std::unordered_map<uint64_t, std::shared_ptr<Job>> in_flight_;
  std::deque<std::shared_ptr<Job>> waiting_;
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
    KVTIER_ASSIGN_OR_RETURN(pair, device_->provider->CreateQueue(kQueueDepth, RdmaSession::kMaxSge,
                                                                 rdma::RemoteAccess::kNone));
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
