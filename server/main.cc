// kvtierd: the kvtier cache server.
//
//   kvtierd [--config FILE] [--listen HOST:PORT] [--port N] [--io-threads N]
//           [--dram-capacity SIZE] [--dram-policy density|prefix|lru|s3fifo|arc] [--nvme-dir DIR]
//           [--nvme-capacity SIZE] [--no-nvme] [--log-level LEVEL] [--port-file FILE]
//           [--unix PATH] [--metrics-listen HOST:PORT|off]
//           [--tls-listen HOST:PORT --tls-cert FILE --tls-key FILE [--tls-client-ca FILE]]
//           [--print-config] [--help]
//
// Without --config the embedded default (configs/kvtier.yaml) is used.
// Command-line options override the file. SIGINT/SIGTERM drain and exit 0.

#include <spdlog/spdlog.h>
#include <unistd.h>
#include <algorithm>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>
#include <string_view>

#include "common/byte_size.h"
#include "protocol/asio.h"
#include "protocol/rdma/provider.h"
#include "protocol/rdma/rdma_devices.h"
#include "server/config.h"
#include "server/metrics.h"
#include "server/server_stats.h"
#include "server/service.h"
#include "server/tcp_server.h"
#include "tiers/blob/blob_tier.h"
#include "tiers/blob/checkpoint_uploader.h"
#include "tiers/blob/dataset_origin.h"
#include "tiers/blob/shared_checkpoints.h"
#include "tiers/dram/dram_tier.h"
#include "tiers/nvme/nvme_tier.h"
#include "tiers/tier_stack.h"

namespace kvtier::server {
namespace {

constexpr std::string_view kUsage =
    "usage: kvtierd [--config FILE] [--listen HOST:PORT] [--port N] [--io-threads N]\n"
    "               [--dram-capacity SIZE] [--dram-policy density|prefix|lru|s3fifo|arc] "
    "[--nvme-dir DIR]\n"
    "               [--nvme-capacity SIZE] [--no-nvme] [--log-level LEVEL] [--port-file FILE]\n"
    "               [--unix PATH] [--metrics-listen HOST:PORT|off] [--rdma-device NAME]\n"
    "               [--resp-listen HOST:PORT|off] [--resp-namespace NAME]\n"
    "               [--blob-listen HOST:PORT|off]\n"
    "               [--tls-listen HOST:PORT --tls-cert FILE --tls-key FILE [--tls-client-ca "
    "FILE]]\n"
    "               [--print-config] [--help]\n";

struct CommandLine {
  std::string config_path;
  std::string port_file;
  bool print_config = false;
  std::vector<std::pair<std::string, std::string>> overrides;
};

Result<CommandLine> ParseCommandLine(int argc, char** argv) {
  CommandLine cl;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    auto value = [&](std::string_view name) -> Result<std::string> {
      if (i + 1 >= argc) return InvalidArgument(std::string(name) + " needs a value");
      return std::string(argv[++i]);
    };
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    } else if (arg == "--print-config") {
      cl.print_config = true;
    } else if (arg == "--no-nvme") {
      cl.overrides.emplace_back(std::string(arg), "");
    } else if (arg == "--config") {
      KVTIER_ASSIGN_OR_RETURN(cl.config_path, value(arg));
    } else if (arg == "--port-file") {
      KVTIER_ASSIGN_OR_RETURN(cl.port_file, value(arg));
    } else if (arg == "--listen" || arg == "--port" || arg == "--io-threads" ||
               arg == "--dram-capacity" || arg == "--dram-policy" || arg == "--nvme-dir" ||
               arg == "--nvme-capacity" || arg == "--log-level" || arg == "--unix" ||
               arg == "--metrics-listen" || arg == "--tls-listen" || arg == "--tls-cert" ||
               arg == "--tls-key" || arg == "--tls-client-ca" || arg == "--rdma-device" ||
               arg == "--resp-listen" || arg == "--resp-namespace" || arg == "--blob-listen") {
      KVTIER_ASSIGN_OR_RETURN(std::string v, value(arg));
      cl.overrides.emplace_back(std::string(arg), std::move(v));
    } else {
      return InvalidArgument("unknown option '" + std::string(arg) + "'");
    }
  }
  return cl;
}

