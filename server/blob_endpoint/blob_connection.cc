#include "server/blob_endpoint/blob_connection.h"

#include <boost/beast/http.hpp>
#include <cstdio>

#include "server/blob_endpoint/blob_xml.h"

namespace kvtier::server::blob_endpoint {
namespace {

namespace http = boost::beast::http;

auto Redirect(boost::system::error_code& ec) {
  return asio::redirect_error(asio::use_awaitable, ec);
}

// A request's line and header fields; more is refused (431-like 400).
constexpr uint32_t kMaxHeaderBytes = 16 * 1024;
// The x-ms-version answered to requests that name none.
constexpr std::string_view kDefaultVersion = "2021-12-02";

std::string_view Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 206:
      return "Partial Content";
    case 304:
      return "Not Modified";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 412:
      return "Precondition Failed";
    case 416:
      return "Range Not Satisfiable";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

std::string NewRequestId(uint64_t connection, uint64_t request) {
  static std::atomic<uint64_t> counter{0};
  char text[64];
  std::snprintf(text, sizeof(text), "%08llx-%04llx-4000-8000-%012llx",
                static_cast<unsigned long long>(connection & 0xffffffffu),
                static_cast<unsigned long long>(request & 0xffffu),
                static_cast<unsigned long long>(counter.fetch_add(1) & 0xffffffffffffull));
  return text;
}

}  // namespace

BlobConnection::BlobConnection(stream_socket socket, std::string peer, Service& service,
                               ServerStats& stats, RateLimitedLog& log,
                               const ListenerConfig& config, const BlobEndpoint& endpoint,
                               OnClosed on_closed)
    : StreamSession(std::move(socket), std::move(peer), stats, "Blob endpoint",
                    std::move(on_closed)),
      service_(service),
      log_(log),
      config_(config),
      endpoint_(endpoint),
      buffer_(kMaxHeaderBytes + 4096) {}

asio::awaitable<void> BlobConnection::Serve() {
  while (!closed_ && !draining_) {
    // On the heap: the parser is large, and the coroutine frame stays small.
    auto parser = std::make_unique<http::request_parser<http::empty_body>>();
    parser->header_limit(kMaxHeaderBytes);
    const auto idle = config_.blob.idle_timeout;
    SetDeadline(idle.count() > 0 ? Clock::now() + idle : Clock::time_point::max());
    boost::system::error_code ec;
    co_await http::async_read_header(socket_, buffer_, *parser, Redirect(ec));
    ClearDeadline();
    if (ec == http::error::end_of_stream || ec == asio::error::eof ||
        ec == asio::error::operation_aborted || ec == asio::error::connection_reset || closed_ ||
        (ec && buffer_.size() == 0 && !parser->got_some())) {
      co_return;  // closed between requests
    }
    Exchange exchange;
    exchange.request_id = NewRequestId(reinterpret_cast<uintptr_t>(this), ++requests_);
    exchange.version = std::string(kDefaultVersion);
    if (ec) {
      stats_.CountBadInput(BadInput::kBlobHttp);
      log_.Warn(BadInput::kBlobHttp, peer_, "unreadable HTTP request: " + ec.message());
      exchange.close = true;
      co_await RespondError(exchange, 400, "InvalidInput",
                            "the request's line or header fields cannot be read (" + ec.message() +
                                "; at most 16 KiB of them)");
      co_return;
    }
    const http::request<http::empty_body>& request = parser->get();
    exchange.verb = std::string(request.method_string());
    exchange.head = request.method() == http::verb::head;
    exchange.close = !request.keep_alive() || draining_;
    for (const auto& field : request) {
      exchange.headers.push_back({std::string(field.name_string()), std::string(field.value())});
    }
    if (auto it = request.find("x-ms-version"); it != request.end() && !it->value().empty()) {
      exchange.version = std::string(it->value());
    }
    if (auto it = request.find("x-ms-client-request-id"); it != request.end()) {
      exchange.client_request_id = std::string(it->value());
    }
    if (auto it = request.find(http::field::host); it != request.end()) {
      exchange.host = std::string(it->value());
    }
    stats_.blob_requests.fetch_add(1, std::memory_order_relaxed);
    if (request.method() != http::verb::get && !exchange.head) {
      // The body, if any, is not read: answer and close.
      exchange.close = true;
      co_await RespondError(exchange, 405, "UnsupportedHttpVerb",
                            "this endpoint serves reads (GET, HEAD) from the rack's cache; "
                            "write to the origin, or through kvtier's own protocol");
      co_return;
    }
    if (!parser->is_done()) {
      stats_.CountBadInput(BadInput::kBlobHttp);
      log_.Warn(BadInput::kBlobHttp, peer_, "a GET or HEAD with a body");
      exchange.close = true;
      co_await RespondError(exchange, 400, "InvalidInput", "a GET or HEAD request has no body");
      co_return;
    }
    auto target = ParseTarget(std::string_view(request.target().data(), request.target().size()),
                              endpoint_.authorizer.account());
    if (!target.ok()) {
      stats_.CountBadInput(BadInput::kBlobHttp);
      log_.Warn(BadInput::kBlobHttp, peer_, target.status().message());
      if (!co_await RespondError(exchange, 400, "InvalidUri", target.status().message())) {
        co_return;
      }
      if (exchange.close) co_return;
      continue;
    }
    exchange.target = std::move(*target);
    co_await Answer(exchange);
    if (exchange.close || closed_) co_return;
  }
}

std::string BlobConnection::Head(const Exchange& exchange, int status, const Fields& fields,
                                 uint64_t content_length) const {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + std::string(Reason(status)) +
                    "\r\nServer: kvtier\r\nx-ms-request-id: " + exchange.request_id +
                    "\r\nx-ms-version: " + exchange.version +
                    "\r\nDate: " + HttpDateOf(std::time(nullptr)) + "\r\n";
  if (!exchange.client_request_id.empty()) {
    out += "x-ms-client-request-id: " + exchange.client_request_id + "\r\n";
  }
  for (const auto& [name, value] : fields) out += name + ": " + value + "\r\n";
  if (status != 304) out += "Content-Length: " + std::to_string(content_length) + "\r\n";
  if (exchange.close) out += "Connection: close\r\n";
  out += "\r\n";
  return out;
}

asio::awaitable<bool> BlobConnection::Write(std::vector<asio::const_buffer> buffers) {
  if (closed_) co_return false;
  SetDeadline(Clock::now() + config_.frame_timeout);  // a peer that stops reading is cut
  boost::system::error_code ec;
  const size_t n = co_await asio::async_write(socket_, buffers, Redirect(ec));
  ClearDeadline();
  stats_.bytes_sent.fetch_add(n, std::memory_order_relaxed);
  if (ec) CloseSocket();
  co_return !ec;
}

asio::awaitable<bool> BlobConnection::Respond(const Exchange& exchange, int status,
                                              const Fields& fields, std::string body,
                                              std::string content_type) {
  Fields all = fields;
  if (!content_type.empty()) all.emplace_back("Content-Type", std::string(content_type));
  const std::string head = Head(exchange, status, all, body.size());
  std::vector<asio::const_buffer> buffers{asio::buffer(head)};
  if (!exchange.head && !body.empty()) buffers.push_back(asio::buffer(body));
  co_return co_await Write(std::move(buffers));
}

asio::awaitable<bool> BlobConnection::RespondError(const Exchange& exchange, int status,
                                                   std::string code, std::string message) {
  const std::string body = ErrorXml(code, message, exchange.request_id);
  Fields fields{{"x-ms-error-code", std::string(code)}};
  co_return co_await Respond(exchange, status, fields, body, "application/xml");
}

asio::awaitable<bool> BlobConnection::RespondStatus(const Exchange& exchange, Status status,
                                                    std::string missing) {
  switch (status.code()) {
    case StatusCode::kNotFound:
      co_return co_await RespondError(exchange, 404, missing, status.message());
    case StatusCode::kPermissionDenied:
      co_return co_await RespondError(exchange, 403, "AuthorizationPermissionMismatch",
                                      status.message());
    case StatusCode::kInvalidArgument:
    case StatusCode::kUnsupported:
      co_return co_await RespondError(exchange, 400, "InvalidInput", status.message());
    case StatusCode::kResourceExhausted:
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
      co_return co_await RespondError(exchange, 503, "ServerBusy", status.message());
    default:
      co_return co_await RespondError(exchange, 500, "InternalError", status.message());
  }
}

std::unique_ptr<BlobConnection::PendingCall> BlobConnection::StartCall(
    protocol::Opcode opcode, const protocol::Metadata& request, const Access& access) {
  auto call = std::make_unique<PendingCall>(
      PendingCall{std::nullopt, Rendezvous<Result<ReplyBody>>(socket_.get_executor())});
  const auto bytes = request.bytes();
  call->answer = service_.Handle(opcode, std::vector<std::byte>(bytes.begin(), bytes.end()),
                                 call->reply.Callback(), access);
  return call;
}

asio::awaitable<Result<ReplyBody>> BlobConnection::Finish(std::unique_ptr<PendingCall> call) {
  if (call->answer) co_return std::move(*call->answer);
  co_return co_await call->reply.Wait();
}

}  // namespace kvtier::server::blob_endpoint
