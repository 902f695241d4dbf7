#pragma once

// The catalog of a checkpoint namespace: the objects written to it through
// write sessions (docs/protocol.md, "Writing objects"), durable in a RocksDB
// of its own beside the NVMe tier, and the sessions still open.
//
// An object's blocks are keyed by its *storage name* (ObjectInfo::storage),
// not its path: each write session gets a fresh random one, and its blocks
// are put under ObjectBlockKey(storage, index) while it is open. Commit
// makes the object visible under its path in one durable catalog write, so
// a reader sees the old version or the new one, never a mix; rename moves
// the catalog entry and never touches a block.
//
// The catalog never touches blocks itself: each change returns the storage
// names whose blocks are no longer needed (FreedBlocks) and the caller (the
// tier stack) erases them. A crash between the two leaves blocks that no
// entry names; IsLiveStorage tells the restart sweep which ones those are.
//
// Thread safety: every method may be called concurrently; the durable ones
// (Commit, Rename, Remove, MarkInBlob) write RocksDB with sync and must run
// on a worker.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "tiers/object_catalog.h"
#include "tiers/object_listing.h"

namespace kvtier::tiers {

class ReopeningDb;  // tiers/rocksdb_support.h

struct CheckpointCatalogOptions {
  std::filesystem::path directory;  // the catalog's RocksDB
  uint64_t block_bytes = 4ull << 20;
  // An open session nobody committed or aborted for this long is dropped
  // and its blocks freed (a writer that died).
  std::chrono::milliseconds session_ttl{15 * 60 * 1000};
  uint32_t max_sessions = 1024;
  uint64_t max_objects = 1'000'000;
  // Bytes the namespace's objects and open sessions may hold (0: no limit
  // but the NVMe tier's room).
  uint64_t quota_bytes = 0;

  Status Validate() const;
};

// What a write session gives its writer.
struct WriteSession {
  std::string storage;  // its blocks are ObjectBlockKey(storage, index)
  uint64_t block_bytes = 0;
};

// Blocks nobody needs any more: ObjectBlockKey(storage, i) for i below
// block_count.
struct FreedBlocks {
  std::string storage;
  uint64_t block_count = 0;
};

struct CommitResult {
  ObjectInfo object;
  std::optional<FreedBlocks> replaced;  // the version the commit replaced
};

class CheckpointCatalog final : public ObjectCatalog {
 public:
  static Result<std::unique_ptr<CheckpointCatalog>> Open(const CheckpointCatalogOptions& options);
  ~CheckpointCatalog() override;
  CheckpointCatalog(const CheckpointCatalog&) = delete;
  CheckpointCatalog& operator=(const CheckpointCatalog&) = delete;

  // ---- ObjectCatalog: committed objects only. ----
  Result<ObjectListing> List(const ListQuery& query) override;
  Result<ObjectInfo> Stat(const std::string& path) override;

  // Opens a write session for `path` (checked by the caller). Errors:
  // kResourceExhausted (max_sessions open; retry later).
  Result<WriteSession> CreateSession(const std::string& path);
  // Whether a put of `size` bytes under block key `key` belongs to an open
  // session: kNotFound (no such session: never opened, expired, committed
  // or aborted), kInvalidArgument (not a block key, or larger
  // than a block), kResourceExhausted (over the quota). Records the block's
  // size for Commit.
  Status CheckBlockPut(std::string_view key, uint64_t size);
  // Whether the blocks CheckBlockPut recorded make an object of `size`
  // bytes: kInvalidArgument (a block missing, or not full where another
  // follows), kNotFound (no such session). Commit checks it again; the
  // caller checks between the two that each block is stored.
  Status CheckComplete(const std::string& storage, uint64_t size) const;
  // Makes the session's object visible under its path, durably. Errors:
  // as CheckComplete, kResourceExhausted
  // (max_objects), kIoError.
  // `checksums` holds each block's checksum, as stored (reads from Blob
  // verify them).
  Result<CommitResult> Commit(const std::string& storage, uint64_t size,
                              std::vector<uint64_t> checksums);
  // Ends a session without an object; its blocks are freed.
  Result<FreedBlocks> Abort(const std::string& storage);
  // Moves the object at `from` to `to`, replacing what `to` held (returned
  // for freeing). kNotFound when `from` names no object.
  Result<std::optional<FreedBlocks>> Rename(const std::string& from, const std::string& to);
  // Removes the object at `path`. kNotFound when there is none.
  Result<FreedBlocks> Remove(const std::string& path);
  // Drops sessions idle past the TTL; returns their blocks.
  std::vector<FreedBlocks> ExpireSessions(std::chrono::steady_clock::time_point now);

  // Records, durably, that the object stored under `storage` is in Blob at
  // `path`. False (nothing recorded) when it no longer is the object at
  // `path` (renamed, replaced or deleted meanwhile).
  Result<bool> MarkInBlob(const std::string& storage, const std::string& path);
  // Committed objects not yet in Blob (what a restart must upload).
  std::vector<ObjectInfo> NotInBlob() const;

  // Whether blocks under `storage` belong to a committed object or an open
  // session (the restart sweep frees the others).
  bool IsLiveStorage(std::string_view storage) const;
  // The checksum of block `index` of the committed object under `storage`.
  std::optional<uint64_t> BlockChecksum(std::string_view storage, uint64_t index) const;
  // The committed object whose blocks are under `storage`, if any.
  std::optional<ObjectInfo> ObjectOfStorage(std::string_view storage) const;
  // Every committed object, and a number that changes whenever they do.
  ObjectMap Objects(uint64_t* generation) const;
  uint64_t generation() const;
  uint64_t block_bytes() const { return options_.block_bytes; }
  size_t open_sessions() const;
  size_t object_count() const;
  uint64_t stored_bytes() const;  // committed objects' sizes

 private:
  struct Session {
    std::string path;
    std::map<uint64_t, uint64_t> block_sizes;  // index -> bytes put
    uint64_t bytes = 0;
    std::chrono::steady_clock::time_point last_used;
  };

  explicit CheckpointCatalog(const CheckpointCatalogOptions& options);
  Status Load();
  Status WriteObject(const ObjectInfo* put, const std::string* erase_path);
  static FreedBlocks BlocksOf(const ObjectInfo& object);
  static FreedBlocks BlocksOf(const std::string& storage, const Session& session);

  const CheckpointCatalogOptions options_;
  const std::unique_ptr<ReopeningDb> db_;  // under mu_ once open
  mutable std::mutex mu_;
  ObjectMap objects_;                                                 // by path
  std::unordered_map<std::string, std::string> path_of_storage_;      // committed objects
  std::unordered_map<std::string, Session> sessions_;                 // by storage name
  std::unordered_map<std::string, std::vector<uint64_t>> checksums_;  // committed, by storage
  uint64_t stored_bytes_ = 0;
  uint64_t session_bytes_ = 0;
  uint64_t generation_ = 0;  // counts changes of objects_
};

}  // namespace kvtier::tiers
