#pragma once

// Request semantics, independent of how bytes arrive: decodes a request,
// resolves its namespace and checks access, makes one whole call on the tier
// stack (TierStack::Get, GetPrefix, Put, Erase, Match) and encodes the
// reply. Called from network threads and never blocks there: the stack does
// what memory can do inline and finishes the rest on its worker pool, and
// such a reply arrives through the request's DeferredReply. Thread-safe.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/worker_pool.h"
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "server/auth.h"
#include "server/config.h"
#include "server/metrics.h"
#include "server/server_stats.h"
#include "tiers/tier.h"
#include "tiers/tier_stack.h"

namespace kvtier::server {

struct NamespaceState {
  uint32_t id = 0;
  std::string name;
  NamespaceKind kind = NamespaceKind::kKv;
  std::string model;                             // canonical model identity, "" for none
  uint32_t ttl_ms = 0;                           // default expiry of puts (0: never)
  tiers::PinLevel pin = tiers::PinLevel::kNone;  // default pin of puts
  bool bulk = false;                             // default request class
  std::atomic<uint64_t> hits{0};
  std::atomic<uint64_t> misses{0};
  std::atomic<uint64_t> puts{0};
  std::atomic<uint64_t> put_bytes{0};
  std::atomic<uint64_t> get_bytes{0};
  std::atomic<uint64_t> deletes{0};
  std::atomic<uint64_t> rejected_puts{0};
  DepthHistogram match_depth;  // leading blocks each MatchPrefix found
};

// One piece of a reply's payload: bytes of a pinned block, all of them or a
// slice (a ReadRange answers with parts of its first and last blocks).
struct PayloadPiece {
  tiers::BlockHandle block;
  std::span<const std::byte> bytes;  // within block.bytes()

  static PayloadPiece Whole(tiers::BlockHandle block) {
    const std::span<const std::byte> bytes = block.bytes();
    return {std::move(block), bytes};
  }
};

// A reply body: metadata, then the bytes of the `payload` pieces in order.
// The pieces pin their blocks until the reply has been written.
struct ReplyBody {
  protocol::Metadata metadata;
  std::vector<PayloadPiece> payload;
  uint64_t payload_bytes = 0;
};

// A put whose value bytes are still arriving. blocks[i] is empty where
// codes[i] is already an error (the value's bytes are then discarded).
struct PendingPut {
  NamespaceState* ns = nullptr;
  std::vector<std::byte> metadata;  // owned: `request` views into it
  protocol::PutRequest request;
  std::vector<tiers::WritableBlock> blocks;
  std::vector<StatusCode> codes;
  // Checksums the server computed itself from the bytes as they arrived
  // (the RESP endpoint: it is the edge), one per block: FinishPut seals the
  // blocks with them instead of reading the values once more. Empty: it
  // computes them (and checks the request's, when the client sent some).
  std::vector<uint64_t> edge_checksums;
};

// A keys request (Get, Delete) that may finish on a worker: it owns its
// metadata because `request` views into it.
struct KeysJob {
  std::vector<std::byte> metadata;
  protocol::KeysRequest request;
  NamespaceState* ns = nullptr;
};

// Receives the reply of a request the Service could not answer inline.
// Called exactly once: from a worker, the demotion thread or an uploader
// thread, or from the calling thread before the call that took it returns
// nullopt (the connection posts the reply, so either order works).
using DeferredReply = std::function<void(Result<ReplyBody>)>;

// The wire tier of a stack location (origins are Blob on the wire).
protocol::TierId ToWireTier(tiers::Location location);

// What a namespace reads through and lists (a dataset's origin container).
struct NamespaceSources {
  tiers::BlockSource* origin = nullptr;             // read-through source of missing blocks
  tiers::ObjectCatalog* objects = nullptr;          // List, Stat and ReadRange
  tiers::CheckpointCatalog* checkpoints = nullptr;  // object writes (checkpoint namespaces)
  tiers::ObjectPublisher* publisher = nullptr;      // copies checkpoints to Blob
};

class Service {
 public:
  // `sources[i]`, when given, serves config.namespaces[i]; sources must
  // outlive the service.
  Service(const ServerConfig& config, tiers::TierStack& stack, ServerStats& stats,
          const std::vector<NamespaceSources>& sources = {});
  ~Service();  // StopWorkers()

  const protocol::Limits& limits() const { return limits_; }
  // Every counter Stats reports (also rendered on /metrics).
  protocol::StatsResponse Snapshot();
  // The per-namespace histograms /metrics renders besides the snapshot.
  std::vector<NamespaceHistograms> Histograms() const;
  const std::string& server_id() const { return server_id_; }

  // Decodes and checks a Put, resolves its namespace and allocates a block
  // for each value. An error is a whole-request failure: the caller discards
  // the payload and answers with it.
  // `access` is the connection's (Access::Everything() without tokens): a
  // namespace it does not grant is kPermissionDenied.
  // `checksums_trail`: the frame's kChecksumsTrail flag; the checksums then
  // follow the values (TakeTrailingChecksums).
  Result<PendingPut> BeginPut(std::vector<std::byte> metadata, uint64_t payload_length,
                              const Access& access, bool checksums_trail = false);

  // The bytes after the values of a kChecksumsTrail put: one little-endian
  // u64 per value, which become the request's checksums. `trailer` must be
  // TrailerBytes(put) long.
  static void TakeTrailingChecksums(PendingPut& put, std::span<const std::byte> trailer);
  static uint64_t TrailerBytes(const PendingPut& put) {
    return protocol::kTrailingChecksumBytes * put.request.keys.size();
  }

