#pragma once

// Hands a value from any thread (a worker finishing a deferred request) to
// a coroutine waiting on one io_context thread. Callback() may be called
// once, before or after Wait() started; Wait() must be called once, on the
// executor's thread. The callback (and copies of it that a worker's job may
// keep) holds no I/O object, so it may outlive the io_context; the timer
// the coroutine sleeps on lives in Wait()'s frame.

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "protocol/asio.h"

namespace kvtier::server {

template <typename T>
class Rendezvous {
 public:
  explicit Rendezvous(asio::any_io_executor executor)
      : executor_(std::move(executor)), state_(std::make_shared<State>()) {}

  std::function<void(T)> Callback() {
    return [state = state_, executor = executor_](T value) {
      asio::post(executor, [state, value = std::move(value)]() mutable {
        state->value.emplace(std::move(value));
        if (state->wake != nullptr) state->wake->cancel();
      });
    };
  }

  asio::awaitable<T> Wait() {
    asio::steady_timer wake(executor_, std::chrono::steady_clock::time_point::max());
    state_->wake = &wake;
    while (!state_->value) {
      boost::system::error_code ec;
      co_await wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    }
    state_->wake = nullptr;
    co_return std::move(*state_->value);
  }

 private:
  // Touched only on the executor's thread (the posted handler and Wait).
  struct State {
    std::optional<T> value;
    asio::steady_timer* wake = nullptr;
  };
  asio::any_io_executor executor_;
  std::shared_ptr<State> state_;
};

}  // namespace kvtier::server
