#include "client/fuse/server_session.h"

#include <algorithm>
#include <random>
#include <thread>

namespace kvtier::client {

bool IsRetryable(const Status& status) {
  switch (status.code()) {
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
    case StatusCode::kResourceExhausted:
    case StatusCode::kIoError:  // the socket broke
    case StatusCode::kProtocolError:
      return true;
    default:
      return false;
  }
}

Result<std::shared_ptr<Client>> ServerSession::Current() {
  std::lock_guard lock(mu_);
  if (client_ != nullptr) return client_;
  KVTIER_ASSIGN_OR_RETURN(std::unique_ptr<Client> client, Client::Connect(options_.client));
  client_ = std::move(client);
  return client_;
}

void ServerSession::Invalidate(const std::shared_ptr<Client>& broken) {
  std::lock_guard lock(mu_);
  if (client_ == broken) client_.reset();
}

void ServerSession::RetryLoop(const std::function<Status(Client*, const Status&)>& attempt) {
  const auto give_up = std::chrono::steady_clock::now() + options_.retry_for;
  std::chrono::milliseconds backoff = options_.initial_backoff;
  thread_local std::mt19937 random(std::random_device{}());
  for (;;) {
    auto client = Current();
    const Status status =
        client.ok() ? attempt(client->get(), Status::Ok()) : attempt(nullptr, client.status());
    if (status.ok() || !IsRetryable(status)) return;
    if (client.ok()) Invalidate(*client);
    if (std::chrono::steady_clock::now() + backoff > give_up) return;
    // Full jitter: many mounts that lost one server do not return in step.
    std::uniform_int_distribution<int64_t> jitter(backoff.count() / 2, backoff.count());
    std::this_thread::sleep_for(std::chrono::milliseconds(jitter(random)));
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

}  // namespace kvtier::client
