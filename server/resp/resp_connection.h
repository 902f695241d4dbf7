#pragma once

// One RESP client connection (docs/resp.md) on one io_context thread. One
// coroutine reads, parses and executes commands in order and writes their
// replies: every whole command already received is executed before the
// replies go out in one scatter-gather write, so a pipelining client gets
// batched writes, and nothing more is read while replies are written
// (backpressure on the client). A command the tiers cannot answer from
// memory waits for the Service's deferred reply; commands after it wait too,
// as RESP replies must keep request order.
//
// Commands are turned into the same requests kvtier's own protocol makes
// (protocol/messages.h) and go through Service, so namespaces, access
// tokens, limits, checksums at the edge and the tier stack behave exactly
// as for native clients.

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/asio.h"
#include "protocol/messages.h"
#include "server/config.h"
#include "server/rate_limited_log.h"
#include "server/resp/resp_parser.h"
#include "server/resp/resp_reply.h"
#include "server/server_stats.h"
#include "server/service.h"
#include "server/stream_session.h"

namespace kvtier::server::resp {

class RespConnection : public StreamSession<RespConnection> {
 public:
  // `namespace_name`: the namespace commands address until SELECT.
  RespConnection(stream_socket socket, std::string peer, Service& service, ServerStats& stats,
                 RateLimitedLog& log, const ListenerConfig& config, std::string namespace_name,
                 uint64_t id, OnClosed on_closed);

 private:
  friend class StreamSession<RespConnection>;
  using Args = std::span<const std::string_view>;

  asio::awaitable<void> Serve();
  // Reads at least `at_least` more bytes into the input buffer.
  asio::awaitable<bool> ReadMore(uint64_t at_least);
  asio::awaitable<bool> WriteReplies();

  // Executes one command and appends its reply. False: close the
  // connection once the replies are written (QUIT).
  asio::awaitable<bool> Execute(Args args);
  bool Authorized(std::string_view command);

  // The commands (resp_commands.cc). Arguments are checked first; a wrong
  // count is an error reply.
  void Ping(Args args);
  void Hello(Args args);
  void Auth(Args args);
  // Takes the access of `token`; false, with an error reply appended, when
  // it grants none.
  bool Authenticate(std::string_view token);
  void Select(Args args);
  void Client(Args args);
  void Command(Args args);
  void Info(Args args);
  asio::awaitable<void> Get(Args args);
  asio::awaitable<void> MultiGet(Args keys);
  asio::awaitable<void> Set(Args args);
  asio::awaitable<void> MultiSet(Args args);
  asio::awaitable<void> Exists(Args keys);
  asio::awaitable<void> Delete(Args keys);
  asio::awaitable<void> Scan(Args args);
  asio::awaitable<void> DbSize();

  // The Service's answer to a request, waiting for it when deferred.
  asio::awaitable<Result<ReplyBody>> Call(protocol::Opcode opcode,
                                          const protocol::Metadata& request);
  // Puts values[i] under keys[i]; the code of each.
  asio::awaitable<Result<std::vector<StatusCode>>> Put(std::span<const std::string> keys,
                                                       std::span<const std::string_view> values,
                                                       uint32_t ttl_ms);
  // Which of `keys` exist in any tier (Blob included).
  asio::awaitable<Result<std::vector<bool>>> Present(std::span<const std::string> keys);
  // Appends `status` as an error reply in Redis's style.
  void ErrorReply(const Status& status);
  // Copies keys for a request; false (an error reply appended) when one is
  // empty or over limits.max_key_bytes.
  bool CopyKeys(Args keys, std::vector<std::string>& out);

  Service& service_;
  RateLimitedLog& log_;
  const ListenerConfig& config_;
  const std::string default_namespace_;  // the listener's
  std::string namespace_name_;           // SELECTed
  const uint64_t id_;
  ParserLimits parser_limits_;

  // Bytes received: [input_begin_, input_end_) not yet parsed. Not zeroed
  // when grown (a large value is written over at once by the socket).
  std::unique_ptr<char[]> input_;
  size_t input_capacity_ = 0;
  size_t input_begin_ = 0;
  size_t input_end_ = 0;
  // Commands since the last one that needed a buffer past kKeptInputBytes:
  // after enough small ones the large buffer is given back.
  uint32_t small_commands_ = 0;
  ReplyBuffer replies_;
  std::vector<std::string_view> args_;

  Access access_;
  bool authenticated_;
  std::string client_name_;
};

}  // namespace kvtier::server::resp
