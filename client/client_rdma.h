#pragma once

// The client's side of the RDMA transport (docs/transports.md): a queue
// pair on this host's device and one registration of the client's value
// memory (its ClientRegion), which the server may READ (puts) and WRITE
// (gets). The client posts nothing itself: all work requests are the
// server's, on the server's queue pair, against ranges the client named
// and the server checked against this registration.

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "common/result.h"
#include "protocol/messages.h"
#include "protocol/transport.h"

namespace kvtier::client {

class ClientRdma {
 public:
  // Opens provider `device` (protocol/rdma/provider.h: "" for this host's
  // first device), registers `memory` for remote READ and WRITE, and
  // creates a queue pair. kUnavailable, naming why, when there is no device
  // or libibverbs, or a verb fails.
  static Result<std::unique_ptr<ClientRdma>> Open(const std::string& device,
                                                  std::span<std::byte> memory);
  ~ClientRdma();
  ClientRdma(const ClientRdma&) = delete;
  ClientRdma& operator=(const ClientRdma&) = delete;

  // What Hello carries: this side's queue pair and the registered memory.
  protocol::RdmaEndpoint endpoint() const;
  protocol::BufferRef registered() const;
  // Connects to the server's queue pair from the Hello reply.
  Status Connect(const protocol::RdmaEndpoint& server);

  struct Verbs;  // the provider, registration and queue pair

 private:
  explicit ClientRdma(std::unique_ptr<Verbs> verbs);
  std::unique_ptr<Verbs> verbs_;
};

}  // namespace kvtier::client
