#include "tiers/blob/http_connection.h"

// Boost 1.74's Asio needs <utility> before its headers under C++20.
#include <utility>

#include <sys/socket.h>
#include <sys/time.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

namespace kvtier::tiers::blob {
namespace {

// Plain-text bodies from this size on are read by ReadBodyDirect.
constexpr uint64_t kDirectBodyBytes = 256 << 10;
// A sink gets a streamed body in pieces of this size (the last may be less).
constexpr uint64_t kSinkPieceBytes = 1 << 20;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = asio::ip::tcp;

// Maps a socket-level error to a status. The message names the operation but
// never the request target (a SAS token lives in its query).
Status FromNetwork(const beast::error_code& ec, const std::string& what) {
  if (ec == beast::error::timeout) return DeadlineExceeded(what + ": timed out");
  if (ec == http::error::body_limit) return ResourceExhausted(what + ": response body too large");
  // The peer closed mid-exchange (a stale keep-alive, a crash): retryable.
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) {
    return Unavailable(what + ": connection closed by the blob service");
  }
  if (ec.category() == http::make_error_code(http::error::bad_version).category()) {
    return ProtocolError(what + ": malformed HTTP: " + ec.message());
  }
  return Unavailable(what + ": " + ec.message());
}

}  // namespace

Result<Endpoint> Endpoint::Parse(std::string_view url, std::string* base_path) {
  Endpoint endpoint;
  if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else if (url.starts_with("https://")) {
    url.remove_prefix(8);
    endpoint.tls = true;
  } else {
    return InvalidArgument("blob endpoint must start with http:// or https://");
  }
  const size_t slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : url.substr(slash);
  while (path.ends_with('/')) path.remove_suffix(1);
  endpoint.port = endpoint.tls ? 443 : 80;
  const size_t colon = authority.rfind(':');
  if (colon != std::string_view::npos) {
    const std::string_view port = authority.substr(colon + 1);
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return InvalidArgument("blob endpoint has a bad port");
    }
    endpoint.port = static_cast<uint16_t>(value);
    authority = authority.substr(0, colon);
  }
  if (authority.empty()) return InvalidArgument("blob endpoint has no host");
  endpoint.host = std::string(authority);
  if (base_path != nullptr) *base_path = std::string(path);
  return endpoint;
}

std::string HttpResponse::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? std::string() : it->second;
}

struct HttpConnection::Impl {
  asio::io_context io;
  std::optional<asio::ssl::context> tls_context;
  std::optional<beast::tcp_stream> plain;
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;

  beast::tcp_stream& lowest() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  // Starts one asynchronous operation, `start(stream, handler)` with the
  // TLS or the plain stream, and runs the private io_context until it
  // completes; the stream's timer bounds it by `deadline`.
  template <typename Start>
  beast::error_code Run(Deadline deadline, Start start) {
    lowest().expires_at(deadline);
    beast::error_code result = asio::error::would_block;
    auto handler = [&result](beast::error_code ec, auto&&...) { result = ec; };
    if (tls) {
      start(*tls, handler);
    } else {
      start(*plain, handler);
    }
    io.restart();
    io.run();
    return result;
  }
};

Status HttpConnection::ReadBodyDirect(uint64_t length, Deadline deadline, char* into,
                                      const BodySink* sink, const BodyTarget* target) {
  // Blocking MSG_WAITALL receives (bounded by SO_RCVTIMEO): the event loop
  // would wake for every small segment a slow sender writes.
  auto& socket = impl_->plain->socket();
  beast::error_code ec;
  socket.native_non_blocking(false, ec);
  if (ec) return Unavailable("reading a blob response: " + ec.message());
  const int fd = socket.native_handle();
  // With a sink the deadline bounds each piece, not the whole body: a sink
  // may wait for its own reader (backpressure), and a slow reader must not
  // spend the time the sender has for the bytes still to come.
  const auto piece_budget = deadline - std::chrono::steady_clock::now();
  uint64_t done = 0;  // bytes of the body received (and, with a sink, handed on)
  while (done < length) {
    // Where this piece goes: memory the sink offered (no copy after the
    // receive), else `into` (a piece of kSinkPieceBytes for a sink, the
    // whole body without one).
    std::span<std::byte> offered;
    if (sink != nullptr && target != nullptr) offered = (*target)(done);
    char* piece = offered.empty() ? into : reinterpret_cast<char*>(offered.data());
    const uint64_t piece_bytes = std::min<uint64_t>(
        length - done,
        !offered.empty() ? offered.size() : (sink != nullptr ? kSinkPieceBytes : length));
    // Body bytes that arrived with the header first.
    uint64_t filled = std::min<uint64_t>(impl_->buffer.size(), piece_bytes);
    asio::buffer_copy(asio::buffer(piece, filled), impl_->buffer.data());
    impl_->buffer.consume(filled);
    while (filled < piece_bytes) {
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero()) {
        return DeadlineExceeded("reading a blob response: timed out");
      }
      const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(left).count();
      timeval timeout{.tv_sec = static_cast<time_t>(micros / 1'000'000),
                      .tv_usec = static_cast<suseconds_t>(micros % 1'000'000)};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
      const ssize_t n = recv(fd, piece + filled, piece_bytes - filled, MSG_WAITALL);
      if (n > 0) {
        filled += static_cast<uint64_t>(n);
      } else if (n == 0) {
        return Unavailable("reading a blob response: connection closed by the blob service");
      } else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
        return Unavailable(std::string("reading a blob response: ") + std::strerror(errno));
      }
    }
    if (sink != nullptr) {
      KVTIER_RETURN_IF_ERROR((*sink)(done, std::as_bytes(std::span(piece, filled))));
      deadline = std::max(deadline, std::chrono::steady_clock::now() + piece_budget);
    } else {
      into += filled;
    }
    done += filled;
  }
  socket.native_non_blocking(true, ec);
  return Status::Ok();
}

