#include "tiers/key_scan.h"

#include <xxhash.h>

#include <algorithm>
#include <limits>

#include "tiers/tier_stack.h"

namespace kvtier::tiers {

uint64_t ScanHash(std::string_view key) { return XXH3_64bits(key.data(), key.size()); }

void KeyPageBuilder::Offer(std::string_view key) {
  const uint64_t hash = ScanHash(key);
  if (hash < cursor_) return;
  if (smallest_.size() == limit_ && hash > smallest_.rbegin()->first) return;
  smallest_.emplace(hash, std::string(key));
  if (smallest_.size() > limit_) smallest_.erase(std::prev(smallest_.end()));
}

KeyPage KeyPageBuilder::Take() {
  KeyPage page;
  // A full page may have left out keys after its last hash: continue there.
  if (smallest_.size() == limit_) {
    const uint64_t last = smallest_.rbegin()->first;
    page.next_cursor = last == std::numeric_limits<uint64_t>::max() ? 0 : last + 1;
  }
  page.keys.reserve(smallest_.size());
  for (const auto& [hash, key] : smallest_) page.keys.push_back(key);
  smallest_.clear();
  return page;
}

Status TierStack::ScanKeys(uint32_t namespace_id, uint64_t cursor, size_t limit, JobClass job_class,
                           KeyPageDone done) {
  auto job = [this, namespace_id, cursor, limit, done = std::move(done)] {
    KeyPageBuilder builder(cursor, limit);
    const Tier::KeyVisitor offer = [&builder](std::string_view key) {
      builder.Offer(key);
      return true;
    };
    dram_.VisitKeys(namespace_id, offer);
    if (nvme_ != nullptr) nvme_->VisitKeys(namespace_id, offer);
    done(builder.Take());
  };
  if (!Defer(std::move(job), job_class)) return ResourceExhausted("worker queue full; retry");
  return Status::Ok();
}

Status TierStack::CountKeys(uint32_t namespace_id, JobClass job_class, KeyCountDone done) {
  auto job = [this, namespace_id, done = std::move(done)] {
    // A key in DRAM and on NVMe at once counts once: hashes, sorted.
    std::vector<uint64_t> hashes;
    const Tier::KeyVisitor collect = [&hashes](std::string_view key) {
      hashes.push_back(ScanHash(key));
      return true;
    };
    dram_.VisitKeys(namespace_id, collect);
    if (nvme_ != nullptr) nvme_->VisitKeys(namespace_id, collect);
    std::sort(hashes.begin(), hashes.end());
    done(static_cast<uint64_t>(std::unique(hashes.begin(), hashes.end()) - hashes.begin()));
  };
  if (!Defer(std::move(job), job_class)) return ResourceExhausted("worker queue full; retry");
  return Status::Ok();
}

}  // namespace kvtier::tiers
