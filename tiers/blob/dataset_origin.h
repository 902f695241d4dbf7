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

#include <atomic>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "tiers/blob/blob_client.h"
#include "tiers/block_source.h"

namespace kvtier::tiers::blob {

struct DatasetOriginOptions {
  BlobClientOptions client;  // container = the dataset's container
  std::string prefix;        // prepended to object names
  uint64_t block_bytes = 4ull << 20;
  std::string stats_name = "origin";
  size_t max_cached_objects = 4096;  // object properties kept (LRU)
};

class DatasetOrigin final : public BlockSource {
 public:
  // Does not touch the network.
  static Result<std::unique_ptr<DatasetOrigin>> Create(DatasetOriginOptions options);

  // Errors: kInvalidArgument (not an object block key), kNotFound (no such
  // object, or the index is past its end), kUnavailable, kDeadlineExceeded.
  Result<BlockHandle> Fetch(const BlockKey& key) override;
  TierStats Stats() const override;

 private:
  struct ObjectInfo {
    uint64_t size = 0;
    std::string etag;
  };
  DatasetOrigin(DatasetOriginOptions options, std::unique_ptr<BlobClient> client);
  // The recorded properties, read (and recorded) when absent or `refresh`.
  Result<ObjectInfo> Properties(const std::string& blob, bool refresh);
  // Counts a failed fetch (not_found or errors) and returns `status`.
  Status Failed(Status status);

  const DatasetOriginOptions options_;
  std::unique_ptr<BlobClient> client_;

  std::mutex mu_;
  std::list<std::string> lru_;  // front: most recent
  struct Cached {
    ObjectInfo info;
    std::list<std::string>::iterator position;
  };
  std::unordered_map<std::string, Cached> objects_;

  struct Counters {
    std::atomic<uint64_t> reads{0};  // ranged reads of the origin
    std::atomic<uint64_t> bytes{0};
    std::atomic<uint64_t> property_reads{0};
    std::atomic<uint64_t> source_changes{0};
    std::atomic<uint64_t> not_found{0};
    std::atomic<uint64_t> errors{0};
  };
  mutable Counters counters_;
};

}  // namespace kvtier::tiers::blob
