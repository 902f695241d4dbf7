#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace kvtier {

// Every error kvtier reports, in one list. The numeric values travel on the
// wire (docs/protocol.md, "Status codes"), so they never change meaning; new
// codes are only appended.
enum class StatusCode : uint8_t {
  kOk = 0,
  kInvalidArgument = 1,    // the request breaks a rule or a limit; do not retry as is
  kNotFound = 2,           // the key is not stored
  kResourceExhausted = 3,  // out of room, queue or connection slots; retry later
  kUnavailable = 4,        // shutting down or a tier is temporarily away; retry later
  kDeadlineExceeded = 5,   // a time limit passed; retry may help
  kCorruption = 6,         // bytes failed their checksum; never served
  kUnknownNamespace = 7,   // the namespace is not configured on this server
  kUnsupported = 8,        // unknown operation, version or option
  kProtocolError = 9,      // the byte stream is malformed; the connection is closed
  kIoError = 10,           // a local disk or socket failed
  kInternal = 11,          // a bug in kvtier
  kUnauthenticated = 12,   // no valid access token was presented in Hello
  kPermissionDenied = 13,  // the token does not grant this on this namespace
};

inline constexpr uint8_t kMaxStatusCode = static_cast<uint8_t>(StatusCode::kPermissionDenied);

// Stable lower-case name of a code, as used in logs and metrics.
std::string_view StatusCodeName(StatusCode code);

// True for codes where the same request may succeed later unchanged.
constexpr bool IsRetryable(StatusCode code) {
  return code == StatusCode::kResourceExhausted || code == StatusCode::kUnavailable ||
         code == StatusCode::kDeadlineExceeded;
}

// The outcome of an operation: a code, a human-readable message and whether a
// retry can help (derived from the code). An OK status carries no message and
// costs no allocation.
class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  const std::string& message() const { return message_; }
  bool retryable() const { return IsRetryable(code_); }

  // "code: message", or "ok".
  std::string ToString() const;

  // Explicitly drops a status the caller has decided not to act on.
  void IgnoreError() const {}

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.message_ == b.message_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

inline Status InvalidArgument(std::string msg) {
  return {StatusCode::kInvalidArgument, std::move(msg)};
}
inline Status NotFound(std::string msg) { return {StatusCode::kNotFound, std::move(msg)}; }
inline Status ResourceExhausted(std::string msg) {
  return {StatusCode::kResourceExhausted, std::move(msg)};
}
inline Status Unavailable(std::string msg) { return {StatusCode::kUnavailable, std::move(msg)}; }
inline Status DeadlineExceeded(std::string msg) {
  return {StatusCode::kDeadlineExceeded, std::move(msg)};
}
inline Status Corruption(std::string msg) { return {StatusCode::kCorruption, std::move(msg)}; }
inline Status UnknownNamespace(std::string msg) {
  return {StatusCode::kUnknownNamespace, std::move(msg)};
}
inline Status Unsupported(std::string msg) { return {StatusCode::kUnsupported, std::move(msg)}; }
inline Status ProtocolError(std::string msg) {
  return {StatusCode::kProtocolError, std::move(msg)};
}
inline Status IoError(std::string msg) { return {StatusCode::kIoError, std::move(msg)}; }
inline Status Unauthenticated(std::string msg) {
  return {StatusCode::kUnauthenticated, std::move(msg)};
}
inline Status PermissionDenied(std::string msg) {
  return {StatusCode::kPermissionDenied, std::move(msg)};
}
inline Status Internal(std::string msg) { return {StatusCode::kInternal, std::move(msg)}; }

}  // namespace kvtier

// Returns the status of `expr` from the enclosing function if it is not OK.
#define KVTIER_RETURN_IF_ERROR(expr)                 \
  do {                                               \
    ::kvtier::Status kvtier_status_ = (expr);        \
    if (!kvtier_status_.ok()) return kvtier_status_; \
  } while (false)
