// TierStack's writes of objects in checkpoint namespaces: write sessions,
// commit, abort, rename, delete, and the freeing of blocks no object needs
// (tier_stack.h, "Writing objects"; tiers/checkpoint_catalog.h).

#include "common/keys.h"
#include "tiers/index_key.h"
#include "tiers/tier_stack.h"
#include "tiers/upload_journal.h"

namespace kvtier::tiers {

Result<CheckpointCatalog*> TierStack::CheckpointsOf(uint32_t namespace_id) const {
  CheckpointCatalog* catalog = PolicyFor(namespace_id).checkpoints;
  if (catalog == nullptr || !UsesNvme(namespace_id)) {
    return Unsupported("the namespace is not a checkpoint namespace: objects cannot be written");
  }
  return catalog;
}

Result<WriteSession> TierStack::CreateObject(uint32_t namespace_id, const std::string& path) {
  KVTIER_ASSIGN_OR_RETURN(CheckpointCatalog * catalog, CheckpointsOf(namespace_id));
  // Sessions idle past their TTL are dropped here too, not only by the
  // periodic sweep, so a writer that died frees its slot for the next one.
  std::vector<FreedBlocks> expired = catalog->ExpireSessions(std::chrono::steady_clock::now());
  if (!expired.empty()) {
    counters_.write_sessions_expired.fetch_add(expired.size(), std::memory_order_relaxed);
    // The blocks go on a worker; if none is free the restart sweep frees them.
    Defer(
        [this, namespace_id, expired = std::move(expired)] {
          for (const FreedBlocks& freed : expired) FreeBlocks(namespace_id, freed);
        },
        JobClass::kBulk);
  }
  return catalog->CreateSession(path);
}

Status TierStack::CheckObjectBlockPut(uint32_t namespace_id, std::string_view key, uint64_t size) {
  CheckpointCatalog* catalog = PolicyFor(namespace_id).checkpoints;
  if (catalog == nullptr) return Status::Ok();
  return catalog->CheckBlockPut(key, size);
}

Status TierStack::CommitObject(uint32_t namespace_id, std::string storage, uint64_t size,
                               JobClass job_class, StatDone done) {
  KVTIER_ASSIGN_OR_RETURN(CheckpointCatalog * catalog, CheckpointsOf(namespace_id));
  auto job = [this, catalog, namespace_id, storage = std::move(storage), size,
              done = std::move(done)] {
    if (Status complete = catalog->CheckComplete(storage, size); !complete.ok()) {
      return done(complete);
    }
    // Every block must be durable on NVMe: an acknowledged commit survives
    // a crash. A put that failed after its size was recorded shows here.
    const uint64_t blocks = (size + catalog->block_bytes() - 1) / catalog->block_bytes();
    std::vector<uint64_t> checksums;
    checksums.reserve(blocks);
    for (uint64_t index = 0; index < blocks; ++index) {
      auto key = ObjectBlockKey(storage, index, kMaxObjectBlockKeyBytes);
      if (!key.ok()) return done(key.status());
      std::optional<uint64_t> checksum = nvme_->StoredChecksum({namespace_id, *key});
      if (!checksum) {
        return done(InvalidArgument("block " + std::to_string(index) + " of " +
                                    std::to_string(blocks) +
                                    " is not stored (its put failed?); put it again"));
      }
      checksums.push_back(*checksum);
    }
    // The blocks were written unsynced (PutWriteThrough): one sync for all
    // of them, before the commit makes the object visible and acknowledged.
    if (UploadJournal* journal = nvme_->upload_journal(); journal != nullptr) {
      if (Status synced = journal->SyncWrites(); !synced.ok()) return done(synced);
    }
    auto committed = catalog->Commit(storage, size, std::move(checksums));
    if (!committed.ok()) return done(committed.status());
    if (committed->replaced) FreeBlocks(namespace_id, *committed->replaced);
    counters_.objects_committed.fetch_add(1, std::memory_order_relaxed);
    if (ObjectPublisher* publisher = PolicyFor(namespace_id).publisher) publisher->Publish(storage);
    done(std::move(committed->object));
  };
  if (!Defer(std::move(job), job_class)) return ResourceExhausted("worker queue full; retry");
  return Status::Ok();
}

Status TierStack::AbortObject(uint32_t namespace_id, std::string storage, JobClass job_class,
                              std::function<void(Status)> done) {
  KVTIER_ASSIGN_OR_RETURN(CheckpointCatalog * catalog, CheckpointsOf(namespace_id));
  auto job = [this, catalog, namespace_id, storage = std::move(storage), done = std::move(done)] {
    auto freed = catalog->Abort(storage);
    if (!freed.ok()) return done(freed.status());
    FreeBlocks(namespace_id, *freed);
    done(Status::Ok());
  };
  if (!Defer(std::move(job), job_class)) return ResourceExhausted("worker queue full; retry");
  return Status::Ok();
}

Status TierStack::RenameObject(uint32_t namespace_id, std::string from, std::string to,
                               JobClass job_class, std::function<void(Status)> done) {
  KVTIER_ASSIGN_OR_RETURN(CheckpointCatalog * catalog, CheckpointsOf(namespace_id));
  auto job = [this, catalog, namespace_id, from = std::move(from), to = std::move(to),
              done = std::move(done)] {
    auto moved = catalog->Stat(from);
    auto replaced = catalog->Rename(from, to);
    const NamespacePolicy& policy = PolicyFor(namespace_id);
    if (replaced.status().code() == StatusCode::kNotFound && policy.objects != catalog &&
        policy.objects != nullptr && policy.objects->Stat(from).ok()) {
      // Another server's object, seen in the shared container: renaming
      // it would copy the blob. Programs that move files fall back to
      // copy and delete on EXDEV, which this maps to.
      return done(Unsupported("object " + from +
                              " was written by another server and is only in Blob; copy it"));
    }
    if (!replaced.ok()) return done(replaced.status());
    if (*replaced) FreeBlocks(namespace_id, **replaced);
    if (policy.publisher != nullptr && moved.ok()) {
      // Uploaded again under `to`; the blob under the old name goes.
      if (moved->blob_path.empty()) {
        policy.publisher->Publish(moved->storage);
      } else {
        policy.publisher->Republish(moved->storage, moved->blob_path);
      }
    }
    done(Status::Ok());
  };
  if (!Defer(std::move(job), job_class)) return ResourceExhausted("worker queue full; retry");
  return Status::Ok();
}

Status TierStack::DeleteObject(uint32_t namespace_id, std::string path, JobClass job_class,
                               std::function<void(Status)> done) {
  KVTIER_ASSIGN_OR_RETURN(CheckpointCatalog * catalog, CheckpointsOf(namespace_id));
  auto job = [this, catalog, namespace_id, path = std::move(path), done = std::move(done)] {
    auto removed = catalog->Stat(path);
    auto freed = catalog->Remove(path);
    ObjectPublisher* publisher = PolicyFor(namespace_id).publisher;
    if (freed.status().code() == StatusCode::kNotFound && publisher != nullptr) {
      // Perhaps another server's object in the shared container.
      return done(publisher->RemoveForeign(path));
    }
    if (!freed.ok()) return done(freed.status());
    FreeBlocks(namespace_id, *freed);
    if (publisher != nullptr && removed.ok()) {
      if (!removed->blob_path.empty()) publisher->Unpublish(removed->blob_path);
      // An upload of this version may be under way: the blob it is about to
      // commit at the path goes too (the uploader also removes it once it
      // sees the object gone), and the path reads as absent meanwhile.
      if (removed->blob_path != removed->path) publisher->Unpublish(removed->path);
    }
    done(Status::Ok());
  };
  if (!Defer(std::move(job), job_class)) return ResourceExhausted("worker queue full; retry");
  return Status::Ok();
}

Result<BlockHandle> TierStack::ReadObjectBlock(uint32_t namespace_id, const std::string& storage,
                                               uint64_t index) {
  KVTIER_ASSIGN_OR_RETURN(std::string key, ObjectBlockKey(storage, index, kMaxObjectBlockKeyBytes));
  const BlockKey block{namespace_id, key};
  if (auto held = FromMemory(/*lease_id=*/0, block)) return std::move(*held);
  Location from = Location::kNone;
  return GetBelow(block, &from);
}

void TierStack::ReleaseObjectBlock(uint32_t namespace_id, const std::string& storage,
                                   uint64_t index, uint64_t checksum) {
  auto key = ObjectBlockKey(storage, index, kMaxObjectBlockKeyBytes);
  UploadJournal* journal = nvme_ == nullptr ? nullptr : nvme_->upload_journal();
  if (!key.ok() || journal == nullptr) return;
  journal->ClearUploadMark({namespace_id, *key}, checksum).IgnoreError();
}

void TierStack::EraseEverywhere(const BlockKey& key) {
  uint64_t barrier = 0;
  EraseFromDram(key, &barrier).IgnoreError();
  RemoveBelow(key, barrier, /*erase_dram=*/true).status().IgnoreError();
}

void TierStack::FreeBlocks(uint32_t namespace_id, const FreedBlocks& freed) {
  for (uint64_t index = 0; index < freed.block_count; ++index) {
    auto key = ObjectBlockKey(freed.storage, index, kMaxObjectBlockKeyBytes);
    if (!key.ok()) return;
    EraseEverywhere({namespace_id, *key});
  }
  counters_.object_blocks_freed.fetch_add(freed.block_count, std::memory_order_relaxed);
}

void TierStack::ExpireWriteSessions() {
  const auto now = std::chrono::steady_clock::now();
  for (const auto& [namespace_id, policy] : policies_) {
    if (policy.checkpoints == nullptr) continue;
    for (const FreedBlocks& freed : policy.checkpoints->ExpireSessions(now)) {
      counters_.write_sessions_expired.fetch_add(1, std::memory_order_relaxed);
      FreeBlocks(namespace_id, freed);
    }
  }
}

size_t TierStack::ResumeUploads() {
  if (nvme_ == nullptr) return 0;
  UploadJournal* journal = nvme_->upload_journal();
  if (journal == nullptr) return 0;
  // Blocks of checkpoint namespaces no object or session names.
  for (const std::string& index_key : journal->MarkedForUpload()) {
    const BlockKey key = DecodeIndexKey(index_key);
    CheckpointCatalog* catalog = PolicyFor(key.namespace_id).checkpoints;
    if (catalog == nullptr) continue;
    auto parsed = ParseObjectBlockKey(key.key);
    if (parsed.ok() && catalog->IsLiveStorage(parsed->first)) continue;
    EraseEverywhere(key);
    counters_.object_blocks_freed.fetch_add(1, std::memory_order_relaxed);
  }
  if (uploader_ == nullptr) return 0;
  resumed_uploads_ = uploader_->ResumeMarked([this](std::string_view index_key) {
    return PolicyFor(DecodeIndexKey(index_key).namespace_id).checkpoints == nullptr;
  });
  return resumed_uploads_;
}

}  // namespace kvtier::tiers
