#include "client/client.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "client/client_region.h"
#include "client/deadline_io.h"
#include "common/checksum.h"
#include "protocol/asio.h"
#include "protocol/frame.h"
#include "protocol/shared_region.h"

namespace kvtier::client {
namespace {

using protocol::FrameHeader;
using protocol::Opcode;

auto Redirect(boost::system::error_code& ec) {
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
};

// The whole-request status of a reply: its ErrorReply, or OK.
Status RequestStatus(const Result<ReplyFrame>& frame, Opcode expected) {
  if (!frame.ok()) return frame.status();
  if ((frame->header.flags & protocol::frame_flags::kError) != 0) {
    return protocol::DecodeErrorReply(frame->metadata);
  }
  if (frame->header.opcode != static_cast<uint8_t>(expected)) {
    return ProtocolError("reply opcode " + std::to_string(frame->header.opcode) +
                         " does not match the request");
  }
  return Status::Ok();
}

KeyStatuses ToKeyStatuses(const std::vector<StatusCode>& codes) {
  KeyStatuses out;
  out.statuses.reserve(codes.size());
  for (StatusCode code : codes) {
    out.statuses.emplace_back(code,
                              code == StatusCode::kOk ? "" : std::string(StatusCodeName(code)));
  }
  return out;
}

}  // namespace

std::optional<uint64_t> FindTierCounter(const StatsResult& stats, std::string_view tier,
                                        std::string_view name) {
  for (const auto& t : stats.tiers) {
    if (t.name != tier) continue;
    for (const auto& c : t.counters) {
      if (c.name == name) return c.value;
    }
  }
  return std::nullopt;
}

bool KeyStatuses::all_ok() const {
  for (const Status& s : statuses) {
    if (!s.ok()) return false;
  }
  return true;
}

// Owns the socket and an I/O thread. A request goes one of two ways:
//
// - Submit (every XxxAsync): posted to the I/O thread, which writes it and
//   reads its reply; any number may be in flight.
// - CallHere (the waiting Xxx forms): when nothing else is in flight, the
//   calling thread writes the request and reads the reply itself. This saves
//   the two thread handoffs of Submit, which cost more than the server's
//   work for a small request such as a MatchPrefix. Otherwise it goes
//   through Submit.
//
// The socket has one user at a time: the caller that owns it (here_owner_)
// or the I/O thread, whose loops read only while requests of theirs are in
// flight and write only while no caller owns the socket. Members under
// "Shared" are guarded by mu_; the rest are touched only on the I/O thread.
class Client::Impl {
 public:
  explicit Impl(const ClientOptions& options)
      : options_(options),
        socket_(io_),
        writer_wake_(io_),
        reader_wake_(io_),
        work_(asio::make_work_guard(io_)) {
    // Until Hello says otherwise, accept any reply a default server could send.
    receive_limits_.max_metadata_bytes = 16u << 20;
    receive_limits_.max_payload_bytes = 1ull << 32;
    thread_ = std::thread([this] { io_.run(); });
  }

  ~Impl() {
    asio::post(io_, [this] { Fail(Unavailable("client closed")); });
    work_.reset();
    thread_.join();
  }

