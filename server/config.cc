#include "server/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

#include "common/byte_size.h"

namespace kvtier::server {
namespace {

// yaml-cpp reports errors by exception; they are caught here and never leave
// this file.
class Reader {
 public:
  Status status;

  // Checks that `node` is a map whose keys are all in `allowed`.
  bool Map(const YAML::Node& node, const std::string& path, std::set<std::string> allowed) {
    if (!node.IsMap()) return Fail(path, "must be a mapping");
    for (const auto& item : node) {
      const std::string key = item.first.as<std::string>();
      if (allowed.count(key) == 0)
        return Fail(path.empty() ? key : path + "." + key, "unknown option");
    }
    return true;
  }

  bool String(const YAML::Node& node, const std::string& path, std::string& out) {
    if (!node) return true;
    if (!node.IsScalar()) return Fail(path, "must be a string");
    out = node.as<std::string>();
    return true;
  }

  template <typename T>
  bool Integer(const YAML::Node& node, const std::string& path, T& out) {
    if (!node) return true;
    if (!node.IsScalar()) return Fail(path, "must be an integer");
    const std::string text = node.as<std::string>();
    T value{};
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (ec != std::errc() || end != text.data() + text.size()) {
      return Fail(path, "must be an integer in range, got '" + text + "'");
    }
    out = value;
    return true;
  }

  bool Bool(const YAML::Node& node, const std::string& path, bool& out) {
    if (!node) return true;
    const std::string text = node.IsScalar() ? node.as<std::string>() : "";
    if (text == "true") {
      out = true;
    } else if (text == "false") {
      out = false;
    } else {
      return Fail(path, "must be true or false");
    }
    return true;
  }

  bool Millis(const YAML::Node& node, const std::string& path, std::chrono::milliseconds& out) {
    uint64_t ms = static_cast<uint64_t>(out.count());
    if (!Integer(node, path, ms)) return false;
    out = std::chrono::milliseconds(ms);
    return true;
  }

  template <typename T>
  bool Bytes(const YAML::Node& node, const std::string& path, T& out) {
    if (!node) return true;
    if (!node.IsScalar()) return Fail(path, "must be a byte size");
    auto parsed = ParseByteSize(node.as<std::string>());
    if (!parsed.ok()) return Fail(path, parsed.status().message());
    if (*parsed > std::numeric_limits<T>::max()) return Fail(path, "is too large");
    out = static_cast<T>(*parsed);
    return true;
  }

