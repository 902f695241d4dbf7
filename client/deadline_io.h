#pragma once

// Send and receive on a non-blocking socket from a thread that may block,
// each bounded by a deadline: poll(2) waits while the socket is not ready.
// Used by the client to run a request on the calling thread (client.cc).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>

#include "common/result.h"

namespace kvtier::client {

using DeadlineClock = std::chrono::steady_clock;

// Sends every byte of `pieces`, in order. `*sent` counts the bytes that went
// (so the caller knows whether the stream is mid-frame after a failure).
// Errors: kDeadlineExceeded at `deadline`, kUnavailable when the peer is gone.
Status SendAllBefore(int fd, std::span<const std::span<const std::byte>> pieces,
                     DeadlineClock::time_point deadline, uint64_t* sent);

// Waits until `fd` is readable (or has failed). Errors as above.
Status WaitReadableBefore(int fd, DeadlineClock::time_point deadline);

// Fills `into` exactly. `*received` counts the bytes read. Errors as above;
// a clean close is kUnavailable.
Status ReceiveExactlyBefore(int fd, std::span<std::byte> into, DeadlineClock::time_point deadline,
                            uint64_t* received);

}  // namespace kvtier::client
