#include "client/client_rdma.h"

#include <utility>

#include "protocol/rdma/provider.h"

namespace kvtier::client {

namespace rdma = protocol::rdma;

struct ClientRdma::Verbs {
  // Destroyed in reverse: the queue pair, then the registration, then the
  // provider they belong to.
  std::unique_ptr<rdma::Provider> provider;
  std::unique_ptr<rdma::Registration> registration;
  std::unique_ptr<rdma::WorkQueue> pair;
  std::span<std::byte> memory;
};

Result<std::unique_ptr<ClientRdma>> ClientRdma::Open(const std::string& device,
                                                     std::span<std::byte> memory) {
  auto verbs = std::make_unique<Verbs>();
  KVTIER_ASSIGN_OR_RETURN(verbs->provider, rdma::OpenProvider(device));
  KVTIER_ASSIGN_OR_RETURN(verbs->registration,
                          verbs->provider->Register(memory, rdma::RemoteAccess::kReadWrite));
  // The client posts nothing: the send queue only needs to exist.
  KVTIER_ASSIGN_OR_RETURN(
      verbs->pair,
      verbs->provider->CreateQueue(/*depth=*/1, /*max_sge=*/1, rdma::RemoteAccess::kReadWrite));
  verbs->memory = memory;
  return std::unique_ptr<ClientRdma>(new ClientRdma(std::move(verbs)));
}

protocol::RdmaEndpoint ClientRdma::endpoint() const { return verbs_->pair->LocalEndpoint(); }

protocol::BufferRef ClientRdma::registered() const {
  return {reinterpret_cast<uint64_t>(verbs_->memory.data()), verbs_->memory.size(),
          verbs_->registration->rkey()};
}

Status ClientRdma::Connect(const protocol::RdmaEndpoint& server) {
  return verbs_->pair->Connect(server);
}

ClientRdma::ClientRdma(std::unique_ptr<Verbs> verbs) : verbs_(std::move(verbs)) {}
ClientRdma::~ClientRdma() = default;

}  // namespace kvtier::client
