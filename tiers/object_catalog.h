#pragma once

// Objects of a dataset or checkpoint namespace: a path, a size and a version
// (docs/protocol.md, "Objects"). An object's bytes are blocks of
// `block_bytes` keyed by the object block key (common/keys.h); the catalog
// knows which objects exist, the blocks live in the tiers.
//
// Thread safety: every method may be called concurrently. List and Stat may
// block on the network (a dataset's origin container): worker threads only.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"

namespace kvtier::tiers {

// Object paths are at most 1024 bytes (the protocol's limit); a storage
// name is at most a path with a version of up to 64 bytes in hex before it
// (tiers/blob/shared_checkpoints.h). Block keys add a separator and the
// index.
inline constexpr size_t kMaxObjectBlockKeyBytes = 3 + 2 * 64 + 1 + 1024 + 9;

struct ObjectInfo {
  std::string path;
  uint64_t size = 0;
  std::string version;       // changes whenever the bytes do (an ETag)
  uint64_t modified_ms = 0;  // Unix ms of the last change; 0: unknown
  uint64_t block_bytes = 0;  // block i holds bytes [i * block_bytes, (i + 1) * block_bytes)
  // The name its blocks are keyed under (ObjectBlockKey(storage, i)); "":
  // the path itself (dataset objects).
  std::string storage;
  bool in_blob = false;  // a checkpoint object: its upload to Blob is done
  // A checkpoint object: the path its bytes sit at in Blob ("": none yet).
  // It differs from `path` after a rename until the object is uploaded again.
  std::string blob_path;

  const std::string& block_name() const { return storage.empty() ? path : storage; }

  uint64_t block_count() const {
    return block_bytes == 0 ? 0 : (size + block_bytes - 1) / block_bytes;
  }
};

struct ListQuery {
  std::string prefix;      // only paths that start with it
  std::string delimiter;   // "" or one byte: roll deeper paths up into prefixes
  std::string page_token;  // "" for the first page, else a next_page_token
  uint32_t max_results = 1000;
};

struct ObjectListing {
  std::vector<ObjectInfo> objects;    // in path order
  std::vector<std::string> prefixes;  // each ends with the delimiter
  std::string next_page_token;        // "": nothing follows
};

class ObjectCatalog {
 public:
  virtual ~ObjectCatalog() = default;

  // One page of the objects under query.prefix. Errors: kInvalidArgument (a
  // page token this catalog did not give), kUnavailable /
  // kDeadlineExceeded (the listing's source cannot be reached now),
  // kResourceExhausted (more objects than the catalog may hold).
  virtual Result<ObjectListing> List(const ListQuery& query) = 0;

  // The object at `path`. Errors: kNotFound, kUnavailable,
  // kDeadlineExceeded.
  virtual Result<ObjectInfo> Stat(const std::string& path) = 0;
};

}  // namespace kvtier::tiers
