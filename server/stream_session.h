#pragma once

// The lifecycle the RESP and Blob endpoint connections share (one client
// on one io_context thread): a serving coroutine (the derived class's
// Serve()) and a watchdog coroutine that closes the socket once a deadline
// set by the serving side passes; Drain() stops reading at the next request
// boundary and lets the answers owed go out; the socket is closed once, by
// whichever side ends first. Everything but Drain() runs on the socket's
// executor.

#include <spdlog/spdlog.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "protocol/asio.h"
#include "server/server_stats.h"
#include "server/session.h"

namespace kvtier::server {

template <typename Derived>
class StreamSession : public Session, public std::enable_shared_from_this<Derived> {
 public:
  using OnClosed = std::function<void(Session*)>;

  ~StreamSession() override {
    stats_.connections_active.fetch_sub(1, std::memory_order_relaxed);
    if (on_closed_) on_closed_(this);
  }

  void Start() {
    const auto executor = socket_.get_executor();
    asio::co_spawn(executor, Guarded(this->shared_from_this()), asio::detached);
    asio::co_spawn(
        executor,
        [](std::shared_ptr<Derived> self) -> asio::awaitable<void> {
          co_await self->Watchdog();
        }(this->shared_from_this()),
        asio::detached);
  }

  void Drain() override {
    asio::post(socket_.get_executor(), [self = this->shared_from_this()] {
      self->draining_ = true;
      if (self->closed_) return;
      // Ends a wait for the next request; the answers owed still go out.
      boost::system::error_code ec;
      self->socket_.shutdown(asio::socket_base::shutdown_receive, ec);
    });
  }

 protected:
  using Clock = std::chrono::steady_clock;

  // `kind` names the connection's protocol in logs ("RESP").
  StreamSession(stream_socket socket, std::string peer, ServerStats& stats, std::string kind,
                OnClosed on_closed)
      : socket_(std::move(socket)),
        stats_(stats),
        peer_(std::move(peer)),
        kind_(std::move(kind)),
        on_closed_(std::move(on_closed)),
        watchdog_(socket_.get_executor()) {
    stats_.connections_active.fetch_add(1, std::memory_order_relaxed);
  }

  // The socket is closed (counted as an idle timeout) once `deadline`
  // passes, unless a later call moves it.
  void SetDeadline(Clock::time_point deadline) {
    deadline_ = deadline;
    // The watchdog re-arms itself for a later deadline when it wakes; only
    // an earlier one needs it woken now (saves a timer syscall per read).
    if (deadline < watchdog_.expiry()) watchdog_.cancel();
  }
  void ClearDeadline() { deadline_ = Clock::time_point::max(); }

  void CloseSocket() {
    if (closed_) return;
    closed_ = true;
    boost::system::error_code ec;
    socket_.shutdown(asio::socket_base::shutdown_both, ec);
    socket_.close(ec);
    watchdog_.cancel();
  }

  stream_socket socket_;
  ServerStats& stats_;
  const std::string peer_;
  bool closed_ = false;
  bool draining_ = false;

 private:
  static asio::awaitable<void> Guarded(std::shared_ptr<Derived> self) {
    try {
      co_await self->Serve();
    } catch (const std::exception& e) {
      // Nothing from the network may take the server down: end this
      // connection only.
      spdlog::error("{} connection {}: {}", self->kind_, self->peer_, e.what());
    }
    self->CloseSocket();
  }

  asio::awaitable<void> Watchdog() {
    while (!closed_) {
      watchdog_.expires_at(deadline_);
      boost::system::error_code ec;
      co_await watchdog_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      if (closed_) break;
      if (Clock::now() >= deadline_ && deadline_ != Clock::time_point::max()) {
        stats_.CountBadInput(BadInput::kIdleTimeout);
        spdlog::debug("{} connection {} idle or stalled past its timeout; closing", kind_, peer_);
        CloseSocket();
      }
    }
  }

  const std::string kind_;
  OnClosed on_closed_;
  asio::steady_timer watchdog_;
  Clock::time_point deadline_ = Clock::time_point::max();
};

}  // namespace kvtier::server
