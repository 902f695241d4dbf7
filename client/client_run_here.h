#pragma once

// The calling thread's side of the client's connection engine: RunHere
// writes requests and reads their replies on a socket the caller owns
// (see Client::Impl). Included by client_impl.h only, after Impl.

#include <poll.h>

#include <functional>
#include <optional>
#include <span>
#include <vector>

namespace kvtier::client {

// One RunHere: the requests' bytes out and their replies in, on one
// socket the calling thread owns.
class Client::Impl::PipelineRun {
 public:
  PipelineRun(Impl& impl, std::span<internal::HeldRequest> requests, uint64_t first_id,
              const protocol::Limits& limits, const std::function<void(size_t)>& after_each)
      : impl_(impl),
        requests_(requests),
        first_id_(first_id),
        limits_(limits),
        after_each_(after_each),
        completed_(requests.size(), false),
        deadline_(DeadlineClock::now() + impl.options_.request_timeout) {}

  void Run() {
    StartRequest(0);
    receiver_.Reset({reply_header_});
    while (left_ > 0) {
      if (Status status = Write(); !status.ok()) return Break(status);
      const bool all_out = writing_ == requests_.size();
      // While requests remain to be written, replies are drained first
      // (the server may stop reading until they are); once all are out,
      // the next reply is not there yet: wait before reading.
      if (!all_out) {
        if (Status status = Read(); !status.ok()) return Break(status);
        if (left_ == 0) break;
      }
      const short events = all_out ? POLLIN : POLLIN | POLLOUT;
      if (Status waited = WaitReadyBefore(impl_.fd_, events, deadline_); !waited.ok()) {
        return TimedOut(waited);
      }
      if (all_out) {
        if (Status status = Read(); !status.ok()) return Break(status);
      }
    }
    std::lock_guard lock(impl_.mu_);
    impl_.ReleaseHere();
  }

 private:
  using FrameHeader = protocol::FrameHeader;

  // Starts writing request `index`: header and metadata with the first
  // values, the rest in TrailingChecksums groups.
  void StartRequest(size_t index) {
    writing_ = index;
    if (index == requests_.size()) return;
    internal::HeldRequest& request = requests_[index];
    const FrameHeader header = RequestHeader(request.opcode, first_id_ + index, request.metadata,
                                             request.payload, request.region);
    header_bytes_ = protocol::EncodeFrameHeader(header);
    pieces_ = {header_bytes_, request.metadata.bytes()};
    using Pieces = std::span<const std::span<const std::byte>>;
    trailing_.emplace(request.region.checksums_trail ? Pieces(request.payload) : Pieces());
    const auto first = trailing_->Next();
    pieces_.insert(pieces_.end(), first.begin(), first.end());
    if (!request.region.checksums_trail) {
      pieces_.insert(pieces_.end(), request.payload.begin(), request.payload.end());
    }
    sender_.Reset(pieces_);
  }

  // Sends until the socket is full or every request is out.
  Status Write() {
    while (writing_ < requests_.size()) {
      KVTIER_ASSIGN_OR_RETURN(const bool sent, sender_.SendSome(impl_.fd_));
      if (!sent) return Status::Ok();
      const auto group = trailing_->Next();
      if (!group.empty()) {
        pieces_.assign(group.begin(), group.end());
        sender_.Reset(pieces_);
      } else {
        StartRequest(writing_ + 1);
      }
    }
    return Status::Ok();
  }

  // Reads until the socket is empty or every reply is in.
  Status Read() {
    while (left_ > 0) {
      KVTIER_ASSIGN_OR_RETURN(const bool full, receiver_.ReceiveSome(impl_.fd_));
      if (!full) return Status::Ok();
      KVTIER_RETURN_IF_ERROR(Advance());
    }
    return Status::Ok();
  }

  // The part being read is complete: go on to the next.
  Status Advance() {
    switch (phase_) {
      case Phase::kHeader: {
        KVTIER_ASSIGN_OR_RETURN(frame_, StartReply(reply_header_, limits_));
        phase_ = Phase::kMetadata;
        receiver_.Reset({frame_.metadata});
        return Status::Ok();
      }
      case Phase::kMetadata: {
        KVTIER_RETURN_IF_ERROR(ConnectionError(frame_));
        const uint64_t index = frame_.header.request_id - first_id_;
        mine_ =
            frame_.header.request_id >= first_id_ && index < requests_.size() && !completed_[index];
        KVTIER_ASSIGN_OR_RETURN(
            auto targets, PayloadTargets(frame_, mine_ ? &requests_[index].region.sink : nullptr));
        phase_ = Phase::kPayload;
        receiver_.Reset(std::move(targets));
        return Status::Ok();
      }
      case Phase::kPayload:
        phase_ = Phase::kHeader;
        receiver_.Reset({reply_header_});
        return FinishReply();
    }
    return Status::Ok();
  }

