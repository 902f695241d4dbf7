#include "client/client_rdma.h"

#include <utility>

#if defined(KVTIER_HAVE_IBVERBS)
#include "protocol/rdma/verbs.h"
#endif

namespace kvtier::client {

#if defined(KVTIER_HAVE_IBVERBS)

namespace rdma = protocol::rdma;

struct ClientRdma::Verbs {
  // Destroyed in reverse: the queue pair, then the registration, then the
  // device they belong to.
  std::unique_ptr<rdma::VerbsDevice> device;
  std::unique_ptr<rdma::MemoryRegistration> memory;
  std::unique_ptr<rdma::QueuePair> pair;
};

Result<std::unique_ptr<ClientRdma>> ClientRdma::Open(std::span<std::byte> memory) {
  auto verbs = std::make_unique<Verbs>();
  KVTIER_ASSIGN_OR_RETURN(verbs->device, rdma::VerbsDevice::Open(""));
  KVTIER_ASSIGN_OR_RETURN(
      verbs->memory,
      rdma::MemoryRegistration::Register(*verbs->device, memory, rdma::RemoteAccess::kReadWrite));
  // The client posts nothing: the send queue only needs to exist.
  KVTIER_ASSIGN_OR_RETURN(verbs->pair,
                          rdma::QueuePair::Create(*verbs->device, /*depth=*/1,
                                                  /*max_sge=*/1, rdma::RemoteAccess::kReadWrite));
  return std::unique_ptr<ClientRdma>(new ClientRdma(std::move(verbs)));
}

protocol::RdmaEndpoint ClientRdma::endpoint() const { return verbs_->pair->LocalEndpoint(); }

protocol::BufferRef ClientRdma::registered() const {
  const std::span<std::byte> memory = verbs_->memory->memory();
  return {reinterpret_cast<uint64_t>(memory.data()), memory.size(), verbs_->memory->rkey()};
}

Status ClientRdma::Connect(const protocol::RdmaEndpoint& server) {
  return verbs_->pair->Connect(server);
}

#else  // no libibverbs at build time

struct ClientRdma::Verbs {};

Result<std::unique_ptr<ClientRdma>> ClientRdma::Open(std::span<std::byte>) {
  return Unavailable("this build has no libibverbs");
}
protocol::RdmaEndpoint ClientRdma::endpoint() const { return {}; }
protocol::BufferRef ClientRdma::registered() const { return {}; }
Status ClientRdma::Connect(const protocol::RdmaEndpoint&) {
  return Unavailable("this build has no libibverbs");
}

#endif

ClientRdma::ClientRdma(std::unique_ptr<Verbs> verbs) : verbs_(std::move(verbs)) {}
ClientRdma::~ClientRdma() = default;

}  // namespace kvtier::client