  Status Connect() {
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

  ClientRegion* region() const { return region_.get(); }

  // Creates the shared region to attach with Hello (Unix socket only).
  Status CreateRegion() {
    KVTIER_ASSIGN_OR_RETURN(region_, ClientRegion::Create(options_.shm_region_bytes));
    return Status::Ok();
  }

  // A reply area for a get of `keys` keys, or none (no region, or full).
  Area ReplyArea(size_t keys) {
    if (!region_) return nullptr;
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
                        std::move(payload), region.pass_fd});
      writer_wake_.cancel();
      reader_wake_.cancel();
    });
  }

  // Runs one request on the calling thread if the socket is free (see the
  // class comment); nullopt when it is not, and nothing was sent. The
  // caller keeps `region.area` alive until this returns.
  std::optional<Result<ReplyFrame>> CallHere(Opcode opcode, const protocol::Metadata& metadata,
                                             std::span<const std::span<const std::byte>> payload,
                                             const ValuePlacement& region) {
    if (region.pass_fd >= 0) return std::nullopt;
    uint64_t id = 0;
    protocol::Limits limits;
    {
      std::lock_guard lock(mu_);
      if (!broken_.ok()) return Result<ReplyFrame>(broken_);
      if (in_flight_ > 0 || io_reading_ || here_owner_) return std::nullopt;
      here_owner_ = true;
      id = next_id_++;
      limits = receive_limits_;
    }
    const auto deadline = DeadlineClock::now() + options_.request_timeout;
    const FrameHeader header = RequestHeader(opcode, id, metadata, payload, region);
    const protocol::FrameHeaderBytes header_bytes = protocol::EncodeFrameHeader(header);
    std::vector<std::span<const std::byte>> pieces = {header_bytes, metadata.bytes()};
    pieces.insert(pieces.end(), payload.begin(), payload.end());
    uint64_t sent = 0;
    if (Status status = SendAllBefore(fd_, pieces, deadline, &sent); !status.ok()) {
      // The stream may end mid-frame: only closing it is safe.
      return BreakHere(
          status.code() == StatusCode::kDeadlineExceeded
              ? Unavailable("connection closed after a request timed out while sending")
              : status,
          status);
    }
    while (true) {
      protocol::FrameHeaderBytes reply_header;
      uint64_t received = 0;
      Status status = ReceiveExactlyBefore(fd_, reply_header, deadline, &received);
      if (status.code() == StatusCode::kDeadlineExceeded && received == 0) {
        // Between frames: the late reply is dropped by whoever reads next.
        std::lock_guard lock(mu_);
        if (region.area) orphaned_areas_[id] = region.area;
        ReleaseHere();
        return Result<ReplyFrame>(DeadlineExceeded(
            "no reply within " + std::to_string(options_.request_timeout.count()) + " ms"));
      }
      if (!status.ok()) return BreakHere(ConnectionStatus(status), status);
      auto frame = StartReply(reply_header, limits);
      if (!frame.ok()) return BreakHere(frame.status(), frame.status());
      status = ReceiveExactlyBefore(fd_, frame->metadata, deadline, &received);
      if (!status.ok()) return BreakHere(ConnectionStatus(status), status);
      if (Status connection = ConnectionError(*frame); !connection.ok()) {
        return BreakHere(connection, connection);
      }
      const bool mine = frame->header.request_id == id;
      auto targets = PayloadTargets(*frame, mine ? &region.sink : nullptr);
      if (!targets.ok()) return BreakHere(targets.status(), targets.status());
      for (std::span<std::byte> part : *targets) {
        status = ReceiveExactlyBefore(fd_, part, deadline, &received);
        if (!status.ok()) return BreakHere(ConnectionStatus(status), status);
      }
      if (!mine) {
        std::lock_guard lock(mu_);
        orphaned_areas_.erase(frame->header.request_id);  // a late reply to a timed-out request
        continue;
      }
      if (Status placed = TakeRegionPayload(*frame, region.area, !region.values_in_area);
          !placed.ok()) {
        return BreakHere(placed, placed);
      }
      std::lock_guard lock(mu_);
      ReleaseHere();
      return frame;
    }
  }

 private:
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
  };

  static FrameHeader RequestHeader(Opcode opcode, uint64_t id, const protocol::Metadata& metadata,
                                   std::span<const std::span<const std::byte>> payload,
                                   const ValuePlacement& region) {
    FrameHeader header;
    header.opcode = static_cast<uint8_t>(opcode);
    header.request_id = id;
    header.metadata_length = static_cast<uint32_t>(metadata.bytes().size());
    for (const auto& value : payload) header.payload_length += value.size();
    if (region.values_in_area) {
      header.flags |= protocol::frame_flags::kPayloadInRegion;
      header.payload_length = region.payload_length;
    }
    return header;
  }

  // Decodes a reply header and sizes the buffers for the rest of the frame.
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
    {
      std::lock_guard lock(mu_);
      if (broken_.ok()) broken_ = status;
      here_owner_ = false;
    }
    asio::post(io_, [this, status] { Fail(status); });
    return mine;
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
                                                  Redirect(ec));
      if (ec) {
        connected->set_value(
            Unavailable("cannot resolve '" + options_.host + "': " + ec.message()));
        co_return;
      }
    }
    tcp::socket tcp_socket(io_);
    local_stream::socket unix_socket(io_);
    asio::steady_timer deadline(io_, options_.connect_timeout);
    bool timed_out = false;
    deadline.async_wait([&](boost::system::error_code wait_ec) {
      if (!wait_ec) {
        timed_out = true;
        boost::system::error_code ignored;
        tcp_socket.close(ignored);
        unix_socket.close(ignored);
      }
    });
    if (local) {
      co_await unix_socket.async_connect(local_stream::endpoint(options_.unix_socket),
                                         Redirect(ec));
    } else {
      co_await asio::async_connect(tcp_socket, endpoints, Redirect(ec));
    }
    deadline.cancel();
    if (timed_out) {
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
    // Requests run on a calling thread use the descriptor directly, each
    // call with MSG_DONTWAIT, waiting in poll(2).
    fd_ = socket_.native_handle();
    writer_wake_.expires_at(std::chrono::steady_clock::time_point::max());
    reader_wake_.expires_at(std::chrono::steady_clock::time_point::max());
    asio::co_spawn(io_, ReadLoop(), asio::detached);
    asio::co_spawn(io_, WriteLoop(), asio::detached);
    connected->set_value(Status::Ok());
  }

  // Sends the header bytes with a descriptor attached (the Hello that
  // attaches the shared region). False when the connection failed.
  asio::awaitable<bool> SendHeaderWithDescriptor(const protocol::FrameHeaderBytes& header, int fd) {
    size_t sent = 0;
    while (sent < header.size()) {
      boost::system::error_code ec;
      co_await socket_.async_wait(asio::socket_base::wait_write, Redirect(ec));
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
        co_await writer_wake_.async_wait(Redirect(ec));
        continue;
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
      for (const auto& value : out.payload) buffers.emplace_back(value.data(), value.size());
      writing_id_ = out.id;
      boost::system::error_code ec;
      co_await asio::async_write(socket_, buffers, Redirect(ec));
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
        limits = receive_limits_;
      }
      if (park) {
        boost::system::error_code ec;
        co_await reader_wake_.async_wait(Redirect(ec));
        continue;
      }
      protocol::FrameHeaderBytes header_bytes;
      boost::system::error_code ec;
      co_await asio::async_read(socket_, asio::buffer(header_bytes), Redirect(ec));
      if (ec) {
        Fail(Unavailable("connection lost: " + ec.message()));
        break;
      }
      auto frame = StartReply(header_bytes, limits);
      if (!frame.ok()) {
        Fail(frame.status());
        break;
      }
      co_await asio::async_read(socket_, asio::buffer(frame->metadata), Redirect(ec));
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
        co_await asio::async_read(socket_, buffers, Redirect(ec));
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
  int fd_ = -1;  // socket_'s descriptor, for requests run on a calling thread
  asio::steady_timer writer_wake_;
  asio::steady_timer reader_wake_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;

  std::deque<Outgoing> queue_;
  std::unordered_map<uint64_t, Pending> pending_;
  uint64_t writing_id_ = 0;
  uint64_t reading_id_ = 0;               // whose values are being read into its caller's buffers
  bool closed_ = false;                   // guarded by mu_: the socket is closed
  std::shared_ptr<ClientRegion> region_;  // shared memory transport, when attached

  // Shared between the I/O thread and calling threads.
  std::mutex mu_;
  protocol::Limits receive_limits_;
  uint64_t next_id_ = 1;
  Status broken_;
  int64_t in_flight_ = 0;    // submitted and not completed
  bool io_reading_ = false;  // the I/O thread has a read armed
  bool here_owner_ = false;  // a calling thread is running a request on the socket
  std::unordered_map<uint64_t, Area> orphaned_areas_;
};

