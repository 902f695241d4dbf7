#pragma once

// One HTTP/1.1 client of the Blob-compatible endpoint (docs/blob-endpoint.md)
// on one io_context thread. One coroutine reads a request's header (at most
// 16 KiB; reads carry no body), authorises it (blob_auth.h), answers it and
// reads the next one on the same connection (keep-alive, pipelining).
//
// Reads become the native protocol's List, Stat and ReadRange requests and
// go through Service, so namespaces, limits, read-through to the origin and
// single-flight behave as for native clients. A blob is sent as a small
// first read, then block-aligned reads of at most 8 MiB (and at most
// limits.max_payload_bytes), up to 3 asked for while the current one is
// written, so the tiers and the socket work at once; the pinned blocks of
// those reads are all the memory a download holds.
// Writes (PUT, DELETE, POST, ...) are answered 405 and the connection is
// closed (their bodies are never read).

#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/beast/core/flat_buffer.hpp>

#include "protocol/asio.h"
#include "server/blob_endpoint/blob_auth.h"
#include "server/blob_endpoint/blob_routes.h"
#include "server/config.h"
#include "server/rate_limited_log.h"
#include "server/rendezvous.h"
#include "server/server_stats.h"
#include "server/service.h"
#include "server/stream_session.h"

namespace kvtier::server::blob_endpoint {

// What every connection of the endpoint shares; outlives them.
struct BlobEndpoint {
  BlobRoutes routes;
  BlobAuthorizer authorizer;
  std::time_t started = 0;  // Last-Modified of containers and of undated objects
};

class BlobConnection : public StreamSession<BlobConnection> {
 public:
  BlobConnection(stream_socket socket, std::string peer, Service& service, ServerStats& stats,
                 RateLimitedLog& log, const ListenerConfig& config, const BlobEndpoint& endpoint,
                 OnClosed on_closed);

  // One request being answered.
  struct Exchange {
    std::string verb;
    bool head = false;
    std::string request_id;
    std::string version;            // x-ms-version echoed (a default when none)
    std::string client_request_id;  // x-ms-client-request-id echoed
    std::string host;
    std::vector<tiers::blob::HeaderField> headers;
    BlobTarget target;
    bool close = false;  // answer with Connection: close, then close
    Access access = Access::Nothing();
  };
  using Fields = std::vector<std::pair<std::string, std::string>>;

 private:
  friend class StreamSession<BlobConnection>;
  asio::awaitable<void> Serve();

  // Answers one request whose header has been read.
  asio::awaitable<void> Answer(Exchange& exchange);
  asio::awaitable<void> GetBlob(Exchange& exchange, const BlobRoute& route, std::string path);
  asio::awaitable<void> BlobProperties(Exchange& exchange, const BlobRoute& route,
                                       std::string path);
  asio::awaitable<void> ListBlobs(Exchange& exchange);

  // Writes a whole answer: status line, fields, and `body` unless HEAD.
  asio::awaitable<bool> Respond(const Exchange& exchange, int status, const Fields& fields,
                                std::string body, std::string content_type = {});
  asio::awaitable<bool> RespondError(const Exchange& exchange, int status, std::string code,
                                     std::string message);
  // An error of the Service, in Azure's terms; `missing` is the code of
  // kNotFound (BlobNotFound, ContainerNotFound).
  asio::awaitable<bool> RespondStatus(const Exchange& exchange, Status status, std::string missing);
  // Status line and fields, ending with the empty line.
  std::string Head(const Exchange& exchange, int status, const Fields& fields,
                   uint64_t content_length) const;
  asio::awaitable<bool> Write(std::vector<asio::const_buffer> buffers);

  // A Service request under way: its answer, or where it will arrive.
  struct PendingCall {
    std::optional<Result<ReplyBody>> answer;
    Rendezvous<Result<ReplyBody>> reply;
  };
  std::unique_ptr<PendingCall> StartCall(protocol::Opcode opcode, const protocol::Metadata& request,
                                         const Access& access);
  asio::awaitable<Result<ReplyBody>> Finish(std::unique_ptr<PendingCall> call);

  Service& service_;
  RateLimitedLog& log_;
  const ListenerConfig& config_;
  const BlobEndpoint& endpoint_;
  boost::beast::flat_buffer buffer_;
  uint64_t requests_ = 0;
};

}  // namespace kvtier::server::blob_endpoint
