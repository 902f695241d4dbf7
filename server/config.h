#pragma once

// kvtierd configuration: typed structs with defaults, parsed from YAML, then
// checked by Validate(), which names the bad field. See docs/config.md.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/keys.h"
#include "common/result.h"
#include "protocol/limits.h"
#include "tiers/dram/dram_tier.h"
#include "tiers/nvme/nvme_tier.h"
#include "tiers/tier_stack.h"

namespace kvtier::server {

enum class NamespaceKind { kKv, kKb, kDataset, kCheckpoint };
std::string_view NamespaceKindName(NamespaceKind kind);

// The Azure Blob service and its credential. The secret itself never sits
// in a config file: it is read from the named environment variable.
struct BlobConfig {
  bool enabled = false;  // a `tiers.blob` section is present
  std::string endpoint;  // http(s)://host[:port][/account for path-style]
  std::string account;
  std::string key_env;  // env var holding the account key (Shared Key), or
  std::string sas_env;  // env var holding a SAS token
  std::string ca_file;  // extra CA bundle for https
  std::chrono::milliseconds operation_timeout{30000};
  // The Blob tier (namespaces with `tiers: [dram, nvme, blob]`): blocks are
  // blobs `<prefix><namespace>/<hex key>` in this container.
  std::string container;
  std::string prefix = "kvtier/";
  // The presence view that lets MatchPrefix and Exists report blocks only
  // Blob holds (tiers/blob/blob_presence.h): how often the container is
  // listed (0: never; probes and this server's own writes still count).
  uint32_t presence_list_interval_ms = 60000;
  uint32_t presence_ttl_ms = 120000;
  uint64_t presence_max_entries = 1u << 20;
};

// A dataset namespace's read-through origin: block i of object O is bytes
// [i * block_bytes, (i + 1) * block_bytes) of blob `prefix + O`.
struct OriginConfig {
  bool enabled = false;
  std::string container;
  std::string prefix;
  uint64_t block_bytes = 4ull << 20;
  // List answers from one listing of the container, read again after this.
  std::chrono::milliseconds listing_ttl{60'000};
  uint64_t max_listed_objects = 1'000'000;  // a larger container: List refused
  // A sequential reader's next blocks are read from the origin as one range
  // of up to this many blocks (1: each block alone).
  uint32_t read_ahead_blocks = 4;
};

// A checkpoint namespace's objects (`objects:`; docs/config.md): written
// through write sessions, kept on NVMe until they are in Blob (with
// `tiers: [dram, nvme, blob]`, as blobs `<blob_prefix><path>` in the Blob
// tier's container) or deleted.
struct ObjectsConfig {
  uint64_t block_bytes = 4ull << 20;
  uint64_t quota_bytes = 0;  // 0: the NVMe tier's room is the limit
  std::chrono::milliseconds session_ttl{15 * 60 * 1000};
  uint32_t max_sessions = 1024;
  uint64_t max_objects = 1'000'000;
  std::string blob_prefix;  // "": "<namespace name>/"
  // With a Blob tier, the container's objects under blob_prefix that other
  // servers wrote are listed too; that listing is read again after this.
  std::chrono::milliseconds listing_ttl{10'000};
};

struct NamespaceConfig {
  std::string name;
  NamespaceKind kind = NamespaceKind::kKv;
  bool use_nvme = true;  // `tiers: [dram, nvme]` (the default) or `[dram]`
  tiers::WriteMode write_mode = tiers::WriteMode::kWriteBack;
  // `tiers: [dram, nvme, blob]`: kSpill (the default) or kWriteBack
  // (`blob_mode`); kNone without blob.
  tiers::BlobUse blob = tiers::BlobUse::kNone;
  OriginConfig origin;    // dataset namespaces only; needs tiers.blob
  ObjectsConfig objects;  // checkpoint namespaces only
  // The model whose KV blocks the namespace holds (`model:`); published in
  // Hello so clients of another model refuse to share it.
  bool has_model = false;
  ModelIdentity model;
  // Defaults for puts that name none: expiry (0: never) and pin level
  // (`kb` namespaces default to soft). Hard pins need a quota in bytes.
  uint32_t ttl_ms = 0;
  tiers::PinLevel pin = tiers::PinLevel::kNone;
  uint64_t pin_quota = 0;
  // Request class (`class: latency | bulk`; dataset namespaces default to
  // bulk): bulk work waits behind latency work on the worker pool.
  bool bulk = false;
};

// What an access token allows in a namespace.
enum class Grant : uint8_t { kNone = 0, kRead = 1, kReadWrite = 2 };

// One access token (`auth.tokens[]`). Only its SHA-256 is configured, never
// the token. `grants` name namespaces, or "*" for every namespace.
struct TokenConfig {
  std::string name;        // in logs; never the token
  std::string sha256_hex;  // 64 hex digits: SHA-256 of the token's bytes
  std::vector<std::pair<std::string, Grant>> grants;
};

// With no tokens every client may do everything (a rack-private network);
// with tokens, each connection must present one in Hello.
struct AuthConfig {
  std::vector<TokenConfig> tokens;
  bool required() const { return !tokens.empty(); }
};

// Blocking tier calls (NVMe now) run on this pool, never on network threads.
// A TLS listener beside (or instead of) the plaintext one
// (docs/config.md, "server.tls").
struct TlsListenerConfig {
  bool enabled = false;  // a `server.tls` section is present
  std::string host = "127.0.0.1";
  uint16_t port = 7443;        // 0: pick a free port (see --port-file)
  std::string cert_file;       // PEM chain, leaf first
  std::string key_file;        // PEM private key
  std::string client_ca_file;  // set: clients must present a certificate it signed
  bool only = false;           // no plaintext TCP listener
};

// The Redis-protocol endpoint (docs/resp.md): RESP clients read and write
// the blocks of one kv or kb namespace (SELECT picks another by name).
struct RespListenerConfig {
  bool enabled = false;  // `server.resp_listen` is set and not "off"
  std::string host = "127.0.0.1";
  uint16_t port = 6379;        // 0: pick a free port (see --port-file)
  std::string namespace_name;  // "": the first kv or kb namespace
  // A connection with no command for this long is closed (0: never, as
  // Redis's `timeout 0`: client pools keep idle connections).
  std::chrono::milliseconds idle_timeout{0};
};

// The Azure-Blob-compatible read endpoint (docs/blob-endpoint.md): Blob
// REST readers (SDKs, azcopy, hadoop-azure) read the containers of dataset
// origins and of checkpoint namespaces' Blob copies from the rack's tiers.
struct BlobEndpointConfig {
  bool enabled = false;  // `server.blob_listen` is set and not "off"
  std::string host = "127.0.0.1";
  uint16_t port = 10000;  // 0: pick a free port (see --port-file)
  // A keep-alive connection with no request for this long is closed.
  std::chrono::milliseconds idle_timeout{120'000};
};

struct ListenerConfig {
  std::string host = "127.0.0.1";
  uint16_t port = 7400;  // 0: pick a free port (see --port-file)
  uint32_t io_threads = 2;
  uint32_t max_connections = 1024;
  std::chrono::milliseconds idle_timeout{300000};
  std::chrono::milliseconds frame_timeout{30000};
  uint64_t max_queued_reply_bytes = 512ull << 20;
  // Shared-memory transport for clients on this host: a Unix socket at this
  // path ("" : off) where each connection may attach a region of at most
  // shm_max_region_bytes (docs/transports.md).
  std::string unix_socket;
  uint64_t shm_max_region_bytes = 1ull << 30;
  // Prometheus /metrics, /healthz and /readyz over HTTP on this address
  // (`metrics_listen: off` disables it).
  bool metrics_enabled = true;
  std::string metrics_host = "127.0.0.1";
  uint16_t metrics_port = 9400;
  // Offer RDMA to TCP clients that ask for it in Hello, on `rdma_device`
  // ("" for the first device; "kvtier_soft" for the software provider of
  // tests). Without a device the server logs so and serves TCP and shared
  // memory.
  bool rdma = true;
  std::string rdma_device;
  TlsListenerConfig tls;
  RespListenerConfig resp;
  BlobEndpointConfig blob;
};

struct ServerConfig {
  std::string server_name = "kvtier";
  ListenerConfig listener;
  std::string log_level = "info";
  protocol::Limits limits;
  tiers::DramTierOptions dram;
  bool nvme_enabled = false;  // a `tiers.nvme` section is present
  tiers::NvmeTierOptions nvme;
  BlobConfig blob;
  // tiers.demotion, tiers.workers, leases and the Blob upload options.
  tiers::TierStackOptions stack;
  std::vector<NamespaceConfig> namespaces;
  AuthConfig auth;

  Status Validate() const;
};

// The configuration compiled into the binary (configs/kvtier.yaml).
std::string_view EmbeddedDefaultConfigText();

// Parses YAML text; unknown keys and malformed values are errors naming the
// field. Does not call Validate().
Result<ServerConfig> ParseConfig(std::string_view yaml_text);
Result<ServerConfig> LoadConfigFile(const std::string& path);

// The effective configuration as YAML, for the start-up log.
std::string DescribeConfig(const ServerConfig& config);

// Splits "host:port"; the port must be 0..65535.
Result<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view text);

// A listener's address: "host:port" turns it on there, "off" turns it off.
Status ParseListenOrOff(std::string_view text, bool& enabled, std::string& host, uint16_t& port);

}  // namespace kvtier::server