namespace {

// Checks what the server would reject anyway, before sending anything.
Status CheckKeys(const protocol::Limits& limits, std::string_view ns,
                 std::span<const std::string> keys) {
  if (ns.empty()) return InvalidArgument("namespace name is empty");
  if (keys.size() > limits.max_keys_per_request) {
    return InvalidArgument(std::to_string(keys.size()) +
                           " keys in one request; the server allows " +
                           std::to_string(limits.max_keys_per_request));
  }
  for (const std::string& key : keys) {
    if (key.empty() || key.size() > limits.max_key_bytes) {
      return InvalidArgument("key of " + std::to_string(key.size()) +
                             " bytes; the server allows 1.." +
                             std::to_string(limits.max_key_bytes));
    }
  }
  return Status::Ok();
}

// The spans a reply's carried values are read into: value j, of `carried[j]`
// = (key index i, length), goes to buffers[i] when it fits; values that do
// not fit go to scratch memory the frame owns, and are dropped.
std::vector<std::span<std::byte>> SpansFor(
    ReplyFrame& frame, std::span<const std::span<std::byte>> buffers,
    const std::vector<std::pair<size_t, uint64_t>>& carried) {
  uint64_t dropped = 0;
  for (const auto& [i, length] : carried) {
    if (length > buffers[i].size()) dropped += length;
  }
  if (dropped > 0) frame.payload.reset(new std::byte[dropped]);
  std::vector<std::span<std::byte>> spans;
  spans.reserve(carried.size());
  uint64_t scratch = 0;
  for (const auto& [i, length] : carried) {
    if (length <= buffers[i].size()) {
      spans.push_back(buffers[i].first(length));
    } else {
      spans.emplace_back(frame.payload.get() + scratch, length);
      scratch += length;
    }
  }
  return spans;
}

Status TooLarge(size_t key, uint64_t length, size_t buffer) {
  return InvalidArgument("value " + std::to_string(key) + " is " + std::to_string(length) +
                         " bytes; its buffer holds " + std::to_string(buffer));
}

template <typename T>
std::future<Result<T>> Failed(Status status) {
  std::promise<Result<T>> promise;
  promise.set_value(std::move(status));
  return promise.get_future();
}

}  // namespace

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