  // Verifies each received value against its checksum and publishes it.
  // Returns the reply, or nullopt when `deferred` will deliver it.
  std::optional<Result<ReplyBody>> FinishPut(PendingPut put, const DeferredReply& deferred);

  // Every operation other than Put. Errors are whole-request failures.
  // Returns the reply, or nullopt when `deferred` will deliver it.
  std::optional<Result<ReplyBody>> Handle(protocol::Opcode opcode, std::vector<std::byte> metadata,
                                          const DeferredReply& deferred, const Access& access);

  // What a Hello asking for RDMA is told where its connection sets up no
  // queue pair (no device, RDMA off); set once at start, before any
  // connection.
  void SetRdmaRefusal(std::string why) { rdma_refusal_ = std::move(why); }

  // A connection's answer to a Hello asking for RDMA: the queue pair it set
  // up, or why not; neither: the refusal set above.
  struct RdmaAnswer {
    std::optional<protocol::RdmaEndpoint> endpoint;
    std::string refusal;
  };
  // Answers Hello: versions, limits, the namespaces `access` may read, and
  // the RDMA answer.
  Result<ReplyBody> Hello(std::span<const std::byte> metadata, const Access& access,
                          const RdmaAnswer& rdma = {});

  // For the RESP endpoint (server/resp/), beyond the wire protocol's
  // requests: the kind of namespace `name` (kUnknownNamespace when none);
  // the keys it holds in DRAM and on NVMe, a page from `cursor` on (SCAN),
  // and how many (DBSIZE), both finished on the stack's workers through
  // `done` unless they return an error (permission, unknown namespace, the
  // pool full).
  Result<NamespaceKind> KindOf(std::string_view name) const;
  // The first kv or kb namespace configured ("" when none).
  std::string FirstKeyValueNamespace() const;
  Status ScanKeys(std::string_view name, const Access& access, uint64_t cursor, size_t limit,
                  tiers::KeyPageDone done);
  Status CountKeys(std::string_view name, const Access& access, tiers::KeyCountDone done);

  // Checks the access tokens of Hello; see server/auth.h.
  const Authenticator& authenticator() const { return authenticator_; }

  // Runs the worker jobs already queued, then stops the pool; later
  // requests that need a worker get kResourceExhausted. Call after the listeners
  // have drained and while their event loops can still take completions.
  void StopWorkers();

 private:
  static bool Grants(const Access& access, const NamespaceState& ns, Grant need);
  // The namespace `name`, if `access` grants `need` on it.
  Result<NamespaceState*> Resolve(std::string_view name, const Access& access, Grant need);
  using Answer = std::optional<Result<ReplyBody>>;
  Answer Get(std::vector<std::byte> metadata, const DeferredReply& deferred, const Access& access);
  Result<ReplyBody> Exists(std::span<const std::byte> metadata, const Access& access);
  Answer Delete(std::vector<std::byte> metadata, const DeferredReply& deferred,
                const Access& access);
  Result<ReplyBody> MatchPrefix(std::span<const std::byte> metadata, const Access& access);
  Result<ReplyBody> Release(std::span<const std::byte> metadata);
  // The longest contiguous prefix deliverable by the request's deadline.
  Answer GetPrefix(std::vector<std::byte> metadata, const DeferredReply& deferred,
                   const Access& access);
  // Answers once the write-backs named (or all pending) are in Blob.
  Answer Flush(std::vector<std::byte> metadata, const DeferredReply& deferred,
               const Access& access);
  Result<ReplyBody> Stats(std::span<const std::byte> metadata);
  // Objects (server/object_service.cc): complete on the stack's workers.
  Answer ListObjects(std::span<const std::byte> metadata, const DeferredReply& deferred,
                     const Access& access);
  Answer StatObject(std::span<const std::byte> metadata, const DeferredReply& deferred,
                    const Access& access);
  Answer ReadRange(std::span<const std::byte> metadata, const DeferredReply& deferred,
                   const Access& access);
  // CreateObject, CommitObject, AbortObject, RenameObject, DeleteObject.
  Answer WriteObject(protocol::Opcode opcode, std::span<const std::byte> metadata,
                     const DeferredReply& deferred, const Access& access);
  // A stack object operation that did not start, with the namespace named.
  Status NotStarted(const NamespaceState& ns, Status status);
  // Takes `metadata`, decodes it into `job` and resolves its namespace.
  Status DecodeKeysJob(std::vector<std::byte> metadata, KeysJob& job, const Access& access,
                       Grant need);
  // Bulk when the namespace is, or the request asks for it.
  static JobClass ClassOf(const NamespaceState& ns, bool bulk_requested);
  // Counts a rejected request by the kind its status shows.
  Status Reject(Status status);

  const std::string server_name_;
  const std::string server_id_;
  const protocol::Limits limits_;
  const std::vector<std::string> transports_;  // offered in Hello
  std::string rdma_refusal_ = "this server sets up no RDMA queue pairs; values go over the stream";
  const std::chrono::steady_clock::time_point started_;
  tiers::TierStack& stack_;
  ServerStats& stats_;
  std::vector<std::unique_ptr<NamespaceState>> namespaces_;
  const Authenticator authenticator_;
};

}  // namespace kvtier::server
