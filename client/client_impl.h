#pragma once

// Client::Impl: the connection engine under the client's operations
// (client.cc), which build requests and decode replies. It owns the socket
// and the I/O thread, and moves frames: pipelined through the I/O thread,
// or on the calling thread (the definitions of that side are in
// client_run_here.h, included at the end). Included by client.cc only.

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "client/client.h"
#include "client/client_internal.h"
#include "client/client_rdma.h"
#include "client/client_region.h"
#include "client/deadline_io.h"
#include "client/trailing_checksums.h"
#include "protocol/asio.h"
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "protocol/shared_region.h"
#include "protocol/tls.h"

namespace kvtier::client {

// Owns the socket and an I/O thread. A request goes one of two ways:
//
// - Submit (every XxxAsync): posted to the I/O thread, which writes it and
//   reads its reply; any number may be in flight.
// - RunHere (the waiting Xxx forms, one request through CallHere, and a
//   Pipeline's held requests): when nothing else is in flight, the calling
//   thread writes the requests and reads the replies itself. This saves the
//   two thread handoffs of Submit, which cost more than the server's work
//   for a small request such as a MatchPrefix. Otherwise they go through
//   Submit.
//
// The socket has one user at a time: the caller that owns it (here_owner_)
// or the I/O thread, whose loops read only while requests of theirs are in
// flight and write only while no caller owns the socket. Members under
// "Shared" are guarded by mu_; the rest are touched only on the I/O thread.
//
// A caller that takes the socket also takes it out of the I/O thread's
// epoll set (Detach), and the I/O thread puts it back only when it has a
// request to move (Reattach). Registered, every reply that a caller reads
// would also wake the idle I/O thread: on a 2-core machine that wakeup cost
// the client more CPU than the caller's own (perf, MatchPrefix of 128 keys).
class Client::Impl {
 public:
  using Area = internal::Area;
  using Completion = internal::Completion;
  using PayloadSink = internal::PayloadSink;
  using ReplyFrame = internal::ReplyFrame;
  using ValuePlacement = internal::ValuePlacement;
  using FrameHeader = protocol::FrameHeader;
  using Opcode = protocol::Opcode;

  explicit Impl(const ClientOptions& options)
      : options_(options),
        socket_(io_),
        stream_(socket_),
        writer_wake_(io_),
        reader_wake_(io_),
        work_(asio::make_work_guard(io_)) {
    // Until Hello says otherwise, accept any reply a default server could send.
    receive_limits_.max_metadata_bytes = 16u << 20;
    receive_limits_.max_payload_bytes = 1ull << 32;
    thread_ = std::thread([this] { io_.run(); });
  }

  pid_t owner_pid() const { return owner_pid_; }

  ~Impl() {
    asio::post(io_, [this] { Fail(Unavailable("client closed")); });
    work_.reset();
    thread_.join();
  }

  Status Connect() {
    if (options_.tls.enabled) {
      if (!options_.unix_socket.empty()) {
        return InvalidArgument("TLS is for TCP; a Unix socket connection does not use it");
      }
      const TlsOptions& tls = options_.tls;
      KVTIER_ASSIGN_OR_RETURN(
          tls_context_, protocol::MakeClientTlsContext({tls.ca_file, tls.cert_file, tls.key_file}));
    }
    std::promise<Status> connected;
    asio::co_spawn(io_, ConnectCoroutine(&connected), asio::detached);
    return connected.get_future().get();
  }

  void SetServerInfo(ServerInfo info) {
    info_ = std::move(info);
    std::lock_guard lock(mu_);
    receive_limits_.max_metadata_bytes = std::max(info_.limits.max_metadata_bytes, 1u << 20);
    receive_limits_.max_payload_bytes = info_.limits.max_payload_bytes;
  }
  const ServerInfo& info() const { return info_; }
  bool bulk() const { return options_.bulk; }

  // The region values move through, or null: none attached, or RDMA went
  // down (values then go on the stream). Thread-safe.
  ClientRegion* region() const {
    return rdma_down_.load(std::memory_order_acquire) ? nullptr : region_.get();
  }
  bool uses_rdma() const { return rdma_ != nullptr && region() != nullptr; }