// Whether this server will try RDMA: enabled and a device present. When
// not, one log line says so and *refusal is what a client asking for RDMA
// in Hello is told; the server carries on over TCP and shared memory.
bool SurveyRdma(bool enabled, const std::string& device, std::string* refusal) {
  if (!enabled) {
    *refusal = "RDMA is off on this server (server.rdma: false); values go over the stream";
    return false;
  }
  if (device == protocol::rdma::kSoftProviderName) return true;  // needs no device
  const protocol::rdma::DeviceSurvey survey = protocol::rdma::SurveyDevices();
  if (survey.devices.empty()) {
    spdlog::info("no RDMA device, TCP only ({})", survey.reason);
    *refusal = "no RDMA device on the server (" + survey.reason + "); values go over the stream";
    return false;
  }
  std::string names;
  for (const std::string& name : survey.devices) names += (names.empty() ? "" : ", ") + name;
  spdlog::info("RDMA devices: {}", names);
  return true;
}

// The DRAM tier; in pool mode when RDMA will register its block memory or
// the memory is to be made resident at start (tiers.dram.prefault).
std::unique_ptr<tiers::DramTier> MakeDramTier(const tiers::DramTierOptions& options,
                                              bool for_rdma) {
  if (options.prefault) {
    const uint64_t pool_bytes = tiers::DramTier::PoolBytesFor(options.capacity_bytes);
    uint64_t memory = static_cast<uint64_t>(sysconf(_SC_PHYS_PAGES)) *
                      static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    // A container's limit (cgroup v2) is the memory that counts there.
    std::ifstream limit_file("/sys/fs/cgroup/memory.max");
    uint64_t limit = 0;
    if (limit_file >> limit && limit > 0) memory = std::min(memory, limit);
    if (pool_bytes > memory) {
      spdlog::error(
          "tiers.dram.prefault: the DRAM tier's pool of {} (capacity plus an eighth for "
          "fragments) does not fit this machine's or container's memory ({}); lower "
          "tiers.dram.capacity or turn prefault off",
          FormatByteSize(pool_bytes), FormatByteSize(memory));
      return nullptr;
    }
  }
  if (for_rdma || options.prefault) {
    auto pool = tiers::BlockPool::Reserve(tiers::DramTier::PoolBytesFor(options.capacity_bytes));
    if (pool.ok()) {
      if (options.prefault) (*pool)->PopulateInBackground();
      return std::make_unique<tiers::DramTier>(options, std::move(*pool));
    }
    spdlog::warn("no block pool: {}", pool.status().ToString());
  }
  return std::make_unique<tiers::DramTier>(options);
}

// Opens the RDMA device and registers the DRAM tier's pool; null, with
// *refusal set and a log line, when that fails.
std::unique_ptr<RdmaHost> OpenRdma(const tiers::DramTier& dram, const std::string& device,
                                   std::string* refusal) {
  if (dram.block_pool() == nullptr) {
    *refusal = "the server has no block pool to register; values go over the stream";
    return nullptr;
  }
  auto host = RdmaHost::Open(device, dram.block_pool()->memory());
  if (!host.ok()) {
    spdlog::warn("RDMA unavailable, TCP only: {}", host.status().ToString());
    *refusal = "the server's RDMA device did not open (" + host.status().message() +
               "); values go over the stream";
    return nullptr;
  }
  spdlog::info("RDMA on {}: clients may move values by one-sided READ and WRITE",
               (*host)->description());
  return std::move(*host);
}

