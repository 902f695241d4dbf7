#include <deque>
#include <functional>
#include <future>
#include <optional>
#include <variant>

#include "bench/backend.h"
#include "client/client.h"

namespace kvtier::bench {
namespace {

// Drives kvtierd through the C++ client library: each submitted operation
// is one pipelined request.
class KvtierBackend final : public Backend {
 public:
  KvtierBackend(std::unique_ptr<client::Client> client, std::string ns)
      : client_(std::move(client)), ns_(std::move(ns)) {}

  std::string name() const override { return "kvtier"; }

  std::span<std::byte> ValueBuffer(size_t bytes) override {
    client::SharedBuffer buffer = client_->AllocateShared(bytes);
    if (buffer.bytes.empty()) return {};
    shared_.push_back(std::move(buffer));
    return shared_.back().bytes;
  }

  // One operation alone in flight (depth 1) runs through the waiting form,
  // as an engine that asks and waits would call it; with more in flight
  // they are held in a Pipeline and sent together at WaitAll, as the redis
  // backend sends its commands, and answered on this thread.
  void SubmitPut(const std::vector<std::string>& keys,
                 const std::vector<std::span<const std::byte>>& values,
                 const ChainHints& chain) override {
    client::PutOptions options;
    options.parent = chain.parent;
    options.partial_tail = chain.partial_tail;
    Add([this, keys, values,
         options] { return Pending(client_->PutAsync(ns_, keys, values, options)); },
        [this, keys, values, options](OpResult& out) {
          Complete(client_->Put(ns_, keys, values, options), out);
        });
  }
  void SubmitGet(const std::vector<std::string>& keys) override {
    Add([this, keys] { return Pending(client_->GetAsync(ns_, keys)); },
        [this, keys](OpResult& out) { Complete(client_->Get(ns_, keys), out); });
  }
  void SubmitMatch(const std::vector<std::string>& keys) override {
    Add([this, keys] { return Pending(client_->MatchPrefixAsync(ns_, keys)); },
        [this, keys](OpResult& out) { Complete(client_->MatchPrefix(ns_, keys), out); });
  }

  Result<uint64_t> CapacityBytes() override {
    KVTIER_ASSIGN_OR_RETURN(auto stats, client_->Stats());
    for (const auto& tier : stats.tiers) {
      if (tier.name == "dram") return tier.capacity_bytes;
    }
    return NotFound("the server reports no DRAM tier");
  }

  Status WaitAll(const std::function<void(OpResult&)>& on_done) override {
    // Each held operation's completion time, taken as its reply is read.
    std::vector<Clock::time_point> done_at(ops_.size());
    if (pipeline_) {
      pipeline_->Run([&](size_t i) { done_at[i] = Clock::now(); });
      pipeline_.reset();
    }
    Status broken;
    for (size_t i = 0; !ops_.empty(); ++i) {
      OpResult result;
      Op& op = ops_.front();
      if (op.sent) {
        std::visit([&](auto& future) { Complete(future.get(), result); }, *op.sent);
      } else {
        op.wait(result);
      }
      ops_.pop_front();
      result.done = done_at[i] != Clock::time_point() ? done_at[i] : Clock::now();
      if (result.status.code() == StatusCode::kUnavailable) broken = result.status;
      on_done(result);
    }
    return broken;
  }

 private:
  using Pending =
      std::variant<std::future<Result<client::KeyStatuses>>, std::future<Result<client::GetResult>>,
                   std::future<Result<client::MatchResult>>>;
  struct Op {
    std::function<Pending()> send;        // pipelined: sends it now
    std::function<void(OpResult&)> wait;  // alone: sends it and waits
    std::optional<Pending> sent;
  };

  void Add(std::function<Pending()> send, std::function<void(OpResult&)> wait) {
    ops_.push_back({std::move(send), std::move(wait), std::nullopt});
    if (ops_.size() < 2) return;
    if (!pipeline_) pipeline_.emplace(*client_);
    for (Op& op : ops_) {
      if (!op.sent) op.sent = op.send();
    }
  }

  static void Complete(Result<client::KeyStatuses> put, OpResult& out) {
    out.kind = OpKind::kPut;
    out.status = put.ok() ? Status::Ok() : put.status();
    if (put.ok()) {
      for (const Status& s : put->statuses) {
        if (!s.ok()) out.status = s;
      }
    }
  }
  void Complete(Result<client::GetResult> get, OpResult& out) {
    out.kind = OpKind::kGet;
    out.status = get.ok() ? Status::Ok() : get.status();
    if (!get.ok()) return;
    last_get_ = std::move(*get);  // keeps the bytes alive for the callback
    for (const client::GetValue& value : last_get_.values) {
      if (value.status.code() == StatusCode::kCorruption) out.status = value.status;
      out.hits += value.status.ok();
      out.bytes += value.bytes.size();
      out.values.push_back(value.bytes);
    }
  }
  static void Complete(Result<client::MatchResult> match, OpResult& out) {
    out.kind = OpKind::kMatch;
    out.status = match.ok() ? Status::Ok() : match.status();
    if (match.ok()) out.hits = match->matched;
  }

  std::unique_ptr<client::Client> client_;
  const std::string ns_;
  std::deque<Op> ops_;
  std::optional<client::Pipeline> pipeline_;  // open while ops wait to be sent
  client::GetResult last_get_;
  std::vector<client::SharedBuffer> shared_;
};

}  // namespace

Result<std::unique_ptr<Backend>> ConnectKvtier(const Target& target) {
  client::ClientOptions options;
  options.host = target.host;
  options.port = target.port;
  options.unix_socket = target.unix_socket;
  options.shm_region_bytes = target.shm_region_bytes;
  options.tls.enabled = !target.tls_ca_file.empty();
  options.tls.ca_file = target.tls_ca_file;
  options.client_name = "kvtier-bench";
  options.rdma = target.rdma;
  options.rdma_device = target.rdma_device;
  if (target.rdma && target.shm_region_bytes > 0)
    options.rdma_region_bytes = target.shm_region_bytes;
  KVTIER_ASSIGN_OR_RETURN(auto client, client::Client::Connect(options));
  if (target.rdma && !client->uses_rdma()) {
    return Unavailable("asked for RDMA, but the values would go over the stream: " +
                       client->rdma_fallback());
  }
  return std::unique_ptr<Backend>(new KvtierBackend(std::move(client), target.ns));
}

}  // namespace kvtier::bench
