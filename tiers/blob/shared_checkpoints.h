#pragma once

// A checkpoint namespace in a Blob container that other servers share (one
// kvtierd per rack, one container for the cluster): what this server wrote
// (its CheckpointCatalog, uploaded by its CheckpointUploader) together with
// the objects the container holds under the namespace's blob prefix,
// written by other servers or by any Blob tool.
//
// - List merges the catalog with the container's listing (read once and
//   kept for listing_ttl, as a dataset's is: tiers/blob/dataset_origin.h).
//   Where both have a path, this server's object wins.
// - Stat asks the catalog, then the listing, then the blob itself (one HEAD,
//   its answer kept for listing_ttl), so an object another server has just
//   flushed is found at once.
// - An object seen only in the container is read like a dataset object,
//   pinned to the version that was listed: its blocks are keyed under the
//   storage name "./v<hex ETag>/<path>" (no object path starts with "./":
//   paths have no "." segment), so a block of one version is never served
//   as another's. Its checksum is computed at the edge from the bytes read.
// - A blob this server removes (a delete, or the old name of a renamed
//   object) is hidden from the listing from the moment it is asked for until
//   the blob is gone and a listing started after that has been read.
// - Deleting an object only the container holds removes its blob; renaming
//   one is refused (kUnsupported), as a move across file systems is.
//
// Thread safety: every method may be called concurrently; List, Stat, Fetch
// and RemoveForeign block on Blob (worker threads).

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "tiers/blob/checkpoint_uploader.h"
#include "tiers/blob/dataset_origin.h"
#include "tiers/block_source.h"
#include "tiers/checkpoint_catalog.h"
#include "tiers/object_catalog.h"
#include "tiers/object_publisher.h"

namespace kvtier::tiers::blob {

// The storage name of version `version` of container object `path`, and
// back (nullopt: not such a name).
std::string ForeignStorageName(const std::string& path, const std::string& version);
struct ForeignObject {
  std::string path;
  std::string version;
};
std::optional<ForeignObject> ParseForeignStorageName(std::string_view storage);

class SharedCheckpoints final : public ObjectCatalog, public BlockSource, public ObjectPublisher {
 public:
  // `catalog` and `uploader` must outlive this; `container` reads the same
  // container under the namespace's blob prefix, in the catalog's
  // block_bytes. Registers itself with the uploader: call before
  // uploader.Start().
  SharedCheckpoints(CheckpointCatalog& catalog, CheckpointUploader& uploader,
                    std::unique_ptr<DatasetOrigin> container);

  // ObjectCatalog.
  Result<ObjectListing> List(const ListQuery& query) override;
  Result<ObjectInfo> Stat(const std::string& path) override;

  // BlockSource: blocks of this server's objects from the uploader (their
  // blobs), the others' from the container.
  Result<BlockHandle> Fetch(const BlockKey& key) override;
  TierStats Stats() const override;  // the uploader's, with the container's as "shared_*"

  // ObjectPublisher: the uploader's, with the removed blobs hidden.
  void Publish(const std::string& storage) override;
  void Republish(const std::string& storage, const std::string& old_blob_path) override;
  void Unpublish(const std::string& blob_path) override;
  Status RemoveForeign(const std::string& path) override;
  void Flush(std::vector<std::string> paths, std::function<void(Status)> done) override;

 private:
  using Clock = DatasetOrigin::Clock;
  struct Hidden {
    int removals_pending = 0;
    Clock::time_point removed_at{};  // the last removal's end
  };
  struct Merged {
    std::shared_ptr<const ObjectMap> container;  // the listing it was made from
    uint64_t catalog_generation = 0;
    uint64_t hidden_generation = 0;
    std::shared_ptr<const ObjectMap> objects;
  };

  void Hide(const std::string& path);
  void Removed(const std::string& path);
  // Whether the container's answer for `path`, read at `read_at`, may name
  // a blob this server removed. Caller holds mu_.
  bool IsHiddenLocked(const std::string& path, Clock::time_point read_at) const;
  ObjectInfo AsForeign(ObjectInfo object) const;
  Result<std::shared_ptr<const ObjectMap>> MergedObjects();

  CheckpointCatalog& catalog_;
  CheckpointUploader& uploader_;
  std::unique_ptr<DatasetOrigin> container_;

  mutable std::mutex mu_;
  std::map<std::string, Hidden, std::less<>> hidden_;
  uint64_t hidden_generation_ = 0;
  Merged merged_;
};

}  // namespace kvtier::tiers::blob
