#pragma once

// The server's side of the RDMA transport (docs/transports.md).
//
// RdmaHost opens the device once and registers the DRAM tier's block pool
// with it, one registration for all block memory, with no remote access:
// the server never hands out keys to its own memory. Each connection whose
// Hello asks for RDMA gets an RdmaSession: a queue pair connected to the
// client's, the client's registered regions, and the send queue's
// bookkeeping (protocol/rdma/send_queue.h).
//
// A session runs on its connection's thread. Start() checks all of one
// request's transfers (WRITEs for a get, READs for a put), posts them in
// waves of at most 64 work requests as the queue (256 deep) has room, and
// returns at once; its `done` runs on the same thread once the device
// reports the last of them, found through the completion channel's
// descriptor (never by spinning). A failed completion takes the queue pair down: every pending
// request hears kUnavailable and later Starts are refused, so the
// connection goes on over the stream.
//
// Memory a request moves must stay put until its `done` runs: a get keeps
// its block pins and a put its new blocks until then. Close() destroys the
// queue pair first, after which the device touches no memory, and only
// then fails what is pending.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "protocol/asio.h"
#include "protocol/messages.h"
#include "protocol/rdma/transfers.h"

namespace kvtier::server {

class RdmaSession;

class RdmaHost {
 public:
  // Opens provider `device_name` (protocol/rdma/provider.h: a device name,
  // "" for the first device, or the software provider) and registers
  // `pool`. kUnavailable, naming why, when there is no device, the build
  // has no libibverbs, or registration fails.
  static Result<std::unique_ptr<RdmaHost>> Open(const std::string& device_name,
                                                std::span<std::byte> pool);
  ~RdmaHost();
  RdmaHost(const RdmaHost&) = delete;
  RdmaHost& operator=(const RdmaHost&) = delete;

  // A session connected to the client's queue pair `client`, checking
  // requests against `regions`; its completions run on `executor`.
  // Thread-safe.
  Result<std::shared_ptr<RdmaSession>> Accept(const protocol::RdmaEndpoint& client,
                                              std::span<const protocol::BufferRef> regions,
                                              const asio::any_io_executor& executor);
  // "mlx5_0 port 1, 64 GiB registered", for the log.
  const std::string& description() const;

  struct Device;  // the provider and the pool's registration

 private:
  explicit RdmaHost(std::unique_ptr<Device> device);
  std::unique_ptr<Device> device_;
};

class RdmaSession {
 public:
  using Done = std::function<void(Status)>;
  // Pieces of server memory one transfer may gather or scatter.
  static constexpr uint32_t kMaxSge = protocol::kRdmaMaxSge;

  virtual ~RdmaSession() = default;

  // The server's queue pair, for the Hello reply.
  virtual protocol::RdmaEndpoint endpoint() const = 0;
  // Checks `transfers` and posts them as one request (in waves, queued
  // behind earlier requests while the queue is full); `done` runs once with
  // OK when all completed, or with kUnavailable when the queue pair failed
  // or the session closed first. An error returned here means nothing was
  // posted and `done` never runs: kInvalidArgument for a client descriptor
  // outside what the connection registered; kNotFound for server memory
  // outside the pool; kUnavailable once the queue pair has failed.
  virtual Status Start(std::vector<protocol::rdma::Transfer> transfers, Done done) = 0;
  // Whether the queue pair has failed or closed (the stream carries values).
  virtual bool down() const = 0;
  // Destroys the queue pair, then runs every pending `done` (kUnavailable).
  virtual void Close() = 0;
};

}  // namespace kvtier::server
