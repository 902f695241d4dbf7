#pragma once

// Where the committed objects of a checkpoint namespace go after NVMe: a
// publisher copies each to Blob as an ordinary blob at its path
// (tiers/blob/checkpoint_uploader.h). The tier stack tells it of every
// change; it works in the background.
//
// Thread safety: every method may be called from any thread and never
// blocks on I/O.

#include <functional>
#include <string>
#include <vector>

#include "common/result.h"

namespace kvtier::tiers {

class ObjectPublisher {
 public:
  virtual ~ObjectPublisher() = default;

  // The object stored under `storage` was committed or renamed: copy it to
  // Blob under its current path (the catalog says which).
  virtual void Publish(const std::string& storage) = 0;
  // The object stored under `storage` was renamed while its bytes sat in
  // Blob at `old_blob_path`: copy it under its new path, then remove that
  // blob (Publish does both; this also says which blob is going).
  virtual void Republish(const std::string& storage, const std::string& old_blob_path) = 0;
  // An object whose bytes sat in Blob at `blob_path` was deleted: remove
  // that blob unless another object has taken its place there.
  virtual void Unpublish(const std::string& blob_path) = 0;
  // `path` names no object written here: removes the blob another server
  // put there. Blocks on Blob (worker threads). kNotFound when there is
  // none.
  virtual Status RemoveForeign(const std::string& path) = 0;
  // Calls `done` once the objects at `paths` (every committed object when
  // empty) are in Blob, or with the error of a failed attempt on one.
  virtual void Flush(std::vector<std::string> paths, std::function<void(Status)> done) = 0;
};

}  // namespace kvtier::tiers