  // Creates the region: shared memory to attach with Hello (Unix socket),
  // or memory to register for RDMA.
  Status CreateRegion(uint64_t bytes) {
    KVTIER_ASSIGN_OR_RETURN(region_, ClientRegion::Create(bytes));
    return Status::Ok();
  }
  // Forgets a region the server did not take (RDMA refused).
  void DropRegion() { region_.reset(); }

  // Values now move by RDMA: requests name the region by address and
  // `rdma`'s rkey instead of by offset.
  void UseRdma(std::unique_ptr<ClientRdma> rdma) {
    region_base_ = reinterpret_cast<uint64_t>(region_->base());
    region_key_ = rdma->registered().key;
    rdma_ = std::move(rdma);
  }
  // The server could not move a put's values by RDMA (its queue pair went
  // down): later requests use the stream. Thread-safe.
  void StopRdma(const std::string& why) {
    if (rdma_ == nullptr || rdma_down_.exchange(true)) return;
    std::lock_guard lock(mu_);
    rdma_fallback_ = "RDMA stopped on this connection (" + why + "); values go over the stream";
  }
  std::string rdma_fallback() const {
    std::lock_guard lock(mu_);
    return rdma_fallback_;
  }
  void SetRdmaFallback(std::string why) {
    std::lock_guard lock(mu_);
    rdma_fallback_ = std::move(why);
  }
  // How a request names client memory at region offset `offset`.
  uint64_t RegionAddress(uint64_t offset) const { return region_base_ + offset; }
  uint32_t region_key() const { return region_key_; }
  protocol::RegionArea Offer(const Area& area) const {
    if (!area) return {};
    return {RegionAddress(area->offset()), area->size(), region_key_};
  }

  // A reply area for a get of `keys` keys, or none (no region, or full).
  Area ReplyArea(size_t keys) {
    if (region() == nullptr) return nullptr;
    const uint64_t want = std::min<uint64_t>({keys * options_.shm_get_bytes_per_key,
                                              region_->size() / 4, info_.limits.max_payload_bytes});
    return region_->Allocate(want);
  }

  void Submit(Opcode opcode, protocol::Metadata metadata,
              std::vector<std::span<const std::byte>> payload, Completion done,
              ValuePlacement region = {}) {
    {
      std::lock_guard lock(mu_);
      ++in_flight_;
    }
    asio::post(io_, [this, opcode, metadata = std::move(metadata), payload = std::move(payload),
                     done = std::move(done), region = std::move(region)]() mutable {
      uint64_t id = 0;
      Status broken;
      {
        std::lock_guard lock(mu_);
        if (broken_.ok()) {
          id = next_id_++;
        } else {
          broken = broken_;
          --in_flight_;
        }
      }
      if (!broken.ok()) {
        done(broken);
        return;
      }
      const FrameHeader header = RequestHeader(opcode, id, metadata, payload, region);
      Pending& pending = pending_[id];
      pending.done = std::move(done);
      pending.area = std::move(region.area);
      pending.reply_area = !region.values_in_area;
      pending.sink = std::move(region.sink);
      pending.timer = std::make_unique<asio::steady_timer>(io_, options_.request_timeout);
      pending.timer->async_wait([this, id](boost::system::error_code ec) {
        if (!ec) TimeOut(id);
      });
      queue_.push_back({id, protocol::EncodeFrameHeader(header), std::move(metadata),
                        std::move(payload), region.pass_fd, region.checksums_trail});
      writer_wake_.cancel();
      reader_wake_.cancel();
    });
  }

  // Runs `requests` on the calling thread if the socket is free (see the
  // class comment), as a pipeline: writes them in order while reading the
  // replies as they come, and completes each request as its reply is read.
  // False when the socket is not free; nothing was sent then. Writing and
  // reading interleave, so replies that fill the socket while later
  // requests are still being written never stall the exchange.
  // `after_each(i)`, when given, follows the completion of requests[i].
  bool RunHere(std::span<internal::HeldRequest> requests,
               const std::function<void(size_t)>& after_each = {});

