#include "server/connection.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "protocol/shared_region.h"

namespace kvtier::server {
namespace {

using protocol::FrameHeader;
using protocol::kFrameHeaderSize;
using protocol::Opcode;

constexpr size_t kScratchBytes = 64 * 1024;

auto Redirect(boost::system::error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

}  // namespace

Connection::Connection(stream_socket socket, bool local, std::string peer, Service& service,
                       ServerStats& stats, RateLimitedLog& log, const ListenerConfig& config,
                       protocol::TlsContext* tls, RdmaHost* rdma_host, OnClosed on_closed)
    : socket_(std::move(socket)),
      stream_(socket_),
      local_(local),
      service_(service),
      stats_(stats),
      log_(log),
      config_(config),
      on_closed_(std::move(on_closed)),
      peer_(std::move(peer)),
      watchdog_timer_(socket_.get_executor()),
      writer_wake_(socket_.get_executor()),
      reader_wake_(socket_.get_executor()),
      access_(service.authenticator().required() ? Access::Nothing() : Access::Everything()),
      authenticated_(!service.authenticator().required()),
      rdma_host_(rdma_host) {
  if (tls != nullptr) stream_.UseTls(*tls);
  stats_.connections_active.fetch_add(1, std::memory_order_relaxed);
}

Connection::~Connection() {
  if (rdma_ != nullptr) rdma_->Close();
  if (offered_fd_ >= 0) ::close(offered_fd_);
  stats_.connections_active.fetch_sub(1, std::memory_order_relaxed);
  if (on_closed_) on_closed_(this);
}

// A coroutine function, not a capturing lambda: parameters live in the
// coroutine frame, lambda captures would not outlive Start().
asio::awaitable<void> Connection::Guarded(std::shared_ptr<Connection> self,
                                          asio::awaitable<void> (Connection::*loop)()) {
  try {
    co_await (self.get()->*loop)();
  } catch (const std::exception& e) {
    // Nothing from the network may take the server down: end this
    // connection only.
    spdlog::error("connection {}: {}", self->peer_, e.what());
    self->CloseSocket();
  }
}

void Connection::Start() {
  writer_wake_.expires_at(Clock::time_point::max());
  reader_wake_.expires_at(Clock::time_point::max());
  const auto executor = socket_.get_executor();
  if (stream_.tls()) {
    asio::co_spawn(executor, Guarded(shared_from_this(), &Connection::HandshakeThenServe),
                   asio::detached);
  } else {
    StartLoops();
  }
  asio::co_spawn(executor, Guarded(shared_from_this(), &Connection::Watchdog), asio::detached);
}

void Connection::StartLoops() {
  const auto executor = socket_.get_executor();
  asio::co_spawn(executor, Guarded(shared_from_this(), &Connection::ReadLoop), asio::detached);
  asio::co_spawn(executor, Guarded(shared_from_this(), &Connection::WriteLoop), asio::detached);
}

asio::awaitable<void> Connection::HandshakeThenServe() {
  // The handshake is held to the deadline of a frame, so a peer cannot hold
  // a connection slot by stalling in it.
  phase_ = ReadPhase::kFrame;
  SetReadDeadline(Clock::now() + config_.frame_timeout);
  boost::system::error_code ec;
  co_await stream_.tls_stream()->async_handshake(asio::ssl::stream_base::server, Redirect(ec));
  if (closed_) co_return;  // timed out (counted) or drained
  if (ec) {
    Reject(BadInput::kTlsHandshake,
           "TLS handshake failed: " + protocol::TlsHandshakeErrorText(*stream_.tls_stream(), ec));
    CloseSocket();
    co_return;
  }
  StartLoops();
}

void Connection::Drain() {
  asio::post(socket_.get_executor(), [self = shared_from_this()] {
    self->draining_ = true;
    if (self->phase_ == ReadPhase::kIdle && !self->closed_) {
      // Waiting for the next frame: end that wait now. The write side stays
      // open for replies already queued.
      boost::system::error_code ec;
      self->socket_.shutdown(asio::socket_base::shutdown_receive, ec);
    }
  });
}

void Connection::SetReadDeadline(Clock::time_point deadline) {
  read_deadline_ = deadline;
  if (deadline < watchdog_timer_.expiry()) watchdog_timer_.cancel();
}

void Connection::SetWriteDeadline(Clock::time_point deadline) {
  write_deadline_ = deadline;
  if (deadline < watchdog_timer_.expiry()) watchdog_timer_.cancel();
}

void Connection::CloseSocket() {
  if (closed_) return;
  closed_ = true;
  // The queue pair goes first: after it the device touches no memory, so
  // the pins and blocks of transfers in flight may go.
  if (rdma_ != nullptr) rdma_->Close();
  boost::system::error_code ec;
  socket_.shutdown(asio::socket_base::shutdown_both, ec);
  socket_.close(ec);
  watchdog_timer_.cancel();
  writer_wake_.cancel();
  reader_wake_.cancel();
}

void Connection::Reject(BadInput kind, const std::string& message) {
  stats_.CountBadInput(kind);
  log_.Warn(kind, peer_, message);
}

asio::awaitable<void> Connection::Watchdog() {
  while (!closed_) {
    watchdog_timer_.expires_at(std::min(read_deadline_, write_deadline_));
    boost::system::error_code ec;
    co_await watchdog_timer_.async_wait(Redirect(ec));
    if (closed_) break;
    const auto now = Clock::now();
    if (lingering_ && now >= read_deadline_) {
      CloseSocket();  // the peer kept sending after its error reply
      break;
    }
    if (now >= write_deadline_) {
      Reject(BadInput::kWriteTimeout, "peer stopped reading replies; closing");
      CloseSocket();
    } else if (now >= read_deadline_) {
      if (phase_ == ReadPhase::kIdle) {
        stats_.CountBadInput(BadInput::kIdleTimeout);
        spdlog::debug("connection {} idle past its timeout; closing", peer_);
      } else {
        Reject(BadInput::kFrameTimeout, "frame not completed in time; closing");
      }
      CloseSocket();
    }
  }
}

asio::awaitable<bool> Connection::ReadExactly(asio::mutable_buffer buffer) {
  co_return co_await ReadExactly(std::array<asio::mutable_buffer, 2>{buffer, {}});
}

size_t Connection::TakeReadAhead(asio::mutable_buffer buffer) {
  const size_t n = std::min(buffer.size(), read_ahead_end_ - read_ahead_begin_);
  if (n == 0) return 0;
  std::memcpy(buffer.data(), read_ahead_.data() + read_ahead_begin_, n);
  read_ahead_begin_ += n;
  return n;
}

asio::awaitable<bool> Connection::ReadExactly(std::array<asio::mutable_buffer, 2> buffers) {
  for (asio::mutable_buffer& buffer : buffers) buffer += TakeReadAhead(buffer);
  if (buffers[0].size() == 0) buffers = {buffers[1], {}};
  if (buffers[0].size() == 0) co_return true;
  boost::system::error_code ec;
  const size_t n = co_await asio::async_read(stream_, buffers, Redirect(ec));
  stats_.bytes_received.fetch_add(n, std::memory_order_relaxed);
  if (ec) {
    // A timeout already counted itself and closed the socket.
    if (!closed_ && !draining_) Reject(BadInput::kTruncated, "peer closed inside a frame");
    co_return false;
  }
  co_return true;
}

asio::awaitable<size_t> Connection::ReadFirstBytes(asio::mutable_buffer buffer,
                                                   boost::system::error_code& ec) {
  first_read_ = false;
  while (true) {
    co_await socket_.async_wait(asio::socket_base::wait_read, Redirect(ec));
    if (ec) co_return 0;
    int fd = -1;
    const long n = protocol::ReceiveWithDescriptor(
        socket_.native_handle(), {static_cast<std::byte*>(buffer.data()), buffer.size()}, &fd);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
    if (n < 0) {
      ec = boost::system::error_code(errno, boost::system::system_category());
      co_return 0;
    }
    if (fd >= 0) offered_fd_ = fd;
    if (n == 0) ec = asio::error::eof;
    co_return static_cast<size_t>(n);
  }
}

Status Connection::Authenticate(std::span<const std::byte> hello_metadata) {
  auto hello = protocol::DecodeHelloRequest(hello_metadata);
  if (!hello.ok()) return Unauthenticated("Hello did not decode: " + hello.status().message());
  std::string token_name;
  auto access = service_.authenticator().Authenticate(hello->token, &token_name);
  if (!access.ok()) return access.status();
  access_ = std::move(*access);
  authenticated_ = true;
  spdlog::debug("connection {}: authenticated with token '{}'", peer_, token_name);
  return Status::Ok();
}

asio::awaitable<bool> Connection::Discard(uint64_t bytes) {
  if (scratch_.empty()) scratch_.resize(kScratchBytes);
  while (bytes > 0) {
    const size_t chunk = static_cast<size_t>(std::min<uint64_t>(bytes, scratch_.size()));
    if (!co_await ReadExactly(asio::buffer(scratch_.data(), chunk))) co_return false;
    bytes -= chunk;
  }
  co_return true;
}

asio::awaitable<void> Connection::ReadLoop() {
  while (!closed_ && !draining_) {
    if (!co_await ServeOneFrame()) break;
    // Backpressure: stop reading while too many reply bytes wait to be sent
    // or too many requests wait on workers.
    while (!closed_ &&
           (queued_bytes_ >= config_.max_queued_reply_bytes || deferred_ >= kMaxDeferredRequests)) {
      boost::system::error_code ec;
      co_await reader_wake_.async_wait(Redirect(ec));
    }
  }
  reader_done_ = true;
  SetReadDeadline(Clock::time_point::max());
  writer_wake_.cancel();  // let the writer finish and close
}

asio::awaitable<bool> Connection::ServeOneFrame() {
  std::array<std::byte, kFrameHeaderSize> header_bytes;
  phase_ = ReadPhase::kIdle;
  SetReadDeadline(Clock::now() + config_.idle_timeout);
  boost::system::error_code ec;
  size_t have = 0;
  size_t received = 0;
  if (local_ && first_read_) {
    // Exactly the header: the descriptor rides on its first byte.
    have = received = co_await ReadFirstBytes(asio::buffer(header_bytes), ec);
  } else if (read_ahead_begin_ == read_ahead_end_) {
    received = co_await stream_.async_read_some(asio::buffer(read_ahead_), Redirect(ec));
    read_ahead_begin_ = 0;
    read_ahead_end_ = received;
  }
  stats_.bytes_received.fetch_add(received, std::memory_order_relaxed);
  if (ec) co_return false;  // clean close between frames, or drain
  have += TakeReadAhead(asio::buffer(header_bytes.data() + have, kFrameHeaderSize - have));

  phase_ = ReadPhase::kFrame;
  SetReadDeadline(Clock::now() + config_.frame_timeout);
  if (have < kFrameHeaderSize &&
      !co_await ReadExactly(asio::buffer(header_bytes.data() + have, kFrameHeaderSize - have))) {
    co_return false;
  }

  protocol::FrameProblem problem;
  auto decoded = protocol::DecodeFrameHeader(header_bytes, service_.limits(), &problem);
  if (!decoded.ok()) {
    // The stream cannot be trusted past a bad header: answer and close.
    Reject(BadInputFromFrameProblem(problem), decoded.status().message());
    FrameHeader reply_to;
    if (problem != protocol::FrameProblem::kBadMagic) {
      for (int i = 7; i >= 0; --i) {
        reply_to.request_id =
            (reply_to.request_id << 8) | std::to_integer<uint8_t>(header_bytes[8 + i]);
      }
    }
    EnqueueError(reply_to, decoded.status());
    linger_ = true;
    co_return false;
  }
  const FrameHeader header = *decoded;
  if ((header.flags & protocol::frame_flags::kResponse) != 0) {
    Status status = ProtocolError("client sent a frame flagged as a response");
    Reject(BadInput::kBadHeader, status.message());
    EnqueueError(header, status);
    linger_ = true;
    co_return false;
  }
  if (!authenticated_ &&
      (header.opcode != static_cast<uint8_t>(Opcode::kHello) ||
       header.metadata_length > kMaxMetadataBeforeHello || header.payload_length != 0)) {
    // Before a token is accepted nothing but a small Hello is read: an
    // unauthenticated peer cannot make the server allocate or work.
    Status status = Unauthenticated("this server requires a Hello with an access token first");
    Reject(BadInput::kUnauthenticated, status.message());
    EnqueueError(header, status);
    linger_ = true;
    co_return false;
  }

  std::vector<std::byte> metadata(header.metadata_length);
  if (!metadata.empty() && !co_await ReadExactly(asio::buffer(metadata))) co_return false;

  const bool known = protocol::IsKnownOpcode(header.opcode);
  stats_.requests[known ? header.opcode : 0].fetch_add(1, std::memory_order_relaxed);
  if (!known) {
    Status status = Unsupported("unknown opcode " + std::to_string(header.opcode));
    Reject(BadInput::kUnknownOpcode, status.message());
    if (!co_await Discard(header.payload_length)) co_return false;
    EnqueueError(header, status);
    co_return true;
  }

  const auto opcode = static_cast<Opcode>(header.opcode);
  received_at_[header.request_id] = Clock::now();
  if ((header.flags & protocol::frame_flags::kChecksumsTrail) != 0 && opcode != Opcode::kPut) {
    // Only a put's payload has a trailer: the payload's layout is unknown.
    Status status = ProtocolError("only Put may carry trailing checksums");
    Reject(BadInput::kBadHeader, status.message());
    EnqueueError(header, status);
    linger_ = true;
    co_return false;
  }
  const bool client_memory = channel_ != nullptr || rdma_ != nullptr;
  if ((header.flags & protocol::frame_flags::kPayloadInRegion) != 0 &&
      (!client_memory || opcode != Opcode::kPut)) {
    // Whether the payload follows on the stream is unknown: stream-fatal.
    Status status = ProtocolError(
        !client_memory ? "payload flagged in client memory, but no shared region or RDMA queue "
                         "pair is set up"
                       : "only Put may carry its payload in client memory");
    Reject(BadInput::kBadHeader, status.message());
    EnqueueError(header, status);
    linger_ = true;
    co_return false;
  }
  if (opcode == Opcode::kPut) co_return co_await ReceivePut(header, std::move(metadata));

  if (header.payload_length != 0) {
    Status status =
        InvalidArgument(std::string(protocol::OpcodeName(opcode)) + " carries no payload, got " +
                        std::to_string(header.payload_length) + " bytes");
    Reject(BadInput::kInvalidRequest, status.message());
    if (!co_await Discard(header.payload_length)) co_return false;
    EnqueueError(header, status);
    co_return true;
  }
  if (opcode == Opcode::kHello && service_.authenticator().required()) {
    if (Status status = Authenticate(metadata); !status.ok()) {
      Reject(BadInput::kUnauthenticated, status.message());
      EnqueueError(header, status);
      linger_ = true;
      co_return false;
    }
  }
  if (opcode == Opcode::kHello) {
    if (Status status = AttachRegion(metadata); !status.ok()) {
      Reject(BadInput::kInvalidRequest, status.message());
      EnqueueError(header, status);
      co_return true;
    }
    Answer(header, service_.Hello(metadata, access_, SetUpRdma(metadata)));
    co_return true;
  }
  if (client_memory && (opcode == Opcode::kGet || opcode == Opcode::kGetPrefix)) {
    const protocol::RegionArea area = protocol::DecodeRegionArea(metadata);
    if (area.capacity > 0) reply_areas_[header.request_id] = area;
  }
  Answer(header, service_.Handle(opcode, std::move(metadata), MakeDeferredReply(header), access_));
  co_return true;
}

DeferredReply Connection::MakeDeferredReply(const FrameHeader& request) {
  // Holds the connection alive until the worker's reply has been handled.
  return [self = shared_from_this(), request](Result<ReplyBody> body) {
    asio::post(self->socket_.get_executor(), [self, request, body = std::move(body)]() mutable {
      --self->deferred_;
      self->QueueResult(request, std::move(body));
      self->reader_wake_.cancel();
      self->writer_wake_.cancel();  // the writer may be waiting to finish
    });
  };
}

void Connection::Answer(const FrameHeader& request, std::optional<Result<ReplyBody>> answer) {
  if (!answer) {
    ++deferred_;
    return;
  }
  QueueResult(request, std::move(*answer));
}

void Connection::QueueResult(const FrameHeader& request, Result<ReplyBody> body) {
  if (body.ok()) {
    Enqueue(request, std::move(*body), /*error=*/false);
    return;
  }
  if (body.status().code() == StatusCode::kInvalidArgument ||
      body.status().code() == StatusCode::kUnknownNamespace) {
    log_.Warn(BadInput::kInvalidRequest, peer_, body.status().ToString());
  }
  EnqueueError(request, body.status());
}

asio::awaitable<bool> Connection::ReceivePut(const FrameHeader& header,
                                             std::vector<std::byte> metadata) {
  const bool in_region = (header.flags & protocol::frame_flags::kPayloadInRegion) != 0;
  const bool trail = (header.flags & protocol::frame_flags::kChecksumsTrail) != 0;
  const uint64_t on_stream = in_region ? 0 : header.payload_length;
  if (in_region && trail) {
    Status status = InvalidArgument("a put in the shared region carries its checksums in metadata");
    Reject(BadInput::kInvalidRequest, status.message());
    EnqueueError(header, status);
    co_return true;
  }
  auto put = service_.BeginPut(std::move(metadata), header.payload_length, access_, trail);
  if (!put.ok()) {
    log_.Warn(BadInput::kInvalidRequest, peer_, put.status().ToString());
    if (!co_await Discard(on_stream)) co_return false;
    EnqueueError(header, put.status());
    co_return true;
  }
  if (in_region && rdma_ != nullptr) {
    // The device READs the values into the new blocks; FinishPut verifies
    // their checksums before anything is published.
    if (Status read = co_await ReadByRdma(*put); !read.ok()) {
      if (read.code() == StatusCode::kInvalidArgument)
        Reject(BadInput::kInvalidRequest, read.message());
      EnqueueError(header, read);
      co_return !closed_;
    }
    stats_.rdma_bytes_read.fetch_add(header.payload_length, std::memory_order_relaxed);
    Answer(header, service_.FinishPut(std::move(*put), MakeDeferredReply(header)));
    co_return true;
  }
  if (in_region) {
    // One copy from the client's region into block memory, checked against
    // the region's bounds first; the checksums are verified as for TCP.
    const std::vector<uint64_t>& offsets = put->request.region_offsets;
    Status pulled = offsets.size() == put->blocks.size()
                        ? Status::Ok()
                        : InvalidArgument(
                              "a put flagged in the region needs a region offset "
                              "for every value");
    for (size_t i = 0; pulled.ok() && i < put->blocks.size(); ++i) {
      if (!put->blocks[i]) continue;
      pulled = channel_->Pull({offsets[i], put->request.value_lengths[i], 0},
                              put->blocks[i].mutable_bytes());
    }
    if (!pulled.ok()) {
      Reject(BadInput::kInvalidRequest, pulled.message());
      EnqueueError(header, pulled);
      co_return true;
    }
    stats_.shm_bytes_pulled.fetch_add(header.payload_length, std::memory_order_relaxed);
    Answer(header, service_.FinishPut(std::move(*put), MakeDeferredReply(header)));
    co_return true;
  }
  // Value bytes go straight from the socket into block memory; a value with
  // no block (its allocation failed) is read and dropped. Trailing checksums
  // are read with the last value.
  std::vector<std::byte> trailer(trail ? Service::TrailerBytes(*put) : 0);
  bool trailer_read = trailer.empty();
  for (size_t i = 0; i < put->blocks.size(); ++i) {
    const uint64_t length = put->request.value_lengths[i];
    if (put->blocks[i]) {
      const std::span<std::byte> target = put->blocks[i].mutable_bytes();
      const bool last = i + 1 == put->blocks.size();
      std::array<asio::mutable_buffer, 2> buffers = {
          asio::buffer(target.data(), target.size()),
          asio::buffer(trailer.data(), last ? trailer.size() : 0)};
      trailer_read = trailer_read || last;
      if (length + buffers[1].size() > 0 && !co_await ReadExactly(buffers)) co_return false;
    } else if (!co_await Discard(length)) {
      co_return false;
    }
  }
  if (!trailer_read && !co_await ReadExactly(asio::buffer(trailer))) co_return false;
  if (trail) Service::TakeTrailingChecksums(*put, trailer);
  Answer(header, service_.FinishPut(std::move(*put), MakeDeferredReply(header)));
  co_return true;
}

void Connection::Enqueue(const FrameHeader& request, ReplyBody body, bool error) {
  if (closed_) return;
  if (auto it = received_at_.find(request.request_id); it != received_at_.end()) {
    if (request.opcode < stats_.service_latency.size()) {
      stats_.service_latency[request.opcode].Record(Clock::now() - it->second);
    }
    received_at_.erase(it);
  }
  Outgoing out;
  out.sequence = next_sequence_++;
  out.body = std::move(body);
  bool in_region = false;
  if (!error) {
    in_region =
        rdma_ != nullptr ? StartRdmaPlacement(request, out) : PlaceInRegion(request, out.body);
  } else {
    reply_areas_.erase(request.request_id);
  }
  FrameHeader reply;
  reply.opcode = request.opcode;
  reply.flags = protocol::frame_flags::kResponse | (error ? protocol::frame_flags::kError : 0) |
                (in_region ? protocol::frame_flags::kPayloadInRegion : 0);
  reply.request_id = request.request_id;
  reply.metadata_length = static_cast<uint32_t>(out.body.metadata.bytes().size());
  reply.payload_length = out.body.payload_bytes;
  out.reply = reply;
  out.header = protocol::EncodeFrameHeader(reply);
  out.bytes = kFrameHeaderSize + reply.metadata_length + (in_region ? 0 : reply.payload_length);
  out.opcode = request.opcode;
  queued_bytes_ += out.bytes;
  queue_.push_back(std::move(out));
  writer_wake_.cancel();
}

void Connection::EnqueueError(const FrameHeader& request, const Status& status) {
  Enqueue(request, ReplyBody{protocol::EncodeErrorReply(status), {}, 0}, /*error=*/true);
}

asio::awaitable<void> Connection::WriteLoop() {
  std::vector<asio::const_buffer> buffers;
  while (!closed_) {
    if (queue_.empty()) {
      if (reader_done_ && deferred_ == 0) break;
      boost::system::error_code ec;
      co_await writer_wake_.async_wait(Redirect(ec));
      continue;
    }
    Outgoing& out = queue_.front();
    if (out.rdma_pending) {
      // Its values are still being written into the client's memory; the
      // reply must not arrive before them.
      boost::system::error_code ec;
      co_await writer_wake_.async_wait(Redirect(ec));
      continue;
    }
    buffers.clear();
    buffers.emplace_back(out.header.data(), out.header.size());
    const auto metadata = out.body.metadata.bytes();
    buffers.emplace_back(metadata.data(), metadata.size());
    for (const PayloadPiece& piece : out.body.payload) {
      buffers.emplace_back(piece.bytes.data(), piece.bytes.size());
    }
    const Clock::time_point write_started = Clock::now();
    SetWriteDeadline(write_started + config_.frame_timeout);
    boost::system::error_code ec;
    const size_t n = co_await asio::async_write(stream_, buffers, Redirect(ec));
    SetWriteDeadline(Clock::time_point::max());
    if (!ec && out.opcode < stats_.transfer_latency.size()) {
      stats_.transfer_latency[out.opcode].Record(Clock::now() - write_started);
    }
    stats_.bytes_sent.fetch_add(n, std::memory_order_relaxed);
    if (ec) break;
    queued_bytes_ -= out.bytes;
    queue_.pop_front();  // releases the pins
    reader_wake_.cancel();
  }
  if (linger_ && !closed_ && queue_.empty()) co_await Linger();
  CloseSocket();
  queue_.clear();
}

asio::awaitable<void> Connection::Linger() {
  constexpr uint64_t kMaxDrainBytes = 1 << 20;
  lingering_ = true;
  boost::system::error_code ec;
  socket_.shutdown(asio::socket_base::shutdown_send, ec);
  SetReadDeadline(Clock::now() +
                  std::min<Clock::duration>(config_.frame_timeout, std::chrono::seconds(1)));
  if (scratch_.empty()) scratch_.resize(kScratchBytes);
  for (uint64_t drained = 0; !ec && !closed_ && drained < kMaxDrainBytes;) {
    drained += co_await stream_.async_read_some(asio::buffer(scratch_), Redirect(ec));
  }
}

}  // namespace kvtier::server
