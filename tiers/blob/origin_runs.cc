#include "tiers/blob/origin_runs.h"

#include <algorithm>

namespace kvtier::tiers::blob {

OriginRuns::OriginRuns(OriginRunsOptions options) : options_(options) {}

OriginRuns::~OriginRuns() {
  std::list<Worker> workers;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    changed_.notify_all();
    workers.swap(workers_);
  }
  for (Worker& worker : workers) worker.thread.join();
}

OriginRuns::Counts OriginRuns::counts() const {
  std::lock_guard lock(mu_);
  return counts_;
}

std::shared_ptr<OriginRuns::Run> OriginRuns::Covering(const std::string& object,
                                                      const std::string& version,
                                                      uint64_t index) const {
  for (const auto& run : runs_) {
    if (run->object == object && run->version == version && run->first <= index &&
        index < run->first + run->count && (!run->done || run->held.contains(index))) {
      return run;
    }
  }
  return nullptr;
}

bool OriginRuns::LooksSequential(const std::string& object, uint64_t index) const {
  auto it = recent_.find(object);
  // The block right after the furthest one asked for: the reader's
  // frontier. A run from there covers only blocks nobody asked for yet, so
  // no block is read twice; blocks behind the frontier (stragglers of a
  // read-ahead that arrived out of order) are read alone.
  return it != recent_.end() && index == it->second.last + 1;
}

void OriginRuns::NoteAsked(const std::string& object, uint64_t last) {
  auto it = recent_.find(object);
  if (it == recent_.end()) {
    recent_order_.push_front(object);
    recent_.emplace(object, Recent{last, options_.run_blocks, recent_order_.begin()});
    if (recent_.size() > options_.tracked_objects) {
      recent_.erase(recent_order_.back());
      recent_order_.pop_back();
    }
    return;
  }
  it->second.last = std::max(it->second.last, last);
  recent_order_.splice(recent_order_.begin(), recent_order_, it->second.position);
}

BlockHandle OriginRuns::Unhold(Run& run, std::map<uint64_t, BlockHandle>::iterator it) {
  held_bytes_ -= it->second.size();
  run.held_bytes -= it->second.size();
  BlockHandle block = std::move(it->second);
  run.held.erase(it);
  changed_.notify_all();  // room for a run that waits to hold
  return block;
}

void OriginRuns::Release(Run& run, uint64_t index) {
  auto it = run.held.find(index);
  if (it != run.held.end()) Unhold(run, it);
}

void OriginRuns::Trim() {
  const Clock::time_point now = Clock::now();
  for (auto it = runs_.begin(); it != runs_.end();) {
    Run& run = **it;
    if (run.done &&
        (held_bytes_ > options_.max_held_bytes || now - run.finished > options_.hold_for)) {
      counts_.blocks_dropped += run.held.size();
      while (!run.held.empty()) Release(run, run.held.begin()->first);
    }
    it = run.done && run.held.empty() ? runs_.erase(it) : std::next(it);
  }
}

void OriginRuns::Reap() {
  for (auto it = workers_.begin(); it != workers_.end();) {
    if (!it->finished) {
      ++it;
      continue;
    }
    it->thread.join();  // it has returned or is about to
    it = workers_.erase(it);
  }
}

bool OriginRuns::TakeFrom(const std::shared_ptr<Run>& run, uint64_t index,
                          std::unique_lock<std::mutex>& lock, BlockHandle* block, Status* failure,
                          bool* changed) {
  changed_.wait(lock, [&] { return run->done || run->held.contains(index) || run->next > index; });
  auto it = run->held.find(index);
  if (it != run->held.end()) {
    *block = Unhold(*run, it);
    ++counts_.blocks_joined;
    return true;
  }
  if (run->done && !run->status.ok() && run->changed && run->next <= index) {
    *changed = true;
    *failure = run->status;
    return true;
  }
  // Taken already (the block was read before and asked for again), or the
  // run failed before it: the caller reads it alone.
  return false;
}

Result<BlockHandle> OriginRuns::TakeOrReadOne(const std::shared_ptr<Run>& run, uint64_t index,
                                              uint64_t blocks, std::unique_lock<std::mutex>& lock,
                                              const ReadRun& read, bool* changed) {
  BlockHandle block;
  Status failure = Status::Ok();
  const bool answered = TakeFrom(run, index, lock, &block, &failure, changed);
  if (answered && failure.ok()) MaybeFollow(*run, index, blocks, read);
  lock.unlock();
  if (!answered) return ReadOne(read, index, changed);
  if (!failure.ok()) return failure;
  return block;
}

Status OriginRuns::Hold(Run& run, uint64_t index, BlockHandle block) {
  std::unique_lock lock(mu_);
  Trim();  // finished runs' blocks go first
  // Each run holds at most its share of the bound, so a reader that stops
  // taking its blocks stalls only its own run.
  const uint64_t share = options_.max_held_bytes / std::max<uint32_t>(options_.max_running, 1);
  const bool room = changed_.wait_for(lock, options_.hold_for, [&] {
    return stopping_ || run.held.empty() || run.held_bytes + block.size() <= share;
  });
  if (stopping_) return Unavailable("origin read-ahead: shutting down");
  if (!room) return Unavailable("origin read-ahead: blocks read ahead were not taken");
  held_bytes_ += block.size();
  run.held_bytes += block.size();
  run.held.emplace(index, std::move(block));
  run.next = index + 1;
  changed_.notify_all();
  return Status::Ok();
}

