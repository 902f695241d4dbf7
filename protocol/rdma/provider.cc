#include "protocol/rdma/provider.h"

#include "protocol/rdma/soft_provider.h"
#include "protocol/rdma/verbs.h"

namespace kvtier::protocol::rdma {

Result<std::unique_ptr<Provider>> OpenProvider(const std::string& name) {
  if (name == kSoftProviderName) return OpenSoftProvider();
#if defined(KVTIER_HAVE_IBVERBS)
  KVTIER_ASSIGN_OR_RETURN(auto device, VerbsDevice::Open(name));
  return std::unique_ptr<Provider>(new VerbsProvider(std::move(device)));
#else
  return Unavailable("this build has no libibverbs");
#endif
}

}  // namespace kvtier::protocol::rdma
