#include "tiers/blob/dataset_origin.h"

#include <cstring>
#include <optional>

#include "common/checksum.h"
#include "common/keys.h"

namespace kvtier::tiers::blob {

Result<std::unique_ptr<DatasetOrigin>> DatasetOrigin::Create(DatasetOriginOptions options) {
  if (options.block_bytes == 0 || options.block_bytes > (256ull << 20)) {
    return InvalidArgument("dataset origin block_bytes must be within 1..256MiB");
  }
  KVTIER_ASSIGN_OR_RETURN(std::unique_ptr<BlobClient> client, BlobClient::Create(options.client));
  return std::unique_ptr<DatasetOrigin>(new DatasetOrigin(std::move(options), std::move(client)));
}

DatasetOrigin::DatasetOrigin(DatasetOriginOptions options, std::unique_ptr<BlobClient> client)
    : options_(std::move(options)), client_(std::move(client)) {}

Result<DatasetOrigin::Recorded> DatasetOrigin::Properties(const std::string& blob, bool refresh) {
  {
    std::lock_guard lock(mu_);
    auto it = objects_.find(blob);
    if (it != objects_.end() && !refresh) {
      lru_.splice(lru_.begin(), lru_, it->second.position);
      return it->second.info;
    }
  }
  counters_.property_reads.fetch_add(1, std::memory_order_relaxed);
  KVTIER_ASSIGN_OR_RETURN(BlobProperties properties, client_->GetProperties(blob));
  Recorded info{properties.size, properties.etag, properties.modified_ms, Clock::now()};
  std::lock_guard lock(mu_);
  auto it = objects_.find(blob);
  if (it != objects_.end()) {
    it->second.info = info;
    lru_.splice(lru_.begin(), lru_, it->second.position);
    return info;
  }
  lru_.push_front(blob);
  objects_[blob] = Cached{info, lru_.begin()};
  while (objects_.size() > options_.max_cached_objects) {
    objects_.erase(lru_.back());
    lru_.pop_back();
  }
  return info;
}

ObjectInfo DatasetOrigin::ToObject(const std::string& path, const Recorded& info) const {
  return ObjectInfo{path, info.size, info.etag, info.modified_ms, options_.block_bytes};
}

DatasetOrigin::Snapshot DatasetOrigin::ListingIfFresh() {
  std::lock_guard lock(mu_);
  if (listing_ != nullptr && Clock::now() - listed_at_ < options_.listing_ttl) {
    return {listing_, listed_at_};
  }
  return {};
}

Result<DatasetOrigin::Snapshot> DatasetOrigin::FreshListing() {
  if (Snapshot fresh = ListingIfFresh(); fresh.objects != nullptr) return fresh;
  // One listing at a time. While it runs, readers take the expired
  // listing if there is one (a large container takes many pages, and the
  // readers hold worker threads); only the first listing is waited for.
  std::unique_lock listing_lock(listing_mu_, std::try_to_lock);
  if (!listing_lock.owns_lock()) {
    {
      std::lock_guard lock(mu_);
      if (listing_ != nullptr) {
        counters_.stale_listings_served.fetch_add(1, std::memory_order_relaxed);
        return Snapshot{listing_, listed_at_};
      }
    }
    listing_lock.lock();
  }
  if (Snapshot fresh = ListingIfFresh(); fresh.objects != nullptr) return fresh;
  return ReadListing();
}

Result<DatasetOrigin::Snapshot> DatasetOrigin::ReadListing() {
  auto listing = std::make_shared<ObjectMap>();
  const Clock::time_point started = Clock::now();
  std::string marker;
  do {
    counters_.list_requests.fetch_add(1, std::memory_order_relaxed);
    KVTIER_ASSIGN_OR_RETURN(BlobListing page, client_->ListBlobs(options_.prefix, marker));
    for (BlobListing::Item& item : page.items) {
      if (item.name.size() <= options_.prefix.size()) continue;  // the prefix itself
      std::string path = item.name.substr(options_.prefix.size());
      ObjectInfo object{path, item.size, std::move(item.etag), item.modified_ms,
                        options_.block_bytes};
      listing->emplace(std::move(path), std::move(object));
    }
    if (listing->size() > options_.max_listed_objects) {
      return ResourceExhausted("dataset container lists more than " +
                               std::to_string(options_.max_listed_objects) +
                               " objects (origin.max_listed_objects)");
    }
    marker = std::move(page.next_marker);
  } while (!marker.empty());
  counters_.listings.fetch_add(1, std::memory_order_relaxed);

  std::lock_guard lock(mu_);
  // Objects listed at a new version: later block reads fetch that version.
  for (auto& [blob, cached] : objects_) {
    auto listed = listing->find(std::string_view(blob).substr(options_.prefix.size()));
    if (listed == listing->end() || listed->second.version == cached.info.etag) continue;
    cached.info = {listed->second.size, listed->second.version, listed->second.modified_ms,
                   started};
  }
  listing_ = listing;
  listed_at_ = started;
  return Snapshot{std::move(listing), started};
}

Result<DatasetOrigin::Snapshot> DatasetOrigin::Listing() { return FreshListing(); }

Result<ObjectListing> DatasetOrigin::List(const ListQuery& query) {
  KVTIER_ASSIGN_OR_RETURN(Snapshot listing, FreshListing());
  return ListPage(*listing.objects, query);
}

Result<ObjectInfo> DatasetOrigin::Stat(const std::string& path) {
  if (Snapshot listing = ListingIfFresh(); listing.objects != nullptr) {
    auto it = listing.objects->find(path);
    if (it == listing.objects->end()) return NotFound("no object " + path);
    return it->second;
  }
  const std::string blob = options_.prefix + path;
  bool stale = true;
  {
    std::lock_guard lock(mu_);
    auto it = objects_.find(blob);
    stale = it == objects_.end() || Clock::now() - it->second.info.read_at >= options_.listing_ttl;
  }
  auto info = Properties(blob, /*refresh=*/stale);
  if (!info.ok()) return info.status();
  return ToObject(path, *info);
}

Result<BlockHandle> DatasetOrigin::Fetch(const BlockKey& key) {
  auto parsed = ParseObjectBlockKey(key.key);
  if (!parsed.ok()) return InvalidArgument("not a dataset block key: " + parsed.status().message());
  const auto& [object, index] = *parsed;
  const std::string blob = options_.prefix + object;
  for (int attempt = 0;; ++attempt) {
    auto info = Properties(blob, /*refresh=*/attempt > 0);
    if (!info.ok()) return Failed(info.status());
    const uint64_t blocks = (info->size + options_.block_bytes - 1) / options_.block_bytes;
    if (index >= blocks) {
      return Failed(NotFound("block " + std::to_string(index) + " is past the end of " + object +
                             " (" + std::to_string(blocks) + " blocks)"));
    }
    bool changed = false;
    // The read may go on on a run's thread after this returns: it owns
    // copies of what it uses.
    auto block = runs_.Get(
        blob, info->etag, index, blocks,
        [this, blob, recorded = *info](uint64_t first, uint64_t count, bool* run_changed,
                                       const OriginRuns::Deliver& deliver) {
          return ReadBlocks(blob, recorded, first, count, run_changed, deliver);
        },
        &changed);
    if (block.ok()) return block;
    // The object changed (If-Match failed, or it shrank under the range):
    // read its properties again, once, and the block from the new version.
    if (changed && attempt == 0) {
      counters_.source_changes.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    return Failed(block.status());
  }
}

WritableBlock DatasetOrigin::AllocateBlock(std::string_view object, uint64_t size) {
  if (options_.block_memory != nullptr) {
    // ObjectBlockKey: the name, a 0x00 byte, the index as 8 bytes.
    const uint64_t key_size = object.size() + 1 + sizeof(uint64_t);
    auto block = options_.block_memory->Allocate(key_size, size);
    if (block.ok()) return std::move(*block);
  }
  return HeapBlockAllocator::Instance().Allocate(size);
}

Status DatasetOrigin::ReadBlocks(const std::string& blob, const Recorded& info, uint64_t first,
                                 uint64_t count, bool* changed,
                                 const OriginRuns::Deliver& deliver) {
  const uint64_t offset = first * options_.block_bytes;
  const uint64_t end = std::min(info.size, (first + count) * options_.block_bytes);
  if (offset >= end) return NotFound("block " + std::to_string(first) + " is past the end");
  counters_.requests.fetch_add(1, std::memory_order_relaxed);
  // Each block is filled as the bytes arrive and gets its checksum here, at
  // the edge, from the fetched bytes.
  uint64_t index = first;
  uint64_t filled = 0;
  std::optional<WritableBlock> block;
  const std::string_view object = std::string_view(blob).substr(options_.prefix.size());
  auto sink = [&](std::span<const std::byte> bytes) -> Status {
    while (!bytes.empty()) {
      const uint64_t block_size =
          std::min<uint64_t>(options_.block_bytes, end - index * options_.block_bytes);
      if (!block) {
        block = AllocateBlock(object, block_size);
        filled = 0;
      }
      const uint64_t n = std::min<uint64_t>(bytes.size(), block_size - filled);
      std::byte* at = block->mutable_bytes().data() + filled;
      if (bytes.data() != at) std::memcpy(at, bytes.data(), n);  // else received in place
      filled += n;
      bytes = bytes.subspan(n);
      if (filled < block_size) continue;
      const uint64_t checksum = BlockChecksum(block->mutable_bytes());
      counters_.reads.fetch_add(1, std::memory_order_relaxed);
      counters_.bytes.fetch_add(block_size, std::memory_order_relaxed);
      KVTIER_RETURN_IF_ERROR(deliver(index, std::move(*block).Seal(checksum)));
      block.reset();
      ++index;
    }
    return Status::Ok();
  };
  // The rest of the block being filled (a new one when none is): the bytes
  // are received straight into it.
  const BlobClient::RangeTarget target = [&]() -> std::span<std::byte> {
    if (index * options_.block_bytes >= end) return {};
    const uint64_t block_size =
        std::min<uint64_t>(options_.block_bytes, end - index * options_.block_bytes);
    if (!block) {
      block = AllocateBlock(object, block_size);
      filled = 0;
    }
    return block->mutable_bytes().subspan(filled);
  };
  return client_->ReadRange(blob, ByteRange{offset, end - offset}, info.etag, changed, sink,
                            &target);
}

Result<ObjectInfo> DatasetOrigin::StatBlob(const std::string& path, Clock::time_point* read_at) {
  const std::string blob = options_.prefix + path;
  bool stale = true;
  {
    std::lock_guard lock(mu_);
    auto it = objects_.find(blob);
    stale = it == objects_.end() || Clock::now() - it->second.info.read_at >= options_.listing_ttl;
  }
  KVTIER_ASSIGN_OR_RETURN(Recorded info, Properties(blob, /*refresh=*/stale));
  *read_at = info.read_at;
  return ToObject(path, info);
}

Result<BlockHandle> DatasetOrigin::FetchVersion(const std::string& path, const std::string& version,
                                                uint64_t index) {
  const std::string blob = options_.prefix + path;
  auto info = Properties(blob, /*refresh=*/false);
  if (info.ok() && info->etag != version) info = Properties(blob, /*refresh=*/true);
  if (!info.ok()) return Failed(info.status());
  if (info->etag != version) {
    return Failed(NotFound("object " + path + " changed since it was listed"));
  }
  if (index * options_.block_bytes >= info->size) {
    return Failed(NotFound("block " + std::to_string(index) + " is past the end of " + path));
  }
  bool changed = false;
  auto block = OriginRuns::ReadOne(
      [&](uint64_t first, uint64_t count, bool* read_changed, const OriginRuns::Deliver& deliver) {
        return ReadBlocks(blob, *info, first, count, read_changed, deliver);
      },
      index, &changed);
  if (!block.ok()) {
    if (changed) return Failed(NotFound("object " + path + " changed since it was listed"));
    return Failed(block.status());
  }
  return block;
}

void DatasetOrigin::Forget(const std::string& path) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(options_.prefix + path);
  if (it == objects_.end()) return;
  lru_.erase(it->second.position);
  objects_.erase(it);
}

bool DatasetOrigin::IsRecorded(const std::string& path) {
  std::lock_guard lock(mu_);
  return objects_.contains(options_.prefix + path);
}

Status DatasetOrigin::Failed(Status status) {
  auto& counter = status.code() == StatusCode::kNotFound ? counters_.not_found : counters_.errors;
  counter.fetch_add(1, std::memory_order_relaxed);
  return status;
}

TierStats DatasetOrigin::Stats() const {
  TierStats stats;
  stats.name = options_.stats_name;
  stats.Add("reads", counters_.reads);
  stats.Add("requests", counters_.requests);
  const OriginRuns::Counts runs = runs_.counts();
  stats.Add("read_ahead_runs", runs.runs);
  stats.Add("read_ahead_joined", runs.blocks_joined);
  stats.Add("read_ahead_dropped", runs.blocks_dropped);
  stats.Add("read_bytes", counters_.bytes);
  stats.Add("property_reads", counters_.property_reads);
  stats.Add("list_requests", counters_.list_requests);
  stats.Add("listings", counters_.listings);
  stats.Add("stale_listings_served", counters_.stale_listings_served);
  stats.Add("source_changes", counters_.source_changes);
  stats.Add("not_found", counters_.not_found);
  stats.Add("errors", counters_.errors);
  return stats;
}

}  // namespace kvtier::tiers::blob
