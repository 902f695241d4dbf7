#include "tests/support/fault_proxy.h"

#include <algorithm>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "tests/support/server_process.h"

namespace kvtier::testing {
namespace {

bool SendAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = send(fd, data, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// Reads one request's headers (and, with `whole`, its Content-Length body).
bool ReadRequest(int fd, bool whole) {
  std::string data;
  char buffer[65536];
  size_t header_end = std::string::npos;
  while (header_end == std::string::npos) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return false;
    data.append(buffer, static_cast<size_t>(n));
    header_end = data.find("\r\n\r\n");
  }
  if (!whole) return true;
  uint64_t length = 0;
  std::string lower = data.substr(0, header_end);
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t at = lower.find("content-length:");
  if (at != std::string::npos) length = std::stoull(lower.substr(at + 15));
  uint64_t have = data.size() - header_end - 4;
  while (have < length) {
    const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
    if (n <= 0) return false;
    have += static_cast<uint64_t>(n);
  }
  return true;
}

// Copies bytes both ways until either side closes.
// Relays between client `a` and upstream `b`; after `response_budget` bytes
// from `b` (unlimited when ~0) it stops, and returns false.
bool Relay(int a, int b, const std::atomic<bool>& stopping, uint64_t response_budget = ~0ull) {
  pollfd fds[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
  char buffer[65536];
  while (!stopping) {
    if (poll(fds, 2, 100) < 0) return true;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].revents == 0) continue;
      ssize_t n = recv(fds[i].fd, buffer, sizeof(buffer), 0);
      if (n <= 0) return true;
      if (i == 1) {
        if (response_budget == 0) return false;
        n = static_cast<ssize_t>(std::min<uint64_t>(static_cast<uint64_t>(n), response_budget));
        if (response_budget != ~0ull) response_budget -= static_cast<uint64_t>(n);
      }
      if (!SendAll(fds[1 - i].fd, buffer, static_cast<size_t>(n))) return true;
    }
  }
  return true;
}

}  // namespace

FaultProxy::FaultProxy(uint16_t upstream_port, std::function<ProxyFault(uint64_t)> schedule)
    : upstream_port_(upstream_port), schedule_(std::move(schedule)) {}

FaultProxy::~FaultProxy() {
  stopping_ = true;
  if (listen_fd_ >= 0) shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  std::lock_guard lock(threads_mu_);
  for (auto& t : threads_) t.join();
}

Status FaultProxy::Start() {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      listen(listen_fd_, 64) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return IoError(std::string("fault proxy: ") + std::strerror(errno));
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
  return Status::Ok();
}

void FaultProxy::AcceptLoop() {
  for (uint64_t index = 0; !stopping_; ++index) {
    const int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) return;
    std::lock_guard lock(threads_mu_);
    threads_.emplace_back([this, client, index] { Serve(client, index); });
  }
}

void FaultProxy::Serve(int client, uint64_t index) {
  switch (schedule_(index)) {
    case ProxyFault::kServiceUnavailable:
      if (ReadRequest(client, /*whole=*/true)) {
        static constexpr char kReply[] =
            "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 0\r\nContent-Length: 0\r\n"
            "Connection: close\r\n\r\n";
        SendAll(client, kReply, sizeof(kReply) - 1);
        injected_503_.fetch_add(1);
      }
      break;
    case ProxyFault::kReset:
      if (ReadRequest(client, /*whole=*/false)) {
        linger hard{.l_onoff = 1, .l_linger = 0};  // close sends RST
        setsockopt(client, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
        injected_resets_.fetch_add(1);
      }
      break;
    case ProxyFault::kCutResponse: {
      const int upstream = ConnectLoopback(upstream_port_);
      if (upstream >= 0) {
        if (!Relay(client, upstream, stopping_, cut_after_bytes_)) {
          linger hard{.l_onoff = 1, .l_linger = 0};  // close sends RST
          setsockopt(client, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
          injected_resets_.fetch_add(1);
        }
        close(upstream);
      }
      break;
    }
    case ProxyFault::kNone: {
      const int upstream = ConnectLoopback(upstream_port_);
      if (upstream >= 0) {
        Relay(client, upstream, stopping_);
        close(upstream);
      }
      break;
    }
  }
  close(client);
}

}  // namespace kvtier::testing