const ServerInfo& Client::server_info() const { return impl_->info(); }
bool Client::uses_shared_memory() const { return impl_->region() != nullptr; }

SharedBuffer Client::AllocateShared(uint64_t bytes) {
  ClientRegion* region = impl_->region();
  Area area = region != nullptr ? region->Allocate(bytes) : nullptr;
  if (!area) return {};
  return SharedBuffer{std::span<std::byte>(area->data(), bytes), std::move(area)};
}

struct Client::Placement {
  ValuePlacement request;
};

Result<std::unique_ptr<Client>> Client::Connect(const ClientOptions& options) {
  auto impl = std::make_unique<Impl>(options);
  protocol::HelloRequest request;
  request.client_name = options.client_name;
  request.token = options.token;
  ValuePlacement attach;
  if (!options.unix_socket.empty() && options.shm_region_bytes > 0) {
    KVTIER_RETURN_IF_ERROR(impl->CreateRegion());
    request.shm_region_bytes = options.shm_region_bytes;
    attach.pass_fd = impl->region()->fd();
  }
  KVTIER_RETURN_IF_ERROR(impl->Connect());
  std::promise<Result<ServerInfo>> hello;
  impl->Submit(
      Opcode::kHello, protocol::EncodeHelloRequest(request), {},
      [&hello](Result<ReplyFrame> frame) {
        Status status = RequestStatus(frame, Opcode::kHello);
        if (!status.ok()) {
          hello.set_value(status);
        } else {
          hello.set_value(protocol::DecodeHelloResponse(frame->metadata));
        }
      },
      attach);
  auto info = hello.get_future().get();
  if (!info.ok()) return info.status();
  impl->SetServerInfo(std::move(*info));
  return std::unique_ptr<Client>(new Client(std::move(impl)));
}

namespace {

// Set by the waiting forms (Put, Get, ...) around the one XxxAsync they
// call on this thread: its request may run on this thread (CallHere), since
// the caller blocks for the answer anyway.
thread_local bool t_caller_waits = false;

class CallerWaits {
 public:
  CallerWaits() { t_caller_waits = true; }
  ~CallerWaits() { t_caller_waits = false; }
  CallerWaits(const CallerWaits&) = delete;
  CallerWaits& operator=(const CallerWaits&) = delete;
};

}  // namespace

template <typename T, typename Decode>
std::future<Result<T>> Client::Call(Opcode opcode, protocol::Metadata metadata,
                                    std::vector<std::span<const std::byte>> payload, Decode decode,
                                    Placement region) {
  auto promise = std::make_shared<std::promise<Result<T>>>();
  auto future = promise->get_future();
  auto complete = [promise, opcode, decode = std::move(decode)](Result<ReplyFrame> frame) {
    Status status = RequestStatus(frame, opcode);
    if (!status.ok()) {
      promise->set_value(std::move(status));
    } else {
      promise->set_value(decode(*frame));
    }
  };
  if (t_caller_waits) {
    t_caller_waits = false;  // one request per waiting call
    if (auto reply = impl_->CallHere(opcode, metadata, payload, region.request)) {
      complete(std::move(*reply));
      return future;
    }
  }
  impl_->Submit(opcode, std::move(metadata), std::move(payload), std::move(complete),
                std::move(region.request));
  return future;
}

template <typename T, typename Decode>
std::future<Result<T>> Client::Call(Opcode opcode, protocol::Metadata metadata,
                                    std::vector<std::span<const std::byte>> payload,
                                    Decode decode) {
  return Call<T>(opcode, std::move(metadata), std::move(payload), std::move(decode), Placement{});
}

