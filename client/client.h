#pragma once

// The kvtier C++ client: one connection to one server, with pipelining. The
// connection is TCP, or a Unix socket with a shared memory region when the
// client runs on the server's host (ClientOptions::unix_socket): the same
// operations, but value bytes are copied once through the region instead of
// through the kernel (docs/transports.md).
//
// Every operation is batched and comes in two forms: `XxxAsync` returns a
// future and may be called many times before any completes (requests are
// pipelined and matched to replies by request id), and `Xxx` waits for the
// answer. Futures always complete: with the reply, with kDeadlineExceeded
// after ClientOptions::request_timeout, or with kUnavailable when the
// connection is lost.
//
// Requests go through the client's I/O thread, except that a waiting call
// made while nothing else is in flight on the connection writes and reads on
// the calling thread. A lone small request (an engine's MatchPrefix before
// each prompt) so pays no thread handoffs; concurrent callers fall back to
// the pipelined path. Both give the same results.
//
// Ownership: keys are copied at the call. Put value bytes are NOT copied;
// they must stay valid until the returned future is ready.
//
// Thread safety: all methods may be called from any thread concurrently.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/keys.h"
#include "common/result.h"
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "protocol/object_messages.h"

namespace kvtier::client {

using protocol::TierId;
using ObjectEntry = protocol::ObjectEntry;  // path, size, version, modified_ms, block_bytes
using ObjectPage = protocol::ListResponse;  // objects, prefixes, next_page_token

// An open write session of a checkpoint object (Client::CreateObject).
struct ObjectWriter {
  std::string ns;
  std::string path;
  std::string session;       // names its blocks
  uint64_t block_bytes = 0;  // every block but the last is this long
  // The key block `index` is put under.
  Result<std::string> BlockKey(uint64_t index) const;
};

namespace internal {
struct ReplyFrame;
}

// What ReadRange read: `length` bytes at the start of the caller's buffer,
// all from `object`'s version.
struct RangeResult {
  ObjectEntry object;
  uint64_t length = 0;
};

// What one ReadRangeAsync request read: `length` bytes at `bytes`, from
// `object`'s version. The bytes are owned by the result.
struct RangeBytes {
  ObjectEntry object;
  uint64_t offset = 0;
  uint64_t length = 0;
  std::shared_ptr<const std::byte[]> bytes;
};

// TLS to a server's TLS listener (`server.tls`, docs/config.md).
struct TlsOptions {
  bool enabled = false;
  // The server's certificate must chain to a CA in this PEM file (empty:
  // the system's CA store) and name `server_name` (empty: the host
  // connected to), as a DNS name or an IP address.
  std::string ca_file;
  std::string server_name;
  // A client certificate and its key, for servers that require one
  // (`client_ca_file`): both or neither.
  std::string cert_file;
  std::string key_file;
};

struct ClientOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 7400;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};
  // Marks every request bulk: under load the server serves latency-class
  // work (an engine's KV reads) first. For dataset loaders and copies.
  bool bulk = false;
  std::string client_name = "kvtier-client";
  // The access token, for servers that require one (`auth.tokens`); sent in
  // Hello. Without a valid one Connect fails with kUnauthenticated.
  std::string token;
  // Same-host transport: connect to the server's Unix socket at this path
  // instead of host:port, and with shm_region_bytes > 0 attach a shared
  // region of that size. Puts that fit a free area of the region go through
  // it; gets offer an area of shm_get_bytes_per_key per key (at most a
  // quarter of the region) and values that do not fit come on the socket.
  std::string unix_socket;
  uint64_t shm_region_bytes = 0;
  uint64_t shm_get_bytes_per_key = 4ull << 20;
  // TCP only. A failed handshake (an untrusted or misnamed server
  // certificate, a refused client certificate) fails Connect with
  // kUnauthenticated. Over TLS every request goes through the I/O thread.
  TlsOptions tls;
  // Ask for values by RDMA (plain TCP connections): the client registers a
  // region of rdma_region_bytes with this host's device and offers a queue
  // pair in Hello. The server then READs put values from the region and
  // WRITEs get values into it (areas as for shared memory, above). Without
  // a device on either side, over TLS or a Unix socket, values stay on the
  // stream and Client::rdma_fallback() says why.
  bool rdma = false;
  uint64_t rdma_region_bytes = 256ull << 20;
  // The device ("" for the first one), or "kvtier_soft", the software
  // provider tests use where there is no device (protocol/rdma/provider.h).
  std::string rdma_device;
};

using ServerInfo = protocol::HelloResponse;
using StatsResult = protocol::StatsResponse;

// The value of counter `name` of the tier (or origin) `tier` in `stats`.
std::optional<uint64_t> FindTierCounter(const StatsResult& stats, std::string_view tier,
                                        std::string_view name);

