// kvtier-bench: load generator for kvtier, with redis-server as the yardstick.
//
// Workloads (--workload NAME):
//   put     write the working set (--keys keys of --value-size bytes), --batch keys a request
//   get     fill the working set, then read uniformly random keys, --batch keys a request
//   scan    read the working set in key order without filling it first (what survived a
//           restart?): with --ops keys/(batch*connections), every key once
//   mixed   like get, with a share (1 - --read-ratio) of puts
//   match   store a chain of --match-keys keys, then ask how much of it is cached
//           (kvtier: one MatchPrefix; redis: one pipelined EXISTS per key)
//   engine  an inference engine's pattern per prompt: match the prompt's --prompt-blocks
//           keys (the first --shared-blocks from one of --shared-prefixes system prompts),
//           read the cached prefix in one batch, write the missing blocks
//   fanout  every connection reads the same blocks in the same order (a shared dataset)
//   trace   replay a Mooncake-format JSONL trace (--trace FILE; kvtier-tracegen makes
//           synthetic ones) on one connection: per request, match its hash_ids chain, read
//           the cached prefix, write the rest (--block-bytes each). Prints block- and
//           token-weighted prefix hit ratios next to a textbook prefix-LRU simulation and
//           an offline Belady ceiling (prefix_sim.h) of the same capacity in blocks
//           (--capacity-blocks, default: derived from the target's memory budget). Puts name
//           the key before them and flag a partial last block. --time-scale 1 replays in
//           real time, 0 flat out.
//
// Targets: --server HOST:PORT (kvtier, namespace --namespace), --unix PATH (kvtier on
// this host through its Unix socket, values through a shared region of --shm-region
// bytes, 256 MiB unless given; 0 keeps values on the socket) or --redis HOST:PORT.
// --in-place (with --unix) builds put values in the shared region itself, as an engine
// that registers its buffers would: the client then copies nothing. --tls-ca FILE
// (with --server) speaks TLS to kvtier's TLS listener, trusting the CA in FILE.
// --rdma (with --server) moves values by RDMA through a registered region of
// --shm-region bytes (256 MiB unless given), on --rdma-device NAME (the first
// device unless given); --in-place then builds put values in that region.
// Every connection is one thread with --depth requests in flight (pipelined).
// --verify checks every byte read; --json prints one JSON object.

#include <cstdio>
#include <iostream>
#include <string>
#include <string_view>

#include "bench/workloads.h"