std::future<Result<KeyStatuses>> Client::PutAsync(
    std::string_view ns, std::span<const std::string> keys,
    std::span<const std::span<const std::byte>> values, const PutOptions& options) {
  const protocol::Limits& limits = impl_->info().limits;
  if (Status s = CheckKeys(limits, ns, keys); !s.ok()) return Failed<KeyStatuses>(s);
  if (values.size() != keys.size()) {
    return Failed<KeyStatuses>(InvalidArgument("Put needs one value per key"));
  }
  if ((!options.ttls_ms.empty() && options.ttls_ms.size() != keys.size()) ||
      (!options.pins.empty() && options.pins.size() != keys.size()) ||
      (!options.kb.empty() && options.kb.size() != keys.size())) {
    return Failed<KeyStatuses>(
        InvalidArgument("Put options need one TTL, pin and KB entry per key (or none)"));
  }
  std::vector<uint64_t> lengths;
  std::vector<uint64_t> checksums;
  uint64_t total = 0;
  for (const auto& value : values) {
    if (value.size() > limits.max_value_bytes) {
      return Failed<KeyStatuses>(InvalidArgument("value of " + std::to_string(value.size()) +
                                                 " bytes; the server allows " +
                                                 std::to_string(limits.max_value_bytes)));
    }
    total += value.size();
    lengths.push_back(value.size());
    checksums.push_back(BlockChecksum(value));  // the edge checksum
  }
  if (total > limits.max_payload_bytes) {
    return Failed<KeyStatuses>(InvalidArgument("values total " + std::to_string(total) +
                                               " bytes; one request may carry " +
                                               std::to_string(limits.max_payload_bytes)));
  }
  const size_t count = keys.size();
  auto decode = [count](const ReplyFrame& frame) -> Result<KeyStatuses> {
    KVTIER_ASSIGN_OR_RETURN(auto response, protocol::DecodePutResponse(frame.metadata, count));
    return ToKeyStatuses(response.codes);
  };
  // Shared memory: values built in the region (AllocateShared) go as they
  // are; the others are copied into one free area; the server copies them
  // out. Without a region, or with no room in it, the values go on the stream.
  if (ClientRegion* region = impl_->region(); region != nullptr && total > 0) {
    std::vector<uint64_t> offsets(values.size());
    std::vector<bool> in_region(values.size());
    uint64_t to_copy = 0;
    for (size_t i = 0; i < values.size(); ++i) {
      in_region[i] = region->Contains(values[i].data(), values[i].size(), &offsets[i]);
      if (!in_region[i]) to_copy += values[i].size();
    }
    Area area = to_copy > 0 ? region->Allocate(to_copy) : nullptr;
    if (to_copy == 0 || area) {
      uint64_t next = area ? area->offset() : 0;
      for (size_t i = 0; i < values.size(); ++i) {
        if (in_region[i]) continue;
        if (!values[i].empty())
          std::memcpy(area->data() + (next - area->offset()), values[i].data(), values[i].size());
        offsets[i] = next;
        next += values[i].size();
      }
      return Call<KeyStatuses>(
          Opcode::kPut,
          protocol::EncodePutRequest(ns, keys, lengths, checksums, options.ttls_ms, options.pins,
                                     impl_->bulk(), options.kb, offsets),
          {}, std::move(decode),
          Placement{ValuePlacement{std::move(area), /*values_in_area=*/true, total}});
    }
  }
  return Call<KeyStatuses>(Opcode::kPut,
                           protocol::EncodePutRequest(ns, keys, lengths, checksums, options.ttls_ms,
                                                      options.pins, impl_->bulk(), options.kb),
                           std::vector<std::span<const std::byte>>(values.begin(), values.end()),
                           std::move(decode));
}

std::future<Result<GetResult>> Client::GetAsync(std::string_view ns,
                                                std::span<const std::string> keys,
                                                uint64_t lease_id) {
  if (Status s = CheckKeys(impl_->info().limits, ns, keys); !s.ok()) return Failed<GetResult>(s);
  const size_t count = keys.size();
  Area area = impl_->ReplyArea(count);
  const protocol::RegionArea offered =
      area ? protocol::RegionArea{area->offset(), area->size()} : protocol::RegionArea{};
  return Call<GetResult>(
      Opcode::kGet, protocol::EncodeKeysRequest(ns, keys, 0, lease_id, 0, impl_->bulk(), offered),
      {},
      [count](const ReplyFrame& frame) -> Result<GetResult> {
        KVTIER_ASSIGN_OR_RETURN(auto response, protocol::DecodeGetResponse(frame.metadata, count,
                                                                           frame.payload_length));
        GetResult result;
        result.payload = frame.payload;
        result.values.resize(count);
        uint64_t offset = 0;
        for (size_t i = 0; i < count; ++i) {
          GetValue& value = result.values[i];
          const StatusCode code = response.codes[i];
          value.tier = response.tiers[i];
          value.checksum = response.checksums[i];
          if (!response.kb.empty()) value.kb = response.kb[i];
          if (code != StatusCode::kOk) {
            value.status = Status(code, std::string(StatusCodeName(code)));
            continue;
          }
          value.bytes =
              std::span<const std::byte>(frame.payload.get() + offset, response.value_lengths[i]);
          offset += response.value_lengths[i];
          // Verify at the edge: bytes that changed on the way are never used.
          if (BlockChecksum(value.bytes) != value.checksum) {
            value.status = Corruption("value failed its checksum");
            value.bytes = {};
          }
        }
        return result;
      },
      Placement{ValuePlacement{std::move(area)}});
}