Status ApplyOverride(ServerConfig& config, const std::string& name, const std::string& value) {
  auto number = [&](uint64_t max) -> Result<uint64_t> {
    try {
      size_t used = 0;
      const unsigned long long n = std::stoull(value, &used);
      if (used == value.size() && n <= max) return static_cast<uint64_t>(n);
    } catch (const std::exception&) {
    }
    return InvalidArgument(name + ": '" + value + "' is not a number in 0.." + std::to_string(max));
  };
  if (name == "--listen") {
    KVTIER_ASSIGN_OR_RETURN(auto host_port, ParseHostPort(value));
    config.listener.host = host_port.first;
    config.listener.port = host_port.second;
  } else if (name == "--port") {
    KVTIER_ASSIGN_OR_RETURN(uint64_t port, number(65535));
    config.listener.port = static_cast<uint16_t>(port);
  } else if (name == "--unix") {
    config.listener.unix_socket = value;
  } else if (name == "--rdma-device") {
    config.listener.rdma_device = value;
  } else if (name == "--metrics-listen") {
    KVTIER_RETURN_IF_ERROR(ParseListenOrOff(value, config.listener.metrics_enabled,
                                            config.listener.metrics_host,
                                            config.listener.metrics_port));
  } else if (name == "--resp-listen") {
    KVTIER_RETURN_IF_ERROR(ParseListenOrOff(value, config.listener.resp.enabled,
                                            config.listener.resp.host, config.listener.resp.port));
  } else if (name == "--blob-listen") {
    KVTIER_RETURN_IF_ERROR(ParseListenOrOff(value, config.listener.blob.enabled,
                                            config.listener.blob.host, config.listener.blob.port));
  } else if (name == "--resp-namespace") {
    config.listener.resp.namespace_name = value;
  } else if (name == "--tls-listen") {
    // Enables the TLS listener; its files come from the config or the
    // options below.
    KVTIER_ASSIGN_OR_RETURN(auto host_port, ParseHostPort(value));
    config.listener.tls.enabled = true;
    config.listener.tls.host = host_port.first;
    config.listener.tls.port = host_port.second;
  } else if (name == "--tls-cert") {
    config.listener.tls.cert_file = value;
  } else if (name == "--tls-key") {
    config.listener.tls.key_file = value;
  } else if (name == "--tls-client-ca") {
    config.listener.tls.client_ca_file = value;
  } else if (name == "--io-threads") {
    KVTIER_ASSIGN_OR_RETURN(uint64_t threads, number(256));
    config.listener.io_threads = static_cast<uint32_t>(threads);
  } else if (name == "--dram-capacity") {
    KVTIER_ASSIGN_OR_RETURN(config.dram.capacity_bytes, ParseByteSize(value));
  } else if (name == "--dram-policy") {
    KVTIER_ASSIGN_OR_RETURN(config.dram.policy, tiers::ParseEvictionPolicyKind(value));
  } else if (name == "--nvme-dir") {
    // Enables the NVMe tier (with default sizes) where the config has none.
    config.nvme_enabled = true;
    config.nvme.directory = value;
  } else if (name == "--no-nvme") {
    config.nvme_enabled = false;  // DRAM only, whatever the file says
  } else if (name == "--nvme-capacity") {
    config.nvme_enabled = true;
    KVTIER_ASSIGN_OR_RETURN(config.nvme.capacity_bytes, ParseByteSize(value));
  } else if (name == "--log-level") {
    config.log_level = value;
  }
  return Status::Ok();
}

Result<ServerConfig> BuildConfig(const CommandLine& cl) {
  Result<ServerConfig> config = cl.config_path.empty() ? ParseConfig(EmbeddedDefaultConfigText())
                                                       : LoadConfigFile(cl.config_path);
  if (!config.ok()) return config.status();
  for (const auto& [name, value] : cl.overrides) {
    KVTIER_RETURN_IF_ERROR(ApplyOverride(*config, name, value));
  }
  KVTIER_RETURN_IF_ERROR(config->Validate());
  return config;
}

// The Blob client options for `container`; the credential comes from the
// environment variable the config names, never from the file.
Result<tiers::blob::BlobClientOptions> BlobClientOptionsFor(const BlobConfig& blob,
                                                            const std::string& container) {
  tiers::blob::BlobClientOptions options;
  options.endpoint = blob.endpoint;
  options.account = blob.account;
  options.container = container;
  options.ca_file = blob.ca_file;
  options.operation_timeout = blob.operation_timeout;
  const std::string& env = blob.key_env.empty() ? blob.sas_env : blob.key_env;
  const char* secret = std::getenv(env.c_str());
  if (secret == nullptr || *secret == '\0') {
    return InvalidArgument("the blob credential variable " + env + " is not set");
  }
  (blob.key_env.empty() ? options.sas_token : options.account_key) = secret;
  return options;
}

