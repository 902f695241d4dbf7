// Connection: values that move through client memory instead of the
// stream. A shared region (Unix socket) is copied to and from on this
// thread; RDMA transfers are posted on the connection's queue pair and
// finish on its completion events. Every range a request names is checked
// against what the connection attached or registered before a byte moves.

#include "server/connection.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <optional>

#include "protocol/rdma/transfers.h"
#include "protocol/shared_region.h"

namespace kvtier::server {

using protocol::FrameHeader;

Status Connection::AttachRegion(std::span<const std::byte> hello_metadata) {
  const int fd = std::exchange(offered_fd_, -1);
  auto hello = protocol::DecodeHelloRequest(hello_metadata);
  if (!hello.ok() || hello->shm_region_bytes == 0) {
    if (fd >= 0) ::close(fd);
    return Status::Ok();  // no region asked for; a bad Hello is the service's to answer
  }
  if (!local_ || channel_ != nullptr || fd < 0) {
    if (fd >= 0) ::close(fd);
    return InvalidArgument(!local_ ? "shared memory needs the server's Unix socket"
                           : channel_ != nullptr
                               ? "this connection has a shared region already"
                               : "Hello announces a shared region but no descriptor came with it");
  }
  auto region =
      protocol::SharedRegion::Attach(fd, hello->shm_region_bytes, config_.shm_max_region_bytes);
  if (!region.ok()) return region.status();
  channel_ = std::make_unique<protocol::SharedMemoryChannel>(std::move(*region));
  stats_.shm_regions_attached.fetch_add(1, std::memory_order_relaxed);
  spdlog::debug("connection {}: shared region of {} bytes attached", peer_,
                hello->shm_region_bytes);
  return Status::Ok();
}

Service::RdmaAnswer Connection::SetUpRdma(std::span<const std::byte> hello_metadata) {
  auto hello = protocol::DecodeHelloRequest(hello_metadata);
  if (!hello.ok() || !hello->rdma) return {};  // a bad Hello is the service's to answer
  if (hello->min_version > protocol::kProtocolVersion ||
      hello->max_version < protocol::kProtocolVersion) {
    return {};  // refused by the Service: no queue pair for it
  }
  if (rdma_host_ == nullptr) return {};  // the server's own reason (no device, off)
  if (local_) {
    return {std::nullopt,
            "RDMA is for TCP connections; on the Unix socket use a shared region instead"};
  }
  if (stream_.tls()) {
    return {std::nullopt,
            "RDMA is not offered on the TLS listener: one-sided transfers bypass TLS; values go "
            "over the stream"};
  }
  if (rdma_ != nullptr) return {std::nullopt, "this connection has a queue pair already"};
  auto session = rdma_host_->Accept(*hello->rdma, hello->rdma_regions, socket_.get_executor());
  if (!session.ok()) {
    stats_.rdma_failures.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("connection {}: no RDMA queue pair: {}", peer_, session.status().ToString());
    return {std::nullopt, "the server could not set up a queue pair (" +
                              session.status().message() + "); values go over the stream"};
  }
  rdma_ = std::move(*session);
  stats_.rdma_queue_pairs.fetch_add(1, std::memory_order_relaxed);
  spdlog::debug("connection {}: RDMA queue pair {} connected to {}", peer_,
                rdma_->endpoint().qp_num, hello->rdma->qp_num);
  return {rdma_->endpoint(), ""};
}

asio::awaitable<Status> Connection::ReadByRdma(PendingPut& put) {
  std::vector<std::span<std::byte>> targets;
  targets.reserve(put.blocks.size());
  std::vector<uint64_t> addresses;
  const std::vector<uint64_t>& offsets = put.request.region_offsets;
  if (offsets.size() != put.blocks.size()) {
    co_return InvalidArgument("a put flagged in client memory needs an address for every value");
  }
  for (size_t i = 0; i < put.blocks.size(); ++i) {
    if (!put.blocks[i]) continue;  // refused already: nothing to read
    // The blocks stay in `put`, which outlives this whole wait.
    targets.push_back(put.blocks[i].mutable_bytes());
    addresses.push_back(offsets[i]);
  }
  auto transfers = protocol::rdma::ScatterFromClient(targets, addresses, put.request.region_key);
  if (!transfers.ok()) co_return transfers.status();
  // Woken by `done`, which runs on this thread; the state outlives a
  // connection that closes meanwhile (Close runs `done` first).
  struct Wait {
    explicit Wait(const asio::any_io_executor& executor) : wake(executor) {}
    asio::steady_timer wake;
    std::optional<Status> result;
  };
  auto wait = std::make_shared<Wait>(socket_.get_executor());
  wait->wake.expires_at(Clock::time_point::max());
  Status started = rdma_->Start(std::move(*transfers), [wait](Status status) {
    wait->result = std::move(status);
    wait->wake.cancel();
  });
  if (!started.ok()) {
    co_return started.code() == StatusCode::kInvalidArgument
        ? started
        : Unavailable("the put's values cannot be read by RDMA now (" + started.message() +
                      "); send them on the stream");
  }
  while (!wait->result) {
    boost::system::error_code ec;
    co_await wait->wake.async_wait(asio::redirect_error(asio::use_awaitable, ec));
  }
  if (!wait->result->ok()) stats_.rdma_failures.fetch_add(1, std::memory_order_relaxed);
  co_return *wait->result;
}

std::optional<protocol::RegionArea> Connection::TakeReplyArea(const FrameHeader& request,
                                                              uint64_t payload_bytes) {
  if (reply_areas_.empty()) return std::nullopt;
  auto it = reply_areas_.find(request.request_id);
  if (it == reply_areas_.end()) return std::nullopt;
  const protocol::RegionArea area = it->second;
  reply_areas_.erase(it);
  if (payload_bytes == 0 || payload_bytes > area.capacity) return std::nullopt;
  return area;
}

bool Connection::StartRdmaPlacement(const FrameHeader& request, Outgoing& out) {
  const std::optional<protocol::RegionArea> area = TakeReplyArea(request, out.body.payload_bytes);
  if (!area || rdma_->down()) return false;
  std::vector<std::span<std::byte>> pieces;
  pieces.reserve(out.body.payload.size());
  for (const PayloadPiece& piece : out.body.payload) {
    // The device only reads these bytes (a WRITE's source).
    const std::span<const std::byte> bytes = piece.bytes;
    pieces.emplace_back(const_cast<std::byte*>(bytes.data()), bytes.size());
  }
  auto transfers = protocol::rdma::GatherIntoArea(
      pieces, protocol::BufferRef{area->offset, area->capacity, area->key}, RdmaSession::kMaxSge);
  Status started = transfers.status();
  if (started.ok()) {
    const uint64_t sequence = out.sequence;
    started =
        rdma_->Start(std::move(*transfers), [weak = weak_from_this(), sequence](Status status) {
          if (auto self = weak.lock()) self->FinishRdmaPlacement(sequence, status);
        });
  }
  if (!started.ok()) {
    // Blocks outside the pool (read from a lower tier), a bad area, or a
    // queue pair that went down: the values still reach the client, on the
    // stream.
    if (started.code() == StatusCode::kInvalidArgument) {
      Reject(BadInput::kInvalidRequest, started.message());
    }
    return false;
  }
  out.rdma_pending = true;
  return true;
}

void Connection::FinishRdmaPlacement(uint64_t sequence, const Status& status) {
  auto out = std::find_if(queue_.begin(), queue_.end(),
                          [sequence](const Outgoing& o) { return o.sequence == sequence; });
  if (out == queue_.end()) return;
  out->rdma_pending = false;
  if (status.ok()) {
    stats_.rdma_bytes_written.fetch_add(out->body.payload_bytes, std::memory_order_relaxed);
    out->body.payload.clear();  // written: the pins go now
  } else {
    // The values go on the stream after all: the reply loses its
    // PayloadInRegion flag and carries them.
    stats_.rdma_failures.fetch_add(1, std::memory_order_relaxed);
    out->reply.flags &= ~protocol::frame_flags::kPayloadInRegion;
    out->header = protocol::EncodeFrameHeader(out->reply);
    out->bytes += out->body.payload_bytes;
    queued_bytes_ += out->body.payload_bytes;
  }
  writer_wake_.cancel();
}

bool Connection::PlaceInRegion(const FrameHeader& request, ReplyBody& body) {
  const std::optional<protocol::RegionArea> area = TakeReplyArea(request, body.payload_bytes);
  if (!area) return false;
  std::vector<std::span<const std::byte>> pieces;
  pieces.reserve(body.payload.size());
  for (const PayloadPiece& piece : body.payload) pieces.push_back(piece.bytes);
  if (Status pushed = channel_->Push(pieces, {area->offset, area->capacity, 0}); !pushed.ok()) {
    // The values still reach the client, on the stream.
    Reject(BadInput::kInvalidRequest, pushed.message());
    return false;
  }
  body.payload.clear();  // copied: the pins go now
  stats_.shm_bytes_pushed.fetch_add(body.payload_bytes, std::memory_order_relaxed);
  return true;
}

}  // namespace kvtier::server
