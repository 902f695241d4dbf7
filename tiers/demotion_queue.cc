#include "tiers/demotion_queue.h"

namespace kvtier::tiers {

DemotionQueue::DemotionQueue(uint64_t limit_bytes, Writer write)
    : limit_bytes_(limit_bytes), write_(std::move(write)) {
  thread_ = std::thread([this] { Loop(); });
}

DemotionQueue::~DemotionQueue() { Stop(); }

bool DemotionQueue::Enqueue(std::string index_key, BlockHandle block, bool refresh) {
  const uint64_t size = block.size();
  {
    std::lock_guard lock(mu_);
    if (stopping_ || queued_bytes_ + size > limit_bytes_) return false;
    Demotion demotion{std::move(index_key), std::move(block), next_seq_++, refresh};
    current_[demotion.index_key] = Queued{demotion.seq, demotion.block.Clone()};
    queued_bytes_ += size;
    backlog_.store(queued_bytes_, std::memory_order_relaxed);
    queue_.push_back(std::move(demotion));
  }
  work_cv_.notify_one();
  return true;
}

uint64_t DemotionQueue::NextBarrier() {
  std::lock_guard lock(mu_);
  return next_seq_++;
}

bool DemotionQueue::CancelBefore(const std::string& index_key, uint64_t barrier) {
  std::lock_guard lock(mu_);
  auto it = current_.find(index_key);
  if (it == current_.end() || it->second.seq >= barrier) return false;
  current_.erase(it);  // the queued demotion sees it is stale and skips
  return true;
}

bool DemotionQueue::IsCurrent(const std::string& index_key, uint64_t seq) const {
  std::lock_guard lock(mu_);
  auto it = current_.find(index_key);
  return it != current_.end() && it->second.seq == seq;
}

void DemotionQueue::Finish(const std::string& index_key, uint64_t seq) {
  std::lock_guard lock(mu_);
  auto it = current_.find(index_key);
  if (it != current_.end() && it->second.seq == seq) current_.erase(it);
}

bool DemotionQueue::Holds(const std::string& index_key) const {
  std::lock_guard lock(mu_);
  return current_.count(index_key) != 0;
}

std::optional<BlockHandle> DemotionQueue::Find(const std::string& index_key) const {
  std::lock_guard lock(mu_);
  auto it = current_.find(index_key);
  if (it == current_.end()) return std::nullopt;
  return it->second.block.Clone();
}

bool DemotionQueue::WaitForRoom(std::function<void()> on_room) {
  std::lock_guard lock(mu_);
  if (stopping_ || queued_bytes_ < limit_bytes_ / 2) return false;
  room_waiters_.push_back(std::move(on_room));
  return true;
}

void DemotionQueue::WaitIdle() {
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return queue_.empty() && !writing_; });
}

void DemotionQueue::Loop() {
  for (;;) {
    Demotion demotion;
    {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and everything written
      demotion = std::move(queue_.front());
      queue_.pop_front();
      writing_ = true;
    }
    const uint64_t size = demotion.block.size();
    write_(demotion);
    std::vector<std::function<void()>> room;
    {
      std::lock_guard lock(mu_);
      queued_bytes_ -= size;
      backlog_.store(queued_bytes_, std::memory_order_relaxed);
      writing_ = false;
      if (queued_bytes_ < limit_bytes_ / 2) room.swap(room_waiters_);
    }
    idle_cv_.notify_all();
    for (auto& on_room : room) on_room();
  }
}

void DemotionQueue::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  work_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  std::vector<std::function<void()>> room;
  {
    std::lock_guard lock(mu_);
    room.swap(room_waiters_);
  }
  for (auto& on_room : room) on_room();
}

}  // namespace kvtier::tiers