Result<std::unique_ptr<tiers::blob::DatasetOrigin>> OpenOrigin(const BlobConfig& blob,
                                                               const NamespaceConfig& ns,
                                                               tiers::Tier& dram) {
  tiers::blob::DatasetOriginOptions options;
  KVTIER_ASSIGN_OR_RETURN(options.client, BlobClientOptionsFor(blob, ns.origin.container));
  options.prefix = ns.origin.prefix;
  options.block_bytes = ns.origin.block_bytes;
  options.listing_ttl = ns.origin.listing_ttl;
  options.max_listed_objects = ns.origin.max_listed_objects;
  options.read_ahead.run_blocks = ns.origin.read_ahead_blocks;
  // Runs of a sequential reader grow to 64 MiB, four of an object reading
  // at once: large ranges stream faster than small ones, and several
  // ranges faster than one (measured against Azurite: 4 x 64 MiB beat
  // 3 x 32 MiB, 4 x 128 MiB and one stream of 256 MiB ranges; bench/RESULTS.md).
  options.read_ahead.max_run_blocks = std::max<uint32_t>(
      ns.origin.read_ahead_blocks,
      static_cast<uint32_t>(std::max<uint64_t>(1, (64ull << 20) / ns.origin.block_bytes)));
  options.stats_name = "origin/" + ns.name;
  options.block_memory = &dram;
  return tiers::blob::DatasetOrigin::Create(std::move(options));
}

// The catalog of checkpoint namespace `ns`, a RocksDB under the NVMe
// directory (config validation made sure there is one).
Result<std::unique_ptr<tiers::CheckpointCatalog>> OpenCheckpointCatalog(
    const std::filesystem::path& nvme_directory, const NamespaceConfig& ns) {
  tiers::CheckpointCatalogOptions options;
  options.directory = nvme_directory / "objects" / ns.name;
  options.block_bytes = ns.objects.block_bytes;
  options.session_ttl = ns.objects.session_ttl;
  options.max_sessions = ns.objects.max_sessions;
  options.max_objects = ns.objects.max_objects;
  options.quota_bytes = ns.objects.quota_bytes;
  return tiers::CheckpointCatalog::Open(options);
}

// The uploader of checkpoint namespace `ns` into the Blob tier's container.
Result<std::unique_ptr<tiers::blob::CheckpointUploader>> OpenCheckpointUploader(
    const BlobConfig& blob, const NamespaceConfig& ns, tiers::CheckpointCatalog& catalog) {
  tiers::blob::CheckpointUploaderOptions options;
  KVTIER_ASSIGN_OR_RETURN(options.client, BlobClientOptionsFor(blob, blob.container));
  options.prefix = ns.objects.blob_prefix;
  options.stats_name = "checkpoint_blobs/" + ns.name;
  return tiers::blob::CheckpointUploader::Create(std::move(options), catalog);
}

// Checkpoint namespace `ns` together with what other servers wrote to the
// same container under its blob prefix.
Result<std::unique_ptr<tiers::blob::SharedCheckpoints>> OpenSharedCheckpoints(
    const BlobConfig& blob, const NamespaceConfig& ns, tiers::CheckpointCatalog& catalog,
    tiers::blob::CheckpointUploader& uploader) {
  tiers::blob::DatasetOriginOptions options;
  KVTIER_ASSIGN_OR_RETURN(options.client, BlobClientOptionsFor(blob, blob.container));
  options.prefix = ns.objects.blob_prefix;
  options.block_bytes = ns.objects.block_bytes;
  options.listing_ttl = ns.objects.listing_ttl;
  options.max_listed_objects = ns.objects.max_objects;
  KVTIER_ASSIGN_OR_RETURN(std::unique_ptr<tiers::blob::DatasetOrigin> container,
                          tiers::blob::DatasetOrigin::Create(std::move(options)));
  return std::make_unique<tiers::blob::SharedCheckpoints>(catalog, uploader, std::move(container));
}

