#include "client/deadline_io.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

namespace kvtier::client {
namespace {

// Waits until `fd` is ready for `events` or the deadline passes.
Status WaitReady(int fd, short events, DeadlineClock::time_point deadline) {
  while (true) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - DeadlineClock::now());
    if (left.count() <= 0) return DeadlineExceeded("no reply before the request timeout");
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, static_cast<int>(std::min<int64_t>(left.count(), 1 << 30)));
    if (ready > 0) return Status::Ok();  // readable, writable, or an error the next call reports
    if (ready < 0 && errno != EINTR) {
      return Unavailable(std::string("poll failed: ") + std::strerror(errno));
    }
  }
}

bool WouldBlock(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

}  // namespace

void PieceSender::Reset(std::span<const std::span<const std::byte>> pieces) {
  pieces_ = pieces;
  next_ = 0;
  skip_ = 0;
  sent_ = 0;
}

Result<bool> PieceSender::SendSome(int fd) {
  // Bounded by IOV_MAX per call; a batch of many values takes several.
  constexpr size_t kMaxIov = 512;
  iovec iov[kMaxIov];
  size_t count = 0;
  for (size_t i = next_; i < pieces_.size() && count < kMaxIov; ++i) {
    const uint64_t offset = i == next_ ? skip_ : 0;
    if (pieces_[i].size() == offset) continue;
    iov[count++] = {const_cast<std::byte*>(pieces_[i].data()) + offset, pieces_[i].size() - offset};
  }
  if (count == 0) {
    next_ = pieces_.size();
    return true;
  }
  msghdr message{};
  message.msg_iov = iov;
  message.msg_iovlen = count;
  const ssize_t n = ::sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
  if (n < 0) {
    if (WouldBlock(errno)) return false;
    return Unavailable(std::string("connection lost while sending: ") + std::strerror(errno));
  }
  sent_ += static_cast<uint64_t>(n);
  uint64_t advance = static_cast<uint64_t>(n);
  while (next_ < pieces_.size() && advance >= pieces_[next_].size() - skip_) {
    advance -= pieces_[next_].size() - skip_;
    skip_ = 0;
    ++next_;
  }
  skip_ += advance;
  return next_ == pieces_.size();
}

void PieceReceiver::Reset(std::vector<std::span<std::byte>> spans) {
  spans_ = std::move(spans);
  next_ = 0;
  filled_ = 0;
  received_ = 0;
}

Result<bool> PieceReceiver::ReceiveSome(int fd) {
  while (true) {
    while (next_ < spans_.size() && filled_ == spans_[next_].size()) {
      ++next_;
      filled_ = 0;
    }
    if (next_ == spans_.size()) return true;
    std::span<std::byte> into = spans_[next_].subspan(filled_);
    const ssize_t n = ::recv(fd, into.data(), into.size(), MSG_DONTWAIT);
    if (n > 0) {
      filled_ += static_cast<uint64_t>(n);
      received_ += static_cast<uint64_t>(n);
      continue;
    }
    if (n == 0) return Unavailable("connection closed by the server");
    if (WouldBlock(errno)) return false;
    return Unavailable(std::string("connection lost: ") + std::strerror(errno));
  }
}

Status SendAllBefore(int fd, std::span<const std::span<const std::byte>> pieces,
                     DeadlineClock::time_point deadline, uint64_t* sent) {
  PieceSender sender;
  sender.Reset(pieces);
  while (true) {
    auto done = sender.SendSome(fd);
    *sent = sender.sent();
    if (!done.ok()) return done.status();
    if (*done) return Status::Ok();
    KVTIER_RETURN_IF_ERROR(WaitReady(fd, POLLOUT, deadline));
  }
}

Status WaitReadyBefore(int fd, short events, DeadlineClock::time_point deadline) {
  return WaitReady(fd, events, deadline);
}

Status ReceiveExactlyBefore(int fd, std::span<std::byte> into, DeadlineClock::time_point deadline,
                            uint64_t* received) {
  *received = 0;
  while (*received < into.size()) {
    const ssize_t n = ::recv(fd, into.data() + *received, into.size() - *received, MSG_DONTWAIT);
    if (n > 0) {
      *received += static_cast<uint64_t>(n);
      continue;
    }
    if (n == 0) return Unavailable("connection closed by the server");
    if (!WouldBlock(errno)) {
      return Unavailable(std::string("connection lost: ") + std::strerror(errno));
    }
    KVTIER_RETURN_IF_ERROR(WaitReady(fd, POLLIN, deadline));
  }
  return Status::Ok();
}

}  // namespace kvtier::client
