#include "server/server_stats.h"

namespace kvtier::server {

std::string_view BadInputName(BadInput kind) {
  switch (kind) {
    case BadInput::kBadMagic:
      return "bad_magic";
    case BadInput::kBadVersion:
      return "bad_version";
    case BadInput::kBadHeader:
      return "bad_header";
    case BadInput::kOversize:
      return "oversize";
    case BadInput::kTruncated:
      return "truncated";
    case BadInput::kVerifyFailed:
      return "verify_failed";
    case BadInput::kInvalidRequest:
      return "invalid_request";
    case BadInput::kUnknownOpcode:
      return "unknown_opcode";
    case BadInput::kUnknownNamespace:
      return "unknown_namespace";
    case BadInput::kChecksumMismatch:
      return "checksum_mismatch";
    case BadInput::kIdleTimeout:
      return "idle_timeout";
    case BadInput::kFrameTimeout:
      return "frame_timeout";
    case BadInput::kWriteTimeout:
      return "write_timeout";
    case BadInput::kUnauthenticated:
      return "unauthenticated";
    case BadInput::kPermissionDenied:
      return "permission_denied";
    case BadInput::kTlsHandshake:
      return "tls_handshake";
    case BadInput::kRespProtocol:
      return "resp_protocol";
    case BadInput::kBlobHttp:
      return "blob_http";
    case BadInput::kCount:
      break;
  }
  return "unknown";
}

BadInput BadInputFromFrameProblem(protocol::FrameProblem problem) {
  switch (problem) {
    case protocol::FrameProblem::kBadMagic:
      return BadInput::kBadMagic;
    case protocol::FrameProblem::kBadVersion:
      return BadInput::kBadVersion;
    case protocol::FrameProblem::kOversize:
      return BadInput::kOversize;
    case protocol::FrameProblem::kBadHeader:
    case protocol::FrameProblem::kNone:
      break;
  }
  return BadInput::kBadHeader;
}

}  // namespace kvtier::server
