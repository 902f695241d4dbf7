#include "bench/workloads.h"

#include <algorithm>
#include <atomic>
#include <cstring>
#include <random>
#include <thread>

#include "bench/prefix_sim.h"
#include "bench/value_pattern.h"

namespace kvtier::bench {
namespace {

struct Submitted {
  OpKind kind;
  Clock::time_point start;
  std::vector<std::string> keys;
};

class Worker {
 public:
  Worker(const BenchOptions& options, const ValuePattern& pattern, uint32_t index)
      : options_(options), pattern_(pattern), index_(index), random_(options.seed * 7919 + index) {
    // Enough value buffers for every put one window can have in flight (a
    // prompt's missing blocks are one window).
    const size_t buffers =
        std::max<size_t>(static_cast<size_t>(options.depth) * options.batch, options.prompt_blocks);
    storage_.assign(buffers, std::vector<std::byte>(options.value_size));
    for (auto& v : storage_) {
      pattern_.Fill("", v);
      values_.emplace_back(v);
    }
  }

  Backend& backend() { return *backend_; }

  Status Connect() {
    auto backend = ConnectBackend(options_.target);
    if (!backend.ok()) return backend.status();
    backend_ = std::move(*backend);
    if (options_.in_place) {
      for (auto& value : values_) {
        std::span<std::byte> shared = backend_->ValueBuffer(value.size());
        if (shared.empty())
          return InvalidArgument("--in-place needs a target with a shared or RDMA region");
        std::memcpy(shared.data(), value.data(), value.size());
        value = shared;
      }
    }
    return Status::Ok();
  }

  // Puts keys [first, last) of the working set, `batch` at a time.
  Status Fill(uint64_t first, uint64_t last) {
    for (uint64_t i = first; i < last;) {
      std::vector<std::string> keys;
      for (; i < last && keys.size() < options_.batch; ++i) keys.push_back(BenchKey(i));
      SubmitPut(keys);
      KVTIER_RETURN_IF_ERROR(Wait(nullptr));
    }
    return Status::Ok();
  }

  // Runs windows of `depth` operations until `until` or `max_ops`; records
  // them into `stats` when it is non-null.
  Status Run(Clock::time_point until, uint64_t max_ops, std::array<OpStats, 3>* stats) {
    uint64_t done = 0;
    while (Clock::now() < until && (max_ops == 0 || done < max_ops)) {
      if (options_.workload == "engine") {
        KVTIER_RETURN_IF_ERROR(EnginePrompt(stats));
        ++done;
        continue;
      }
      for (uint32_t d = 0; d < options_.depth; ++d) SubmitNext();
      KVTIER_RETURN_IF_ERROR(Wait(stats));
      done += options_.depth;
    }
    return Status::Ok();
  }

  // One engine request: match the prompt's chain, read the cached prefix in
  // one batch, write the blocks that were missing, each put naming the key
  // before it (`partial_tail`: the last block is partial). Returns the
  // matched count.
  Result<uint32_t> ServePrompt(const std::vector<std::string>& chain, std::array<OpStats, 3>* stats,
                               bool partial_tail = false) {
    Submit(OpKind::kMatch, chain);
    KVTIER_RETURN_IF_ERROR(Wait(stats));
    const uint32_t hits = std::min<uint32_t>(last_hits_, static_cast<uint32_t>(chain.size()));
    if (hits > 0) {
      Submit(OpKind::kGet, std::vector<std::string>(chain.begin(), chain.begin() + hits));
      KVTIER_RETURN_IF_ERROR(Wait(stats));
    }
    // The missing blocks go out pipelined, --batch keys a request, in
    // windows no larger than the value buffers (a long trace prompt may
    // miss more blocks than there are buffers).
    size_t in_flight = 0;
    for (size_t start = hits; start < chain.size(); start += options_.batch) {
      const size_t end = std::min(chain.size(), start + options_.batch);
      if (in_flight > 0 && in_flight + (end - start) > values_.size()) {
        KVTIER_RETURN_IF_ERROR(Wait(stats));
        in_flight = 0;
      }
      in_flight += end - start;
      ChainHints hints;
      if (start > 0) hints.parent = chain[start - 1];
      hints.partial_tail = partial_tail && end == chain.size();
      SubmitPut(std::vector<std::string>(chain.begin() + start, chain.begin() + end), hints);
    }
    KVTIER_RETURN_IF_ERROR(Wait(stats));
    return hits;
  }

 private:
  uint64_t RandomKey() { return random_() % options_.keys; }

  std::vector<std::string> RandomKeys() {
    std::vector<std::string> keys;
    for (uint32_t b = 0; b < options_.batch; ++b) keys.push_back(BenchKey(RandomKey()));
    return keys;
  }

