#include "protocol/rdma/rdma_devices.h"

#include <cerrno>
#include <cstring>

#ifdef KVTIER_HAVE_IBVERBS
#include <infiniband/verbs.h>
#endif

namespace kvtier::protocol::rdma {

DeviceSurvey SurveyDevices() {
  DeviceSurvey survey;
#ifdef KVTIER_HAVE_IBVERBS
  survey.built_with_verbs = true;
  int count = 0;
  errno = 0;
  ibv_device** list = ibv_get_device_list(&count);
  if (list == nullptr) {
    survey.reason = std::string("ibv_get_device_list: ") +
                    (errno != 0 ? std::strerror(errno) : "no device list");
    return survey;
  }
  for (int i = 0; i < count; ++i) survey.devices.emplace_back(ibv_get_device_name(list[i]));
  ibv_free_device_list(list);
  if (survey.devices.empty()) survey.reason = "no RDMA device present";
#else
  survey.reason = "built without libibverbs";
#endif
  return survey;
}

}  // namespace kvtier::protocol::rdma