  bool Fail(const std::string& path, const std::string& what) {
    if (status.ok()) status = InvalidArgument("config: " + path + ": " + what);
    return false;
  }
};

bool ParseTls(Reader& r, const YAML::Node& node, TlsListenerConfig& tls) {
  if (!node) return true;
  if (!r.Map(node, "server.tls", {"listen", "cert_file", "key_file", "client_ca_file", "only"})) {
    return false;
  }
  tls.enabled = true;
  if (node["listen"]) {
    std::string listen;
    if (!r.String(node["listen"], "server.tls.listen", listen)) return false;
    auto parsed = ParseHostPort(listen);
    if (!parsed.ok()) return r.Fail("server.tls.listen", parsed.status().message());
    tls.host = parsed->first;
    tls.port = parsed->second;
  }
  return r.String(node["cert_file"], "server.tls.cert_file", tls.cert_file) &&
         r.String(node["key_file"], "server.tls.key_file", tls.key_file) &&
         r.String(node["client_ca_file"], "server.tls.client_ca_file", tls.client_ca_file) &&
         r.Bool(node["only"], "server.tls.only", tls.only);
}

// A listener given as "host:port" or "off".
bool ParseListen(Reader& r, const YAML::Node& node, const char* field, bool& enabled,
                 std::string& host, uint16_t& port) {
  if (!node) return true;
  std::string listen;
  if (!r.String(node, field, listen)) return false;
  Status parsed = ParseListenOrOff(listen, enabled, host, port);
  return parsed.ok() || r.Fail(field, parsed.message());
}

bool ParseServer(Reader& r, const YAML::Node& node, ServerConfig& config) {
  if (!node) return true;
  if (!r.Map(node, "server",
             {"name", "listen", "io_threads", "max_connections", "idle_timeout_ms",
              "frame_timeout_ms", "max_queued_reply_bytes", "unix_socket", "shm_max_region_bytes",
              "rdma", "rdma_device", "metrics_listen", "tls", "resp_listen", "resp_namespace",
              "resp_idle_timeout_ms", "blob_listen", "blob_idle_timeout_ms"})) {
    return false;
  }
  ListenerConfig& l = config.listener;
  if (!r.String(node["name"], "server.name", config.server_name)) return false;
  if (node["listen"]) {
    std::string listen;
    if (!r.String(node["listen"], "server.listen", listen)) return false;
    auto parsed = ParseHostPort(listen);
    if (!parsed.ok()) return r.Fail("server.listen", parsed.status().message());
    l.host = parsed->first;
    l.port = parsed->second;
  }
  if (!ParseListen(r, node["metrics_listen"], "server.metrics_listen", l.metrics_enabled,
                   l.metrics_host, l.metrics_port) ||
      !ParseListen(r, node["resp_listen"], "server.resp_listen", l.resp.enabled, l.resp.host,
                   l.resp.port) ||
      !ParseListen(r, node["blob_listen"], "server.blob_listen", l.blob.enabled, l.blob.host,
                   l.blob.port)) {
    return false;
  }
  return ParseTls(r, node["tls"], l.tls) &&
         r.String(node["resp_namespace"], "server.resp_namespace", l.resp.namespace_name) &&
         r.Millis(node["resp_idle_timeout_ms"], "server.resp_idle_timeout_ms",
                  l.resp.idle_timeout) &&
         r.Millis(node["blob_idle_timeout_ms"], "server.blob_idle_timeout_ms",
                  l.blob.idle_timeout) &&
         r.Integer(node["io_threads"], "server.io_threads", l.io_threads) &&
         r.Integer(node["max_connections"], "server.max_connections", l.max_connections) &&
         r.Millis(node["idle_timeout_ms"], "server.idle_timeout_ms", l.idle_timeout) &&
         r.Millis(node["frame_timeout_ms"], "server.frame_timeout_ms", l.frame_timeout) &&
         r.Bytes(node["max_queued_reply_bytes"], "server.max_queued_reply_bytes",
                 l.max_queued_reply_bytes) &&
         r.String(node["unix_socket"], "server.unix_socket", l.unix_socket) &&
         r.Bytes(node["shm_max_region_bytes"], "server.shm_max_region_bytes",
                 l.shm_max_region_bytes) &&
         r.Bool(node["rdma"], "server.rdma", l.rdma) &&
         r.String(node["rdma_device"], "server.rdma_device", l.rdma_device);
}

bool ParseLimits(Reader& r, const YAML::Node& node, protocol::Limits& limits) {
  if (!node) return true;
  if (!r.Map(node, "limits",
             {"max_metadata_bytes", "max_keys_per_request", "max_key_bytes", "max_value_bytes",
              "max_payload_bytes"})) {
    return false;
  }
  return r.Bytes(node["max_metadata_bytes"], "limits.max_metadata_bytes",
                 limits.max_metadata_bytes) &&
         r.Integer(node["max_keys_per_request"], "limits.max_keys_per_request",
                   limits.max_keys_per_request) &&
         r.Bytes(node["max_key_bytes"], "limits.max_key_bytes", limits.max_key_bytes) &&
         r.Bytes(node["max_value_bytes"], "limits.max_value_bytes", limits.max_value_bytes) &&
         r.Bytes(node["max_payload_bytes"], "limits.max_payload_bytes", limits.max_payload_bytes);
}

bool ParseDram(Reader& r, const YAML::Node& dram, ServerConfig& config) {
  if (!dram) return true;
  if (!r.Map(dram, "tiers.dram", {"capacity", "shards", "policy", "prefault"})) return false;
  std::string policy(tiers::EvictionPolicyName(config.dram.policy));
  if (!r.Bytes(dram["capacity"], "tiers.dram.capacity", config.dram.capacity_bytes) ||
      !r.Integer(dram["shards"], "tiers.dram.shards", config.dram.shards) ||
      !r.String(dram["policy"], "tiers.dram.policy", policy) ||
      !r.Bool(dram["prefault"], "tiers.dram.prefault", config.dram.prefault)) {
    return false;
  }
  auto kind = tiers::ParseEvictionPolicyKind(policy);
  if (!kind.ok()) return r.Fail("tiers.dram.policy", kind.status().message());
  config.dram.policy = *kind;
  return true;
}

bool ParseNvme(Reader& r, const YAML::Node& nvme, ServerConfig& config) {
  if (!nvme) return true;
  if (!r.Map(nvme, "tiers.nvme", {"directory", "capacity", "segment_bytes", "sync_writes"})) {
    return false;
  }
  config.nvme_enabled = true;
  std::string directory = config.nvme.directory.string();
  if (!r.String(nvme["directory"], "tiers.nvme.directory", directory) ||
      !r.Bytes(nvme["capacity"], "tiers.nvme.capacity", config.nvme.capacity_bytes) ||
      !r.Bytes(nvme["segment_bytes"], "tiers.nvme.segment_bytes", config.nvme.segment_bytes) ||
      !r.Bool(nvme["sync_writes"], "tiers.nvme.sync_writes", config.nvme.sync_writes)) {
    return false;
  }
  config.nvme.directory = directory;
  return true;
}

bool ParseBlob(Reader& r, const YAML::Node& blob, ServerConfig& config) {
  if (!blob) return true;
  if (!r.Map(blob, "tiers.blob",
             {"endpoint", "account", "key_env", "sas_env", "ca_file", "operation_timeout_ms",
              "container", "prefix", "upload_threads", "spill_queue_bytes",
              "presence_list_interval_ms", "presence_ttl_ms", "presence_max_entries"})) {
    return false;
  }
  config.blob.enabled = true;
  uint32_t timeout_ms = static_cast<uint32_t>(config.blob.operation_timeout.count());
  if (!r.String(blob["endpoint"], "tiers.blob.endpoint", config.blob.endpoint) ||
      !r.String(blob["account"], "tiers.blob.account", config.blob.account) ||
      !r.String(blob["key_env"], "tiers.blob.key_env", config.blob.key_env) ||
      !r.String(blob["sas_env"], "tiers.blob.sas_env", config.blob.sas_env) ||
      !r.String(blob["ca_file"], "tiers.blob.ca_file", config.blob.ca_file) ||
      !r.Integer(blob["operation_timeout_ms"], "tiers.blob.operation_timeout_ms", timeout_ms) ||
      !r.String(blob["container"], "tiers.blob.container", config.blob.container) ||
      !r.String(blob["prefix"], "tiers.blob.prefix", config.blob.prefix) ||
      !r.Integer(blob["upload_threads"], "tiers.blob.upload_threads",
                 config.stack.uploads.threads) ||
      !r.Bytes(blob["spill_queue_bytes"], "tiers.blob.spill_queue_bytes",
               config.stack.uploads.spill_queue_bytes) ||
      !r.Integer(blob["presence_list_interval_ms"], "tiers.blob.presence_list_interval_ms",
                 config.blob.presence_list_interval_ms) ||
      !r.Integer(blob["presence_ttl_ms"], "tiers.blob.presence_ttl_ms",
                 config.blob.presence_ttl_ms) ||
      !r.Integer(blob["presence_max_entries"], "tiers.blob.presence_max_entries",
                 config.blob.presence_max_entries)) {
    return false;
  }
  config.blob.operation_timeout = std::chrono::milliseconds(timeout_ms);
  return true;
}

bool ParseOrigin(Reader& r, const YAML::Node& node, const std::string& path, NamespaceConfig& ns) {
  if (!node) return true;
  if (!r.Map(node, path,
             {"container", "prefix", "block_bytes", "listing_ttl_ms", "max_listed_objects",
              "read_ahead_blocks"})) {
    return false;
  }
  ns.origin.enabled = true;
  return r.String(node["container"], path + ".container", ns.origin.container) &&
         r.String(node["prefix"], path + ".prefix", ns.origin.prefix) &&
         r.Bytes(node["block_bytes"], path + ".block_bytes", ns.origin.block_bytes) &&
         r.Millis(node["listing_ttl_ms"], path + ".listing_ttl_ms", ns.origin.listing_ttl) &&
         r.Integer(node["max_listed_objects"], path + ".max_listed_objects",
                   ns.origin.max_listed_objects) &&
         r.Integer(node["read_ahead_blocks"], path + ".read_ahead_blocks",
                   ns.origin.read_ahead_blocks);
}

bool ParseObjects(Reader& r, const YAML::Node& node, const std::string& path, NamespaceConfig& ns) {
  if (!node) return true;
  if (!r.Map(node, path,
             {"block_bytes", "quota", "session_ttl_ms", "max_sessions", "max_objects",
              "blob_prefix", "listing_ttl_ms"})) {
    return false;
  }
  return r.Bytes(node["block_bytes"], path + ".block_bytes", ns.objects.block_bytes) &&
         r.Bytes(node["quota"], path + ".quota", ns.objects.quota_bytes) &&
         r.Millis(node["session_ttl_ms"], path + ".session_ttl_ms", ns.objects.session_ttl) &&
         r.Integer(node["max_sessions"], path + ".max_sessions", ns.objects.max_sessions) &&
         r.Integer(node["max_objects"], path + ".max_objects", ns.objects.max_objects) &&
         r.String(node["blob_prefix"], path + ".blob_prefix", ns.objects.blob_prefix) &&
         r.Millis(node["listing_ttl_ms"], path + ".listing_ttl_ms", ns.objects.listing_ttl);
}

bool ParseLeases(Reader& r, const YAML::Node& node, tiers::LeaseOptions& leases) {
  if (!node) return true;
  if (!r.Map(node, "leases", {"default_ms", "max_ms", "max_leases", "max_bytes"})) return false;
  return r.Integer(node["default_ms"], "leases.default_ms", leases.default_ms) &&
         r.Integer(node["max_ms"], "leases.max_ms", leases.max_ms) &&
         r.Integer(node["max_leases"], "leases.max_leases", leases.max_leases) &&
         r.Bytes(node["max_bytes"], "leases.max_bytes", leases.max_bytes);
}

bool ParseModel(Reader& r, const YAML::Node& node, const std::string& path, NamespaceConfig& ns) {
  if (!node) return true;
  if (!r.Map(node, path, {"id", "dtype", "layout", "tp_size"})) return false;
  ns.has_model = true;
  if (!r.String(node["id"], path + ".id", ns.model.model) ||
      !r.String(node["dtype"], path + ".dtype", ns.model.dtype) ||
      !r.String(node["layout"], path + ".layout", ns.model.layout) ||
      !r.Integer(node["tp_size"], path + ".tp_size", ns.model.tp_size)) {
    return false;
  }
  if (ns.model.model.empty()) return r.Fail(path + ".id", "must be set");
  if (ns.model.tp_size == 0) return r.Fail(path + ".tp_size", "must be at least 1");
  return true;
}

bool ParseTiers(Reader& r, const YAML::Node& node, ServerConfig& config) {
  if (!node) return true;
  if (!r.Map(node, "tiers", {"dram", "nvme", "blob", "demotion", "promote_on_get", "workers"})) {
    return false;
  }
  if (!ParseDram(r, node["dram"], config) || !ParseNvme(r, node["nvme"], config) ||
      !ParseBlob(r, node["blob"], config) ||
      !r.Bool(node["promote_on_get"], "tiers.promote_on_get", config.stack.promote_on_get)) {
    return false;
  }
  if (const YAML::Node demotion = node["demotion"]; demotion) {
    if (!r.Map(demotion, "tiers.demotion", {"admission", "queue_bytes"})) return false;
    std::string admission(tiers::AdmissionPolicyName(config.stack.admission));
    if (!r.String(demotion["admission"], "tiers.demotion.admission", admission) ||
        !r.Bytes(demotion["queue_bytes"], "tiers.demotion.queue_bytes",
                 config.stack.demotion_queue_bytes)) {
      return false;
    }
    auto policy = tiers::ParseAdmissionPolicy(admission);
    if (!policy.ok()) return r.Fail("tiers.demotion.admission", policy.status().message());
    config.stack.admission = *policy;
  }
  if (const YAML::Node workers = node["workers"]; workers) {
    if (!r.Map(workers, "tiers.workers", {"threads", "max_queued_jobs"})) return false;
    return r.Integer(workers["threads"], "tiers.workers.threads", config.stack.workers.threads) &&
           r.Integer(workers["max_queued_jobs"], "tiers.workers.max_queued_jobs",
                     config.stack.workers.max_queued_jobs);
  }
  return true;
}

bool ParseNamespaceTiers(Reader& r, const YAML::Node& node, const std::string& path,
                         NamespaceConfig& ns) {
  if (!node) return true;
  constexpr const char* kChoices = "must be [dram], [dram, nvme] or [dram, nvme, blob]";
  if (!node.IsSequence()) return r.Fail(path, kChoices);
  std::vector<std::string> names;
  for (const auto& item : node) names.push_back(item.IsScalar() ? item.as<std::string>() : "");
  if (names == std::vector<std::string>{"dram"}) {
    ns.use_nvme = false;
  } else if (names == std::vector<std::string>{"dram", "nvme"}) {
    ns.use_nvme = true;
  } else if (names == std::vector<std::string>{"dram", "nvme", "blob"}) {
    ns.use_nvme = true;
    if (ns.blob == tiers::BlobUse::kNone) ns.blob = tiers::BlobUse::kSpill;
  } else {
    return r.Fail(path, kChoices);
  }
  return true;
}

bool ParseAuth(Reader& r, const YAML::Node& node, AuthConfig& auth) {
  if (!node) return true;
  if (!r.Map(node, "auth", {"tokens"})) return false;
  const YAML::Node tokens = node["tokens"];
  if (!tokens) return true;
  if (!tokens.IsSequence()) return r.Fail("auth.tokens", "must be a list");
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string path = "auth.tokens[" + std::to_string(i) + "]";
    if (!r.Map(tokens[i], path, {"name", "sha256", "grants"})) return false;
    TokenConfig token;
    if (!r.String(tokens[i]["name"], path + ".name", token.name) ||
        !r.String(tokens[i]["sha256"], path + ".sha256", token.sha256_hex)) {
      return false;
    }
    const YAML::Node grants = tokens[i]["grants"];
    if (!grants || !grants.IsMap()) {
      return r.Fail(path + ".grants", "must map namespaces (or \"*\") to read or read_write");
    }
    for (const auto& item : grants) {
      const std::string ns = item.first.as<std::string>();
      const std::string level = item.second.IsScalar() ? item.second.as<std::string>() : "";
      if (level == "read") {
        token.grants.emplace_back(ns, Grant::kRead);
      } else if (level == "read_write") {
        token.grants.emplace_back(ns, Grant::kReadWrite);
      } else {
        return r.Fail(path + ".grants." + ns, "must be read or read_write");
      }
    }
    auth.tokens.push_back(std::move(token));
  }
  return true;
}

bool ParseNamespaces(Reader& r, const YAML::Node& node, ServerConfig& config) {
  if (!node) return true;
  if (!node.IsSequence()) return r.Fail("namespaces", "must be a list");
  config.namespaces.clear();
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string path = "namespaces[" + std::to_string(i) + "]";
    if (!r.Map(node[i], path,
               {"name", "kind", "tiers", "write_mode", "blob_mode", "origin", "objects", "model",
                "ttl_ms", "pin", "pin_quota", "class"})) {
      return false;
    }
    NamespaceConfig ns;
    std::string kind = "kv";
    std::string write_mode = "write_back";
    std::string blob_mode;
    std::string pin;
    std::string request_class;
    if (!r.String(node[i]["name"], path + ".name", ns.name) ||
        !r.String(node[i]["kind"], path + ".kind", kind) ||
        !ParseNamespaceTiers(r, node[i]["tiers"], path + ".tiers", ns) ||
        !ParseOrigin(r, node[i]["origin"], path + ".origin", ns) ||
        !ParseObjects(r, node[i]["objects"], path + ".objects", ns) ||
        !r.String(node[i]["write_mode"], path + ".write_mode", write_mode) ||
        !r.String(node[i]["blob_mode"], path + ".blob_mode", blob_mode) ||
        !ParseModel(r, node[i]["model"], path + ".model", ns) ||
        !r.Integer(node[i]["ttl_ms"], path + ".ttl_ms", ns.ttl_ms) ||
        !r.String(node[i]["pin"], path + ".pin", pin) ||
        !r.Bytes(node[i]["pin_quota"], path + ".pin_quota", ns.pin_quota) ||
        !r.String(node[i]["class"], path + ".class", request_class)) {
      return false;
    }
    if (!blob_mode.empty()) {
      if (ns.blob == tiers::BlobUse::kNone) {
        return r.Fail(path + ".blob_mode", "needs tiers: [dram, nvme, blob]");
      }
      auto use = tiers::ParseBlobUse(blob_mode);
      if (!use.ok()) return r.Fail(path + ".blob_mode", use.status().message());
      ns.blob = *use;
    }
    if (write_mode == "write_back") {
      ns.write_mode = tiers::WriteMode::kWriteBack;
    } else if (write_mode == "write_through") {
      ns.write_mode = tiers::WriteMode::kWriteThrough;
    } else {
      return r.Fail(path + ".write_mode",
                    "must be write_back or write_through, got '" + write_mode + "'");
    }
    if (kind == "kv") {
      ns.kind = NamespaceKind::kKv;
    } else if (kind == "kb") {
      ns.kind = NamespaceKind::kKb;
    } else if (kind == "dataset") {
      ns.kind = NamespaceKind::kDataset;
    } else if (kind == "checkpoint") {
      ns.kind = NamespaceKind::kCheckpoint;
    } else {
      return r.Fail(path + ".kind", "must be kv, kb, dataset or checkpoint, got '" + kind + "'");
    }
    if (node[i]["objects"] && ns.kind != NamespaceKind::kCheckpoint) {
      return r.Fail(path + ".objects", "is for kind: checkpoint namespaces only");
    }
    if (ns.kind == NamespaceKind::kCheckpoint && ns.objects.blob_prefix.empty()) {
      ns.objects.blob_prefix = ns.name + "/";
    }
    if (pin.empty()) {
      // Documents' KV is costly to make and read again and again: keep it.
      ns.pin = ns.kind == NamespaceKind::kKb ? tiers::PinLevel::kSoft : tiers::PinLevel::kNone;
    } else if (pin == "none") {
      ns.pin = tiers::PinLevel::kNone;
    } else if (pin == "soft") {
      ns.pin = tiers::PinLevel::kSoft;
    } else if (pin == "hard") {
      ns.pin = tiers::PinLevel::kHard;
    } else {
      return r.Fail(path + ".pin", "must be none, soft or hard, got '" + pin + "'");
    }
    if (request_class.empty()) {
      ns.bulk = ns.kind == NamespaceKind::kDataset;  // fan-out must not starve KV reads
    } else if (request_class == "latency" || request_class == "bulk") {
      ns.bulk = request_class == "bulk";
    } else {
      return r.Fail(path + ".class", "must be latency or bulk, got '" + request_class + "'");
    }
    config.namespaces.push_back(std::move(ns));
  }
  return true;
}

}  // namespace

