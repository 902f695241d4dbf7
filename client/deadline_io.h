#pragma once

// Send and receive on a non-blocking socket from a thread that may block,
// each bounded by a deadline: poll(2) waits while the socket is not ready.
// Used by the client to run a request on the calling thread (client.cc).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"

namespace kvtier::client {

using DeadlineClock = std::chrono::steady_clock;

// Sends every byte of `pieces`, in order. `*sent` counts the bytes that went
// (so the caller knows whether the stream is mid-frame after a failure).
// Errors: kDeadlineExceeded at `deadline`, kUnavailable when the peer is gone.
Status SendAllBefore(int fd, std::span<const std::span<const std::byte>> pieces,
                     DeadlineClock::time_point deadline, uint64_t* sent);

// Waits until `fd` is ready for one of `events` (POLLIN, POLLOUT), or has
// failed. Errors as above.
Status WaitReadyBefore(int fd, short events, DeadlineClock::time_point deadline);

// Fills `into` exactly. `*received` counts the bytes read. Errors as above;
// a clean close is kUnavailable.
Status ReceiveExactlyBefore(int fd, std::span<std::byte> into, DeadlineClock::time_point deadline,
                            uint64_t* received);

// Sends pieces in order over several calls, never blocking: for a caller
// that interleaves sending with reading (Client::Impl::RunHere).
class PieceSender {
 public:
  // `pieces` must stay valid until done.
  void Reset(std::span<const std::span<const std::byte>> pieces);
  // One sendmsg(MSG_DONTWAIT). Ok(true) when every piece is sent, Ok(false)
  // when the socket is full (wait for POLLOUT); kUnavailable when the peer
  // is gone.
  Result<bool> SendSome(int fd);
  uint64_t sent() const { return sent_; }  // bytes since Reset

 private:
  std::span<const std::span<const std::byte>> pieces_;
  size_t next_ = 0;    // first piece not fully sent
  uint64_t skip_ = 0;  // bytes of pieces_[next_] already sent
  uint64_t sent_ = 0;
};

// Fills spans in order over several calls, never blocking.
class PieceReceiver {
 public:
  void Reset(std::vector<std::span<std::byte>> spans);
  // recv(MSG_DONTWAIT) until the spans are full or the socket is empty.
  // Ok(true) when full, Ok(false) when it needs more (wait for POLLIN);
  // kUnavailable on a close or an error.
  Result<bool> ReceiveSome(int fd);
  uint64_t received() const { return received_; }  // bytes since Reset

 private:
  std::vector<std::span<std::byte>> spans_;
  size_t next_ = 0;
  uint64_t filled_ = 0;  // bytes of spans_[next_] already filled
  uint64_t received_ = 0;
};

}  // namespace kvtier::client
