#pragma once

// Stripe locks: every index key hashes to one of kStripes mutexes, so the
// steps below DRAM that must not interleave for one key (a demotion's
// write, a promotion, a put's or delete's removal of the lower copy, a
// write-through put) are serialised per key without a mutex per key.
// Two keys may share a stripe; a holder must never take a second stripe.

#include <array>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string_view>

namespace kvtier::tiers {

class StripeLocks {
 public:
  static constexpr size_t kStripes = 1024;

  StripeLocks() : stripes_(std::make_unique<std::array<std::mutex, kStripes>>()) {}

  // The stripe of `index_key` (EncodeIndexKey bytes).
  static size_t IndexOf(std::string_view index_key);
  std::mutex& For(std::string_view index_key) { return (*stripes_)[IndexOf(index_key)]; }

 private:
  std::unique_ptr<std::array<std::mutex, kStripes>> stripes_;
};

}  // namespace kvtier::tiers
