#include "tiers/uploader.h"

#include <algorithm>
#include <random>

#include "tiers/index_key.h"

namespace kvtier::tiers {
namespace {

bool IsMissing(const Status& status) {
  return status.code() == StatusCode::kNotFound || status.code() == StatusCode::kCorruption;
}

}  // namespace

Status UploaderOptions::Validate() const {
  if (threads < 1 || threads > 64) {
    return InvalidArgument("tiers.blob.upload_threads must be 1..64, got " +
                           std::to_string(threads));
  }
  if (retry_initial.count() <= 0 || retry_max < retry_initial) {
    return InvalidArgument("upload retry delays must be positive, the maximum at least the first");
  }
  return Status::Ok();
}

Uploader::Uploader(Tier& source, Tier& target, const UploaderOptions& options)
    : source_(source), journal_(source.upload_journal()), target_(target), options_(options) {
  for (int i = 0; i < options_.threads; ++i) threads_.emplace_back([this] { Loop(); });
}

Uploader::~Uploader() { Shutdown(); }

size_t Uploader::ResumeMarked(const std::function<bool(std::string_view index_key)>& include) {
  if (journal_ == nullptr) return 0;
  size_t queued = 0;
  for (const std::string& key : journal_->MarkedForUpload()) {
    if (!include(key)) continue;
    Upload(key);
    ++queued;
  }
  counters_.uploads_resumed.fetch_add(queued, std::memory_order_relaxed);
  return queued;
}

void Uploader::Upload(const std::string& index_key) {
  {
    std::lock_guard lock(mu_);
    auto [it, inserted] = work_.try_emplace(index_key);
    Work& work = it->second;
    if (!inserted && work.kind == Kind::kWriteBack) {
      // Queued: the upload reads the newest bytes when it runs. Running:
      // run again afterwards.
      if (work.running) work.again = true;
      return;
    }
    if (!inserted) {
      // An older eviction of the key: the write-back supersedes it.
      spill_bytes_ -= work.size;
      work.size = 0;
      work.read = nullptr;
    }
    work.kind = Kind::kWriteBack;
    work.seq = next_seq_++;
    write_backs_[work.seq] = index_key;
    if (work.running) {
      work.again = true;
      return;
    }
    if (!work.queued) {
      work.queued = true;
      ready_.push_back(index_key);
    }
  }
  work_cv_.notify_one();
}

void Uploader::Spill(const BlockKey& key, uint64_t size,
                     std::function<Result<BlockHandle>()> read) {
  std::string index_key;
  EncodeIndexKey(key, index_key);
  {
    std::lock_guard lock(mu_);
    if (stopping_ || spill_bytes_ + size > options_.spill_queue_bytes) {
      counters_.spill_queue_full.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    auto [it, inserted] = work_.try_emplace(index_key);
    Work& work = it->second;
    if (!inserted) {
      // A write-back of the key is pending (it uploads the newest bytes), or
      // an older spill: keep the newest eviction's bytes.
      if (work.kind == Kind::kWriteBack || work.running) return;
      spill_bytes_ -= work.size;
    }
    work.kind = Kind::kSpill;
    work.size = size;
    work.read = std::move(read);
    spill_bytes_ += size;
    if (!work.queued) {
      work.queued = true;
      ready_.push_back(index_key);
    }
  }
  work_cv_.notify_one();
}

Result<BlockHandle> Uploader::ReadSpilling(const std::string& index_key) const {
  std::function<Result<BlockHandle>()> read;
  {
    std::lock_guard lock(mu_);
    auto it = work_.find(index_key);
    if (it == work_.end() || it->second.kind != Kind::kSpill) {
      return NotFound("no spill of the key pending");
    }
    read = it->second.read;
  }
  return read();
}

bool Uploader::Tracks(const std::string& index_key) const {
  std::lock_guard lock(mu_);
  return work_.count(index_key) != 0;
}

void Uploader::Forget(const std::string& index_key) {
  auto it = work_.find(index_key);
  if (it == work_.end()) return;
  if (it->second.kind == Kind::kSpill) spill_bytes_ -= it->second.size;
  write_backs_.erase(it->second.seq);
  work_.erase(it);
}

void Uploader::Cancel(const std::string& index_key) {
  std::vector<std::pair<std::function<void(Status)>, Status>> finished;
  {
    std::unique_lock lock(mu_);
    idle_cv_.wait(lock, [&] {
      auto it = work_.find(index_key);
      return it == work_.end() || !it->second.running;
    });
    if (work_.count(index_key) == 0) return;
    Forget(index_key);  // stale entries in ready_/retry_ are skipped
    counters_.cancelled.fetch_add(1, std::memory_order_relaxed);
    CollectWaiters(nullptr, nullptr, Status::Ok(), finished);
  }
  for (auto& [done, status] : finished) done(status);
}

bool Uploader::WaiterCovers(const Waiter& waiter, const std::string& index_key,
                            const Work& work) const {
  if (work.kind != Kind::kWriteBack) return false;
  if (waiter.keys.empty()) return work.seq < waiter.seq_limit;
  return std::find(waiter.keys.begin(), waiter.keys.end(), index_key) != waiter.keys.end();
}

bool Uploader::WaiterDone(const Waiter& waiter) const {
  if (waiter.keys.empty()) {
    return write_backs_.empty() || write_backs_.begin()->first >= waiter.seq_limit;
  }
  for (const std::string& key : waiter.keys) {
    auto it = work_.find(key);
    if (it != work_.end() && it->second.kind == Kind::kWriteBack) return false;
  }
  return true;
}

void Uploader::CollectWaiters(const std::string* failed_key, const Work* failed_work,
                              const Status& error,
                              std::vector<std::pair<std::function<void(Status)>, Status>>& out) {
  for (size_t i = 0; i < waiters_.size();) {
    Waiter& waiter = waiters_[i];
    Status status = Status::Ok();
    bool finished = WaiterDone(waiter);
    if (!finished && failed_key != nullptr && WaiterCovers(waiter, *failed_key, *failed_work)) {
      finished = true;
      status = error;
    }
    if (!finished) {
      ++i;
      continue;
    }
    out.emplace_back(std::move(waiter.done), std::move(status));
    waiters_[i] = std::move(waiters_.back());
    waiters_.pop_back();
  }
}

void Uploader::Flush(std::vector<std::string> index_keys, std::function<void(Status)> done) {
  Status immediate = Status::Ok();
  {
    std::lock_guard lock(mu_);
    Waiter waiter{next_seq_, std::move(index_keys), std::move(done)};
    if (stopping_) {
      immediate = Unavailable("the server is shutting down");
    } else if (!WaiterDone(waiter)) {
      // Keys waiting out a retry delay are tried again now.
      for (auto it = retry_.begin(); it != retry_.end();) {
        auto work = work_.find(it->second);
        if (work != work_.end() && WaiterCovers(waiter, it->second, work->second)) {
          ready_.push_back(it->second);
          it = retry_.erase(it);
        } else {
          ++it;
        }
      }
      waiters_.push_back(std::move(waiter));
      work_cv_.notify_all();
      return;
    }
    done = std::move(waiter.done);
  }
  done(std::move(immediate));  // not under mu_: it may send a reply
}

Status Uploader::Attempt(const std::string& index_key, const Work& work) {
  const BlockKey key = DecodeIndexKey(index_key);
  if (work.kind == Kind::kSpill) {
    Result<BlockHandle> block = work.read();
    if (!block.ok()) return block.status();
    Result<bool> written = target_.PutIfAbsent(key, block->Clone());
    if (!written.ok()) return written.status();
    if (*written) {
      counters_.spills.fetch_add(1, std::memory_order_relaxed);
      counters_.spill_bytes.fetch_add(block->size(), std::memory_order_relaxed);
    } else {
      counters_.spills_already_present.fetch_add(1, std::memory_order_relaxed);
    }
    return Status::Ok();
  }
  Result<BlockHandle> block = source_.Get(key);
  if (!block.ok()) {
    // Deleted meanwhile (nothing to upload), or its bytes went bad on disk
    // (dropped and counted by the NVMe tier: nothing left to upload).
    return IsMissing(block.status()) ? Status::Ok() : block.status();
  }
  const uint64_t checksum = block->checksum();
  const uint64_t size = block->size();
  KVTIER_RETURN_IF_ERROR(target_.Put(key, std::move(*block)));
  counters_.uploads.fetch_add(1, std::memory_order_relaxed);
  counters_.upload_bytes.fetch_add(size, std::memory_order_relaxed);
  // kNotFound: replaced meanwhile; the newer put has its own mark and work.
  if (journal_ != nullptr) journal_->ClearUploadMark(key, checksum).IgnoreError();
  return Status::Ok();
}

void Uploader::Loop() {
  std::mt19937_64 jitter(std::random_device{}());
  std::unique_lock lock(mu_);
  for (;;) {
    const Clock::time_point now = Clock::now();
    while (!retry_.empty() && retry_.begin()->first <= now) {
      ready_.push_back(retry_.begin()->second);
      retry_.erase(retry_.begin());
    }
    if (stopping_) return;
    if (ready_.empty()) {
      if (retry_.empty()) {
        work_cv_.wait(lock);
      } else {
        // A copy: the entry may be erased (by Flush) while we wait.
        const Clock::time_point next_retry = retry_.begin()->first;
        work_cv_.wait_until(lock, next_retry);
      }
      continue;
    }
    const std::string index_key = std::move(ready_.front());
    ready_.pop_front();
    auto it = work_.find(index_key);
    if (it == work_.end() || !it->second.queued || it->second.running) continue;  // stale
    it->second.queued = false;
    it->second.running = true;
    const Work snapshot = it->second;
    lock.unlock();
    const Status status = Attempt(index_key, snapshot);
    lock.lock();

    std::vector<std::pair<std::function<void(Status)>, Status>> finished;
    it = work_.find(index_key);  // Cancel waits for us: still there
    Work& work = it->second;
    work.running = false;
    if (!status.ok()) counters_.upload_failures.fetch_add(1, std::memory_order_relaxed);
    if (work.again) {
      work.again = false;
      work.queued = true;
      ready_.push_back(index_key);
    } else if (!status.ok() && work.kind == Kind::kWriteBack && !stopping_) {
      // Acknowledged bytes: never given up. Exponential backoff with jitter.
      const int shift = std::min(work.failures++, 16);
      auto delay = std::min(options_.retry_max, options_.retry_initial * (1 << shift));
      delay = std::chrono::milliseconds(
          std::uniform_int_distribution<int64_t>(delay.count() / 2, delay.count())(jitter));
      work.queued = true;
      retry_.emplace(Clock::now() + delay, index_key);
      CollectWaiters(
          &index_key, &work,
          Unavailable("uploading to Blob failed (retrying in the background): " + status.message()),
          finished);
    } else {
      // A failed spill is dropped. A write-back failing at shutdown stays
      // marked on NVMe for the next start.
      if (!status.ok() && work.kind == Kind::kSpill) {
        counters_.spill_failures.fetch_add(1, std::memory_order_relaxed);
      }
      Forget(index_key);
      CollectWaiters(nullptr, nullptr, Status::Ok(), finished);
    }
    idle_cv_.notify_all();
    if (!finished.empty()) {
      lock.unlock();
      for (auto& [done, result] : finished) done(result);
      lock.lock();
    }
  }
}

void Uploader::Shutdown() {
  std::vector<Waiter> waiters;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    waiters.swap(waiters_);
  }
  work_cv_.notify_all();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
  for (Waiter& waiter : waiters) waiter.done(Unavailable("the server is shutting down"));
}

void Uploader::AddStats(TierStats& stats) const {
  stats.Add("uploads", counters_.uploads);
  stats.Add("upload_bytes", counters_.upload_bytes);
  stats.Add("upload_failures", counters_.upload_failures);
  stats.Add("uploads_resumed", counters_.uploads_resumed);
  stats.Add("spills", counters_.spills);
  stats.Add("spill_bytes", counters_.spill_bytes);
  stats.Add("spills_already_present", counters_.spills_already_present);
  stats.Add("spill_queue_full", counters_.spill_queue_full);
  stats.Add("spill_failures", counters_.spill_failures);
  stats.Add("upload_cancels", counters_.cancelled);
  std::lock_guard lock(mu_);
  stats.counters.push_back({"pending_uploads", write_backs_.size()});
  stats.counters.push_back({"spill_queue_bytes", spill_bytes_});
}

}  // namespace kvtier::tiers
