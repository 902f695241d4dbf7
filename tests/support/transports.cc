#include "protocol/rdma/rdma_devices.h"
#include "tests/support/client_helpers.h"

namespace kvtier::testing {

std::string TransportUnavailable(Transport transport) {
  if (transport != Transport::kRdma) return "";
  const protocol::rdma::DeviceSurvey survey = protocol::rdma::SurveyDevices();
  if (!survey.devices.empty()) return "";
  return "RDMA runs only where ibv_devices lists a device; here: " + survey.reason;
}

}  // namespace kvtier::testing