namespace kvtier::bench {
namespace {

constexpr std::string_view kUsage =
    "usage: kvtier-bench (--server HOST:PORT | --unix PATH | --redis HOST:PORT) [--workload NAME]\n"
    "  [--shm-region BYTES (with --unix; 0: values on the socket)] [--in-place]\n"
    "  [--rdma [--rdma-device NAME] (with --server: values by RDMA)]\n"
    "  [--tls-ca FILE (with --server: its TLS listener, trusting FILE)]\n"
    "  [--value-size BYTES] [--keys N] [--batch N] [--connections N] [--depth N]\n"
    "  [--duration S | --ops N] [--warmup S] [--read-ratio R] [--match-keys N]\n"
    "  [--prompt-blocks N] [--shared-prefixes N] [--shared-blocks N] [--namespace NS]\n"
    "  [--trace FILE] [--block-bytes BYTES] [--time-scale X] [--capacity-blocks N]\n"
    "  [--seed N] [--verify] [--json]\n"
    "workloads: put get scan mixed match engine fanout trace\n";

Status ParseTarget(std::string_view text, Target::Kind kind, Target& target) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return InvalidArgument("expected HOST:PORT");
  target.kind = kind;
  target.host = std::string(text.substr(0, colon));
  target.port = static_cast<uint16_t>(std::stoul(std::string(text.substr(colon + 1))));
  return Status::Ok();
}

Result<BenchOptions> ParseOptions(int argc, char** argv) {
  BenchOptions o;
  bool have_target = false;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string_view arg = argv[i];
      auto next = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(std::string(arg) + " needs a value");
        return argv[++i];
      };
      if (arg == "--server" || arg == "--redis") {
        KVTIER_RETURN_IF_ERROR(ParseTarget(
            next(), arg == "--redis" ? Target::Kind::kRedis : Target::Kind::kKvtier, o.target));
        have_target = true;
      } else if (arg == "--unix") {
        o.target.kind = Target::Kind::kKvtier;
        o.target.unix_socket = next();
        if (o.target.shm_region_bytes == 0) o.target.shm_region_bytes = 256ull << 20;
        have_target = true;
      } else if (arg == "--rdma") {
        o.target.rdma = true;
        if (o.target.shm_region_bytes == 0) o.target.shm_region_bytes = 256ull << 20;
      } else if (arg == "--rdma-device") {
        o.target.rdma_device = next();
      } else if (arg == "--tls-ca") {
        o.target.tls_ca_file = next();
      } else if (arg == "--shm-region") {
        o.target.shm_region_bytes = std::stoull(next());
      } else if (arg == "--workload") {
        o.workload = next();
      } else if (arg == "--namespace") {
        o.target.ns = next();
      } else if (arg == "--value-size") {
        o.value_size = std::stoull(next());
      } else if (arg == "--keys") {
        o.keys = std::stoull(next());
      } else if (arg == "--batch") {
        o.batch = static_cast<uint32_t>(std::stoul(next()));
      } else if (arg == "--connections") {
        o.connections = static_cast<uint32_t>(std::stoul(next()));
      } else if (arg == "--depth") {
        o.depth = static_cast<uint32_t>(std::stoul(next()));
      } else if (arg == "--duration") {
        o.duration_s = std::stod(next());
      } else if (arg == "--ops") {
        o.ops = std::stoull(next());
      } else if (arg == "--warmup") {
        o.warmup_s = std::stod(next());
      } else if (arg == "--read-ratio") {
        o.read_ratio = std::stod(next());
      } else if (arg == "--match-keys") {
        o.match_keys = static_cast<uint32_t>(std::stoul(next()));
      } else if (arg == "--prompt-blocks") {
        o.prompt_blocks = static_cast<uint32_t>(std::stoul(next()));
      } else if (arg == "--shared-prefixes") {
        o.shared_prefixes = static_cast<uint32_t>(std::stoul(next()));
      } else if (arg == "--shared-blocks") {
        o.shared_blocks = static_cast<uint32_t>(std::stoul(next()));
      } else if (arg == "--trace") {
        o.trace_path = next();
      } else if (arg == "--block-bytes") {
        o.value_size = std::stoull(next());
      } else if (arg == "--time-scale") {
        o.time_scale = std::stod(next());
      } else if (arg == "--capacity-blocks") {
        o.capacity_blocks = std::stoull(next());
      } else if (arg == "--seed") {
        o.seed = std::stoull(next());
      } else if (arg == "--in-place") {
        o.in_place = true;
      } else if (arg == "--verify") {
        o.verify = true;
      } else if (arg == "--json") {
        o.json = true;
      } else if (arg == "--help" || arg == "-h") {
        std::cout << kUsage;
        std::exit(0);
      } else {
        return InvalidArgument("unknown option " + std::string(arg));
      }
    }
  } catch (const std::exception& e) {
    return InvalidArgument(std::string("bad option value: ") + e.what());
  }
  static const std::string_view kWorkloads[] = {"put",   "get",    "scan",   "mixed",
                                                "match", "engine", "fanout", "trace"};
  if (std::find(std::begin(kWorkloads), std::end(kWorkloads), o.workload) == std::end(kWorkloads)) {
    return InvalidArgument("unknown workload '" + o.workload + "'");
  }
  if (!have_target) return InvalidArgument("--server, --unix or --redis is required");
  if (o.workload == "trace" && o.trace_path.empty()) {
    return InvalidArgument("the trace workload needs --trace FILE");
  }
  if (o.keys == 0 || o.batch == 0 || o.connections == 0 || o.depth == 0 || o.shared_prefixes == 0) {
    return InvalidArgument(
        "--keys, --batch, --connections, --depth, --shared-prefixes must be > 0");
  }
  return o;
}

constexpr const char* kKindNames[] = {"put", "get", "match"};

