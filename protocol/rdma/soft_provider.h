#pragma once

// The software provider (provider.h, kSoftProviderName): queue pairs whose
// work requests are carried out by the posting process itself, with
// process_vm_writev (WRITE) and process_vm_readv (READ) against the
// connected process on the same host. It lets the RDMA data path above the
// verbs layer run, and fail, on machines without a device. Not for
// deployment: both processes must share a host, and the poster needs ptrace
// rights over the other (same user, or CAP_SYS_PTRACE).
//
// Endpoints: the queue pair number carries the process id, and the GID a
// marker, so a software endpoint is never taken for a device's.
//
// Fault injection for tests: with KVTIER_SOFT_RDMA_FAIL_AFTER=N in the
// environment of the posting process, every work request after its first N
// completes with an error, as a device's would after a link failure.

#include <memory>

#include "protocol/rdma/provider.h"

namespace kvtier::protocol::rdma {

std::unique_ptr<Provider> OpenSoftProvider();

// Whether `endpoint` is a software provider's.
bool IsSoftEndpoint(const RdmaEndpoint& endpoint);

}  // namespace kvtier::protocol::rdma