std::future<Result<ExistsResult>> Client::ExistsAsync(std::string_view ns,
                                                      std::span<const std::string> keys) {
  if (Status s = CheckKeys(impl_->info().limits, ns, keys); !s.ok()) {
    return Failed<ExistsResult>(s);
  }
  const size_t count = keys.size();
  return Call<ExistsResult>(Opcode::kExists, protocol::EncodeKeysRequest(ns, keys), {},
                            [count](const ReplyFrame& frame) -> Result<ExistsResult> {
                              KVTIER_ASSIGN_OR_RETURN(auto response, protocol::DecodeExistsResponse(
                                                                         frame.metadata, count));
                              return ExistsResult{std::move(response.tiers)};
                            });
}

std::future<Result<KeyStatuses>> Client::DeleteAsync(std::string_view ns,
                                                     std::span<const std::string> keys) {
  if (Status s = CheckKeys(impl_->info().limits, ns, keys); !s.ok()) {
    return Failed<KeyStatuses>(s);
  }
  const size_t count = keys.size();
  return Call<KeyStatuses>(
      Opcode::kDelete, protocol::EncodeKeysRequest(ns, keys, 0, 0, 0, impl_->bulk()), {},
      [count](const ReplyFrame& frame) -> Result<KeyStatuses> {
        KVTIER_ASSIGN_OR_RETURN(auto response,
                                protocol::DecodeDeleteResponse(frame.metadata, count));
        return ToKeyStatuses(response.codes);
      });
}

std::future<Result<MatchResult>> Client::MatchPrefixAsync(std::string_view ns,
                                                          std::span<const std::string> keys,
                                                          uint32_t lease_ms) {
  if (Status s = CheckKeys(impl_->info().limits, ns, keys); !s.ok()) {
    return Failed<MatchResult>(s);
  }
  const size_t count = keys.size();
  return Call<MatchResult>(Opcode::kMatchPrefix, protocol::EncodeKeysRequest(ns, keys, lease_ms),
                           {}, [count](const ReplyFrame& frame) -> Result<MatchResult> {
                             KVTIER_ASSIGN_OR_RETURN(
                                 auto response,
                                 protocol::DecodeMatchPrefixResponse(frame.metadata, count));
                             return MatchResult{response.matched, std::move(response.tiers),
                                                response.lease_id, response.lease_ms};
                           });
}

std::future<Result<StatsResult>> Client::StatsAsync() {
  return Call<StatsResult>(Opcode::kStats, protocol::EncodeStatsRequest(), {},
                           [](const ReplyFrame& frame) -> Result<StatsResult> {
                             return protocol::DecodeStatsResponse(frame.metadata);
                           });
}

Result<KeyStatuses> Client::Put(std::string_view ns, std::span<const std::string> keys,
                                std::span<const std::span<const std::byte>> values,
                                const PutOptions& options) {
  CallerWaits here;
  return PutAsync(ns, keys, values, options).get();
}
std::future<Result<GetIntoResult>> Client::GetIntoAsync(
    std::string_view ns, std::span<const std::string> keys,
    std::span<const std::span<std::byte>> buffers, uint64_t lease_id) {
  if (Status s = CheckKeys(impl_->info().limits, ns, keys); !s.ok()) {
    return Failed<GetIntoResult>(s);
  }
  if (buffers.size() != keys.size()) {
    return Failed<GetIntoResult>(InvalidArgument("GetInto needs one buffer per key"));
  }
  const size_t count = keys.size();
  std::vector<std::span<std::byte>> targets(buffers.begin(), buffers.end());
  ValuePlacement placement;
  placement.sink = [count,
                    targets](ReplyFrame& frame) -> Result<std::vector<std::span<std::byte>>> {
    KVTIER_ASSIGN_OR_RETURN(
        auto response, protocol::DecodeGetResponse(frame.metadata, count, frame.payload_length));
    std::vector<std::pair<size_t, uint64_t>> carried;
    for (size_t i = 0; i < count; ++i) {
      if (response.codes[i] == StatusCode::kOk) carried.emplace_back(i, response.value_lengths[i]);
    }
    return SpansFor(frame, targets, carried);
  };
  return Call<GetIntoResult>(
      Opcode::kGet, protocol::EncodeKeysRequest(ns, keys, 0, lease_id, 0, impl_->bulk()), {},
      [count, targets](const ReplyFrame& frame) -> Result<GetIntoResult> {
        KVTIER_ASSIGN_OR_RETURN(auto response, protocol::DecodeGetResponse(frame.metadata, count,
                                                                           frame.payload_length));
        GetIntoResult result;
        result.statuses.resize(count);
        result.lengths.assign(count, 0);
        result.tiers = response.tiers;
        for (size_t i = 0; i < count; ++i) {
          const StatusCode code = response.codes[i];
          const uint64_t length = response.value_lengths[i];
          if (code != StatusCode::kOk) {
            result.statuses[i] = Status(code, std::string(StatusCodeName(code)));
          } else if (length > targets[i].size()) {
            result.statuses[i] = TooLarge(i, length, targets[i].size());
          } else if (BlockChecksum(targets[i].first(length)) != response.checksums[i]) {
            // Verified at the edge: the caller must not use these bytes.
            result.statuses[i] = Corruption("value failed its checksum");
          } else {
            result.lengths[i] = length;
          }
        }
        return result;
      },
      Placement{std::move(placement)});
}

