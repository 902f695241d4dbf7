#pragma once

// One client connection on one io_context thread. Three coroutines share it:
//   reader   - reads a frame at a time, answers it through the Service and
//              queues the reply; pauses while queued replies exceed
//              max_queued_reply_bytes or kMaxDeferredRequests requests wait
//              on workers (backpressure on the client). A deferred reply is
//              posted back onto this connection's thread and queued then, so
//              replies may leave out of request order (matched by id);
//   writer   - sends queued replies in order with scatter-gather writes,
//              holding the block pins until each write completes;
//   watchdog - closes the socket when the idle, frame or write deadline
//              passes.
// All state is touched only from the connection's io_context thread, so no
// locks are needed; Drain() and deferred replies are the entry points from
// other threads, and both post onto that thread.
//
// The same class serves TCP, TLS and Unix-socket connections. Over TLS the
// handshake comes first, bounded by the frame timeout; the loops start after
// it. On a Unix socket a
// client may attach a shared memory region with its Hello (protocol/
// shared_region.h): Put values flagged kPayloadInRegion are then copied from
// the region instead of read from the stream, and the values of a Get or
// GetPrefix that offers a reply area are copied into the region when they
// fit (else they go on the stream as usual).

#include <array>
#include <chrono>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "protocol/asio.h"
#include "protocol/messages.h"
#include "protocol/tls.h"
#include "protocol/transport.h"
#include "server/config.h"
#include "server/rate_limited_log.h"
#include "server/rdma_session.h"
#include "server/server_stats.h"
#include "server/service.h"
#include "server/session.h"

namespace kvtier::server {

class Connection : public Session, public std::enable_shared_from_this<Connection> {
 public:
  // Requests of one connection waiting on workers before reading pauses.
  static constexpr uint32_t kMaxDeferredRequests = 64;

  using OnClosed = std::function<void(Session*)>;

  // `local`: a Unix-socket connection, which may attach a shared region.
  // `tls`: the TLS listener's context (outliving the connection), or null.
  // `rdma_host`: where a Hello asking for RDMA gets its queue pair, or null.
  Connection(stream_socket socket, bool local, std::string peer, Service& service,
             ServerStats& stats, RateLimitedLog& log, const ListenerConfig& config,
             protocol::TlsContext* tls, RdmaHost* rdma_host, OnClosed on_closed);
  ~Connection();

  // Spawns the coroutines. Call once, right after construction.
  void Start();

  // Thread-safe. Stops reading at the next frame boundary, sends every
  // queued reply, then closes.
  void Drain() override;

 private:
  using Clock = std::chrono::steady_clock;
  enum class ReadPhase { kIdle, kFrame };

  struct Outgoing {
    protocol::FrameHeaderBytes header;
    ReplyBody body;
    uint64_t bytes = 0;
    uint8_t opcode = 0;
    // RDMA WRITEs of the values are in flight: the reply waits (the pins in
    // body.payload hold the blocks) until they complete.
    bool rdma_pending = false;
    uint64_t sequence = 0;        // finds it again when they do
    protocol::FrameHeader reply;  // what `header` encodes
  };

  static asio::awaitable<void> Guarded(std::shared_ptr<Connection> self,
                                       asio::awaitable<void> (Connection::*loop)());
  // TLS connections: the handshake, then the read and write loops.
  asio::awaitable<void> HandshakeThenServe();
  void StartLoops();
  asio::awaitable<void> ReadLoop();
  asio::awaitable<void> WriteLoop();
  asio::awaitable<void> Watchdog();

  // Reads one frame and answers it. Returns false when the connection must
  // stop reading (peer closed, timeout, or a stream-level protocol error).
  asio::awaitable<bool> ServeOneFrame();
  asio::awaitable<bool> ReadExactly(asio::mutable_buffer buffer);
  // Fills both buffers, in order: first from the bytes read ahead, then with
  // one read where the bytes are there.
  asio::awaitable<bool> ReadExactly(std::array<asio::mutable_buffer, 2> buffers);
  // Moves read-ahead bytes into the front of `buffer`; returns how many.
  size_t TakeReadAhead(asio::mutable_buffer buffer);
  // The first read of a Unix-socket connection: also takes a descriptor
  // passed with the bytes (the client's shared region).
  asio::awaitable<size_t> ReadFirstBytes(asio::mutable_buffer buffer,
                                         boost::system::error_code& ec);
  // Before Hello is answered: attaches the region the Hello announces.
  Status AttachRegion(std::span<const std::byte> hello_metadata);
  // Before Hello is answered: sets up the queue pair a Hello asking for
  // RDMA wants, or says why not ("" where the Service's own reason holds).
  Service::RdmaAnswer SetUpRdma(std::span<const std::byte> hello_metadata);
  // Moves a put's values from client memory into its blocks by RDMA READ;
  // returns once the READs completed (or failed).
  asio::awaitable<Status> ReadByRdma(PendingPut& put);
  // Takes the area request `request` offered for its reply's values; none
  // when it offered none or `payload_bytes` (0, or more than it holds) do
  // not go there.
  std::optional<protocol::RegionArea> TakeReplyArea(const protocol::FrameHeader& request,
                                                    uint64_t payload_bytes);
  // Starts the RDMA WRITEs of a reply's values into the area its request
  // offered; false (the values go on the stream) when none was offered,
  // they do not fit, or the queue pair cannot take them.
  bool StartRdmaPlacement(const protocol::FrameHeader& request, Outgoing& out);
  // The WRITEs of reply `sequence` ended with `status`.
  void FinishRdmaPlacement(uint64_t sequence, const Status& status);
  // Checks Hello's token (servers with auth.tokens); on success the
  // connection gets the token's access. A failure is stream-fatal.
  Status Authenticate(std::span<const std::byte> hello_metadata);
  asio::awaitable<bool> Discard(uint64_t bytes);
  asio::awaitable<bool> ReceivePut(const protocol::FrameHeader& header,
                                   std::vector<std::byte> metadata);