// Per-key outcome of Put and Delete, in request order.
struct KeyStatuses {
  std::vector<Status> statuses;
  bool all_ok() const;
};

struct GetValue {
  Status status;  // kOk, kNotFound, kCorruption (checksum mismatch here), ...
  TierId tier = TierId::kNone;
  uint64_t checksum = 0;
  protocol::KbMetadata kb;           // kb namespaces: what the put gave
  std::span<const std::byte> bytes;  // valid while the GetResult lives
};

struct GetResult {
  std::vector<GetValue> values;  // in request order
  // Owns the bytes the spans point into: a heap buffer, or an area of the
  // shared region (held until this result goes).
  std::shared_ptr<const std::byte[]> payload;
};

// The outcome of GetInto, per key in request order.
struct GetIntoResult {
  // kOk; kNotFound; kCorruption (failed its checksum: the buffer's bytes
  // must not be used); kInvalidArgument (larger than its buffer: not written).
  std::vector<Status> statuses;
  std::vector<uint64_t> lengths;  // bytes written into each buffer (0 unless kOk)
  std::vector<TierId> tiers;
};

// The outcome of GetPrefixInto: the delivered prefix lies in buffers[0..n).
struct PrefixIntoResult {
  std::vector<uint64_t> lengths;  // of each delivered value, in key order
  std::vector<TierId> tiers;
  protocol::PrefixStop stop_reason = protocol::PrefixStop::kComplete;
  StatusCode stop_code = StatusCode::kOk;  // with kError
};

// The longest contiguous prefix of the keys the server delivered.
struct PrefixResult {
  std::vector<GetValue> values;  // the delivered prefix, in key order, all kOk
  protocol::PrefixStop stop_reason = protocol::PrefixStop::kComplete;
  StatusCode stop_code = StatusCode::kOk;      // with kError
  std::shared_ptr<const std::byte[]> payload;  // owns the bytes the spans point into
};

// Per-value policy of a Put; empty vectors take the namespace's defaults.
struct PutOptions {
  std::vector<uint32_t> ttls_ms;         // one per key: expire this long after the put (0: never)
  std::vector<protocol::Pin> pins;       // one per key: none, soft or hard
  std::vector<protocol::KbMetadata> kb;  // one per key: KB metadata, returned by Get
  // KV namespaces, where the keys of one put are consecutive links of one
  // prefix chain: the key before keys[0] in that chain ("": keys[0] starts
  // it), and whether the last key is the partial last block of a request.
  // They steer eviction (chains are kept whole, unread partial tails go
  // first); docs/keys.md.
  std::string parent;
  bool partial_tail = false;
};

// Memory in the connection's region (shared memory, or the region registered
// for RDMA) for building values in place: a Put whose values lie inside such
// buffers sends them without copying them. Empty (bytes.empty()) when the
// connection has no region or it is full.
struct SharedBuffer {
  std::span<std::byte> bytes;
  std::shared_ptr<void> holder;  // the memory returns to the region when the last copy goes
};

struct ExistsResult {
  std::vector<TierId> tiers;  // kNone: absent
};

struct MatchResult {
  uint32_t matched = 0;       // leading keys present
  std::vector<TierId> tiers;  // tier of each matched key
  uint64_t lease_id = 0;      // with a lease asked for: pass it to Get, then Release
  uint32_t lease_ms = 0;      // the lease ends this long after the match
};

class Client {
 public:
  // Connects and says Hello. Errors: kUnavailable (cannot connect),
  // kDeadlineExceeded, kUnsupported (no common protocol version).
  static Result<std::unique_ptr<Client>> Connect(const ClientOptions& options);
  // A client belongs to the process that connected it. In a child made by
  // fork() (a DataLoader worker) its I/O thread does not exist: the child
  // must connect its own, and destroying an inherited one leaves it alone
  // (its memory is not freed and its connection is not touched).
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  const ServerInfo& server_info() const;
  // With ClientOptions::rdma: why values do not move by RDMA on this
  // connection (refused, or stopped after a failure); "" when RDMA was not
  // asked for or is in use.
  std::string rdma_fallback() const;
  // Whether this connection moves values through a shared region.
  bool uses_shared_memory() const;
  // Whether this connection moves values by RDMA.
  bool uses_rdma() const;
  // `bytes` of the connection's region (see SharedBuffer); the caller must
  // not change a buffer while a Put of it is in flight.
  SharedBuffer AllocateShared(uint64_t bytes);