// The Blob tier in `tiers.blob.container`. Blob being unreachable at start
// does not stop the server: it serves DRAM and NVMe, and uploads retry (the
// first write makes the container).
Result<std::unique_ptr<tiers::blob::BlobTier>> OpenBlobTier(const ServerConfig& config) {
  tiers::blob::BlobTierOptions options;
  KVTIER_ASSIGN_OR_RETURN(options.client, BlobClientOptionsFor(config.blob, config.blob.container));
  options.name_prefix = config.blob.prefix;
  options.namespace_names.push_back("");  // ids start at 1
  for (const NamespaceConfig& ns : config.namespaces) options.namespace_names.push_back(ns.name);
  options.max_block_bytes = config.limits.max_value_bytes;
  options.presence.list_interval = std::chrono::milliseconds(config.blob.presence_list_interval_ms);
  options.presence.ttl = std::chrono::milliseconds(config.blob.presence_ttl_ms);
  options.presence.max_entries = config.blob.presence_max_entries;
  auto tier = tiers::blob::BlobTier::Open(options);
  if (tier.ok()) {
    spdlog::info("Blob tier: container {} at {}, names '{}<namespace>/<key>'",
                 config.blob.container, config.blob.endpoint, config.blob.prefix);
    return tier;
  }
  const StatusCode code = tier.status().code();
  if (code != StatusCode::kUnavailable && code != StatusCode::kDeadlineExceeded) {
    return tier.status();
  }
  spdlog::error("Blob tier: {} is unreachable ({}); serving DRAM and NVMe, uploads will retry",
                config.blob.endpoint, tier.status().message());
  options.create_container = false;
  return tiers::blob::BlobTier::Open(options);
}

