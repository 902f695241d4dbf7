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

Status SendAllBefore(int fd, std::span<const std::span<const std::byte>> pieces,
                     DeadlineClock::time_point deadline, uint64_t* sent) {
  *sent = 0;
  // Bounded by IOV_MAX per call; a batch of many values takes several.
  constexpr size_t kMaxIov = 512;
  std::vector<iovec> iov;
  size_t next = 0;    // first piece not fully sent
  uint64_t skip = 0;  // bytes of pieces[next] already sent
  while (next < pieces.size()) {
    iov.clear();
    for (size_t i = next; i < pieces.size() && iov.size() < kMaxIov; ++i) {
      const uint64_t offset = i == next ? skip : 0;
      if (pieces[i].size() == offset) continue;
      iov.push_back({const_cast<std::byte*>(pieces[i].data()) + offset, pieces[i].size() - offset});
    }
    if (iov.empty()) break;
    msghdr message{};
    message.msg_iov = iov.data();
    message.msg_iovlen = iov.size();
    const ssize_t n = ::sendmsg(fd, &message, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (!WouldBlock(errno)) {
        return Unavailable(std::string("connection lost while sending: ") + std::strerror(errno));
      }
      KVTIER_RETURN_IF_ERROR(WaitReady(fd, POLLOUT, deadline));
      continue;
    }
    *sent += static_cast<uint64_t>(n);
    uint64_t advance = static_cast<uint64_t>(n);
    while (next < pieces.size() && advance >= pieces[next].size() - skip) {
      advance -= pieces[next].size() - skip;
      skip = 0;
      ++next;
    }
    skip += advance;
  }
  return Status::Ok();
}

Status WaitReadableBefore(int fd, DeadlineClock::time_point deadline) {
  return WaitReady(fd, POLLIN, deadline);
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
