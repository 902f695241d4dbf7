#pragma once

// What the Blob tier knows about which blobs exist without making a request,
// so MatchPrefix and Exists can report blocks that only Blob holds (another
// rack's spills) in the one round trip they have, never waiting on the
// network. Fed by:
//   - this process's writes (known until erased here),
//   - listings of the container (paged, at most list_pages_per_second, every
//     list_interval; the first at Start), kept for `ttl`,
//   - HEAD answers to probes (Probe: a key a match did not find), present or
//     absent, kept for `ttl`.
// Entries from listings and probes expire so that another server's deletes
// are noticed; a stale "present" costs one Blob read that finds nothing (a
// Get then misses as usual). Bounded: at most max_entries names (more are
// dropped, counted) and max_queued_probes waiting probes (more are dropped,
// counted). Every request it makes is counted (presence_list_requests,
// presence_head_requests).
//
// Thread-safe. One background thread makes the requests; Stop() (or the
// destructor) ends it.

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "tiers/blob/blob_client.h"
#include "tiers/tier.h"

namespace kvtier::tiers::blob {

struct BlobPresenceOptions {
  std::chrono::milliseconds list_interval{0};  // 0: never list the container
  uint32_t list_pages_per_second = 4;          // of up to 5,000 names each
  std::chrono::milliseconds ttl{120'000};      // of listed and probed entries
  size_t max_entries = 1u << 20;
  size_t max_queued_probes = 1024;

  Status Validate() const;
};

class BlobPresence {
 public:
  // Lists names under `list_prefix`; `client` must outlive this object.
  BlobPresence(BlobClient& client, std::string list_prefix, BlobPresenceOptions options);
  ~BlobPresence();  // Stop()
  BlobPresence(const BlobPresence&) = delete;
  BlobPresence& operator=(const BlobPresence&) = delete;

  // Starts the background thread (the first listing right away).
  void Start();
  void Stop();

  // Non-blocking: whether the view holds `name` as present and unexpired.
  bool Knows(const std::string& name) const;
  // This process wrote `name` (known until Erased) or read it (kept for ttl).
  void Wrote(const std::string& name);
  void Read(const std::string& name);
  // `name` is gone (erased here, or a read found nothing).
  void Erased(const std::string& name);
  // Non-blocking: queues a HEAD of `name` unless the view has an unexpired
  // answer or the probe is queued already; dropped when the queue is full.
  void Probe(const std::string& name);

  void AddStats(TierStats& stats) const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Entry {
    bool present = false;
    Clock::time_point expires = Clock::time_point::max();
  };
  void Loop();
  void ListAll();
  // Records an answer (under mu_); false when the view is full.
  bool Record(const std::string& name, bool present, Clock::time_point expires);
  void DropExpired(Clock::time_point now);  // under mu_

  BlobClient& client_;
  const std::string list_prefix_;
  const BlobPresenceOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<std::string, Entry> entries_;
  std::deque<std::string> probes_;
  std::unordered_set<std::string> queued_;
  bool stopping_ = false;
  std::thread thread_;

  struct Counters {
    std::atomic<uint64_t> list_requests{0};
    std::atomic<uint64_t> head_requests{0};
    std::atomic<uint64_t> listed_names{0};
    std::atomic<uint64_t> probes_dropped{0};
    std::atomic<uint64_t> entries_dropped{0};
    std::atomic<uint64_t> known_hits{0};
  };
  mutable Counters counters_;
};

}  // namespace kvtier::tiers::blob