  // Queues the answer, or arranges for a deferred one to be queued later.
  void Answer(const protocol::FrameHeader& request, std::optional<Result<ReplyBody>> answer);
  // The reply callback for a request the Service defers.
  DeferredReply MakeDeferredReply(const protocol::FrameHeader& request);
  void QueueResult(const protocol::FrameHeader& request, Result<ReplyBody> body);
  void Enqueue(const protocol::FrameHeader& request, ReplyBody body, bool error);
  // Copies the reply's values into the area its request offered, when one
  // was offered and they fit; true when the payload now lies there.
  bool PlaceInRegion(const protocol::FrameHeader& request, ReplyBody& body);
  void EnqueueError(const protocol::FrameHeader& request, const Status& status);
  void Reject(BadInput kind, const std::string& message);
  // After a stream-fatal error reply: half-close, then read and drop what
  // the peer still sends (bounded in bytes and time) before closing, so the
  // reply reaches the peer instead of being lost to a connection reset.
  asio::awaitable<void> Linger();
  void SetReadDeadline(Clock::time_point deadline);
  void SetWriteDeadline(Clock::time_point deadline);
  void CloseSocket();

  stream_socket socket_;
  protocol::ByteStream stream_;  // socket_, or TLS over it: frames move here
  const bool local_;
  Service& service_;
  ServerStats& stats_;
  RateLimitedLog& log_;
  const ListenerConfig& config_;
  OnClosed on_closed_;
  std::string peer_;

  asio::steady_timer watchdog_timer_;
  asio::steady_timer writer_wake_;
  asio::steady_timer reader_wake_;
  Clock::time_point read_deadline_ = Clock::time_point::max();
  Clock::time_point write_deadline_ = Clock::time_point::max();
  ReadPhase phase_ = ReadPhase::kIdle;

  std::deque<Outgoing> queue_;
  uint64_t queued_bytes_ = 0;
  uint32_t deferred_ = 0;  // requests whose replies workers still owe
  bool reader_done_ = false;
  bool linger_ = false;     // the last reply is a stream-fatal error
  bool lingering_ = false;  // in Linger(): a timeout is not bad input
  bool draining_ = false;
  bool closed_ = false;
  std::vector<std::byte> scratch_;  // sink for discarded payload bytes
  // Between frames the connection reads up to this much at once, so that a
  // small request's header and metadata take one read, not two; what the
  // frame does not use stays for the next one. Larger payloads are read
  // straight into their destination.
  static constexpr size_t kReadAheadBytes = 4096;
  std::array<std::byte, kReadAheadBytes> read_ahead_;
  size_t read_ahead_begin_ = 0;
  size_t read_ahead_end_ = 0;

  // Before authentication only a Hello of at most this much metadata is read.
  static constexpr uint32_t kMaxMetadataBeforeHello = 4096;
  Access access_;  // what this connection's token grants
  bool authenticated_;

  bool first_read_ = true;
  int offered_fd_ = -1;  // a descriptor passed with the first bytes, until Hello
  std::unique_ptr<protocol::ValueChannel> channel_;  // the attached region, if any
  RdmaHost* const rdma_host_;
  std::shared_ptr<RdmaSession> rdma_;  // the connection's queue pair, once Hello set one up
  uint64_t next_sequence_ = 0;
  // Reply areas offered by Get and GetPrefix requests still being answered.
  std::unordered_map<uint64_t, protocol::RegionArea> reply_areas_;
  // When each request still being answered was fully received (latency).
  std::unordered_map<uint64_t, Clock::time_point> received_at_;
};

}  // namespace kvtier::server