  std::future<Result<KeyStatuses>> PutAsync(std::string_view ns, std::span<const std::string> keys,
                                            std::span<const std::span<const std::byte>> values,
                                            const PutOptions& options = {});
  // With `lease_id` (from MatchPrefix), keys the lease holds are served from
  // it: the blocks as they were when matched.
  std::future<Result<GetResult>> GetAsync(std::string_view ns, std::span<const std::string> keys,
                                          uint64_t lease_id = 0);
  // Get that reads each value from the connection straight into
  // buffers[i] (one per key), with no buffer of the client's in between:
  // for engines that load KV pages into memory they allocated. The buffers
  // must stay valid, and unread by the caller, until the future is ready.
  // Over shared memory the values come on the socket, not the region.
  std::future<Result<GetIntoResult>> GetIntoAsync(std::string_view ns,
                                                  std::span<const std::string> keys,
                                                  std::span<const std::span<std::byte>> buffers,
                                                  uint64_t lease_id = 0);
  std::future<Result<ExistsResult>> ExistsAsync(std::string_view ns,
                                                std::span<const std::string> keys);
  std::future<Result<KeyStatuses>> DeleteAsync(std::string_view ns,
                                               std::span<const std::string> keys);
  // With `lease_ms` > 0 the server leases the matched blocks that are in
  // memory for that long (capped by its leases.max_ms): they are not
  // evicted until the lease is released or ends.
  std::future<Result<MatchResult>> MatchPrefixAsync(std::string_view ns,
                                                    std::span<const std::string> keys,
                                                    uint32_t lease_ms = 0);
  std::future<Result<StatsResult>> StatsAsync();

  Result<KeyStatuses> Put(std::string_view ns, std::span<const std::string> keys,
                          std::span<const std::span<const std::byte>> values,
                          const PutOptions& options = {});
  Result<GetResult> Get(std::string_view ns, std::span<const std::string> keys,
                        uint64_t lease_id = 0);
  Result<GetIntoResult> GetInto(std::string_view ns, std::span<const std::string> keys,
                                std::span<const std::span<std::byte>> buffers,
                                uint64_t lease_id = 0);
  Result<ExistsResult> Exists(std::string_view ns, std::span<const std::string> keys);
  Result<KeyStatuses> Delete(std::string_view ns, std::span<const std::string> keys);
  Result<MatchResult> MatchPrefix(std::string_view ns, std::span<const std::string> keys,
                                  uint32_t lease_ms = 0);
  // The longest contiguous prefix of `keys` the server can deliver within
  // `deadline` (zero: no deadline), reading lower tiers in parallel. A value
  // that fails its checksum here ends the prefix (kError, kCorruption).
  std::future<Result<PrefixResult>> GetPrefixAsync(std::string_view ns,
                                                   std::span<const std::string> keys,
                                                   std::chrono::milliseconds deadline,
                                                   uint64_t lease_id = 0);
  Result<PrefixResult> GetPrefix(std::string_view ns, std::span<const std::string> keys,
                                 std::chrono::milliseconds deadline, uint64_t lease_id = 0);
  // GetPrefix into caller buffers, as GetInto. A value larger than its
  // buffer ends the prefix before it (kError, kInvalidArgument).
  std::future<Result<PrefixIntoResult>> GetPrefixIntoAsync(
      std::string_view ns, std::span<const std::string> keys,
      std::span<const std::span<std::byte>> buffers, std::chrono::milliseconds deadline,
      uint64_t lease_id = 0);
  Result<PrefixIntoResult> GetPrefixInto(std::string_view ns, std::span<const std::string> keys,
                                         std::span<const std::span<std::byte>> buffers,
                                         std::chrono::milliseconds deadline, uint64_t lease_id = 0);
  // Ends a lease early; false when the server had none by that id.
  Result<bool> Release(uint64_t lease_id);
  Result<StatsResult> Stats();
  // Whether this client may use namespace `ns` for blocks of `identity`:
  // kUnknownNamespace when the server does not serve it; kInvalidArgument,
  // naming both, when the namespace declares another model. A namespace
  // that declares none accepts every client (keys then keep models apart
  // only through their seeds).
  Status CheckModel(std::string_view ns, const ModelIdentity& identity) const;
  // Returns once the named keys of a write-back Blob namespace (all pending
  // uploads when `keys` is empty) are durable in Blob. kUnavailable when an
  // upload failed after the server's retries (it keeps retrying);
  // kUnsupported for namespaces that do not write back to Blob. Large
  // flushes may need a longer ClientOptions::request_timeout.
  Status Flush(std::string_view ns, std::span<const std::string> keys = {});
  std::future<Status> FlushAsync(std::string_view ns, std::span<const std::string> keys = {});