  void SubmitNext() {
    const std::string& w = options_.workload;
    if (w == "put") {
      std::vector<std::string> keys;
      for (uint32_t b = 0; b < options_.batch; ++b) {
        keys.push_back(BenchKey((put_cursor_++ * options_.connections + index_) % options_.keys));
      }
      SubmitPut(keys);
    } else if (w == "scan") {
      std::vector<std::string> keys;
      for (uint32_t b = 0; b < options_.batch; ++b) {
        keys.push_back(BenchKey((scan_cursor_++ * options_.connections + index_) % options_.keys));
      }
      Submit(OpKind::kGet, std::move(keys));
    } else if (w == "mixed") {
      if (std::uniform_real_distribution<double>(0, 1)(random_) < options_.read_ratio) {
        Submit(OpKind::kGet, RandomKeys());
      } else {
        SubmitPut(RandomKeys());
      }
    } else if (w == "match") {
      std::vector<std::string> chain;
      for (uint32_t i = 0; i < options_.match_keys; ++i) chain.push_back(BenchKey(i));
      Submit(OpKind::kMatch, std::move(chain));
    } else if (w == "fanout") {
      // Every connection walks the same blocks in the same order.
      std::vector<std::string> keys;
      for (uint32_t b = 0; b < options_.batch; ++b)
        keys.push_back(BenchKey(fanout_cursor_++ % options_.keys));
      Submit(OpKind::kGet, std::move(keys));
    } else {
      Submit(OpKind::kGet, RandomKeys());
    }
  }

  void SubmitPut(std::vector<std::string> keys, const ChainHints& chain = {}) {
    std::vector<std::span<const std::byte>> values;
    for (const std::string& key : keys) {
      std::span<std::byte> buffer = values_[value_cursor_++ % values_.size()];
      if (options_.verify) pattern_.Fill(key, buffer);
      values.emplace_back(buffer);
    }
    backend_->SubmitPut(keys, values, chain);
    submitted_.push_back({OpKind::kPut, Clock::now(), std::move(keys)});
  }

  void Submit(OpKind kind, std::vector<std::string> keys) {
    if (kind == OpKind::kGet) backend_->SubmitGet(keys);
    if (kind == OpKind::kMatch) backend_->SubmitMatch(keys);
    submitted_.push_back({kind, Clock::now(), std::move(keys)});
  }

  Status Wait(std::array<OpStats, 3>* stats) {
    size_t next = 0;
    Status status = backend_->WaitAll([&](OpResult& result) {
      const Submitted& op = submitted_[next++];
      last_hits_ = result.hits;
      if (stats == nullptr) return;
      OpStats& s = (*stats)[static_cast<size_t>(op.kind)];
      s.ops++;
      s.keys += op.keys.size();
      s.hits += result.hits;
      s.bytes += op.kind == OpKind::kPut ? options_.value_size * op.keys.size() : result.bytes;
      s.errors += !result.status.ok();
      s.latencies_ns.push_back(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(result.done - op.start).count()));
      if (options_.verify && op.kind == OpKind::kGet) {
        for (size_t i = 0; i < result.values.size() && i < op.keys.size(); ++i) {
          if (!result.values[i].empty() && !pattern_.Check(op.keys[i], result.values[i])) {
            s.verify_failures++;
          }
        }
      }
    });
    submitted_.clear();
    return status;
  }

  Status EnginePrompt(std::array<OpStats, 3>* stats) {
    std::vector<std::string> chain;
    const uint32_t system = static_cast<uint32_t>(random_() % options_.shared_prefixes);
    const uint32_t shared = std::min(options_.shared_blocks, options_.prompt_blocks);
    for (uint32_t b = 0; b < shared; ++b) {
      chain.push_back("sys" + std::to_string(system) + "/" + std::to_string(b));
    }
    const uint64_t prompt = prompt_cursor_++;
    for (uint32_t b = shared; b < options_.prompt_blocks; ++b) {
      chain.push_back("w" + std::to_string(index_) + "/p" + std::to_string(prompt) + "/" +
                      std::to_string(b));
    }
    return ServePrompt(chain, stats).status();
  }