std::string_view NamespaceKindName(NamespaceKind kind) {
  switch (kind) {
    case NamespaceKind::kKv:
      return "kv";
    case NamespaceKind::kKb:
      return "kb";
    case NamespaceKind::kDataset:
      return "dataset";
    case NamespaceKind::kCheckpoint:
      return "checkpoint";
  }
  return "kv";
}

Status ParseListenOrOff(std::string_view text, bool& enabled, std::string& host, uint16_t& port) {
  if (text == "off") {
    enabled = false;
    return Status::Ok();
  }
  KVTIER_ASSIGN_OR_RETURN(auto parsed, ParseHostPort(text));
  enabled = true;
  host = std::move(parsed.first);
  port = parsed.second;
  return Status::Ok();
}

Result<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == text.size()) {
    return InvalidArgument("'" + std::string(text) + "' is not HOST:PORT");
  }
  std::string host(text.substr(0, colon));
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string_view port_text = text.substr(colon + 1);
  uint32_t port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) {
    return InvalidArgument("'" + std::string(port_text) + "' is not a port number");
  }
  return std::pair<std::string, uint16_t>(host, static_cast<uint16_t>(port));
}

Result<ServerConfig> ParseConfig(std::string_view yaml_text) {
  ServerConfig config;
  Reader r;
  try {
    const YAML::Node root = YAML::Load(std::string(yaml_text));
    if (!root || root.IsNull()) return config;
    if (!r.Map(root, "", {"server", "log", "limits", "tiers", "leases", "namespaces", "auth"})) {
      return r.status;
    }
    if (const YAML::Node log = root["log"]; log) {
      if (!r.Map(log, "log", {"level"}) || !r.String(log["level"], "log.level", config.log_level)) {
        return r.status;
      }
    }
    if (!ParseServer(r, root["server"], config) || !ParseLimits(r, root["limits"], config.limits) ||
        !ParseTiers(r, root["tiers"], config) ||
        !ParseLeases(r, root["leases"], config.stack.leases) ||
        !ParseNamespaces(r, root["namespaces"], config) ||
        !ParseAuth(r, root["auth"], config.auth)) {
      return r.status;
    }
  } catch (const YAML::Exception& e) {
    return InvalidArgument(std::string("config: not valid YAML: ") + e.what());
  }
  return config;
}