  // ---- Objects of dataset namespaces (docs/protocol.md, "Objects") ----
  // One page of the objects under `prefix`, in path order; with a
  // delimiter ("/"), deeper paths come back once each as `prefixes`. Pass
  // next_page_token back for the next page ("" when complete).
  Result<ObjectPage> List(std::string_view ns, std::string_view prefix = "",
                          std::string_view delimiter = "", std::string_view page_token = "",
                          uint32_t max_results = 0);
  // Every object under `prefix` (all pages).
  Result<std::vector<ObjectEntry>> ListAll(std::string_view ns, std::string_view prefix = "");
  // kNotFound when there is no such object.
  Result<ObjectEntry> Stat(std::string_view ns, std::string_view path);
  // Reads bytes [offset, offset + into.size()) of the object into `into`,
  // clipped at its end (length 0 at or past it), in requests of at most
  // the server's max_payload_bytes sent together. kUnavailable when the
  // object changed between those requests (read again).
  Result<RangeResult> ReadRange(std::string_view ns, std::string_view path, uint64_t offset,
                                std::span<std::byte> into);
  // One ReadRange request (length at most the server's max_payload_bytes),
  // pipelined: many may be in flight (read-ahead).
  std::future<Result<RangeBytes>> ReadRangeAsync(std::string_view ns, std::string_view path,
                                                 uint64_t offset, uint64_t length);

  // ---- Writing objects of checkpoint namespaces (docs/protocol.md) ----
  // Opens a write session for `path`: nothing is visible there until
  // CommitObject. Put the blocks (PutObjectBlocks, or Put under
  // writer.BlockKey(i)) in any order and in parallel; each is durable on
  // the server's NVMe when acknowledged.
  Result<ObjectWriter> CreateObject(std::string_view ns, std::string_view path);
  // Puts blocks first_index, first_index + 1, ... (each block_bytes long
  // but the object's last) in one request.
  Status PutObjectBlocks(const ObjectWriter& writer, uint64_t first_index,
                         std::span<const std::span<const std::byte>> blocks);
  // Makes the object of `size` bytes visible at its path, replacing what
  // was there. kInvalidArgument when a block is missing or the wrong size.
  Result<ObjectEntry> CommitObject(const ObjectWriter& writer, uint64_t size);
  Status AbortObject(const ObjectWriter& writer);
  // Moves an object, replacing what `to` held. kNotFound without `from`.
  Status RenameObject(std::string_view ns, std::string_view from, std::string_view to);
  Status DeleteObject(std::string_view ns, std::string_view path);
  // The whole write: create, the blocks in batches of up to
  // max_payload_bytes pipelined, commit. Aborts the session on failure.
  Result<ObjectEntry> WriteObject(std::string_view ns, std::string_view path,
                                  std::span<const std::byte> bytes);

 private:
  friend class Pipeline;
  class Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  // Sends one request; `decode` turns a successful reply into T.
  struct Placement;
  template <typename T, typename Decode>
  std::future<Result<T>> Call(protocol::Opcode opcode, protocol::Metadata metadata,
                              std::vector<std::span<const std::byte>> payload, Decode decode,
                              Placement region);
  template <typename T, typename Decode>
  std::future<Result<T>> Call(protocol::Opcode opcode, protocol::Metadata metadata,
                              std::vector<std::span<const std::byte>> payload, Decode decode);
  // One object write request, answered.
  Result<protocol::ObjectWriteResponse> CallObjectWrite(
      protocol::Opcode opcode, const protocol::ObjectWriteRequest& request);
  // Call for replies decoded outside client.cc (client_objects.cc); defined
  // there for the T it is used with.
  template <typename T>
  std::future<Result<T>> CallDecoded(protocol::Opcode opcode, protocol::Metadata metadata,
                                     std::function<Result<T>(const internal::ReplyFrame&)> decode);
  std::unique_ptr<Impl> impl_;
};

namespace internal {
struct HeldRequest;
}

// Requests sent together and answered on the calling thread, as a Redis
// pipeline is. While a Pipeline is open on a thread, the XxxAsync calls
// that thread makes on its client are held, not sent; Run() writes them
// all and reads every reply on this thread, completing their futures as
// the replies come, with no hand-off to the client's I/O thread. When the
// connection is busy with other requests, or over TLS, Run() sends them
// through the I/O thread instead: same results, and Run() returns before
// they complete. The waiting forms (Put, Get, ...) are never held. A
// Pipeline belongs to the thread that opened it (close it there) and must
// not outlive its client.
class Pipeline {
 public:
  explicit Pipeline(Client& client);
  ~Pipeline();  // runs what is still held
  Pipeline(const Pipeline&) = delete;
  Pipeline& operator=(const Pipeline&) = delete;

  // Sends what is held. `on_reply(i)`, when given, is called on this thread
  // right after the i-th held request (in call order) completes here.
  void Run(const std::function<void(size_t)>& on_reply = {});
  size_t held() const;

 private:
  friend class Client;
  Client& client_;
  Pipeline* outer_;  // the pipeline open on this thread before this one
  std::vector<internal::HeldRequest> held_;
};

}  // namespace kvtier::client
