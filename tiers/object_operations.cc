// TierStack's object operations: List, Stat and ReadRange over a
// namespace's catalog and the blocks in the tiers (object_operations.h).

#include <algorithm>

#include "common/keys.h"
#include "tiers/tier_stack.h"

namespace kvtier::tiers {

Result<ObjectCatalog*> TierStack::CatalogOf(uint32_t namespace_id) const {
  ObjectCatalog* catalog = PolicyFor(namespace_id).objects;
  if (catalog == nullptr) return Unsupported("the namespace holds no objects");
  return catalog;
}

Status TierStack::OnCatalog(uint32_t namespace_id, JobClass job_class,
                            std::function<void(ObjectCatalog&)> work) {
  KVTIER_ASSIGN_OR_RETURN(ObjectCatalog * catalog, CatalogOf(namespace_id));
  auto job = [catalog, work = std::move(work)] { work(*catalog); };
  if (!Defer(std::move(job), job_class)) return ResourceExhausted("worker queue full; retry");
  return Status::Ok();
}

Status TierStack::ListObjects(uint32_t namespace_id, ListQuery query, JobClass job_class,
                              ListDone done) {
  return OnCatalog(namespace_id, job_class,
                   [query = std::move(query), done = std::move(done)](ObjectCatalog& catalog) {
                     done(catalog.List(query));
                   });
}

Status TierStack::StatObject(uint32_t namespace_id, std::string path, JobClass job_class,
                             StatDone done) {
  return OnCatalog(namespace_id, job_class,
                   [path = std::move(path), done = std::move(done)](ObjectCatalog& catalog) {
                     done(catalog.Stat(path));
                   });
}

Status TierStack::ReadRange(uint32_t namespace_id, std::string path, uint64_t offset,
                            uint64_t length, JobClass job_class, RangeDone done) {
  return OnCatalog(namespace_id, job_class,
                   [this, namespace_id, path = std::move(path), offset, length,
                    done = std::move(done)](ObjectCatalog& catalog) {
                     done(ReadRangeNow(namespace_id, catalog, path, offset, length));
                   });
}

Result<RangeRead> TierStack::ReadRangeNow(uint32_t namespace_id, ObjectCatalog& catalog,
                                          const std::string& path, uint64_t offset,
                                          uint64_t length) {
  RangeRead read;
  KVTIER_ASSIGN_OR_RETURN(read.object, catalog.Stat(path));
  const ObjectInfo& object = read.object;
  read.offset = offset;
  if (offset >= object.size || length == 0) return read;
  if (object.block_bytes == 0) return Internal("object " + path + " has no block size");
  const uint64_t end = offset + std::min(length, object.size - offset);
  read.length = end - offset;
  for (uint64_t index = offset / object.block_bytes; index * object.block_bytes < end; ++index) {
    const uint64_t block_start = index * object.block_bytes;
    const uint64_t block_size = std::min(object.block_bytes, object.size - block_start);
    KVTIER_ASSIGN_OR_RETURN(std::string key,
                            ObjectBlockKey(object.block_name(), index, kMaxObjectBlockKeyBytes));
    const BlockKey block_key{namespace_id, key};
    Result<BlockHandle> block = [&]() -> Result<BlockHandle> {
      if (auto held = FromMemory(/*lease_id=*/0, block_key)) return std::move(*held);
      Location from = Location::kNone;
      return GetBelow(block_key, &from);
    }();
    if (!block.ok()) {
      if (block.status().code() == StatusCode::kNotFound ||
          block.status().code() == StatusCode::kCorruption) {
        // The catalog lists the object but a block is gone (or failed its
        // checksum and was dropped): never serve a hole.
        return Unavailable("block " + std::to_string(index) + " of " + path +
                           " cannot be read now: " + block.status().message());
      }
      return block.status();
    }
    if (block->size() != block_size) {
      // A block of another version of the object (it changed since the
      // block was cached): never mix versions in one read.
      return Unavailable("object " + path + " changed while it was read; retry");
    }
    const uint64_t from = std::max(offset, block_start) - block_start;
    const uint64_t to = std::min(end, block_start + block_size) - block_start;
    read.pieces.push_back({std::move(*block), from, to - from});
  }
  return read;
}

}  // namespace kvtier::tiers
