#pragma once

// Where queue pairs and memory registrations come from. Everything above
// this seam (send queue bookkeeping, descriptor checks, the server's
// sessions, the client's region) is the same whatever provides them:
//
// - a verbs device (verbs.h), the real transport: one-sided READ and WRITE
//   by the NIC;
// - the software provider (soft_provider.h), named kSoftProviderName: for
//   tests on machines without a device, it carries out the same work
//   requests with process_vm_readv/writev between two processes of one
//   host, and can be told to fail completions. It is not a transport to
//   deploy: it needs both processes on one host and ptrace rights.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "protocol/messages.h"
#include "protocol/rdma/transfers.h"

namespace kvtier::protocol::rdma {

inline constexpr char kSoftProviderName[] = "kvtier_soft";

// Whether the remote side may read and write this side's registered memory
// through the queue pair. Only a client allows it; the server's queue pair
// allows nothing, so no client can reach server memory on its own.
enum class RemoteAccess : uint8_t { kNone, kReadWrite };

// The outcome of one signalled work request.
struct WorkCompletion {
  uint64_t wr_id = 0;
  Status status;  // OK, or kUnavailable naming the completion status
};

// Memory registered with a provider; deregistered when destroyed. The
// memory must outlive it.
class Registration {
 public:
  virtual ~Registration() = default;
  virtual uint32_t lkey() const = 0;
  virtual uint32_t rkey() const = 0;
};

// A reliable-connected queue pair and its completion queue.
class WorkQueue {
 public:
  virtual ~WorkQueue() = default;
  // What the other side needs to connect to this one (sent in Hello).
  virtual RdmaEndpoint LocalEndpoint() const = 0;
  // Connects to `remote`; once.
  virtual Status Connect(const RdmaEndpoint& remote) = 0;
  // Posts the planned work requests, in order.
  virtual Status Post(std::span<const PlannedWorkRequest> planned) = 0;
  // Up to `max` completions that arrived; never waits.
  virtual Result<std::vector<WorkCompletion>> Poll(int max) = 0;
  // Waiting without spinning: completion_fd() (non-blocking) turns
  // readable after Arm() once a completion arrives. The owner then calls
  // TakeEvent(), Arm() again, and Polls until empty, so a completion that
  // came between the Poll and the Arm is not lost.
  virtual int completion_fd() const = 0;
  virtual Status Arm() = 0;
  // Consumes the pending event, if any; never waits.
  virtual Status TakeEvent() = 0;
};

class Provider {
 public:
  virtual ~Provider() = default;
  // "mlx5_0 port 1", or kSoftProviderName.
  virtual std::string description() const = 0;
  virtual Result<std::unique_ptr<Registration>> Register(std::span<std::byte> memory,
                                                         RemoteAccess access) = 0;
  // A queue pair for at most `depth` outstanding work requests of
  // `max_sge` entries each.
  virtual Result<std::unique_ptr<WorkQueue>> CreateQueue(uint32_t depth, uint32_t max_sge,
                                                         RemoteAccess access) = 0;
};

// Opens kSoftProviderName, or the verbs device called `name` ("" for the
// first one). kUnavailable, naming why, when there is no such device or the
// build has no libibverbs.
Result<std::unique_ptr<Provider>> OpenProvider(const std::string& name);

}  // namespace kvtier::protocol::rdma
