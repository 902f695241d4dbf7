#include <deque>
#include <future>
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

  void SubmitPut(const std::vector<std::string>& keys,
                 const std::vector<std::span<const std::byte>>& values) override {
    pending_.push_back(client_->PutAsync(ns_, keys, values));
  }
  void SubmitGet(const std::vector<std::string>& keys) override {
    pending_.push_back(client_->GetAsync(ns_, keys));
  }
  void SubmitMatch(const std::vector<std::string>& keys) override {
    pending_.push_back(client_->MatchPrefixAsync(ns_, keys));
  }

  Result<uint64_t> CapacityBytes() override {
    KVTIER_ASSIGN_OR_RETURN(auto stats, client_->Stats());
    for (const auto& tier : stats.tiers) {
      if (tier.name == "dram") return tier.capacity_bytes;
    }
    return NotFound("the server reports no DRAM tier");
  }

  Status WaitAll(const std::function<void(OpResult&)>& on_done) override {
    Status broken;
    while (!pending_.empty()) {
      OpResult result;
      std::visit([&](auto& future) { Complete(future.get(), result); }, pending_.front());
      pending_.pop_front();
      result.done = Clock::now();
      if (result.status.code() == StatusCode::kUnavailable) broken = result.status;
      on_done(result);
    }
    return broken;
  }

 private:
  using Pending =
      std::variant<std::future<Result<client::KeyStatuses>>, std::future<Result<client::GetResult>>,
                   std::future<Result<client::MatchResult>>>;

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
  std::deque<Pending> pending_;
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
  options.client_name = "kvtier-bench";
  KVTIER_ASSIGN_OR_RETURN(auto client, client::Client::Connect(options));
  return std::unique_ptr<Backend>(new KvtierBackend(std::move(client), target.ns));
}

}  // namespace kvtier::bench
