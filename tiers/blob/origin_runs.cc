#include "tiers/blob/origin_runs.h"

#include <algorithm>

namespace kvtier::tiers::blob {

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
    recent_.emplace(object, Recent{last, recent_order_.begin()});
    if (recent_.size() > options_.tracked_objects) {
      recent_.erase(recent_order_.back());
      recent_order_.pop_back();
    }
    return;
  }
  it->second.last = std::max(it->second.last, last);
  recent_order_.splice(recent_order_.begin(), recent_order_, it->second.position);
}

void OriginRuns::Release(Run& run, uint64_t index) {
  auto it = run.held.find(index);
  if (it == run.held.end()) return;
  held_bytes_ -= it->second.size();
  run.held.erase(it);
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

Result<BlockHandle> OriginRuns::Get(const std::string& object, const std::string& version,
                                    uint64_t index, uint64_t blocks, const ReadRun& read,
                                    bool* changed) {
  std::unique_lock lock(mu_);
  Trim();
  if (auto run = Covering(object, version, index)) {
    finished_.wait(lock, [&run] { return run->done; });
    auto it = run->held.find(index);
    if (it != run->held.end()) {
      held_bytes_ -= it->second.size();
      BlockHandle block = std::move(it->second);
      run->held.erase(it);
      ++counts_.blocks_joined;
      return block;
    }
    if (!run->status.ok() && run->changed) {
      *changed = true;
      return run->status;
    }
    // Taken already (the block was read before and asked for again), or
    // the run failed: read it alone below.
  }
  uint64_t count = 1;
  if (options_.run_blocks > 1 && index < blocks && LooksSequential(object, index)) {
    count = std::min<uint64_t>(options_.run_blocks, blocks - index);
  }
  NoteAsked(object, index + count - 1);
  if (count <= 1) {
    lock.unlock();
    auto single = read(index, 1, changed);
    if (!single.ok()) return single.status();
    return std::move(single->front());
  }
  auto run = std::make_shared<Run>();
  run->object = object;
  run->version = version;
  run->first = index;
  run->count = count;
  runs_.push_back(run);
  ++counts_.runs;
  lock.unlock();

  bool run_changed = false;
  auto read_blocks = read(index, count, &run_changed);

  lock.lock();
  run->done = true;
  run->finished = Clock::now();
  run->changed = run_changed;
  if (!read_blocks.ok()) {
    run->status = read_blocks.status();
    *changed = run_changed;
    finished_.notify_all();
    Trim();
    return read_blocks.status();
  }
  for (uint64_t i = 1; i < read_blocks->size(); ++i) {
    held_bytes_ += (*read_blocks)[i].size();
    run->held.emplace(index + i, std::move((*read_blocks)[i]));
  }
  finished_.notify_all();
  Trim();
  return std::move(read_blocks->front());
}

}  // namespace kvtier::tiers::blob