HttpConnection::HttpConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpConnection::~HttpConnection() = default;

Result<std::unique_ptr<HttpConnection>> HttpConnection::Connect(const Endpoint& endpoint,
                                                                Deadline deadline) {
  auto impl = std::make_unique<Impl>();
  beast::error_code ec;
  tcp::resolver resolver(impl->io);
  const auto addresses = resolver.resolve(endpoint.host, std::to_string(endpoint.port), ec);
  if (ec) return Unavailable("resolving the blob endpoint " + endpoint.host + ": " + ec.message());
  if (endpoint.tls) {
    impl->tls_context.emplace(asio::ssl::context::tls_client);
    if (endpoint.ca_file.empty()) {
      impl->tls_context->set_default_verify_paths(ec);
    } else {
      impl->tls_context->load_verify_file(endpoint.ca_file, ec);
    }
    if (ec) return InvalidArgument("loading TLS trust anchors: " + ec.message());
    impl->tls_context->set_verify_mode(asio::ssl::verify_peer);
    impl->tls.emplace(impl->io, *impl->tls_context);
    if (!SSL_set_tlsext_host_name(impl->tls->native_handle(), endpoint.host.c_str())) {
      return Internal("setting TLS SNI failed");
    }
    impl->tls->set_verify_callback(asio::ssl::host_name_verification(endpoint.host));
  } else {
    impl->plain.emplace(impl->io);
  }
  ec = impl->Run(deadline,
                 [&](auto&, auto handler) { impl->lowest().async_connect(addresses, handler); });
  if (ec) return FromNetwork(ec, "connecting to the blob endpoint " + endpoint.host);
  impl->lowest().socket().set_option(tcp::no_delay(true), ec);
  if (impl->tls) {
    ec = impl->Run(deadline, [&](auto&, auto handler) {
      impl->tls->async_handshake(asio::ssl::stream_base::client, handler);
    });
    if (ec) return FromNetwork(ec, "TLS handshake with " + endpoint.host);
  }
  return std::unique_ptr<HttpConnection>(new HttpConnection(std::move(impl)));
}

Result<HttpResponse> HttpConnection::RoundTrip(const HttpRequest& request, Deadline deadline,
                                               uint64_t max_body_bytes) {
  reusable_ = false;  // until the exchange completes cleanly
  http::request<http::span_body<const char>> message;
  message.method_string(request.verb);
  message.target(request.target);
  message.version(11);
  for (const HeaderField& field : request.headers) message.set(field.name, field.value);
  message.body() = {reinterpret_cast<const char*>(request.body.data()), request.body.size()};
  message.prepare_payload();
  if (request.body.empty() && request.verb == "PUT") message.content_length(0);

  beast::error_code ec = impl_->Run(
      deadline, [&](auto& stream, auto handler) { http::async_write(stream, message, handler); });
  if (ec) return FromNetwork(ec, "sending a blob request");

  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body_bytes);
  parser.header_limit(64 * 1024);
  if (request.verb == "HEAD") parser.skip(true);
  ec = impl_->Run(deadline, [&](auto& stream, auto handler) {
    http::async_read_header(stream, impl_->buffer, parser, handler);
  });
  if (ec) return FromNetwork(ec, "reading a blob response");

  const int status = static_cast<int>(parser.get().result_int());
  const BodySink* sink = status >= 200 && status < 300 ? request.body_sink : nullptr;
  std::string large_body;
  uint64_t sunk = 0;
  const auto length = parser.content_length();
  if (!impl_->tls && !parser.is_done() && length &&
      (sink != nullptr || (*length >= kDirectBodyBytes && *length <= max_body_bytes))) {
    if (sink != nullptr) {
      // Streamed: pieces to the sink, never the whole body in memory.
      std::string piece(std::min<uint64_t>(*length, kSinkPieceBytes), '\0');
      KVTIER_RETURN_IF_ERROR(
          ReadBodyDirect(*length, deadline, piece.data(), sink, request.body_target));
      sunk = *length;
    } else {
      // Large plain-text body: straight into its final buffer.
      large_body.assign(*length, '\0');
      KVTIER_RETURN_IF_ERROR(
          ReadBodyDirect(*length, deadline, large_body.data(), nullptr, nullptr));
    }
  } else if (!parser.is_done()) {
    ec = impl_->Run(deadline, [&](auto& stream, auto handler) {
      http::async_read(stream, impl_->buffer, parser, handler);
    });
    if (ec) return FromNetwork(ec, "reading a blob response");
  }

  auto& got = parser.get();
  HttpResponse response;
  response.status = status;
  for (const auto& field : got) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    response.headers[std::move(name)] = std::string(field.value());
  }
  response.body = large_body.empty() ? std::move(got.body()) : std::move(large_body);
  if (sink != nullptr && sunk == 0 && !response.body.empty()) {
    // TLS, or no Content-Length: the body was collected; hand it on whole.
    KVTIER_RETURN_IF_ERROR((*sink)(0, std::as_bytes(std::span(response.body))));
    sunk = response.body.size();
    response.body.clear();
  }
  response.sunk_bytes = sunk;
  reusable_ = got.keep_alive();
  return response;
}

}  // namespace kvtier::tiers::blob