  // Runs one request on the calling thread if the socket is free (see the
  // class comment); nullopt when it is not, and nothing was sent: then
  // `metadata`, `payload` and `region` are as they were, for Submit.
  std::optional<Result<ReplyFrame>> CallHere(Opcode opcode, protocol::Metadata& metadata,
                                             std::vector<std::span<const std::byte>>& payload,
                                             ValuePlacement& region);

 private:
  // Runs requests on the calling thread (client_run_here.h).
  class PipelineRun;

  struct Pending {
    Completion done;
    std::unique_ptr<asio::steady_timer> timer;
    Area area;                // held until the reply: the server may use it until then
    bool reply_area = false;  // `area` is where the reply's values may be placed
    PayloadSink sink;         // where the reply's values are read to (GetInto)
  };
  struct Outgoing {
    uint64_t id;
    protocol::FrameHeaderBytes header;
    protocol::Metadata metadata;
    std::vector<std::span<const std::byte>> payload;
    int pass_fd = -1;
    bool checksums_trail = false;
  };

  static FrameHeader RequestHeader(Opcode opcode, uint64_t id, const protocol::Metadata& metadata,
                                   std::span<const std::span<const std::byte>> payload,
                                   const ValuePlacement& region) {
    FrameHeader header;
    header.opcode = static_cast<uint8_t>(opcode);
    header.request_id = id;
    header.metadata_length = static_cast<uint32_t>(metadata.bytes().size());
    for (const auto& value : payload) header.payload_length += value.size();
    if (region.checksums_trail) {
      header.flags |= protocol::frame_flags::kChecksumsTrail;
      header.payload_length += protocol::kTrailingChecksumBytes * payload.size();
    }
    if (region.values_in_area) {
      header.flags |= protocol::frame_flags::kPayloadInRegion;
      header.payload_length = region.payload_length;
    }
    return header;
  }

  // Decodes a reply header and sizes its metadata buffer; where the payload
  // goes is chosen once the metadata is read (PayloadTargets).
  static Result<ReplyFrame> StartReply(const protocol::FrameHeaderBytes& bytes,
                                       const protocol::Limits& limits) {
    KVTIER_ASSIGN_OR_RETURN(FrameHeader header, protocol::DecodeFrameHeader(bytes, limits));
    if ((header.flags & protocol::frame_flags::kResponse) == 0) {
      return ProtocolError("server sent a frame not flagged as a response");
    }
    ReplyFrame frame;
    frame.header = header;
    frame.metadata.resize(header.metadata_length);
    frame.payload_length = header.payload_length;
    return frame;
  }

  // Where the payload of `frame` (metadata read) goes on the stream: the
  // request's sink, or a buffer of the client's. Nothing when the values
  // lie in the shared region.
  static Result<std::vector<std::span<std::byte>>> PayloadTargets(ReplyFrame& frame,
                                                                  const PayloadSink* sink) {
    if ((frame.header.flags & protocol::frame_flags::kPayloadInRegion) != 0 ||
        frame.payload_length == 0) {
      return std::vector<std::span<std::byte>>{};
    }
    if (sink != nullptr && *sink && (frame.header.flags & protocol::frame_flags::kError) == 0) {
      return (*sink)(frame);
    }
    frame.payload.reset(new std::byte[frame.payload_length]);
    return std::vector<std::span<std::byte>>{{frame.payload.get(), frame.payload_length}};
  }

  // A connection-level error (limit reached, stream rejected) ends the
  // connection; any other frame is a reply to a request.
  static Status ConnectionError(const ReplyFrame& frame) {
    if (frame.header.request_id == 0 && (frame.header.flags & protocol::frame_flags::kError) != 0) {
      Status status = protocol::DecodeErrorReply(frame.metadata);
      return status.ok() ? ProtocolError("connection-level error reply without a status") : status;
    }
    return Status::Ok();
  }

