#pragma once

// What the tier stack's object operations (TierStack::ListObjects,
// StatObject, ReadRange) take and give. They run on the stack's bounded
// worker pool, since a namespace's catalog may ask the network (a
// dataset's origin container); each calls its `done` exactly once, from a
// worker thread, after the method returned OK. A method that returns an
// error (no catalog, pool full) never calls `done`.

#include <cstdint>
#include <functional>
#include <vector>

#include "common/result.h"
#include "tiers/block.h"
#include "tiers/object_catalog.h"

namespace kvtier::tiers {

// A run of bytes of one block of the object.
struct RangePiece {
  BlockHandle block;
  uint64_t offset = 0;  // within the block
  uint64_t length = 0;
};

struct RangeRead {
  ObjectInfo object;  // the version the bytes are from
  uint64_t offset = 0;
  uint64_t length = 0;  // the pieces' lengths add up to this
  std::vector<RangePiece> pieces;
};

using ListDone = std::function<void(Result<ObjectListing>)>;
using StatDone = std::function<void(Result<ObjectInfo>)>;
using RangeDone = std::function<void(Result<RangeRead>)>;

}  // namespace kvtier::tiers