int Run(int argc, char** argv) {
  auto cl = ParseCommandLine(argc, argv);
  if (!cl.ok()) {
    std::cerr << "kvtierd: " << cl.status().message() << "\n" << kUsage;
    return 2;
  }
  auto config = BuildConfig(*cl);
  if (!config.ok()) {
    std::cerr << "kvtierd: " << config.status().message() << "\n";
    return 2;
  }
  if (cl->print_config) {
    std::cout << DescribeConfig(*config) << "\n";
    return 0;
  }
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%t] %v");
  spdlog::info("kvtierd starting; config from {}",
               cl->config_path.empty() ? "the embedded default" : cl->config_path);
  const std::string effective = DescribeConfig(*config);
  for (std::string_view rest = effective; !rest.empty();) {
    const size_t end = rest.find('\n');
    spdlog::info("config {}", rest.substr(0, end));
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
  }

  // Signals are blocked in every thread and awaited here, so no I/O thread
  // is interrupted.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  std::string rdma_refusal;
  const bool rdma_wanted =
      SurveyRdma(config->listener.rdma, config->listener.rdma_device, &rdma_refusal);
  const std::unique_ptr<tiers::DramTier> dram = MakeDramTier(config->dram, rdma_wanted);
  if (dram == nullptr) return 1;
  const std::unique_ptr<RdmaHost> rdma_host =
      rdma_wanted ? OpenRdma(*dram, config->listener.rdma_device, &rdma_refusal) : nullptr;
  std::unique_ptr<tiers::NvmeTier> nvme;
  if (config->nvme_enabled) {
    auto opened = tiers::NvmeTier::Open(config->nvme);
    if (!opened.ok()) {
      spdlog::critical("NVMe tier at {}: {}", config->nvme.directory.string(),
                       opened.status().ToString());
      return 1;
    }
    nvme = std::move(*opened);
    const tiers::TierStats nvme_stats = nvme->Stats();
    spdlog::info("NVMe tier at {}: {} blocks recovered, {} of {} on disk",
                 config->nvme.directory.string(), nvme_stats.items,
                 FormatByteSize(nvme_stats.used_bytes), FormatByteSize(nvme_stats.capacity_bytes));
  } else {
    spdlog::info("no NVMe tier configured: DRAM only");
  }
  std::vector<std::unique_ptr<tiers::blob::DatasetOrigin>> origins;
  std::vector<std::unique_ptr<tiers::CheckpointCatalog>> checkpoint_catalogs;
  // With the index of their namespace in the config.
  std::vector<std::pair<size_t, std::unique_ptr<tiers::blob::CheckpointUploader>>>
      checkpoint_uploaders;
  std::vector<std::unique_ptr<tiers::blob::SharedCheckpoints>> shared_checkpoints;
  std::vector<NamespaceSources> sources_of_namespace;
  for (size_t ns_index = 0; ns_index < config->namespaces.size(); ++ns_index) {
    const NamespaceConfig& ns = config->namespaces[ns_index];
    sources_of_namespace.emplace_back();
    if (ns.kind == NamespaceKind::kCheckpoint) {
      auto catalog = OpenCheckpointCatalog(config->nvme.directory, ns);
      if (!catalog.ok()) {
        spdlog::critical("namespace {}: {}", ns.name, catalog.status().ToString());
        return 1;
      }
      spdlog::info("namespace {}: checkpoint objects in {} blocks, {} recovered ({})", ns.name,
                   FormatByteSize(ns.objects.block_bytes), (*catalog)->object_count(),
                   FormatByteSize((*catalog)->stored_bytes()));
      sources_of_namespace.back() = {nullptr, catalog->get(), catalog->get()};
      if (ns.blob != tiers::BlobUse::kNone) {
        auto uploader = OpenCheckpointUploader(config->blob, ns, **catalog);
        if (!uploader.ok()) {
          spdlog::critical("namespace {}: {}", ns.name, uploader.status().ToString());
          return 1;
        }
        spdlog::info("namespace {}: checkpoints go to Blob as {} container {} '{}<path>'", ns.name,
                     config->blob.endpoint, config->blob.container, ns.objects.blob_prefix);
        auto shared = OpenSharedCheckpoints(config->blob, ns, **catalog, **uploader);
        if (!shared.ok()) {
          spdlog::critical("namespace {}: {}", ns.name, shared.status().ToString());
          return 1;
        }
        sources_of_namespace.back().origin = shared->get();
        sources_of_namespace.back().objects = shared->get();
        sources_of_namespace.back().publisher = shared->get();
        checkpoint_uploaders.emplace_back(ns_index, std::move(*uploader));
        shared_checkpoints.push_back(std::move(*shared));
      }
      checkpoint_catalogs.push_back(std::move(*catalog));
      continue;
    }
    if (!ns.origin.enabled) continue;
    auto origin = OpenOrigin(config->blob, ns, *dram);
    if (!origin.ok()) {
      spdlog::critical("namespace {}: {}", ns.name, origin.status().ToString());
      return 1;
    }
    spdlog::info("namespace {}: reads through to {} container {} prefix '{}' in {} blocks", ns.name,
                 config->blob.endpoint, ns.origin.container, ns.origin.prefix,
                 FormatByteSize(ns.origin.block_bytes));
    sources_of_namespace.back() = {origin->get(), origin->get()};
    origins.push_back(std::move(*origin));
  }
  std::unique_ptr<tiers::blob::BlobTier> blob;
  if (std::any_of(
          config->namespaces.begin(), config->namespaces.end(), [](const NamespaceConfig& ns) {
            // Checkpoint namespaces upload whole objects (their own uploader).
            return ns.blob != tiers::BlobUse::kNone && ns.kind != NamespaceKind::kCheckpoint;
          })) {
    auto opened = OpenBlobTier(*config);
    if (!opened.ok()) {
      spdlog::critical("Blob tier: {}", opened.status().ToString());
      return 1;
    }
    blob = std::move(*opened);
  }
  tiers::TierStack stack(*dram, nvme.get(), config->stack, blob.get());
  ServerStats stats;
  Service service(*config, stack, stats, sources_of_namespace);  // sets namespace policies
  if (stack.ResumeUploads() > 0) {
    spdlog::info("Blob tier: resuming {} uploads left pending on NVMe", stack.resumed_uploads());
  }
  // Checkpoint uploaders stop before the stack whose blocks they read.
  struct StopUploaders {
    decltype(checkpoint_uploaders)& uploaders;
    ~StopUploaders() {
      for (auto& [index, uploader] : uploaders) uploader->Shutdown();
    }
  } stop_uploaders{checkpoint_uploaders};
  for (auto& [index, uploader] : checkpoint_uploaders) {
    const auto namespace_id = static_cast<uint32_t>(index + 1);  // ids start at 1
    const size_t pending = uploader->Start(
        {[&stack, namespace_id](const std::string& storage, uint64_t block) {
           return stack.ReadObjectBlock(namespace_id, storage, block);
         },
         [&stack, namespace_id](const std::string& storage, uint64_t block, uint64_t checksum) {
           stack.ReleaseObjectBlock(namespace_id, storage, block, checksum);
         }});
    if (pending > 0) {
      spdlog::info("namespace {}: resuming the upload of {} checkpoints to Blob",
                   config->namespaces[index].name, pending);
    }
  }
  service.SetRdmaRefusal(rdma_refusal);
  TcpServer server(config->listener, service, stats);
  server.SetRdmaHost(rdma_host.get());
  std::unique_ptr<blob_endpoint::BlobEndpoint> blob_endpoint;
  if (config->listener.blob.enabled) {
    // Shared Key and SAS requests are verified with the key the origin is
    // read with; a server reading with a SAS verifies only kvtier tokens.
    const char* key =
        config->blob.key_env.empty() ? nullptr : std::getenv(config->blob.key_env.c_str());
    blob_endpoint = std::make_unique<blob_endpoint::BlobEndpoint>(blob_endpoint::BlobEndpoint{
        blob_endpoint::BlobRoutes::FromConfig(*config),
        blob_endpoint::BlobAuthorizer(config->blob.account, key == nullptr ? "" : key,
                                      service.authenticator()),
        std::time(nullptr)});
    server.SetBlobEndpoint(blob_endpoint.get());
  }
  if (Status status = server.Start(); !status.ok()) {
    spdlog::critical("{}", status.ToString());
    return 1;
  }
  if (server.port() != 0) {
    spdlog::info("listening on {}:{} (tcp); server id {}", config->listener.host, server.port(),
                 service.server_id());
  } else {
    spdlog::info("no plaintext TCP listener (server.tls.only); server id {}", service.server_id());
  }
  if (!config->listener.unix_socket.empty()) {
    spdlog::info("listening on {} (Unix socket; shared memory regions up to {})",
                 config->listener.unix_socket,
                 FormatByteSize(config->listener.shm_max_region_bytes));
  }
  // Ready once the tiers are open and the listeners up; not ready again as
  // soon as a drain starts, so that load balancers stop sending new clients.
  std::atomic<bool> ready{true};
  MetricsServer metrics(
      [&] { return RenderPrometheus(service.Snapshot(), stats, service.Histograms()); },
      [&] { return ready.load(); });
  if (config->listener.metrics_enabled) {
    if (Status status = metrics.Start(config->listener.metrics_host, config->listener.metrics_port);
        !status.ok()) {
      spdlog::critical("{}", status.ToString());
      return 1;
    }
    spdlog::info("metrics on http://{}:{}/metrics (also /healthz, /readyz)",
                 config->listener.metrics_host, metrics.port());
  }
  if (!cl->port_file.empty()) {
    // Line 1: the TCP port; line 2: the metrics port; line 3: the TLS port;
    // line 4: the RESP port; line 5: the Blob endpoint's port (0 for a
    // listener that is off).
    const std::string tmp = cl->port_file + ".tmp";
    std::ofstream(tmp) << server.port() << "\n"
                       << (config->listener.metrics_enabled ? metrics.port() : 0) << "\n"
                       << server.tls_port() << "\n"
                       << server.resp_port() << "\n"
                       << server.blob_port() << "\n";
    std::rename(tmp.c_str(), cl->port_file.c_str());  // readers never see a partial file
  }

  int received = 0;
  sigwait(&signals, &received);
  ready = false;
  spdlog::info("{} received; draining connections", received == SIGINT ? "SIGINT" : "SIGTERM");
  server.Stop(std::chrono::seconds(10));  // drains connections, then the workers
  metrics.Stop();
  stack.Shutdown();  // writes queued demotions to NVMe
  spdlog::info("kvtierd stopped");
  return 0;
}

}  // namespace
}  // namespace kvtier::server

int main(int argc, char** argv) { return kvtier::server::Run(argc, argv); }