  // Points a reply placed in the shared region at the area its request
  // offered; the result holds the area until it is dropped.
  static Status TakeRegionPayload(ReplyFrame& frame, const Area& area, bool reply_area) {
    if ((frame.header.flags & protocol::frame_flags::kPayloadInRegion) == 0) return Status::Ok();
    if (!reply_area || !area || frame.payload_length > area->size()) {
      return ProtocolError("reply placed in the shared region without a fitting area");
    }
    frame.payload = std::shared_ptr<std::byte[]>(area, area->data());
    return Status::Ok();
  }

  // Gives the socket back to the I/O thread, waking it if requests were
  // submitted meanwhile. Called with mu_ held.
  void ReleaseHere() {
    here_owner_ = false;
    if (in_flight_ > 0) {
      asio::post(io_, [this] {
        writer_wake_.cancel();
        reader_wake_.cancel();
      });
    }
  }

  // What a failed read mid-reply means for the connection's other requests.
  static Status ConnectionStatus(const Status& status) {
    if (status.code() != StatusCode::kDeadlineExceeded) return status;
    return Unavailable("connection closed after a reply stalled past the request timeout");
  }

  // Breaks the connection from the calling thread: this request fails with
  // `mine`, every other one with `status`.
  Result<ReplyFrame> BreakHere(Status status, Status mine) {
    GiveUpBroken(std::move(status));
    return mine;
  }

  // The calling thread gives up the socket it owns and has the I/O thread
  // close it; requests submitted meanwhile fail with `status`.
  void GiveUpBroken(Status status) {
    {
      std::lock_guard lock(mu_);
      if (broken_.ok()) broken_ = status;
      here_owner_ = false;
    }
    asio::post(io_, [this, status] { Fail(status); });
  }

  asio::awaitable<void> ConnectCoroutine(std::promise<Status>* connected) {
    const bool local = !options_.unix_socket.empty();
    const std::string where =
        local ? options_.unix_socket : options_.host + ":" + std::to_string(options_.port);
    boost::system::error_code ec;
    tcp::resolver::results_type endpoints;
    if (!local) {
      tcp::resolver resolver(io_);
      endpoints = co_await resolver.async_resolve(options_.host, std::to_string(options_.port),
                                                  internal::Redirect(ec));
      if (ec) {
        connected->set_value(
            Unavailable("cannot resolve '" + options_.host + "': " + ec.message()));
        co_return;
      }
    }
    tcp::socket tcp_socket(io_);
    local_stream::socket unix_socket(io_);
    internal::Deadline deadline(io_, options_.connect_timeout, [&] {
      boost::system::error_code ignored;
      tcp_socket.close(ignored);
      unix_socket.close(ignored);
    });
    if (local) {
      co_await unix_socket.async_connect(local_stream::endpoint(options_.unix_socket),
                                         internal::Redirect(ec));
    } else {
      co_await asio::async_connect(tcp_socket, endpoints, internal::Redirect(ec));
    }
    if (deadline.Finish()) {
      connected->set_value(DeadlineExceeded("connecting to " + where + " timed out"));
      co_return;
    }
    if (ec) {
      connected->set_value(Unavailable("cannot connect to " + where + ": " + ec.message()));
      co_return;
    }
    if (local) {
      socket_ = stream_socket(std::move(unix_socket));
    } else {
      tcp_socket.set_option(tcp::no_delay(true), ec);
      socket_ = stream_socket(std::move(tcp_socket));
    }
    if (tls_context_) {
      if (Status status = co_await Handshake(where); !status.ok()) {
        boost::system::error_code ignored;
        socket_.close(ignored);
        connected->set_value(status);
        co_return;
      }
    }
    // Requests run on a calling thread use the descriptor directly, each
    // call with MSG_DONTWAIT, waiting in poll(2).
    fd_ = socket_.native_handle();
    protocol_ = socket_.local_endpoint(ec).protocol();
    writer_wake_.expires_at(std::chrono::steady_clock::time_point::max());
    reader_wake_.expires_at(std::chrono::steady_clock::time_point::max());
    asio::co_spawn(io_, ReadLoop(), asio::detached);
    asio::co_spawn(io_, WriteLoop(), asio::detached);
    connected->set_value(Status::Ok());
  }