Result<GetIntoResult> Client::GetInto(std::string_view ns, std::span<const std::string> keys,
                                      std::span<const std::span<std::byte>> buffers,
                                      uint64_t lease_id) {
  CallerWaits here;
  return GetIntoAsync(ns, keys, buffers, lease_id).get();
}

std::future<Result<PrefixIntoResult>> Client::GetPrefixIntoAsync(
    std::string_view ns, std::span<const std::string> keys,
    std::span<const std::span<std::byte>> buffers, std::chrono::milliseconds deadline,
    uint64_t lease_id) {
  if (Status s = CheckKeys(impl_->info().limits, ns, keys); !s.ok()) {
    return Failed<PrefixIntoResult>(s);
  }
  if (buffers.size() != keys.size()) {
    return Failed<PrefixIntoResult>(InvalidArgument("GetPrefixInto needs one buffer per key"));
  }
  const size_t count = keys.size();
  const auto deadline_ms = static_cast<uint32_t>(
      std::clamp<int64_t>(deadline.count(), 0, std::numeric_limits<uint32_t>::max()));
  std::vector<std::span<std::byte>> targets(buffers.begin(), buffers.end());
  ValuePlacement placement;
  placement.sink = [count,
                    targets](ReplyFrame& frame) -> Result<std::vector<std::span<std::byte>>> {
    KVTIER_ASSIGN_OR_RETURN(auto response, protocol::DecodeGetPrefixResponse(frame.metadata, count,
                                                                             frame.payload_length));
    std::vector<std::pair<size_t, uint64_t>> carried;
    for (uint32_t i = 0; i < response.delivered; ++i) {
      carried.emplace_back(i, response.value_lengths[i]);
    }
    return SpansFor(frame, targets, carried);
  };
  return Call<PrefixIntoResult>(
      Opcode::kGetPrefix,
      protocol::EncodeKeysRequest(ns, keys, 0, lease_id, deadline_ms, impl_->bulk()), {},
      [count, targets](const ReplyFrame& frame) -> Result<PrefixIntoResult> {
        KVTIER_ASSIGN_OR_RETURN(auto response, protocol::DecodeGetPrefixResponse(
                                                   frame.metadata, count, frame.payload_length));
        PrefixIntoResult result;
        result.stop_reason = response.stop_reason;
        result.stop_code = response.stop_code;
        for (uint32_t i = 0; i < response.delivered; ++i) {
          const uint64_t length = response.value_lengths[i];
          // Never a gap: the prefix ends before a value that is unusable here.
          StatusCode stop = StatusCode::kOk;
          if (length > targets[i].size()) {
            stop = StatusCode::kInvalidArgument;
          } else if (BlockChecksum(targets[i].first(length)) != response.checksums[i]) {
            stop = StatusCode::kCorruption;
          }
          if (stop != StatusCode::kOk) {
            result.stop_reason = protocol::PrefixStop::kError;
            result.stop_code = stop;
            break;
          }
          result.lengths.push_back(length);
          result.tiers.push_back(response.tiers[i]);
        }
        return result;
      },
      Placement{std::move(placement)});
}

Result<PrefixIntoResult> Client::GetPrefixInto(std::string_view ns,
                                               std::span<const std::string> keys,
                                               std::span<const std::span<std::byte>> buffers,
                                               std::chrono::milliseconds deadline,
                                               uint64_t lease_id) {
  CallerWaits here;
  return GetPrefixIntoAsync(ns, keys, buffers, deadline, lease_id).get();
}

Result<GetResult> Client::Get(std::string_view ns, std::span<const std::string> keys,
                              uint64_t lease_id) {
  CallerWaits here;
  return GetAsync(ns, keys, lease_id).get();
}
Result<ExistsResult> Client::Exists(std::string_view ns, std::span<const std::string> keys) {
  CallerWaits here;
  return ExistsAsync(ns, keys).get();
}
Result<KeyStatuses> Client::Delete(std::string_view ns, std::span<const std::string> keys) {
  CallerWaits here;
  return DeleteAsync(ns, keys).get();
}
Result<MatchResult> Client::MatchPrefix(std::string_view ns, std::span<const std::string> keys,
                                        uint32_t lease_ms) {
  CallerWaits here;
  return MatchPrefixAsync(ns, keys, lease_ms).get();
}