  const BenchOptions& options_;
  const ValuePattern& pattern_;
  const uint32_t index_;
  std::mt19937_64 random_;
  std::unique_ptr<Backend> backend_;
  std::vector<std::vector<std::byte>> storage_;
  std::vector<std::span<std::byte>> values_;  // storage_, or shared buffers with --in-place
  std::vector<Submitted> submitted_;
  uint64_t put_cursor_ = 0;
  uint64_t fanout_cursor_ = 0;
  uint64_t scan_cursor_ = 0;
  uint64_t value_cursor_ = 0;
  uint64_t prompt_cursor_ = 0;
  uint32_t last_hits_ = 0;
};

bool NeedsFill(const std::string& workload) {
  return workload == "get" || workload == "mixed" || workload == "match" || workload == "fanout";
}

BenchReport ReplayTrace(const BenchOptions& options) {
  BenchReport report;
  report.traced = true;
  auto requests = LoadTrace(options.trace_path);
  if (!requests.ok()) {
    report.status = requests.status();
    return report;
  }
  std::stable_sort(requests->begin(), requests->end(),
                   [](const auto& a, const auto& b) { return a.timestamp_ms < b.timestamp_ms; });
  BenchOptions one = options;
  one.connections = 1;
  const ValuePattern pattern(options.value_size);
  Worker worker(one, pattern, 0);
  if (report.status = worker.Connect(); !report.status.ok()) return report;

  report.capacity_blocks = options.capacity_blocks;
  if (report.capacity_blocks == 0) {
    auto capacity = worker.backend().CapacityBytes();
    if (!capacity.ok()) {
      report.status = capacity.status();
      return report;
    }
    report.capacity_blocks = *capacity / (options.value_size + kSimulatedBlockOverhead);
  }
  PrefixLruSimulator lru(report.capacity_blocks);
  BeladySimulator belady(*requests, report.capacity_blocks);
  std::array<OpStats, 3> stats;
  const auto start = Clock::now();
  const uint64_t first_ms = requests->empty() ? 0 : requests->front().timestamp_ms;
  for (const TraceRequest& request : *requests) {
    if (options.time_scale > 0) {
      std::this_thread::sleep_until(
          start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                      (request.timestamp_ms - first_ms) * options.time_scale / 1000.0)));
    }
    std::vector<std::string> chain;
    chain.reserve(request.hash_ids.size());
    for (uint64_t id : request.hash_ids) chain.push_back("trace/" + std::to_string(id));
    auto hits = worker.ServePrompt(chain, &stats, LastBlockPartial(request));
    if (!hits.ok()) {
      report.status = hits.status();
      return report;
    }
    report.target_hits.Add(request, *hits);
    report.lru_hits.Add(request, lru.Access(request.hash_ids));
    report.belady_hits.Add(request, belady.Access(request));
  }
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  report.by_kind = std::move(stats);
  return report;
}

}  // namespace

std::string BenchKey(uint64_t i) { return "bench/" + std::to_string(i); }

BenchReport RunWorkload(const BenchOptions& options) {
  if (options.workload == "trace") return ReplayTrace(options);
  BenchReport report;
  const ValuePattern pattern(options.value_size);
  std::vector<std::unique_ptr<Worker>> workers;
  for (uint32_t i = 0; i < options.connections; ++i) {
    workers.push_back(std::make_unique<Worker>(options, pattern, i));
    if (report.status = workers.back()->Connect(); !report.status.ok()) return report;
  }

  auto parallel = [&](auto&& body) {
    std::vector<Status> statuses(workers.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < workers.size(); ++i) {
      threads.emplace_back([&, i] { statuses[i] = body(*workers[i], i); });
    }
    for (auto& t : threads) t.join();
    for (const Status& s : statuses) {
      if (!s.ok()) return s;
    }
    return Status::Ok();
  };

  if (NeedsFill(options.workload)) {
    const uint64_t fill_keys = options.workload == "match"
                                   ? std::max<uint64_t>(options.keys, options.match_keys)
                                   : options.keys;
    const uint64_t share = (fill_keys + workers.size() - 1) / workers.size();
    report.status = parallel([&](Worker& w, size_t i) {
      return w.Fill(std::min(fill_keys, i * share), std::min(fill_keys, (i + 1) * share));
    });
    if (!report.status.ok()) return report;
  }

  const auto warm_until = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(options.warmup_s));
  report.status = parallel([&](Worker& w, size_t) { return w.Run(warm_until, 0, nullptr); });
  if (!report.status.ok()) return report;

  std::vector<std::array<OpStats, 3>> per_worker(workers.size());
  const auto start = Clock::now();
  const auto until = options.ops > 0
                         ? Clock::time_point::max()
                         : start + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(options.duration_s));
  report.status =
      parallel([&](Worker& w, size_t i) { return w.Run(until, options.ops, &per_worker[i]); });
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  for (const auto& stats : per_worker) {
    for (size_t k = 0; k < stats.size(); ++k) report.by_kind[k].Merge(stats[k]);
  }
  return report;
}

}  // namespace kvtier::bench