  // The client side of the TLS handshake, within the connect timeout.
  asio::awaitable<Status> Handshake(const std::string& where) {
    stream_.UseTls(*tls_context_);
    const std::string& name =
        options_.tls.server_name.empty() ? options_.host : options_.tls.server_name;
    if (Status status = protocol::ExpectServerName(*stream_.tls_stream(), name); !status.ok()) {
      co_return status;
    }
    internal::Deadline deadline(io_, options_.connect_timeout, [this] {
      boost::system::error_code ignored;
      socket_.close(ignored);
    });
    boost::system::error_code ec;
    co_await stream_.tls_stream()->async_handshake(asio::ssl::stream_base::client,
                                                   internal::Redirect(ec));
    if (deadline.Finish()) co_return DeadlineExceeded("TLS handshake with " + where + " timed out");
    if (ec) {
      co_return Unauthenticated("TLS handshake with " + where + " failed: " +
                                protocol::TlsHandshakeErrorText(*stream_.tls_stream(), ec));
    }
    co_return Status::Ok();
  }

  // Sends the header bytes with a descriptor attached (the Hello that
  // attaches the shared region). False when the connection failed.
  asio::awaitable<bool> SendHeaderWithDescriptor(const protocol::FrameHeaderBytes& header, int fd) {
    size_t sent = 0;
    while (sent < header.size()) {
      boost::system::error_code ec;
      co_await socket_.async_wait(asio::socket_base::wait_write, internal::Redirect(ec));
      if (ec) co_return false;
      const auto rest = std::span(header).subspan(sent);
      // The descriptor rides on the first byte; later bytes go plainly.
      const long n = sent == 0 ? protocol::SendWithDescriptor(socket_.native_handle(), rest, fd)
                               : ::send(socket_.native_handle(), rest.data(), rest.size(),
                                        MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      if (n <= 0) co_return false;
      sent += static_cast<size_t>(n);
    }
    co_return true;
  }

  // Whether this thread's loops must leave the socket alone; false also
  // ends them once the connection is broken (`*broken`).
  bool SocketBusy(bool* broken) {
    std::lock_guard lock(mu_);
    *broken = !broken_.ok();
    return here_owner_;
  }

  // Takes the socket out of the I/O thread's reactor (see the class
  // comment); the descriptor stays open. Called with mu_ held by the caller
  // that owns the socket, when no operation of the I/O thread is on it.
  void Detach() {
    if (detached_) return;
    boost::system::error_code ignored;
    socket_.release(ignored);
    detached_ = true;
  }

  // Puts the socket back into the reactor before an operation of the I/O
  // thread. Called on the I/O thread with mu_ held, when no caller owns it.
  void Reattach() {
    if (!detached_) return;
    boost::system::error_code ec;
    socket_.assign(protocol_, fd_, ec);
    // Only a failure to re-register in epoll lands here; the loops' next
    // operation then fails and breaks the connection.
    detached_ = false;
  }

  asio::awaitable<void> WriteLoop() {
    std::vector<asio::const_buffer> buffers;
    while (true) {
      bool broken = false;
      // A request is queued only while in flight, so no caller can take the
      // socket while the queue is not empty; one may own it from before.
      const bool busy = SocketBusy(&broken);
      if (broken) break;
      if (queue_.empty() || busy) {
        boost::system::error_code ec;
        co_await writer_wake_.async_wait(internal::Redirect(ec));
        continue;
      }
      {
        std::lock_guard lock(mu_);
        Reattach();
      }
      Outgoing out = std::move(queue_.front());
      queue_.pop_front();
      buffers.clear();
      if (out.pass_fd >= 0) {
        writing_id_ = out.id;
        if (!co_await SendHeaderWithDescriptor(out.header, out.pass_fd)) {
          Fail(Unavailable("connection lost while attaching the shared region"));
          break;
        }
      } else {
        buffers.emplace_back(out.header.data(), out.header.size());
      }
      buffers.emplace_back(out.metadata.bytes().data(), out.metadata.bytes().size());
      // With trailing checksums the values go in hashed groups, the first
      // with the header; else all at once.
      using Pieces = std::span<const std::span<const std::byte>>;
      const Pieces values(out.payload);
      TrailingChecksums trailing(out.checksums_trail ? values : Pieces());
      for (const auto& piece : out.checksums_trail ? trailing.Next() : values) {
        buffers.emplace_back(piece.data(), piece.size());
      }
      writing_id_ = out.id;
      boost::system::error_code ec;
      co_await asio::async_write(stream_, buffers, internal::Redirect(ec));
      for (auto group = trailing.Next(); !ec && !group.empty(); group = trailing.Next()) {
        buffers.clear();
        for (const auto& piece : group) buffers.emplace_back(piece.data(), piece.size());
        co_await asio::async_write(stream_, buffers, internal::Redirect(ec));
      }
      writing_id_ = 0;
      if (ec) {
        Fail(Unavailable("connection lost while sending: " + ec.message()));
        break;
      }
    }
  }

  asio::awaitable<void> ReadLoop() {
    while (true) {
      protocol::Limits limits;
      bool park = false;
      {
        std::lock_guard lock(mu_);
        if (!broken_.ok()) break;
        // Read only for requests of this thread's; a read stays armed for a
        // timed-out request's late reply, so no caller takes the socket then.
        park = in_flight_ == 0 || here_owner_;
        io_reading_ = !park;
        if (!park) Reattach();
        limits = receive_limits_;
      }
      if (park) {
        boost::system::error_code ec;
        co_await reader_wake_.async_wait(internal::Redirect(ec));
        continue;
      }
      protocol::FrameHeaderBytes header_bytes;
      boost::system::error_code ec;
      co_await asio::async_read(stream_, asio::buffer(header_bytes), internal::Redirect(ec));
      if (ec) {
        Fail(protocol::IsCertificateRefusal(ec)
                 ? Unauthenticated("the server refused this client's TLS certificate: " +
                                   ec.message())
                 : Unavailable("connection lost: " + ec.message()));
        break;
      }
      auto frame = StartReply(header_bytes, limits);
      if (!frame.ok()) {
        Fail(frame.status());
        break;
      }
      co_await asio::async_read(stream_, asio::buffer(frame->metadata), internal::Redirect(ec));
      if (ec) {
        Fail(Unavailable("connection lost inside a reply: " + ec.message()));
        break;
      }
      if (Status connection = ConnectionError(*frame); !connection.ok()) {
        Fail(connection);
        break;
      }
      auto it = pending_.find(frame->header.request_id);
      auto targets = PayloadTargets(*frame, it == pending_.end() ? nullptr : &it->second.sink);
      if (!targets.ok()) {
        Fail(targets.status());
        break;
      }
      if (!targets->empty()) {
        std::vector<asio::mutable_buffer> buffers;
        for (std::span<std::byte> part : *targets) buffers.emplace_back(part.data(), part.size());
        // Caller buffers are in use until this read ends: a timeout meanwhile
        // closes the connection (TimeOut), which ends the read first.
        reading_id_ = it == pending_.end() || !it->second.sink ? 0 : it->first;
        co_await asio::async_read(stream_, buffers, internal::Redirect(ec));
        reading_id_ = 0;
        if (ec) {
          Fail(Unavailable("connection lost inside a reply: " + ec.message()));
          break;
        }
        it = pending_.find(frame->header.request_id);  // a timeout may have ended it
      }
      if (it == pending_.end()) {
        std::lock_guard lock(mu_);
        io_reading_ = false;
        orphaned_areas_.erase(frame->header.request_id);  // its caller timed out; the area is free
        continue;
      }
      if (Status placed = TakeRegionPayload(*frame, it->second.area, it->second.reply_area);
          !placed.ok()) {
        Fail(placed);
        break;
      }
      Completion done = std::move(it->second.done);
      pending_.erase(it);
      Finish(done, std::move(*frame));
    }
  }

  // Completes one of this thread's requests. The read is over, so a caller
  // may take the socket as soon as nothing else is in flight.
  void Finish(Completion& done, Result<ReplyFrame> reply) {
    {
      std::lock_guard lock(mu_);
      io_reading_ = false;
      --in_flight_;
    }
    done(std::move(reply));
  }

  void TimeOut(uint64_t id) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return;
    const Status status = DeadlineExceeded(
        "no reply within " + std::to_string(options_.request_timeout.count()) + " ms");
    if (id == writing_id_ || id == reading_id_) {
      // Its bytes are being sent, or its values read into the caller's
      // buffers: only closing the socket releases those buffers.
      Fail(Unavailable("connection closed after a request timed out while sending or reading"), id,
           status);
      return;
    }
    for (auto q = queue_.begin(); q != queue_.end(); ++q) {
      if (q->id == id) {
        queue_.erase(q);
        break;
      }
    }
    Completion done = std::move(it->second.done);
    {
      // The server may still read or fill this request's area: keep it until
      // the late reply arrives or the connection ends.
      std::lock_guard lock(mu_);
      if (it->second.area) orphaned_areas_[id] = std::move(it->second.area);
      --in_flight_;
    }
    pending_.erase(it);
    done(status);
  }

