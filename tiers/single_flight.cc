#include "tiers/single_flight.h"

namespace kvtier::tiers {

Result<BlockHandle> SingleFlight::Do(const std::string& key, const Read& read, Location* from,
                                     bool* joined) {
  std::shared_ptr<Flight> flight;
  bool leader = false;
  {
    std::lock_guard lock(mu_);
    auto [it, inserted] = flights_.try_emplace(key, nullptr);
    if (inserted) it->second = std::make_shared<Flight>();
    flight = it->second;
    leader = inserted;
    if (!leader) ++joins_;
  }
  if (joined != nullptr) *joined = !leader;
  if (!leader) {
    std::unique_lock lock(flight->mu);
    flight->done_cv.wait(lock, [&] { return flight->done; });
    *from = flight->from;
    if (!flight->status.ok()) return flight->status;
    return flight->block.Clone();
  }

  Result<BlockHandle> result = read(from);
  {
    std::lock_guard lock(mu_);
    flights_.erase(key);
  }
  {
    std::lock_guard lock(flight->mu);
    flight->done = true;
    flight->from = *from;
    if (result.ok()) {
      flight->block = result->Clone();
    } else {
      flight->status = result.status();
    }
  }
  flight->done_cv.notify_all();
  return result;
}

bool SingleFlight::InFlight(const std::string& key) const {
  std::lock_guard lock(mu_);
  return flights_.count(key) != 0;
}

uint64_t SingleFlight::joins() const {
  std::lock_guard lock(mu_);
  return joins_;
}

}  // namespace kvtier::tiers