void PrintText(const BenchOptions& o, BenchReport& r) {
  std::printf("%s %s: value %llu B, batch %u, %u connections x depth %u, %.2f s\n",
              o.target.kind == Target::Kind::kRedis ? "redis" : "kvtier", o.workload.c_str(),
              static_cast<unsigned long long>(o.value_size), o.batch, o.connections, o.depth,
              r.seconds);
  for (size_t k = 0; k < r.by_kind.size(); ++k) {
    OpStats& s = r.by_kind[k];
    if (s.ops == 0) continue;
    std::printf(
        "  %-5s %10.0f ops/s %10.0f keys/s %8.3f GB/s  p50 %8.1f us  p99 %8.1f us  p99.9 %8.1f "
        "us  hits %.3f  errors %llu  verify_failures %llu\n",
        kKindNames[k], s.ops / r.seconds, s.keys / r.seconds, s.bytes / r.seconds / 1e9,
        s.PercentileUs(0.5), s.PercentileUs(0.99), s.PercentileUs(0.999),
        s.keys ? static_cast<double>(s.hits) / s.keys : 0.0,
        static_cast<unsigned long long>(s.errors),
        static_cast<unsigned long long>(s.verify_failures));
  }
  if (r.traced) {
    std::printf(
        "  trace: %llu requests; prefix hit ratio by blocks %.4f, by tokens %.4f\n"
        "  prefix-LRU of %llu blocks:        by blocks %.4f, by tokens %.4f\n"
        "  Belady (offline) of as many:      by blocks %.4f, by tokens %.4f\n",
        static_cast<unsigned long long>(r.target_hits.requests), r.target_hits.BlockRatio(),
        r.target_hits.TokenRatio(), static_cast<unsigned long long>(r.capacity_blocks),
        r.lru_hits.BlockRatio(), r.lru_hits.TokenRatio(), r.belady_hits.BlockRatio(),
        r.belady_hits.TokenRatio());
  }
}

void PrintJson(const BenchOptions& o, BenchReport& r) {
  std::printf(
      "{\"target\": \"%s\", \"workload\": \"%s\", \"value_size\": %llu, \"batch\": %u, "
      "\"connections\": %u, \"depth\": %u, \"seconds\": %.3f, \"ops\": {",
      o.target.kind == Target::Kind::kRedis ? "redis" : "kvtier", o.workload.c_str(),
      static_cast<unsigned long long>(o.value_size), o.batch, o.connections, o.depth, r.seconds);
  bool first = true;
  for (size_t k = 0; k < r.by_kind.size(); ++k) {
    OpStats& s = r.by_kind[k];
    if (s.ops == 0) continue;
    std::printf(
        "%s\"%s\": {\"ops\": %llu, \"ops_per_s\": %.1f, \"keys_per_s\": %.1f, \"gb_per_s\": %.4f, "
        "\"p50_us\": %.1f, \"p99_us\": %.1f, \"p999_us\": %.1f, \"hit_ratio\": %.4f, "
        "\"errors\": %llu, \"verify_failures\": %llu}",
        first ? "" : ", ", kKindNames[k], static_cast<unsigned long long>(s.ops), s.ops / r.seconds,
        s.keys / r.seconds, s.bytes / r.seconds / 1e9, s.PercentileUs(0.5), s.PercentileUs(0.99),
        s.PercentileUs(0.999), s.keys ? static_cast<double>(s.hits) / s.keys : 0.0,
        static_cast<unsigned long long>(s.errors),
        static_cast<unsigned long long>(s.verify_failures));
    first = false;
  }
  std::printf("}");
  if (r.traced) {
    std::printf(
        ", \"trace\": {\"requests\": %llu, \"block_hit_ratio\": %.4f, \"token_hit_ratio\": %.4f, "
        "\"lru_capacity_blocks\": %llu, \"lru_block_hit_ratio\": %.4f, "
        "\"lru_token_hit_ratio\": %.4f, \"belady_block_hit_ratio\": %.4f, "
        "\"belady_token_hit_ratio\": %.4f}",
        static_cast<unsigned long long>(r.target_hits.requests), r.target_hits.BlockRatio(),
        r.target_hits.TokenRatio(), static_cast<unsigned long long>(r.capacity_blocks),
        r.lru_hits.BlockRatio(), r.lru_hits.TokenRatio(), r.belady_hits.BlockRatio(),
        r.belady_hits.TokenRatio());
  }
  std::printf("}\n");
}

int Run(int argc, char** argv) {
  auto options = ParseOptions(argc, argv);
  if (!options.ok()) {
    std::cerr << "kvtier-bench: " << options.status().message() << "\n" << kUsage;
    return 2;
  }
  BenchReport report = RunWorkload(*options);
  if (!report.status.ok()) {
    std::cerr << "kvtier-bench: " << report.status.ToString() << "\n";
    return 1;
  }
  if (options->json) {
    PrintJson(*options, report);
  } else {
    PrintText(*options, report);
  }
  uint64_t failures = 0;
  for (const auto& s : report.by_kind) failures += s.errors + s.verify_failures;
  return failures == 0 ? 0 : 1;
}

}  // namespace
}  // namespace kvtier::bench

int main(int argc, char** argv) { return kvtier::bench::Run(argc, argv); }
