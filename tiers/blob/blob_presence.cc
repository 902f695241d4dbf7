#include "tiers/blob/blob_presence.h"

#include <algorithm>

namespace kvtier::tiers::blob {

Status BlobPresenceOptions::Validate() const {
  if (list_pages_per_second == 0) {
    return InvalidArgument("tiers.blob.presence_list_pages_per_second must be at least 1");
  }
  if (ttl.count() <= 0) return InvalidArgument("tiers.blob.presence_ttl_ms must be positive");
  if (max_entries == 0) return InvalidArgument("tiers.blob.presence_max_entries must be positive");
  return Status::Ok();
}

BlobPresence::BlobPresence(BlobClient& client, std::string list_prefix, BlobPresenceOptions options)
    : client_(client), list_prefix_(std::move(list_prefix)), options_(options) {}

BlobPresence::~BlobPresence() { Stop(); }

void BlobPresence::Start() {
  std::lock_guard lock(mu_);
  if (thread_.joinable() || stopping_) return;
  thread_ = std::thread([this] { Loop(); });
}

void BlobPresence::Stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool BlobPresence::Knows(const std::string& name) const {
  std::lock_guard lock(mu_);
  auto it = entries_.find(name);
  if (it == entries_.end() || !it->second.present || it->second.expires <= Clock::now()) {
    return false;
  }
  counters_.known_hits.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool BlobPresence::Record(const std::string& name, bool present, Clock::time_point expires) {
  auto it = entries_.find(name);
  if (it == entries_.end()) {
    if (entries_.size() >= options_.max_entries) {
      counters_.entries_dropped.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    it = entries_.emplace(name, Entry{}).first;
  }
  // This process's own write stays known until erased: a listing or probe
  // never shortens it.
  if (it->second.present && it->second.expires == Clock::time_point::max() && present) return true;
  it->second = Entry{present, expires};
  return true;
}

void BlobPresence::Wrote(const std::string& name) {
  std::lock_guard lock(mu_);
  Record(name, true, Clock::time_point::max());
}

void BlobPresence::Read(const std::string& name) {
  std::lock_guard lock(mu_);
  Record(name, true, Clock::now() + options_.ttl);
}

void BlobPresence::Erased(const std::string& name) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(name);
  if (it != entries_.end()) it->second = Entry{false, Clock::now() + options_.ttl};
}

void BlobPresence::Probe(const std::string& name) {
  {
    std::lock_guard lock(mu_);
    auto it = entries_.find(name);
    if (it != entries_.end() && it->second.expires > Clock::now()) return;  // answered
    if (queued_.count(name) != 0) return;
    if (probes_.size() >= options_.max_queued_probes) {
      counters_.probes_dropped.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    probes_.push_back(name);
    queued_.insert(name);
  }
  cv_.notify_all();
}

void BlobPresence::DropExpired(Clock::time_point now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = it->second.expires <= now ? entries_.erase(it) : std::next(it);
  }
}

void BlobPresence::ListAll() {
  std::string marker;
  const auto page_gap = std::chrono::milliseconds(1000 / options_.list_pages_per_second);
  do {
    counters_.list_requests.fetch_add(1, std::memory_order_relaxed);
    Result<BlobListing> page = client_.ListBlobs(list_prefix_, marker);
    if (!page.ok()) return;  // the next round tries again
    {
      std::lock_guard lock(mu_);
      const Clock::time_point expires = Clock::now() + options_.ttl;
      for (const BlobListing::Item& item : page->items) Record(item.name, true, expires);
    }
    counters_.listed_names.fetch_add(page->items.size(), std::memory_order_relaxed);
    marker = page->next_marker;
    std::unique_lock lock(mu_);
    if (!marker.empty() && cv_.wait_for(lock, page_gap, [this] { return stopping_; })) return;
  } while (!marker.empty());
}

void BlobPresence::Loop() {
  Clock::time_point next_list = Clock::now();
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const bool listing = options_.list_interval.count() > 0;
    if (listing && Clock::now() >= next_list) {
      DropExpired(Clock::now());
      lock.unlock();
      ListAll();
      lock.lock();
      next_list = Clock::now() + options_.list_interval;
      continue;
    }
    if (!probes_.empty()) {
      std::string name = std::move(probes_.front());
      probes_.pop_front();
      lock.unlock();
      counters_.head_requests.fetch_add(1, std::memory_order_relaxed);
      Result<BlobProperties> head = client_.GetProperties(name);
      lock.lock();
      queued_.erase(name);
      // Errors other than "not found" leave the key unknown: probed again.
      if (head.ok() || head.status().code() == StatusCode::kNotFound) {
        Record(name, head.ok(), Clock::now() + options_.ttl);
      }
      continue;
    }
    auto ready = [this] { return stopping_ || !probes_.empty(); };
    if (listing) {
      cv_.wait_until(lock, next_list, ready);
    } else {
      cv_.wait(lock, ready);
    }
  }
}

void BlobPresence::AddStats(TierStats& stats) const {
  stats.Add("presence_list_requests", counters_.list_requests);
  stats.Add("presence_head_requests", counters_.head_requests);
  stats.Add("presence_listed_names", counters_.listed_names);
  stats.Add("presence_known_hits", counters_.known_hits);
  stats.Add("presence_probes_dropped", counters_.probes_dropped);
  stats.Add("presence_entries_dropped", counters_.entries_dropped);
  std::lock_guard lock(mu_);
  stats.counters.push_back({"presence_entries", entries_.size()});
}

}  // namespace kvtier::tiers::blob