void OriginRuns::Execute(const std::shared_ptr<Run>& run, const ReadRun& read) {
  bool run_changed = false;
  const Status status =
      read(run->first, run->count, &run_changed,
           [&](uint64_t index, BlockHandle block) { return Hold(*run, index, std::move(block)); });
  std::lock_guard lock(mu_);
  run->done = true;
  run->finished = Clock::now();
  run->changed = run_changed;
  run->status = status;
  --running_;
  for (Worker& worker : workers_) {
    if (worker.thread.get_id() == std::this_thread::get_id()) worker.finished = true;
  }
  changed_.notify_all();
  Trim();
}

Result<BlockHandle> OriginRuns::ReadOne(const ReadRun& read, uint64_t index, bool* changed) {
  std::optional<BlockHandle> single;
  const Status status = read(index, 1, changed, [&](uint64_t, BlockHandle block) {
    single = std::move(block);
    return Status::Ok();
  });
  if (!status.ok()) return status;
  if (!single) return Internal("origin read-ahead: a read of one block handed on none");
  return std::move(*single);
}

std::shared_ptr<OriginRuns::Run> OriginRuns::StartRun(const std::string& object,
                                                      const std::string& version, uint64_t first,
                                                      uint64_t count, const ReadRun& read) {
  auto run = std::make_shared<Run>();
  run->object = object;
  run->version = version;
  run->first = first;
  run->count = count;
  run->next = first;
  runs_.push_back(run);
  ++counts_.runs;
  ++running_;
  workers_.push_back(Worker{});
  workers_.back().thread = std::thread([this, run, read] { Execute(run, read); });
  return run;
}

uint64_t OriginRuns::NextRunBlocks(Recent& recent, uint64_t first, uint64_t blocks) const {
  const uint64_t count = std::min<uint64_t>(recent.next_run_blocks, blocks - first);
  recent.next_run_blocks =
      std::min(std::max(options_.max_run_blocks, options_.run_blocks), recent.next_run_blocks * 2);
  return count;
}

void OriginRuns::MaybeFollow(Run& run, uint64_t index, uint64_t blocks, const ReadRun& read) {
  auto recent = recent_.find(run.object);
  if (stopping_ || recent == recent_.end()) return;
  Recent& reader = recent->second;
  const uint64_t next = reader.last + 1;
  if (next >= blocks) return;
  // Only while the reader's frontier is the end of one of its runs (it
  // reads sequentially; a jump elsewhere moved the frontier off them).
  Run* frontier = nullptr;
  uint32_t reading = 0;
  for (const auto& other : runs_) {
    if (other->object != run.object || other->version != run.version) continue;
    if (other->first + other->count == next) frontier = other.get();
    if (!other->done) ++reading;
  }
  if (frontier == nullptr) return;
  // The frontier's run, half taken: its follower starts now, so the
  // origin's time to answer overlaps the rest of it.
  bool start = !frontier->followed && frontier == &run && index >= run.first + run.count / 2;
  if (start) frontier->followed = true;
  // More streams while the object has one reading (when none reads, its
  // reader is slower than the origin and the middle rule suffices).
  if (reading >= 1 && reading < options_.streams &&
      running_ < std::max<uint32_t>(options_.max_running / 2, 1)) {
    start = true;
  }
  if (!start || running_ >= options_.max_running) return;
  const uint64_t count = NextRunBlocks(reader, next, blocks);
  NoteAsked(run.object, next + count - 1);
  if (count > 1) StartRun(run.object, run.version, next, count, read);
}

Result<BlockHandle> OriginRuns::Get(const std::string& object, const std::string& version,
                                    uint64_t index, uint64_t blocks, ReadRun read, bool* changed) {
  std::unique_lock lock(mu_);
  Trim();
  Reap();
  if (auto run = Covering(object, version, index)) {
    return TakeOrReadOne(run, index, blocks, lock, read, changed);
  }
  uint64_t count = 1;
  const bool sequential =
      options_.run_blocks > 1 && index < blocks && LooksSequential(object, index) && !stopping_;
  if (sequential && running_ < options_.max_running) {
    count = NextRunBlocks(recent_.at(object), index, blocks);
  } else if (!sequential) {
    auto it = recent_.find(object);
    if (it != recent_.end()) it->second.next_run_blocks = options_.run_blocks;
  }
  NoteAsked(object, index + count - 1);
  if (count <= 1) {
    lock.unlock();
    return ReadOne(read, index, changed);
  }
  const std::shared_ptr<Run> run = StartRun(object, version, index, count, read);
  return TakeOrReadOne(run, index, blocks, lock, read, changed);
}

}  // namespace kvtier::tiers::blob
