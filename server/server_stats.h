#pragma once

// Process-wide counters of the server: connections, requests and bad input.
// Lock-free; read by the Stats operation (and later by /metrics).

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

#include "protocol/frame.h"
#include "server/metrics.h"

namespace kvtier::server {

// Every kind of bad input the server counts and answers (docs/protocol.md,
// "Errors and bad input").
enum class BadInput : uint8_t {
  kBadMagic,
  kBadVersion,
  kBadHeader,       // reserved bytes or unknown flags
  kOversize,        // metadata or payload length over the limits
  kTruncated,       // the peer closed in the middle of a frame
  kVerifyFailed,    // metadata failed FlatBuffers verification
  kInvalidRequest,  // verified, but breaks a rule (counts, lengths, limits)
  kUnknownOpcode,
  kUnknownNamespace,
  kChecksumMismatch,  // a put value did not match its checksum
  kIdleTimeout,
  kFrameTimeout,      // a frame started but did not finish in time
  kWriteTimeout,      // the peer stopped reading replies
  kUnauthenticated,   // no valid token in Hello, or another frame before it
  kPermissionDenied,  // a request its token does not grant
  kTlsHandshake,      // a TLS listener's handshake failed (plaintext, bad certificate)
  kRespProtocol,      // a RESP request that does not parse (the connection is closed)
  kBlobHttp,          // a Blob endpoint request that does not parse (answered 400, closed)
  kCount,
};

std::string_view BadInputName(BadInput kind);
BadInput BadInputFromFrameProblem(protocol::FrameProblem problem);

struct ServerStats {
  std::atomic<uint64_t> connections_accepted{0};
  std::atomic<uint64_t> connections_refused{0};
  std::atomic<uint64_t> connections_active{0};
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint64_t> bytes_sent{0};
  // Shared-memory transport: regions attached, and value bytes copied out of
  // and into client regions instead of crossing the socket.
  std::atomic<uint64_t> shm_regions_attached{0};
  std::atomic<uint64_t> shm_bytes_pulled{0};
  std::atomic<uint64_t> shm_bytes_pushed{0};
  // RDMA transport: queue pairs set up, value bytes the device READ from
  // clients (puts) and WROTE to them (gets), and queue pairs that failed.
  std::atomic<uint64_t> rdma_queue_pairs{0};
  std::atomic<uint64_t> rdma_bytes_read{0};
  std::atomic<uint64_t> rdma_bytes_written{0};
  std::atomic<uint64_t> rdma_failures{0};
  // RESP endpoint: commands served, and those it does not know.
  std::atomic<uint64_t> resp_commands{0};
  std::atomic<uint64_t> resp_unknown_commands{0};
  // Blob-compatible endpoint: requests answered, those refused for their
  // credentials, and body bytes sent.
  std::atomic<uint64_t> blob_requests{0};
  std::atomic<uint64_t> blob_auth_failures{0};
  std::atomic<uint64_t> blob_bytes_sent{0};
  // By opcode; [0] counts unknown ones.
  std::array<std::atomic<uint64_t>, protocol::kMaxOpcode + 1> requests{};
  std::array<std::atomic<uint64_t>, static_cast<size_t>(BadInput::kCount)> bad_input{};
  // By opcode: request fully received to reply queued (lookups, tier reads,
  // worker waits), and the reply's write to the socket.
  std::array<LatencyHistogram, protocol::kMaxOpcode + 1> service_latency{};
  std::array<LatencyHistogram, protocol::kMaxOpcode + 1> transfer_latency{};

  void CountBadInput(BadInput kind) {
    bad_input[static_cast<size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
  }
  uint64_t BadInputCount(BadInput kind) const {
    return bad_input[static_cast<size_t>(kind)].load(std::memory_order_relaxed);
  }
};

}  // namespace kvtier::server