  // Breaks the connection: every pending request fails with `status` (or
  // the status that broke it first), except `special_id`, which gets
  // `special_status`.
  void Fail(Status status, uint64_t special_id = 0, Status special_status = Status::Ok()) {
    {
      std::lock_guard lock(mu_);
      if (closed_) return;
      closed_ = true;
      if (broken_.ok()) broken_ = status;
      status = broken_;
      orphaned_areas_.clear();
      // No caller runs a request on the socket now (BreakHere gave it up):
      // the reactor holds it again, so that closing it ends every operation.
      Reattach();
    }
    boost::system::error_code ec;
    socket_.shutdown(asio::socket_base::shutdown_both, ec);
    socket_.close(ec);
    writer_wake_.cancel();
    reader_wake_.cancel();
    queue_.clear();
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& [id, p] : pending) {
      p.timer->cancel();
      Finish(p.done, id == special_id ? special_status : status);
    }
  }

  const ClientOptions options_;
  ServerInfo info_;
  asio::io_context io_;
  stream_socket socket_;
  protocol::ByteStream stream_;  // socket_, or TLS over it: the I/O thread's frames move here
  std::unique_ptr<protocol::TlsContext> tls_context_;  // set before Connect, with TLS
  int fd_ = -1;  // socket_'s descriptor, for requests run on a calling thread
  stream_socket::protocol_type protocol_{0, 0};  // socket_'s, to reattach fd_
  asio::steady_timer writer_wake_;
  asio::steady_timer reader_wake_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  const pid_t owner_pid_ = getpid();  // the process whose thread_ this is

