#pragma once

// Request semantics, independent of how bytes arrive: resolves namespaces,
// runs each batched operation against the tiers and builds the reply. Called
// from network threads; every method here is non-blocking while only the
// DRAM tier exists. Thread-safe.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "server/config.h"
#include "server/server_stats.h"
#include "tiers/tier.h"

namespace kvtier::server {

struct NamespaceState {
  uint32_t id = 0;
  std::string name;
  NamespaceKind kind = NamespaceKind::kKv;
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> puts{0};
  std::atomic<uint64_t> put_bytes{0};
  std::atomic<uint64_t> get_bytes{0};
  std::atomic<uint64_t> deletes{0};
  std::atomic<uint64_t> rejected_puts{0};
};

// A reply body: metadata, then the bytes of `payload` blocks in order. The
// handles pin the blocks until the reply has been written.
struct ReplyBody {
  protocol::Metadata metadata;
  std::vector<tiers::BlockHandle> payload;
  uint64_t payload_bytes = 0;
};

// A put whose value bytes are still arriving. blocks[i] is empty where
// codes[i] is already an error (the value's bytes are then discarded).
struct PendingPut {
  NamespaceState* ns = nullptr;
  protocol::PutRequest request;  // views into the frame's metadata buffer
  std::vector<tiers::WritableBlock> blocks;
  std::vector<StatusCode> codes;
};

class Service {
 public:
  Service(const ServerConfig& config, tiers::Tier& dram, ServerStats& stats);

  const protocol::Limits& limits() const { return limits_; }
  const std::string& server_id() const { return server_id_; }

  // Decodes and checks a Put, resolves its namespace and allocates a block
  // for each value. An error is a whole-request failure: the caller discards
  // the payload and answers with it.
  Result<PendingPut> BeginPut(std::span<const std::byte> metadata, uint64_t payload_length);

  // Verifies each received value against its checksum and publishes it.
  ReplyBody FinishPut(PendingPut put);

  // Every operation other than Put. Errors are whole-request failures.
  Result<ReplyBody> Handle(protocol::Opcode opcode, std::span<const std::byte> metadata);

 private:
  Result<NamespaceState*> Resolve(std::string_view name);
  Result<ReplyBody> Hello(std::span<const std::byte> metadata);
  Result<ReplyBody> Get(std::span<const std::byte> metadata);
  Result<ReplyBody> Exists(std::span<const std::byte> metadata);
  Result<ReplyBody> Delete(std::span<const std::byte> metadata);
  Result<ReplyBody> MatchPrefix(std::span<const std::byte> metadata);
  Result<ReplyBody> Stats(std::span<const std::byte> metadata);
  // Counts a rejected request by the kind its status shows.
  Status Reject(Status status);

  const std::string server_name_;
  const std::string server_id_;
  const protocol::Limits limits_;
  const std::chrono::steady_clock::time_point started_;
  tiers::Tier& dram_;
  ServerStats& stats_;
  std::vector<std::unique_ptr<NamespaceState>> namespaces_;
};

}  // namespace kvtier::server
