#include "protocol/rdma/provider.h"
#include "protocol/rdma/rdma_devices.h"
#include "tests/support/client_helpers.h"

namespace kvtier::testing {

std::string RdmaProviderForTests() {
  static const std::string provider =
      protocol::rdma::SurveyDevices().devices.empty() ? protocol::rdma::kSoftProviderName : "";
  return provider;
}

}  // namespace kvtier::testing
