#pragma once

// Types shared by the client's connection engine (client_impl.h) and the
// operations that build requests and decode replies (client.cc). Included
// by client/ only.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "client/client_region.h"
#include "common/result.h"
#include "protocol/asio.h"
#include "protocol/frame.h"
#include "protocol/messages.h"

namespace kvtier::client {
namespace internal {

using protocol::FrameHeader;
using protocol::Opcode;

inline auto Redirect(boost::system::error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

struct ReplyFrame {
  FrameHeader header;
  std::vector<std::byte> metadata;
  // Value bytes, allocated without zero-filling: they are overwritten by
  // the read at once.
  std::shared_ptr<std::byte[]> payload;
  uint64_t payload_length = 0;
};

using Completion = std::function<void(Result<ReplyFrame>)>;

// Calls `on_expiry` on the I/O thread when `after` passes before Finish()
// (or destruction): a connect or handshake that must give up in time.
// `on_expiry` may refer to the caller's locals: it never runs after Finish.
class Deadline {
 public:
  Deadline(asio::io_context& io, std::chrono::milliseconds after, std::function<void()> on_expiry)
      : timer_(io, after), state_(std::make_shared<State>()) {
    timer_.async_wait(
        [state = state_, on_expiry = std::move(on_expiry)](boost::system::error_code ec) {
          if (ec || state->finished) return;
          state->expired = true;
          on_expiry();
        });
  }
  ~Deadline() { Finish(); }
  Deadline(const Deadline&) = delete;
  Deadline& operator=(const Deadline&) = delete;

  // Ends the wait; true when it had expired first.
  bool Finish() {
    state_->finished = true;
    timer_.cancel();
    return state_->expired;
  }

 private:
  struct State {
    bool finished = false;
    bool expired = false;
  };
  asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

using Area = std::shared_ptr<ClientRegion::Area>;

// Where a reply's value bytes are read to instead of a buffer of the
// client's: given the reply with its metadata read, the caller-owned spans to
// fill, in order, adding up to its payload length. It may point
// `frame.payload` at scratch memory for bytes it drops. An error is a
// malformed reply (stream-fatal).
using PayloadSink = std::function<Result<std::vector<std::span<std::byte>>>(ReplyFrame& frame)>;

// Where a request's value bytes travel besides the stream: a put's values
// already copied into `area` of the shared region (kPayloadInRegion,
// `payload_length` bytes), a get's reply area there, or caller buffers that
// a get's values are read into (`sink`).
struct ValuePlacement {
  Area area;
  bool values_in_area = false;
  uint64_t payload_length = 0;
  int pass_fd = -1;  // Hello only: the region's descriptor, sent with the frame
  PayloadSink sink;
  // A put on the stream whose checksums follow its values, computed while
  // they are sent (kChecksumsTrail, TrailingChecksums).
  bool checksums_trail = false;
};

// A request held by a Pipeline until it runs (Client::Impl::RunHere).
struct HeldRequest {
  protocol::Opcode opcode;
  protocol::Metadata metadata;
  std::vector<std::span<const std::byte>> payload;
  Completion done;
  ValuePlacement region;
};

}  // namespace internal

}  // namespace kvtier::client
