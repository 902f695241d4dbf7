#pragma once

// A connection to one kvtierd that outlives the server's restarts: calls
// that fail because the server is away (connection lost, unavailable,
// deadline, queue full) reconnect and try again with exponential backoff
// and jitter until `retry_for` has passed, then return the last error.
//
// Thread safety: every method may be called concurrently.

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>

#include "client/client.h"
#include "common/result.h"

namespace kvtier::client {

struct SessionOptions {
  ClientOptions client;
  std::chrono::milliseconds retry_for{30'000};
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{2'000};
};

// Whether a failed call may succeed when tried again (on a new connection).
bool IsRetryable(const Status& status);

class ServerSession {
 public:
  explicit ServerSession(SessionOptions options) : options_(std::move(options)) {}

  // The connected client, connecting when there is none (no retries).
  Result<std::shared_ptr<Client>> Current();
  // Drops `broken` so the next Current() connects again (no-op when a new
  // client already replaced it).
  void Invalidate(const std::shared_ptr<Client>& broken);

  // Runs `call`, retrying as the header says.
  template <typename T>
  Result<T> Run(const std::function<Result<T>(Client&)>& call) {
    Result<T> result = Status(Unavailable("not tried"));
    RetryLoop([&](Client* client, const Status& connect_error) {
      result = client == nullptr ? Result<T>(connect_error) : call(*client);
      return result.ok() ? Status::Ok() : result.status();
    });
    return result;
  }

  const SessionOptions& options() const { return options_; }

 private:
  // Calls `attempt` (with the client, or nullptr and why it could not
  // connect) until it returns a status that is OK or not retryable, or the
  // retry time is spent.
  void RetryLoop(const std::function<Status(Client*, const Status&)>& attempt);

  const SessionOptions options_;
  std::mutex mu_;
  std::shared_ptr<Client> client_;
};

}  // namespace kvtier::client
