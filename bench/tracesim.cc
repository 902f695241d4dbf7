// kvtier-tracesim: replays a Mooncake-format trace (trace.h) through the
// in-process simulations of prefix_sim.h, with no server: the textbook
// prefix-LRU, the offline Belady ceiling, prefix-LRU told which blocks are
// never used again (lru-dead: what a policy that learns perfectly which
// blocks are dead could reach), and the DRAM tier's eviction
// order under each policy, DRAM only and over an NVMe tier. Prints the
// token-weighted prefix hit ratio of each, one row per capacity.
//
//   kvtier-tracesim --trace FILE --capacity-blocks 1953,5859,19531 [--nvme-factor 10]
//       [--admission all|read_once|chain] [--json]

#include <cstdio>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/prefix_sim.h"

namespace kvtier::bench {
namespace {

struct SimOptions {
  std::string trace_path;
  std::vector<uint64_t> capacities;
  uint64_t nvme_factor = 0;
  SimAdmission admission = SimAdmission::kAll;
};

constexpr tiers::EvictionPolicyKind kPolicies[] = {
    tiers::EvictionPolicyKind::kDensity, tiers::EvictionPolicyKind::kPrefix,
    tiers::EvictionPolicyKind::kLru, tiers::EvictionPolicyKind::kS3Fifo,
    tiers::EvictionPolicyKind::kArc};

int Run(int argc, char** argv) {
  SimOptions o;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string arg = argv[i];
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      const std::string value = argv[++i];
      if (arg == "--trace") {
        o.trace_path = value;
      } else if (arg == "--capacity-blocks") {
        std::stringstream list(value);
        for (std::string item; std::getline(list, item, ',');)
          o.capacities.push_back(std::stoull(item));
      } else if (arg == "--nvme-factor") {
        o.nvme_factor = std::stoull(value);
      } else if (arg == "--admission") {
        o.admission = value == "read_once" ? SimAdmission::kReadOnce
                      : value == "chain"   ? SimAdmission::kChain
                                           : SimAdmission::kAll;
      } else {
        throw std::invalid_argument("unknown option " + arg);
      }
    }
    if (o.trace_path.empty() || o.capacities.empty()) {
      throw std::invalid_argument("--trace and --capacity-blocks are needed");
    }
  } catch (const std::exception& e) {
    std::cerr << "kvtier-tracesim: " << e.what() << "\n";
    return 2;
  }
  auto requests = LoadTrace(o.trace_path);
  if (!requests.ok()) {
    std::cerr << "kvtier-tracesim: " << requests.status().message() << "\n";
    return 1;
  }
  std::printf("%10s %8s %8s %8s", "blocks", "lru-sim", "belady", "lru-dead");
  for (auto kind : kPolicies)
    std::printf(" %8s", std::string(tiers::EvictionPolicyName(kind)).c_str());
  std::printf("\n");
  for (uint64_t capacity : o.capacities) {
    PrefixLruSimulator lru(capacity);
    BeladySimulator belady(*requests, capacity);
    DeadBlockOracleSimulator dead_oracle(*requests, capacity);
    PrefixHits lru_hits;
    PrefixHits belady_hits;
    PrefixHits dead_oracle_hits;
    std::vector<PrefixHits> policy_hits(std::size(kPolicies));
    std::vector<std::unique_ptr<TierSimulator>> sims;
    for (auto kind : kPolicies) {
      sims.push_back(
          std::make_unique<TierSimulator>(kind, capacity, capacity * o.nvme_factor, o.admission));
    }
    for (const TraceRequest& request : *requests) {
      lru_hits.Add(request, lru.Access(request.hash_ids));
      belady_hits.Add(request, belady.Access(request));
      dead_oracle_hits.Add(request, dead_oracle.Access(request));
      for (size_t p = 0; p < sims.size(); ++p)
        policy_hits[p].Add(request, sims[p]->Access(request));
    }
    std::printf("%10llu %8.4f %8.4f %8.4f", static_cast<unsigned long long>(capacity),
                lru_hits.TokenRatio(), belady_hits.TokenRatio(), dead_oracle_hits.TokenRatio());
    for (const PrefixHits& hits : policy_hits) std::printf(" %8.4f", hits.TokenRatio());
    std::printf("\n");
  }
  return 0;
}

}  // namespace
}  // namespace kvtier::bench

int main(int argc, char** argv) { return kvtier::bench::Run(argc, argv); }
