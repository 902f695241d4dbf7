#pragma once

// One keep-alive HTTP/1.1 connection (plain TCP or TLS) with blocking calls
// that each end by a deadline. Used only from worker threads (the Blob tier's
// pool): a call blocks for network I/O.
//
// How the deadline works: the connection owns a private io_context and runs
// Beast's asynchronous operations on it with a stream timeout, so a stalled
// peer ends the call with kDeadlineExceeded instead of hanging the thread.
//
// Not thread-safe: one call at a time (the BlobClient pools connections).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "tiers/blob/auth.h"

namespace kvtier::tiers::blob {

struct Endpoint {
  bool tls = false;
  std::string host;
  uint16_t port = 0;
  std::string ca_file;  // TLS: extra CA bundle to trust (empty: system store)

  // Parses "http://host:port" or "https://host[:port]"; any path is
  // returned in `base_path` (e.g. "/devstoreaccount1" for Azurite).
  static Result<Endpoint> Parse(std::string_view url, std::string* base_path);
};

// Takes a response body in pieces, in order, as it arrives; `at` is the
// offset of `bytes` in the body. A non-OK status stops the read (and the
// connection is dropped) and is what the call returns.
using BodySink = std::function<Status(uint64_t at, std::span<const std::byte> bytes)>;
// Offers memory for the body's bytes from `at` on: they are received
// straight into it and the sink is then handed that memory (no copy in
// between). Empty: the connection's own buffer. Plain HTTP only.
using BodyTarget = std::function<std::span<std::byte>(uint64_t at)>;

struct HttpRequest {
  std::string verb;    // GET, PUT, HEAD, DELETE
  std::string target;  // path and query, percent-encoded
  std::vector<HeaderField> headers;
  std::span<const std::byte> body;
  // With a sink, the body of a 2xx response goes to it instead of into
  // HttpResponse::body (other statuses' bodies are collected as usual).
  const BodySink* body_sink = nullptr;
  const BodyTarget* body_target = nullptr;  // with body_sink only
};

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  uint64_t sunk_bytes = 0;  // body bytes handed to the request's sink
  // Header value or empty.
  std::string Header(const std::string& lower_name) const;
};

using Deadline = std::chrono::steady_clock::time_point;

class HttpConnection {
 public:
  // Errors: kUnavailable (resolve, connect or TLS handshake failed),
  // kDeadlineExceeded.
  static Result<std::unique_ptr<HttpConnection>> Connect(const Endpoint& endpoint,
                                                         Deadline deadline);
  ~HttpConnection();

  // Sends `request` and reads the whole response; bodies over
  // `max_body_bytes` are refused (kResourceExhausted). Errors: kUnavailable
  // (the connection broke: reset, EOF; safe to retry on a new connection),
  // kDeadlineExceeded, kProtocolError (the peer sent malformed HTTP). After
  // any error the connection must be dropped.
  Result<HttpResponse> RoundTrip(const HttpRequest& request, Deadline deadline,
                                 uint64_t max_body_bytes);

  // False once the server asked to close or an error happened.
  bool reusable() const { return reusable_; }

 private:
  struct Impl;
  explicit HttpConnection(std::unique_ptr<Impl> impl);
  // Reads a plain-text body of `length` bytes with blocking receives into
  // `into` (length bytes), or with `sink`, in pieces handed to it: each
  // into the memory `target` offers for it, else into `into` (then a
  // buffer of kSinkPieceBytes). With a sink, `deadline` bounds each piece
  // (the time left at the start, again after each piece handed on).
  Status ReadBodyDirect(uint64_t length, Deadline deadline, char* into, const BodySink* sink,
                        const BodyTarget* target);
  std::unique_ptr<Impl> impl_;
  bool reusable_ = true;
};

}  // namespace kvtier::tiers::blob