std::future<Result<PrefixResult>> Client::GetPrefixAsync(std::string_view ns,
                                                         std::span<const std::string> keys,
                                                         std::chrono::milliseconds deadline,
                                                         uint64_t lease_id) {
  if (Status s = CheckKeys(impl_->info().limits, ns, keys); !s.ok()) {
    return Failed<PrefixResult>(s);
  }
  const size_t count = keys.size();
  const auto deadline_ms = static_cast<uint32_t>(
      std::clamp<int64_t>(deadline.count(), 0, std::numeric_limits<uint32_t>::max()));
  Area area = impl_->ReplyArea(count);
  const protocol::RegionArea offered =
      area ? protocol::RegionArea{area->offset(), area->size()} : protocol::RegionArea{};
  return Call<PrefixResult>(
      Opcode::kGetPrefix,
      protocol::EncodeKeysRequest(ns, keys, 0, lease_id, deadline_ms, impl_->bulk(), offered), {},
      [count](const ReplyFrame& frame) -> Result<PrefixResult> {
        KVTIER_ASSIGN_OR_RETURN(auto response, protocol::DecodeGetPrefixResponse(
                                                   frame.metadata, count, frame.payload_length));
        PrefixResult result;
        result.payload = frame.payload;
        result.stop_reason = response.stop_reason;
        result.stop_code = response.stop_code;
        uint64_t offset = 0;
        for (uint32_t i = 0; i < response.delivered; ++i) {
          GetValue value;
          value.tier = response.tiers[i];
          value.checksum = response.checksums[i];
          if (!response.kb.empty()) value.kb = response.kb[i];
          value.bytes =
              std::span<const std::byte>(frame.payload.get() + offset, response.value_lengths[i]);
          offset += response.value_lengths[i];
          if (BlockChecksum(value.bytes) != value.checksum) {
            // Never a gap: the prefix ends before the bad block.
            result.stop_reason = protocol::PrefixStop::kError;
            result.stop_code = StatusCode::kCorruption;
            break;
          }
          result.values.push_back(value);
        }
        return result;
      },
      Placement{ValuePlacement{std::move(area)}});
}

Result<PrefixResult> Client::GetPrefix(std::string_view ns, std::span<const std::string> keys,
                                       std::chrono::milliseconds deadline, uint64_t lease_id) {
  CallerWaits here;
  return GetPrefixAsync(ns, keys, deadline, lease_id).get();
}

Result<bool> Client::Release(uint64_t lease_id) {
  CallerWaits here;
  return Call<bool>(Opcode::kRelease, protocol::EncodeReleaseRequest(lease_id), {},
                    [](const ReplyFrame& frame) -> Result<bool> {
                      return protocol::DecodeReleaseResponse(frame.metadata);
                    })
      .get();
}
Result<StatsResult> Client::Stats() {
  CallerWaits here;
  return StatsAsync().get();
}

Status Client::CheckModel(std::string_view ns, const ModelIdentity& identity) const {
  const ServerInfo& info = impl_->info();
  for (size_t i = 0; i < info.namespaces.size(); ++i) {
    if (info.namespaces[i] != ns) continue;
    const std::string& declared = info.namespace_models[i];
    if (declared.empty() || declared == identity.Canonical()) return Status::Ok();
    return InvalidArgument("namespace '" + std::string(ns) + "' holds blocks of " + declared +
                           "; this client is " + identity.Canonical());
  }
  return UnknownNamespace("namespace '" + std::string(ns) + "' is not served by " +
                          info.server_name);
}

std::future<Status> Client::FlushAsync(std::string_view ns, std::span<const std::string> keys) {
  std::promise<Status> promise;
  if (Status s = CheckKeys(impl_->info().limits, ns, keys); !s.ok()) {
    promise.set_value(std::move(s));
    return promise.get_future();
  }
  auto reply = Call<bool>(Opcode::kFlush, protocol::EncodeKeysRequest(ns, keys), {},
                          [](const ReplyFrame& frame) -> Result<bool> {
                            KVTIER_RETURN_IF_ERROR(protocol::DecodeFlushResponse(frame.metadata));
                            return true;
                          });
  return std::async(std::launch::deferred,
                    [reply = std::move(reply)]() mutable { return reply.get().status(); });
}

Status Client::Flush(std::string_view ns, std::span<const std::string> keys) {
  CallerWaits here;
  return FlushAsync(ns, keys).get();
}

}  // namespace kvtier::client