  std::deque<Outgoing> queue_;
  std::unordered_map<uint64_t, Pending> pending_;
  uint64_t writing_id_ = 0;
  uint64_t reading_id_ = 0;               // whose values are being read into its caller's buffers
  bool closed_ = false;                   // guarded by mu_: the socket is closed
  std::shared_ptr<ClientRegion> region_;  // shared memory or RDMA, when set up
  // RDMA (after region_: the registration goes before the region's memory).
  std::unique_ptr<ClientRdma> rdma_;
  uint64_t region_base_ = 0;  // added to region offsets: the region's address on RDMA
  uint32_t region_key_ = 0;   // the registration's rkey on RDMA
  std::atomic<bool> rdma_down_{false};

  // Shared between the I/O thread and calling threads.
  mutable std::mutex mu_;
  protocol::Limits receive_limits_;
  std::string rdma_fallback_;
  uint64_t next_id_ = 1;
  Status broken_;
  int64_t in_flight_ = 0;    // submitted and not completed
  bool io_reading_ = false;  // the I/O thread has a read armed
  bool here_owner_ = false;  // a calling thread is running a request on the socket
  bool detached_ = false;    // socket_ released from the reactor; fd_ still open
  std::unordered_map<uint64_t, Area> orphaned_areas_;
};

}  // namespace kvtier::client

#include "client/client_run_here.h"
