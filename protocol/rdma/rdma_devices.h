#pragma once

// RDMA device discovery. The RDMA transport (docs/transports.md) moves
// values by one-sided READ/WRITE; it needs a device, and a machine without
// one (ibv_get_device_list returns none, often with ENOSYS when no kernel
// driver is loaded) serves TCP and shared memory only.

#include <string>
#include <vector>

namespace kvtier::protocol::rdma {

struct DeviceSurvey {
  bool built_with_verbs = false;     // libibverbs was found at build time
  std::vector<std::string> devices;  // names, e.g. "mlx5_0"
  std::string reason;                // why there are none, when empty
};

// Lists the RDMA devices this process can open. Never fails: a missing
// library, driver or device is a survey with no devices and a reason.
DeviceSurvey SurveyDevices();

}  // namespace kvtier::protocol::rdma
