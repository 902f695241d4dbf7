#pragma once

// What the service, resp and blob_http fuzz targets run against: a real Service over
// a real DRAM tier, from a config of small limits. Built once per process,
// so state carries over between inputs, as on a long-lived server.

#include <cstdlib>
#include <string_view>
#include <vector>

#include "server/config.h"
#include "server/server_stats.h"
#include "server/service.h"
#include "tiers/dram/dram_tier.h"
#include "tiers/tier_stack.h"

namespace kvtier::server {

inline void FuzzCheck(bool condition) {
  if (!condition) std::abort();
}

struct FuzzServer {
  // `sources[i]` serves the config's namespace i (they must outlive this).
  explicit FuzzServer(std::string_view config_yaml,
                      const std::vector<NamespaceSources>& sources = {})
      : config(Load(config_yaml)),
        dram(config.dram),
        stack(dram, nullptr, config.stack),
        service(config, stack, stats, sources) {}
  static ServerConfig Load(std::string_view config_yaml) {
    auto config = ParseConfig(config_yaml);
    FuzzCheck(config.ok() && config->Validate().ok());
    return *config;
  }
  ServerConfig config;
  tiers::DramTier dram;
  tiers::TierStack stack;
  ServerStats stats;
  Service service;
};

}  // namespace kvtier::server
