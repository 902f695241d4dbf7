#pragma once

// One connection to a store under test, driven by one worker thread. The
// same workload code drives every backend: it submits up to `depth`
// operations (pipelined on the wire), then WaitAll() completes them in
// submission order, reporting each one's outcome and completion time.

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace kvtier::bench {

using Clock = std::chrono::steady_clock;

enum class OpKind { kPut, kGet, kMatch };

// A put's place in a prefix chain: the key before its first key ("": none)
// and whether its last key is a request's partial last block.
struct ChainHints {
  std::string parent;
  bool partial_tail = false;
};

struct OpResult {
  OpKind kind = OpKind::kGet;
  Status status;       // whole-request outcome
  uint32_t hits = 0;   // get: values returned; match: leading keys present
  uint64_t bytes = 0;  // value bytes moved
  Clock::time_point done;
  // get: the values returned, valid only during the callback (empty span
  // for a miss).
  std::vector<std::span<const std::byte>> values;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;

  // Memory whose values this backend sends without copying them (kvtier's
  // shared region); empty when it has none. Valid while the backend lives.
  virtual std::span<std::byte> ValueBuffer(size_t /*bytes*/) { return {}; }

  // Value spans must stay valid until WaitAll returns. `chain` tells a
  // store that knows prefix chains (kvtier) how the keys continue one;
  // others ignore it.
  virtual void SubmitPut(const std::vector<std::string>& keys,
                         const std::vector<std::span<const std::byte>>& values,
                         const ChainHints& chain) = 0;
  virtual void SubmitGet(const std::vector<std::string>& keys) = 0;
  // How many leading keys are stored (kvtier: MatchPrefix, one request;
  // redis: one pipelined EXISTS per key, counted client-side).
  virtual void SubmitMatch(const std::vector<std::string>& keys) = 0;

  // The store's memory budget in bytes (kvtier: the DRAM tier's capacity;
  // redis: maxmemory). Call with nothing in flight.
  virtual Result<uint64_t> CapacityBytes() = 0;

  // Completes every submitted operation in order. A non-OK return means the
  // connection broke; results already delivered stand.
  virtual Status WaitAll(const std::function<void(OpResult&)>& on_done) = 0;
};

struct Target {
  enum class Kind { kKvtier, kRedis } kind = Kind::kKvtier;
  std::string host = "127.0.0.1";
  uint16_t port = 7400;
  std::string ns = "kv";  // kvtier namespace
  // kvtier on this host: its Unix socket, and the shared region to attach
  // (0: the socket only, values on the stream).
  std::string unix_socket;
  uint64_t shm_region_bytes = 0;
  // kvtier's TLS listener: the CA file to trust ("": plaintext).
  std::string tls_ca_file;
  // kvtier over TCP with values by RDMA on `rdma_device` ("" for the first
  // device), through a registered region of `shm_region_bytes`.
  bool rdma = false;
  std::string rdma_device;
};

Result<std::unique_ptr<Backend>> ConnectBackend(const Target& target);

}  // namespace kvtier::bench