  Status FinishReply() {
    const uint64_t id = frame_.header.request_id;
    if (!mine_) {
      std::lock_guard lock(impl_.mu_);
      impl_.orphaned_areas_.erase(id);  // a late reply to a timed-out request
      return Status::Ok();
    }
    internal::HeldRequest& request = requests_[id - first_id_];
    KVTIER_RETURN_IF_ERROR(
        TakeRegionPayload(frame_, request.region.area, !request.region.values_in_area));
    completed_[id - first_id_] = true;
    --left_;
    request.done(std::move(frame_));
    frame_ = ReplyFrame();
    if (after_each_) after_each_(id - first_id_);
    return Status::Ok();
  }

  // Nothing moved before the deadline. Between frames, with every
  // request out, the requests still waiting time out and their late
  // replies are dropped by whoever reads next; otherwise the stream is
  // mid-frame and only closing it is safe.
  void TimedOut(const Status& status) {
    const bool between_frames =
        writing_ == requests_.size() && phase_ == Phase::kHeader && receiver_.received() == 0;
    if (status.code() != StatusCode::kDeadlineExceeded) return Break(status);
    // The requests themselves time out; the connection is closed.
    if (writing_ < requests_.size()) {
      return Break(Unavailable("connection closed after a request timed out while sending"),
                   status);
    }
    if (!between_frames) return Break(ConnectionStatus(status), status);
    const Status late = DeadlineExceeded(
        "no reply within " + std::to_string(impl_.options_.request_timeout.count()) + " ms");
    {
      std::lock_guard lock(impl_.mu_);
      for (size_t i = 0; i < requests_.size(); ++i) {
        if (!completed_[i] && requests_[i].region.area) {
          impl_.orphaned_areas_[first_id_ + i] = requests_[i].region.area;
        }
      }
      impl_.ReleaseHere();
    }
    CompleteRest(late);
  }

  // Breaks the connection with `status`: every request not yet answered
  // fails with `mine` (by default the same).
  void Break(const Status& status, const Status& mine) {
    impl_.GiveUpBroken(status);
    CompleteRest(mine);
  }
  void Break(const Status& status) { Break(status, status); }

  void CompleteRest(const Status& status) {
    for (size_t i = 0; i < requests_.size(); ++i) {
      if (completed_[i]) continue;
      completed_[i] = true;
      requests_[i].done(status);
      if (after_each_) after_each_(i);
    }
    left_ = 0;
  }

  enum class Phase { kHeader, kMetadata, kPayload };

  Impl& impl_;
  std::span<internal::HeldRequest> requests_;
  const uint64_t first_id_;
  const protocol::Limits limits_;
  const std::function<void(size_t)>& after_each_;
  std::vector<bool> completed_;
  size_t left_ = requests_.size();
  const DeadlineClock::time_point deadline_;
  // Writing: request writing_ (requests_.size() once all are out).
  size_t writing_ = 0;
  protocol::FrameHeaderBytes header_bytes_;
  std::optional<TrailingChecksums> trailing_;
  std::vector<std::span<const std::byte>> pieces_;
  PieceSender sender_;
  // Reading: the reply in progress.
  Phase phase_ = Phase::kHeader;
  protocol::FrameHeaderBytes reply_header_;
  ReplyFrame frame_;
  bool mine_ = false;
  PieceReceiver receiver_;
};

// Declared, with their contracts, in Client::Impl.

inline bool Client::Impl::RunHere(std::span<internal::HeldRequest> requests,
                                  const std::function<void(size_t)>& after_each) {
  if (tls_context_) return false;  // TLS records are the I/O thread's
  for (const auto& request : requests) {
    if (request.region.pass_fd >= 0) return false;
  }
  uint64_t first_id = 0;
  protocol::Limits limits;
  Status broken;
  {
    std::lock_guard lock(mu_);
    broken = broken_;
    if (broken.ok()) {
      if (in_flight_ > 0 || io_reading_ || here_owner_) return false;
      here_owner_ = true;
      first_id = next_id_;
      next_id_ += requests.size();
      limits = receive_limits_;
      Detach();
    }
  }
  if (!broken.ok()) {
    for (size_t i = 0; i < requests.size(); ++i) {
      requests[i].done(broken);
      if (after_each) after_each(i);
    }
    return true;
  }
  PipelineRun run(*this, requests, first_id, limits, after_each);
  run.Run();
  return true;
}

inline std::optional<Result<internal::ReplyFrame>> Client::Impl::CallHere(
    Opcode opcode, protocol::Metadata& metadata, std::vector<std::span<const std::byte>>& payload,
    ValuePlacement& region) {
  std::optional<Result<ReplyFrame>> reply;
  internal::HeldRequest request{opcode, std::move(metadata), std::move(payload),
                                [&reply](Result<ReplyFrame> frame) { reply = std::move(frame); },
                                std::move(region)};
  if (RunHere(std::span(&request, 1))) return reply;
  metadata = std::move(request.metadata);
  payload = std::move(request.payload);
  region = std::move(request.region);
  return std::nullopt;
}

}  // namespace kvtier::client
