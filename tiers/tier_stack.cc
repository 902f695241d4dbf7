#include "tiers/tier_stack.h"

#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "common/byte_size.h"

namespace kvtier::tiers {

std::string_view AdmissionPolicyName(AdmissionPolicy policy) {
  switch (policy) {
    case AdmissionPolicy::kAll:
      return "all";
    case AdmissionPolicy::kReadOnce:
      return "read_once";
    case AdmissionPolicy::kChain:
      break;
  }
  return "chain";
}

Result<AdmissionPolicy> ParseAdmissionPolicy(std::string_view name) {
  if (name == "chain") return AdmissionPolicy::kChain;
  if (name == "all") return AdmissionPolicy::kAll;
  if (name == "read_once") return AdmissionPolicy::kReadOnce;
  return InvalidArgument("admission policy must be chain, all or read_once, got '" +
                         std::string(name) + "'");
}

std::string_view BlobUseName(BlobUse use) {
  switch (use) {
    case BlobUse::kSpill:
      return "spill";
    case BlobUse::kWriteBack:
      return "write_back";
    case BlobUse::kNone:
      break;
  }
  return "none";
}

Result<BlobUse> ParseBlobUse(std::string_view name) {
  if (name == "spill") return BlobUse::kSpill;
  if (name == "write_back") return BlobUse::kWriteBack;
  return InvalidArgument("blob must be spill or write_back, got '" + std::string(name) + "'");
}

Status TierStackOptions::Validate() const {
  if (demotion_queue_bytes < kMiB) {
    return InvalidArgument("tiers.demotion.queue_bytes must be at least 1MiB, got " +
                           FormatByteSize(demotion_queue_bytes));
  }
  if (workers.threads == 0 || workers.threads > 256) {
    return InvalidArgument("tiers.workers.threads must be in 1..256, got " +
                           std::to_string(workers.threads));
  }
  if (workers.max_queued_jobs == 0) {
    return InvalidArgument("tiers.workers.max_queued_jobs must be > 0");
  }
  if (Status status = leases.Validate(); !status.ok()) return status;
  return uploads.Validate();
}

TierStack::TierStack(DramTier& dram, Tier* nvme, const TierStackOptions& options, Tier* blob)
    : dram_(dram),
      nvme_(nvme),
      blob_(nvme != nullptr ? blob : nullptr),
      options_(options),
      demotion_queue_limit_(std::min(options.demotion_queue_bytes, dram.capacity_bytes() / 4)),
      leases_(options.leases.max_leases,
              options.leases.max_bytes != 0 ? options.leases.max_bytes : dram.capacity_bytes() / 4),
      workers_("kvtier-io", options.workers.threads, options.workers.max_queued_jobs) {
  ScheduleExpirySweep();
  if (nvme_ == nullptr) return;
  demotions_ = std::make_unique<DemotionQueue>(
      demotion_queue_limit_, [this](DemotionQueue::Demotion& demotion) { Demote(demotion); });
  dram_.SetEvictionListener([this](const BlockKey& key, BlockHandle block, bool was_read) {
    OnEvicted(key, std::move(block), was_read);
  });
  SetNvmeEvictionObserver(nullptr);
  if (blob_ == nullptr) return;
  uploader_ = std::make_unique<Uploader>(*nvme_, *blob_, options_.uploads);
}

TierStack::~TierStack() { Shutdown(); }

void TierStack::SetNamespacePolicy(uint32_t namespace_id, NamespacePolicy policy) {
  dram_.SetHardPinQuota(namespace_id, policy.hard_pin_quota);
  policies_[namespace_id] = policy;
}

const NamespacePolicy& TierStack::PolicyFor(uint32_t namespace_id) const {
  static const NamespacePolicy kDefault;
  auto it = policies_.find(namespace_id);
  return it == policies_.end() ? kDefault : it->second;
}

bool TierStack::UsesNvme(uint32_t namespace_id) const {
  return nvme_ != nullptr && PolicyFor(namespace_id).use_nvme;
}

BlobUse TierStack::BlobUseOf(uint32_t namespace_id) const {
  return blob_ != nullptr && UsesNvme(namespace_id) ? PolicyFor(namespace_id).blob : BlobUse::kNone;
}

bool TierStack::IsWriteThrough(uint32_t namespace_id) const {
  if (!UsesNvme(namespace_id)) return false;
  const NamespacePolicy& policy = PolicyFor(namespace_id);
  return policy.write_mode == WriteMode::kWriteThrough || policy.checkpoints != nullptr ||
         BlobUseOf(namespace_id) == BlobUse::kWriteBack;
}

void TierStack::SetNvmeEvictionObserver(Tier::EvictionSink observer) {
  if (nvme_ == nullptr) return;
  nvme_->SetEvictionSink(
      [this, observer = std::move(observer)](const BlockKey& key, uint64_t size,
                                             std::function<Result<BlockHandle>()> read) {
        if (observer) observer(key, size, read);
        OnNvmeEvicted(key, size, std::move(read));
      });
}

void TierStack::OnNvmeEvicted(const BlockKey& key, uint64_t size,
                              std::function<Result<BlockHandle>()> read) {
  leases_.OnNvmeEvicted(key, read);  // leases watching it keep its bytes readable
  // Write-back namespaces have their blocks in Blob already (marked ones
  // are never evicted).
  if (BlobUseOf(key.namespace_id) == BlobUse::kSpill) {
    uploader_->Spill(key, size, std::move(read));
  }
}

std::mutex& TierStack::StripeFor(std::string_view index_key) { return stripes_.For(index_key); }

Result<BlockHandle> TierStack::GetQueued(const BlockKey& key) const {
  if (!UsesNvme(key.namespace_id)) return NotFound("key not stored");
  std::string index_key;
  EncodeIndexKey(key, index_key);
  std::optional<BlockHandle> queued = demotions_->Find(index_key);
  if (!queued) return NotFound("key not queued for demotion");
  return std::move(*queued);
}

Location TierStack::Locate(const BlockKey& key) const {
  if (dram_.Contains(key)) return Location::kDram;
  if (GetQueued(key).ok()) return Location::kDram;
  if (UsesNvme(key.namespace_id) && nvme_->MayContain(key)) return Location::kNvme;
  if (BlobUseOf(key.namespace_id) != BlobUse::kNone) {
    // The Blob tier's presence view: blobs this server wrote or read, and
    // what listings and probes found (another rack's spills). A key it does
    // not know is probed in the background, for the next match.
    if (blob_->ContainsWithoutIo(key)) return Location::kBlob;
    blob_->Probe(key);
  }
  return Location::kNone;
}

bool TierStack::MayBeBelow(const BlockKey& key) const {
  return PolicyFor(key.namespace_id).origin != nullptr ||
         BlobUseOf(key.namespace_id) != BlobUse::kNone ||
         (UsesNvme(key.namespace_id) && nvme_->MayContain(key));
}

bool TierStack::LowerMayHold(const BlockKey& key, const std::string& index_key,
                             std::optional<uint64_t> new_checksum) const {
  // Checked before NVMe: a demotion leaves the queue only after NVMe's
  // index has its entry, so one of the two checks sees it.
  if (demotions_->Holds(index_key)) return true;
  if (flights_.InFlight(index_key)) return true;
  if (uploader_ != nullptr && uploader_->Tracks(index_key)) return true;
  if (!nvme_->MayContain(key)) return false;
  if (!new_checksum) return true;
  const std::optional<uint64_t> stored = nvme_->StoredChecksum(key);
  return !stored || *stored != *new_checksum;
}

uint64_t TierStack::BarrierIfLowerMayHold(const BlockKey& key,
                                          std::optional<uint64_t> new_checksum) {
  if (!UsesNvme(key.namespace_id)) return 0;
  std::string index_key;
  EncodeIndexKey(key, index_key);
  // A delete in a Blob namespace always removes the blob (on a worker).
  const bool delete_blob = !new_checksum && BlobUseOf(key.namespace_id) != BlobUse::kNone;
  if (!delete_blob && !LowerMayHold(key, index_key, new_checksum)) return 0;
  return demotions_->NextBarrier();
}

bool TierStack::BelowHoldsSameBytes(const BlockKey& key, uint64_t checksum) const {
  return nvme_->StoredChecksum(key) == checksum;
}

Status TierStack::PutWriteBack(const BlockKey& key, BlockHandle block, uint64_t* lower_barrier) {
  *lower_barrier = 0;
  const uint64_t checksum = block.checksum();
  KVTIER_RETURN_IF_ERROR(dram_.Put(key, std::move(block)));
  // From here on the old value cannot be evicted (DRAM no longer holds it),
  // so every demotion of it is already numbered below the barrier.
  *lower_barrier = BarrierIfLowerMayHold(key, checksum);
  return Status::Ok();
}

Status TierStack::EraseFromDram(const BlockKey& key, uint64_t* lower_barrier) {
  Status status = dram_.Erase(key);
  *lower_barrier = BarrierIfLowerMayHold(key, std::nullopt);
  return status;
}

Result<bool> TierStack::RemoveBelow(const BlockKey& key, uint64_t barrier, bool erase_dram) {
  std::string index_key;
  EncodeIndexKey(key, index_key);
  std::lock_guard stripe(StripeFor(index_key));
  bool removed = demotions_->CancelBefore(index_key, barrier);
  if (nvme_->Erase(key).ok()) removed = true;
  // After the NVMe erase no new upload of the old bytes can start (they are
  // read from NVMe, or were handed over by an eviction that is cancelled).
  if (uploader_ != nullptr) uploader_->Cancel(index_key);
  Status blob_status = Status::Ok();
  if (erase_dram && BlobUseOf(key.namespace_id) != BlobUse::kNone) {
    blob_status = blob_->Erase(key);
    if (blob_status.ok()) removed = true;
    if (blob_status.code() == StatusCode::kNotFound) blob_status = Status::Ok();
    blob_erase_epoch_.fetch_add(1, std::memory_order_acq_rel);
  }
  // A get that read the old value before we took the stripe may have
  // promoted it.
  if (erase_dram && dram_.Erase(key).ok()) removed = true;
  if (removed) counters_.lower_removals.fetch_add(1, std::memory_order_relaxed);
  if (!blob_status.ok()) return blob_status;
  return removed;
}

void TierStack::FlushUploads(uint32_t namespace_id, const std::vector<std::string_view>& keys,
                             std::function<void(Status)> done) {
  if (ObjectPublisher* publisher = PolicyFor(namespace_id).publisher) {
    // A checkpoint namespace: `keys` are object paths.
    publisher->Flush(std::vector<std::string>(keys.begin(), keys.end()), std::move(done));
    return;
  }
  if (BlobUseOf(namespace_id) != BlobUse::kWriteBack) {
    done(Unsupported("the namespace does not write back to Blob: there is nothing to flush"));
    return;
  }
  std::vector<std::string> index_keys;
  index_keys.reserve(keys.size());
  for (std::string_view key : keys) {
    EncodeIndexKey({namespace_id, key}, index_keys.emplace_back());
  }
  uploader_->Flush(std::move(index_keys), std::move(done));
}

Status TierStack::PutWriteThrough(const BlockKey& key, BlockHandle block) {
  BlockHandle durable = block.Clone();
  // Checkpoint blocks go to NVMe only: written once and rarely read on this
  // rack, they would evict the DRAM working set (and a 2 GiB checkpoint
  // costs twice the memory traffic). A read brings a block up as usual.
  if (PolicyFor(key.namespace_id).checkpoints == nullptr) {
    KVTIER_RETURN_IF_ERROR(dram_.Put(key, std::move(block)));
  }
  std::string index_key;
  EncodeIndexKey(key, index_key);
  const uint64_t barrier = demotions_->NextBarrier();
  std::lock_guard stripe(StripeFor(index_key));
  demotions_->CancelBefore(index_key, barrier);
  const bool upload = BlobUseOf(key.namespace_id) == BlobUse::kWriteBack;
  // Checkpoint blocks are kept (marked) until their object is in Blob or
  // deleted; whole objects are uploaded, never single blocks.
  const bool session_block = PolicyFor(key.namespace_id).checkpoints != nullptr;
  const bool mark = upload || session_block;
  UploadJournal* journal = nvme_->upload_journal();
  // A write session's blocks are synced once, by the commit that makes
  // them an object (CommitObject), not one by one: nothing acknowledges
  // them as durable before it.
  Status status = !mark                ? nvme_->PutDurable(key, std::move(durable))
                  : journal == nullptr ? Unsupported("the NVMe tier keeps no upload journal")
                  : session_block      ? journal->PutForUploadUnsynced(key, std::move(durable))
                                       : journal->PutDurableForUpload(key, std::move(durable));
  if (!status.ok()) {
    // Not acknowledged: leave neither the new value nor an older one.
    dram_.Erase(key).IgnoreError();
    nvme_->Erase(key).IgnoreError();
    return status;
  }
  if (upload) uploader_->Upload(index_key);
  counters_.write_through_puts.fetch_add(1, std::memory_order_relaxed);
  return Status::Ok();
}

void TierStack::OnEvicted(const BlockKey& key, BlockHandle block, bool was_read) {
  if (!UsesNvme(key.namespace_id)) return;
  const bool admitted =
      was_read ||
      (options_.admission == AdmissionPolicy::kAll ||
       (options_.admission == AdmissionPolicy::kChain && !block.attributes().partial_tail));
  if (!admitted) {
    counters_.admission_rejects.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  bool refresh = false;
  if (BelowHoldsSameBytes(key, block.checksum())) {
    // Promoted earlier or written through: NVMe holds these very bytes. A
    // block read while in DRAM is written again all the same, so NVMe
    // (which drops its oldest writes first) keeps it as long as a new one
    // and, as DRAM evicts leaves first, never drops a chain's parent before
    // its children. Not where the NVMe copy carries a durability promise
    // (write-through, an upload mark): those are never rewritten.
    if (!was_read || IsWriteThrough(key.namespace_id)) {
      counters_.demotions_already_below.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    refresh = true;
  }
  std::string index_key;
  EncodeIndexKey(key, index_key);
  if (!demotions_->Enqueue(std::move(index_key), std::move(block), refresh)) {
    // Full (or stopping): the block is dropped as the caller releases its
    // shard lock.
    counters_.demotion_queue_full.fetch_add(1, std::memory_order_relaxed);
  }
}

bool TierStack::DemotionBacklogged() const {
  return demotions_ != nullptr && demotions_->Backlogged();
}

bool TierStack::WaitForDemotionRoom(std::function<void()> on_room) {
  return demotions_ != nullptr && demotions_->WaitForRoom(std::move(on_room));
}

void TierStack::FlushDemotions() {
  if (demotions_ != nullptr) demotions_->WaitIdle();
}

void TierStack::Demote(DemotionQueue::Demotion& demotion) {
  const BlockKey key = DecodeIndexKey(demotion.index_key);
  std::lock_guard stripe(StripeFor(demotion.index_key));
  if (!demotions_->IsCurrent(demotion.index_key, demotion.seq)) {
    counters_.demotions_cancelled.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // The demotion stays current during the write, so a delete meanwhile
  // takes the worker path and waits for this stripe.
  if (!demotion.refresh && BelowHoldsSameBytes(key, demotion.block.checksum())) {
    // Written meanwhile (write-through, or an earlier demotion).
    counters_.demotions_already_below.fetch_add(1, std::memory_order_relaxed);
  } else if (Status status = nvme_->Put(key, demotion.block.Clone()); status.ok()) {
    counters_.demotions.fetch_add(1, std::memory_order_relaxed);
    counters_.demoted_bytes.fetch_add(demotion.block.size(), std::memory_order_relaxed);
    if (demotion.refresh) counters_.demotions_refreshed.fetch_add(1, std::memory_order_relaxed);
  } else {
    counters_.demotion_failures.fetch_add(1, std::memory_order_relaxed);
  }
  demotions_->Finish(demotion.index_key, demotion.seq);
}

Result<BlockHandle> TierStack::GetBelow(const BlockKey& key, Location* from) {
  *from = Location::kNone;
  if (!UsesNvme(key.namespace_id) && PolicyFor(key.namespace_id).origin == nullptr) {
    return NotFound("key not stored");
  }
  std::string index_key;
  EncodeIndexKey(key, index_key);
  return flights_.Do(
      index_key, [&](Location* read_from) { return ReadAndPromote(key, read_from); }, from);
}

Result<BlockHandle> TierStack::ReadAndPromote(const BlockKey& key, Location* from) {
  std::string index_key;
  EncodeIndexKey(key, index_key);
  // Evicted but still in memory on its way to NVMe: no need to wait for
  // the write (which holds the stripe).
  if (auto queued = GetQueued(key); queued.ok()) {
    *from = Location::kDram;
    return queued;
  }
  std::unique_lock stripe(StripeFor(index_key));
  // A promotion or a put may have landed since the caller's DRAM miss.
  if (auto hit = dram_.Get(key); hit.ok()) {
    *from = Location::kDram;
    return hit;
  }
  Result<BlockHandle> below = NotFound("key not stored");
  if (UsesNvme(key.namespace_id)) {
    below = nvme_->Get(key);
    if (below.ok()) *from = Location::kNvme;
  }
  auto missing = [](const Result<BlockHandle>& r) {
    return !r.ok() && (r.status().code() == StatusCode::kNotFound ||
                       r.status().code() == StatusCode::kCorruption);
  };
  // Blob and origin blocks always go into DRAM (their eviction demotes them
  // by policy): the next reader must not fetch them again.
  bool fetched = false;
  bool promote = true;
  if (missing(below) && BlobUseOf(key.namespace_id) != BlobUse::kNone) {
    below = ReadBlob(key, index_key, stripe, &promote);
    if (below.ok()) *from = Location::kBlob;
    fetched = below.ok();
  }
  BlockSource* origin = PolicyFor(key.namespace_id).origin;
  if (missing(below) && origin != nullptr) {
    // Not under the stripe: a network read must not hold up the other keys
    // of the stripe. Nothing below DRAM races with it (origins are read
    // only), and the DRAM insert below never replaces a newer put.
    stripe.unlock();
    below = origin->Fetch(key);
    if (!below.ok()) return below.status();
    stripe.lock();
    *from = Location::kOrigin;
    fetched = true;
    counters_.origin_fills.fetch_add(1, std::memory_order_relaxed);
  }
  if (!below.ok() || (!fetched && !options_.promote_on_get) || !promote) return below;
  BlockHandle block = std::move(*below);
  // A promotion evicts another block; while the demotion queue is backed up
  // that block could not be written down, so serve from NVMe instead.
  if (!fetched && demotions_ != nullptr && demotions_->Backlogged()) {
    counters_.promotions_deferred.fetch_add(1, std::memory_order_relaxed);
    return block;
  }
  // Origin blocks were received into DRAM memory already: no copy then.
  auto own = dram_.InOwnMemory(key.key.size(), block);
  if (!own.ok()) {
    counters_.promotion_failures.fetch_add(1, std::memory_order_relaxed);
    return block;  // served from the NVMe copy
  }
  BlockHandle promoted = std::move(*own);
  // Never over a value put meanwhile: that one is newer.
  auto inserted = dram_.PutPromoted(key, promoted.Clone());
  if (inserted.ok() && *inserted) {
    counters_.promotions.fetch_add(1, std::memory_order_relaxed);
    return promoted;
  }
  return block;
}

Result<BlockHandle> TierStack::ReadBlob(const BlockKey& key, const std::string& index_key,
                                        std::unique_lock<std::mutex>& stripe, bool* promote) {
  // Evicted from NVMe, not uploaded yet: its bytes are still on disk.
  if (auto spilling = uploader_->ReadSpilling(index_key); spilling.ok()) return spilling;
  // Not under the stripe (a network read); a delete meanwhile bumps the
  // epoch, and then the block read before it is not promoted.
  const uint64_t epoch = blob_erase_epoch_.load(std::memory_order_acquire);
  stripe.unlock();
  Result<BlockHandle> got = blob_->Get(key);
  stripe.lock();
  if (!got.ok()) return got;
  counters_.blob_hits.fetch_add(1, std::memory_order_relaxed);
  if (blob_erase_epoch_.load(std::memory_order_acquire) != epoch) {
    counters_.blob_promotions_skipped.fetch_add(1, std::memory_order_relaxed);
    *promote = false;
  }
  return got;
}

void TierStack::Shutdown() {
  if (shut_down_.exchange(true)) return;
  StopOperations();                               // its jobs may still queue demotions
  if (demotions_ != nullptr) demotions_->Stop();  // writes what it holds
  if (nvme_ != nullptr) dram_.SetEvictionListener(nullptr);
  // After the demotions: their writes may evict NVMe blocks to spill.
  if (nvme_ != nullptr) nvme_->SetEvictionSink(nullptr);
  if (uploader_ != nullptr) uploader_->Shutdown();
}

std::vector<TierStats> TierStack::Stats() const {
  std::vector<TierStats> out;
  out.push_back(dram_.Stats());
  if (nvme_ != nullptr) {
    TierStats& dram = out.back();
    dram.Add("demotions", counters_.demotions);
    dram.Add("demoted_bytes", counters_.demoted_bytes);
    dram.Add("demotions_already_below", counters_.demotions_already_below);
    dram.Add("demotions_refreshed", counters_.demotions_refreshed);
    dram.Add("demotions_cancelled", counters_.demotions_cancelled);
    dram.Add("demotion_queue_full", counters_.demotion_queue_full);
    dram.Add("demotion_failures", counters_.demotion_failures);
    dram.Add("admission_rejects", counters_.admission_rejects);
    dram.counters.push_back({"demotion_queue_bytes", demotions_->queued_bytes()});
    out.push_back(nvme_->Stats());
    TierStats& nvme = out.back();
    nvme.Add("promotions", counters_.promotions);
    nvme.Add("promotion_failures", counters_.promotion_failures);
    nvme.Add("promotions_deferred", counters_.promotions_deferred);
    nvme.counters.push_back({"single_flight_joins", flights_.joins()});
    nvme.Add("lower_removals", counters_.lower_removals);
    nvme.Add("write_through_puts", counters_.write_through_puts);
  }
  if (uploader_ != nullptr) {
    out.push_back(blob_->Stats());
    TierStats& blob = out.back();
    blob.Add("get_hits", counters_.blob_hits);
    blob.Add("promotions_skipped", counters_.blob_promotions_skipped);
    uploader_->AddStats(blob);
  }
  // Origins once each (namespaces may share one), after the tiers.
  std::vector<const BlockSource*> seen;
  for (const auto& [id, policy] : policies_) {
    if (policy.origin == nullptr ||
        std::find(seen.begin(), seen.end(), policy.origin) != seen.end()) {
      continue;
    }
    seen.push_back(policy.origin);
    out.push_back(policy.origin->Stats());
    out.back().Add("fills", counters_.origin_fills);
    out.back().counters.push_back({"single_flight_joins", flights_.joins()});
  }
  return out;
}

}  // namespace kvtier::tiers