Result<ServerConfig> LoadConfigFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return InvalidArgument("config: cannot open '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  return ParseConfig(text.str());
}

std::string DescribeConfig(const ServerConfig& c) {
  std::ostringstream out;
  out << "server: {name: " << c.server_name << ", listen: " << c.listener.host << ":"
      << c.listener.port << ", io_threads: " << c.listener.io_threads
      << ", max_connections: " << c.listener.max_connections
      << ", idle_timeout_ms: " << c.listener.idle_timeout.count()
      << ", frame_timeout_ms: " << c.listener.frame_timeout.count()
      << ", max_queued_reply_bytes: " << FormatByteSize(c.listener.max_queued_reply_bytes)
      << ", unix_socket: " << (c.listener.unix_socket.empty() ? "none" : c.listener.unix_socket)
      << ", shm_max_region_bytes: " << FormatByteSize(c.listener.shm_max_region_bytes)
      << ", rdma: " << (c.listener.rdma ? "true" : "false") << ", rdma_device: \""
      << c.listener.rdma_device << "\", metrics_listen: "
      << (c.listener.metrics_enabled
              ? c.listener.metrics_host + ":" + std::to_string(c.listener.metrics_port)
              : std::string("off"));
  if (c.listener.tls.enabled) {
    const TlsListenerConfig& tls = c.listener.tls;
    out << ", tls: {listen: " << tls.host << ":" << tls.port << ", cert_file: " << tls.cert_file
        << ", key_file: " << tls.key_file;
    if (!tls.client_ca_file.empty()) out << ", client_ca_file: " << tls.client_ca_file;
    out << ", only: " << (tls.only ? "true" : "false") << "}";
  }
  out << "}\n";
  out << "log: {level: " << c.log_level << "}\n";
  out << "limits: {max_metadata_bytes: " << FormatByteSize(c.limits.max_metadata_bytes)
      << ", max_keys_per_request: " << c.limits.max_keys_per_request
      << ", max_key_bytes: " << c.limits.max_key_bytes
      << ", max_value_bytes: " << FormatByteSize(c.limits.max_value_bytes)
      << ", max_payload_bytes: " << FormatByteSize(c.limits.max_payload_bytes) << "}\n";
  out << "tiers: {dram: {capacity: " << FormatByteSize(c.dram.capacity_bytes)
      << ", shards: " << c.dram.shards << ", policy: " << tiers::EvictionPolicyName(c.dram.policy)
      << ", prefault: " << (c.dram.prefault ? "true" : "false") << "}";
  if (c.nvme_enabled) {
    out << ", nvme: {directory: " << c.nvme.directory.string()
        << ", capacity: " << FormatByteSize(c.nvme.capacity_bytes)
        << ", segment_bytes: " << FormatByteSize(c.nvme.segment_bytes)
        << ", sync_writes: " << (c.nvme.sync_writes ? "true" : "false") << "}";
  }
  if (c.blob.enabled) {
    out << ", blob: {endpoint: " << c.blob.endpoint << ", account: " << c.blob.account
        << (c.blob.key_env.empty() ? ", sas_env: " + c.blob.sas_env
                                   : ", key_env: " + c.blob.key_env)
        << ", operation_timeout_ms: " << c.blob.operation_timeout.count();
    if (!c.blob.container.empty()) {
      out << ", container: " << c.blob.container << ", prefix: '" << c.blob.prefix
          << "', upload_threads: " << c.stack.uploads.threads
          << ", spill_queue_bytes: " << FormatByteSize(c.stack.uploads.spill_queue_bytes)
          << ", presence_list_interval_ms: " << c.blob.presence_list_interval_ms
          << ", presence_ttl_ms: " << c.blob.presence_ttl_ms
          << ", presence_max_entries: " << c.blob.presence_max_entries;
    }
    out << "}";
  }
  out << ", demotion: {admission: " << tiers::AdmissionPolicyName(c.stack.admission)
      << ", queue_bytes: " << FormatByteSize(c.stack.demotion_queue_bytes)
      << "}, promote_on_get: " << (c.stack.promote_on_get ? "true" : "false")
      << ", workers: {threads: " << c.stack.workers.threads
      << ", max_queued_jobs: " << c.stack.workers.max_queued_jobs << "}}\n";
  out << "leases: {default_ms: " << c.stack.leases.default_ms
      << ", max_ms: " << c.stack.leases.max_ms << ", max_leases: " << c.stack.leases.max_leases
      << ", max_bytes: "
      << (c.stack.leases.max_bytes == 0 ? "a quarter of DRAM"
                                        : FormatByteSize(c.stack.leases.max_bytes))
      << "}\n";
  out << "namespaces:";
  for (const NamespaceConfig& ns : c.namespaces) {
    out << " {name: " << ns.name << ", kind: " << NamespaceKindName(ns.kind) << ", tiers: "
        << (ns.blob != tiers::BlobUse::kNone
                ? "[dram, nvme, blob]"
                : (ns.use_nvme && c.nvme_enabled ? "[dram, nvme]" : "[dram]"))
        << ", write_mode: "
        << (ns.write_mode == tiers::WriteMode::kWriteThrough ? "write_through" : "write_back");
    if (ns.blob != tiers::BlobUse::kNone) out << ", blob_mode: " << tiers::BlobUseName(ns.blob);
    if (ns.has_model) out << ", model: '" << ns.model.Canonical() << "'";
    if (ns.ttl_ms != 0) out << ", ttl_ms: " << ns.ttl_ms;
    if (ns.pin != tiers::PinLevel::kNone) {
      out << ", pin: " << (ns.pin == tiers::PinLevel::kSoft ? "soft" : "hard");
    }
    if (ns.pin_quota != 0) out << ", pin_quota: " << FormatByteSize(ns.pin_quota);
    out << ", class: " << (ns.bulk ? "bulk" : "latency");
    if (ns.origin.enabled) {
      out << ", origin: {container: " << ns.origin.container << ", prefix: '" << ns.origin.prefix
          << "', block_bytes: " << FormatByteSize(ns.origin.block_bytes) << "}";
    }
    if (ns.kind == NamespaceKind::kCheckpoint) {
      out << ", objects: {block_bytes: " << FormatByteSize(ns.objects.block_bytes) << ", quota: "
          << (ns.objects.quota_bytes == 0 ? "none" : FormatByteSize(ns.objects.quota_bytes))
          << ", session_ttl_ms: " << ns.objects.session_ttl.count()
          << ", listing_ttl_ms: " << ns.objects.listing_ttl.count() << ", blob_prefix: '"
          << ns.objects.blob_prefix << "'}";
    }
    out << "}";
  }
  if (c.auth.required()) {
    out << "\nauth: {tokens:";
    for (const TokenConfig& token : c.auth.tokens) {
      out << " {name: " << token.name << ", grants: {";
      for (size_t i = 0; i < token.grants.size(); ++i) {
        out << (i == 0 ? "" : ", ") << token.grants[i].first << ": "
            << (token.grants[i].second == Grant::kRead ? "read" : "read_write");
      }
      out << "}}";
    }
    out << "}";
  }
  return out.str();
}

}  // namespace kvtier::server
