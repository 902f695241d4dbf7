#pragma once

// A dataset's origin: objects in an Azure Blob container, read in fixed-size
// blocks. Key = object block key (common/keys.h: object name, 0x00, block
// index); block i of object O is bytes [i * block_bytes, (i + 1) *
// block_bytes) of blob `<prefix>O`, the last block shorter.
//
// Never mixes versions: each object's size and ETag are recorded on first
// use, and every ranged read carries If-Match with that ETag. When the
// object has changed, the read is refused; the recorded properties are
// refreshed once and the block is read again from the new version (counted
// as `source_changes`). A block is therefore always from one version.
//
// The block checksum is computed here, at the edge, from the fetched bytes.
//
// It is also the namespace's object catalog: List answers from one listing
// of the container (every page of it, fetched once and kept for
// `listing_ttl`, at most `max_listed_objects` objects; while an expired one
// is read again, List answers from the expired one); Stat answers from
// that listing while it is fresh, else from the blob's properties (read
// again once they are older than `listing_ttl`). A listing that sees an
// object at a new version updates the recorded properties, so later block
// reads fetch the new version.

#include <atomic>
#include <chrono>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "tiers/blob/blob_client.h"
#include "tiers/blob/origin_runs.h"
#include "tiers/block_source.h"
#include "tiers/object_catalog.h"
#include "tiers/object_listing.h"
#include "tiers/tier.h"

namespace kvtier::tiers::blob {

struct DatasetOriginOptions {
  BlobClientOptions client;  // container = the dataset's container
  std::string prefix;        // prepended to object names
  uint64_t block_bytes = 4ull << 20;
  std::string stats_name = "origin";
  size_t max_cached_objects = 4096;  // object properties kept (LRU)
  std::chrono::milliseconds listing_ttl{60'000};
  size_t max_listed_objects = 1'000'000;  // a larger container is refused
  // Sequential readers' next blocks read as one range (origin_runs.h).
  OriginRunsOptions read_ahead;
  // Where fetched blocks are filled: the tier that will keep them (the DRAM
  // tier, whose Put then takes them without a copy, into memory it may have
  // made resident already), else the heap (also when that tier has no room
  // now). Blocks read ahead count against that tier's capacity while they
  // are held (at most read_ahead.max_held_bytes). Must outlive the origin.
  Tier* block_memory = nullptr;
};

class DatasetOrigin final : public BlockSource, public ObjectCatalog {
 public:
  // Does not touch the network.
  static Result<std::unique_ptr<DatasetOrigin>> Create(DatasetOriginOptions options);

  // Errors: kInvalidArgument (not an object block key), kNotFound (no such
  // object, or the index is past its end), kUnavailable, kDeadlineExceeded.
  Result<BlockHandle> Fetch(const BlockKey& key) override;
  TierStats Stats() const override;

  // ObjectCatalog: paths are blob names without the prefix.
  Result<ObjectListing> List(const ListQuery& query) override;
  Result<ObjectInfo> Stat(const std::string& path) override;

  // ---- For a catalog that merges this container with objects of its own
  // (tiers/blob/shared_checkpoints.h). ----
  using Clock = std::chrono::steady_clock;
  struct Snapshot {
    std::shared_ptr<const ObjectMap> objects;
    Clock::time_point read_at;  // when the listing that gave it started
  };
  // The container's listing, as List uses it (read again once older than
  // listing_ttl).
  Result<Snapshot> Listing();
  // The blob's properties as an object, from the recorded ones while they
  // are younger than listing_ttl, else read again (a HEAD request).
  // `*read_at` tells when they were read.
  Result<ObjectInfo> StatBlob(const std::string& path, Clock::time_point* read_at);
  // Block `index` of the version `version` (an ETag) of object `path`.
  // kNotFound when the object no longer has that version (or that block).
  Result<BlockHandle> FetchVersion(const std::string& path, const std::string& version,
                                   uint64_t index);
  // Drops the recorded properties of `path` (its blob was removed).
  void Forget(const std::string& path);
  // Whether properties of `path` are recorded; never touches the network.
  bool IsRecorded(const std::string& path);

 private:
  struct Recorded {
    uint64_t size = 0;
    std::string etag;
    uint64_t modified_ms = 0;
    Clock::time_point read_at;  // when the properties were read or listed
  };
  // The container's listing, fetched again when older than listing_ttl.
  Result<Snapshot> FreshListing();
  Result<Snapshot> ReadListing();
  // The listing if it is fresh, else no objects; never touches the network.
  Snapshot ListingIfFresh();
  ObjectInfo ToObject(const std::string& path, const Recorded& info) const;
  DatasetOrigin(DatasetOriginOptions options, std::unique_ptr<BlobClient> client);
  // The recorded properties, read (and recorded) when absent or `refresh`.
  Result<Recorded> Properties(const std::string& blob, bool refresh);
  // Blocks [first, first + count) of `blob` at `info`'s version, read as one
  // ranged GET (If-Match the ETag; `*changed` when it no longer matches),
  // each handed to `deliver` with its checksum as soon as its bytes came.
  // A block of `object` to fill: from block_memory, else the heap.
  WritableBlock AllocateBlock(std::string_view object, uint64_t size);
  Status ReadBlocks(const std::string& blob, const Recorded& info, uint64_t first, uint64_t count,
                    bool* changed, const OriginRuns::Deliver& deliver);
  // Counts a failed fetch (not_found or errors) and returns `status`.
  Status Failed(Status status);

  const DatasetOriginOptions options_;
  std::unique_ptr<BlobClient> client_;

  std::mutex mu_;
  std::list<std::string> lru_;  // front: most recent
  struct Cached {
    Recorded info;
    std::list<std::string>::iterator position;
  };
  std::unordered_map<std::string, Cached> objects_;

  std::mutex listing_mu_;                     // held while one listing is read; others wait for it
  std::shared_ptr<const ObjectMap> listing_;  // under mu_
  Clock::time_point listed_at_;               // under mu_

  struct Counters {
    std::atomic<uint64_t> reads{0};     // blocks read from the origin
    std::atomic<uint64_t> requests{0};  // ranged GETs (a run of blocks is one)
    std::atomic<uint64_t> bytes{0};
    std::atomic<uint64_t> property_reads{0};
    std::atomic<uint64_t> list_requests{0};          // pages of container listings
    std::atomic<uint64_t> listings{0};               // whole listings read
    std::atomic<uint64_t> stale_listings_served{0};  // while a new one was read
    std::atomic<uint64_t> source_changes{0};
    std::atomic<uint64_t> not_found{0};
    std::atomic<uint64_t> errors{0};
  };
  mutable Counters counters_;
  OriginRuns runs_{options_.read_ahead};
};

}  // namespace kvtier::tiers::blob
