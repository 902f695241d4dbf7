#include "server/resp/resp_connection.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "server/rendezvous.h"

namespace kvtier::server::resp {
namespace {

auto Redirect(boost::system::error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

// Reads go into at least this much free buffer, so that small pipelined
// commands arrive many per read.
constexpr size_t kReadChunk = 16 * 1024;
// A buffer grown past this for large commands is given back once this many
// commands in a row did not need it, so a client that stopped sending large
// values holds little memory, and one that keeps sending them does not pay
// for a new buffer each time.
constexpr size_t kKeptInputBytes = 4u << 20;
constexpr uint32_t kSmallCommandsBeforeShrink = 64;
// Replies of a pipelined batch are written once they pass this, even when
// more whole commands are waiting.
constexpr uint64_t kFlushReplyBytes = 4u << 20;

}  // namespace

RespConnection::RespConnection(stream_socket socket, std::string peer, Service& service,
                               ServerStats& stats, RateLimitedLog& log,
                               const ListenerConfig& config, std::string namespace_name,
                               uint64_t id, OnClosed on_closed)
    : StreamSession(std::move(socket), std::move(peer), stats, "RESP", std::move(on_closed)),
      service_(service),
      log_(log),
      config_(config),
      default_namespace_(namespace_name),
      namespace_name_(std::move(namespace_name)),
      id_(id),
      access_(service.authenticator().required() ? Access::Nothing() : Access::Everything()),
      authenticated_(!service.authenticator().required()) {
  const protocol::Limits& limits = service_.limits();
  parser_limits_.max_bulk_bytes = limits.max_value_bytes;
  // MSET of a full request's worth of values, with room for the keys.
  parser_limits_.max_command_bytes = limits.max_payload_bytes + (4u << 20);
  parser_limits_.max_arguments = 2 * static_cast<size_t>(limits.max_keys_per_request) + 16;
}

asio::awaitable<bool> RespConnection::ReadMore(uint64_t at_least) {
  if (input_capacity_ - input_end_ < at_least) {
    // Out of room at the tail: move the unparsed bytes to the front first
    // (rarely: the buffer is reused from the front once all is parsed),
    // then grow if that is not enough.
    if (input_begin_ > 0) {
      std::memmove(input_.get(), input_.get() + input_begin_, input_end_ - input_begin_);
      input_end_ -= input_begin_;
      input_begin_ = 0;
    }
    const uint64_t wanted = input_end_ + std::max<uint64_t>(at_least, kReadChunk);
    if (input_capacity_ < wanted) {
      // At least double, so a value arriving in many reads moves few times.
      // (No more than a whole command's limit, though: the parser refuses
      // larger ones.)
      const uint64_t doubled =
          std::min<uint64_t>(2 * input_capacity_, parser_limits_.max_command_bytes + kReadChunk);
      const size_t capacity = static_cast<size_t>(std::max<uint64_t>(wanted, doubled));
      auto grown = std::make_unique_for_overwrite<char[]>(capacity);
      if (input_end_ > 0) std::memcpy(grown.get(), input_.get(), input_end_);
      input_ = std::move(grown);
      input_capacity_ = capacity;
    }
  }
  // A started command must keep arriving (frame timeout); between commands
  // the idle timeout holds.
  const bool between_commands = input_end_ == input_begin_;
  const auto idle = config_.resp.idle_timeout;
  SetDeadline(between_commands ? (idle.count() > 0 ? Clock::now() + idle : Clock::time_point::max())
                               : Clock::now() + config_.frame_timeout);
  boost::system::error_code ec;
  const size_t n = co_await asio::async_read(
      socket_, asio::buffer(input_.get() + input_end_, input_capacity_ - input_end_),
      asio::transfer_at_least(static_cast<size_t>(at_least)), Redirect(ec));
  input_end_ += n;
  stats_.bytes_received.fetch_add(n, std::memory_order_relaxed);
  ClearDeadline();
  if (ec && n < at_least) co_return false;  // closed before the command was whole
  co_return true;
}

asio::awaitable<bool> RespConnection::WriteReplies() {
  if (replies_.empty() || closed_) co_return !closed_;
  SetDeadline(Clock::now() + config_.frame_timeout);  // a peer that stops reading is cut
  boost::system::error_code ec;
  const size_t n = co_await asio::async_write(socket_, replies_.Buffers(), Redirect(ec));
  ClearDeadline();
  stats_.bytes_sent.fetch_add(n, std::memory_order_relaxed);
  replies_.Clear();  // drops the pins of the values sent
  co_return !ec;
}

asio::awaitable<void> RespConnection::Serve() {
  while (!closed_) {
    const std::string_view pending(input_.get() + input_begin_, input_end_ - input_begin_);
    const ParseResult parsed = ParseCommand(pending, parser_limits_, args_);
    if (parsed.outcome == ParseOutcome::kError) {
      // The stream cannot be followed past this: answer, then close.
      stats_.CountBadInput(BadInput::kRespProtocol);
      log_.Warn(BadInput::kRespProtocol, peer_, parsed.error);
      replies_.Error("ERR " + parsed.error);
      co_await WriteReplies();
      co_return;
    }
    if (parsed.outcome == ParseOutcome::kNeedMore) {
      // Everything received is answered: send, then wait for more.
      if (!co_await WriteReplies()) co_return;
      if (draining_) co_return;
      if (!co_await ReadMore(parsed.needed)) {
        if (input_end_ > input_begin_ && !draining_ && !closed_) {
          log_.Warn(BadInput::kTruncated, peer_, "peer closed inside a command");
          stats_.CountBadInput(BadInput::kTruncated);
        }
        co_return;
      }
      continue;
    }
    bool keep_open = true;
    if (!args_.empty()) keep_open = co_await Execute(args_);
    input_begin_ += parsed.consumed;
    small_commands_ = parsed.consumed > kKeptInputBytes / 2 ? 0 : small_commands_ + 1;
    if (input_begin_ == input_end_) {
      input_begin_ = input_end_ = 0;
      if (input_capacity_ > kKeptInputBytes && small_commands_ >= kSmallCommandsBeforeShrink) {
        input_.reset();
        input_capacity_ = 0;
      }
    }
    if (!keep_open || replies_.bytes() >= kFlushReplyBytes) {
      if (!co_await WriteReplies() || !keep_open) co_return;
    }
  }
}

asio::awaitable<Result<ReplyBody>> RespConnection::Call(protocol::Opcode opcode,
                                                        const protocol::Metadata& request) {
  const auto bytes = request.bytes();
  Rendezvous<Result<ReplyBody>> reply(socket_.get_executor());
  auto answer = service_.Handle(opcode, std::vector<std::byte>(bytes.begin(), bytes.end()),
                                reply.Callback(), access_);
  if (answer) co_return std::move(*answer);
  co_return co_await reply.Wait();
}

}  // namespace kvtier::server::resp
