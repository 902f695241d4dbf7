// ServerConfig::Validate: the rules a parsed configuration must keep
// (config.h), apart from the parser's own type and name checks.

#include <set>
#include <string>

#include "common/byte_size.h"
#include "server/config.h"

namespace kvtier::server {

namespace {

Status ValidateAuth(const AuthConfig& auth, const std::set<std::string>& namespaces) {
  std::set<std::string> names;
  for (size_t i = 0; i < auth.tokens.size(); ++i) {
    const TokenConfig& token = auth.tokens[i];
    const std::string path = "auth.tokens[" + std::to_string(i) + "]";
    if (token.name.empty()) return InvalidArgument(path + ".name must be set");
    if (!names.insert(token.name).second) {
      return InvalidArgument(path + ".name '" + token.name + "' is declared twice");
    }
    const bool hex =
        token.sha256_hex.size() == 64 &&
        token.sha256_hex.find_first_not_of("0123456789abcdefABCDEF") == std::string::npos;
    if (!hex) {
      return InvalidArgument(path +
                             ".sha256 must be the 64 hex digits of the token's SHA-256 "
                             "(`kvtier token new` prints a token and its hash)");
    }
    if (token.grants.empty()) return InvalidArgument(path + ".grants must name a namespace");
    for (const auto& [ns, grant] : token.grants) {
      if (ns != "*" && namespaces.count(ns) == 0) {
        return InvalidArgument(path + ".grants names namespace '" + ns +
                               "', which is not configured");
      }
    }
  }
  return Status::Ok();
}

}  // namespace

Status ServerConfig::Validate() const {
  if (server_name.empty()) return InvalidArgument("server.name must not be empty");
  if (listener.host.empty()) return InvalidArgument("server.listen has an empty host");
  if (listener.io_threads == 0 || listener.io_threads > 256) {
    return InvalidArgument("server.io_threads must be in 1..256, got " +
                           std::to_string(listener.io_threads));
  }
  if (listener.max_connections == 0) return InvalidArgument("server.max_connections must be > 0");
  if (listener.unix_socket.size() >= 108) {  // sockaddr_un::sun_path, with its terminator
    return InvalidArgument("server.unix_socket: path '" + listener.unix_socket +
                           "' is longer than 107 bytes");
  }
  if (listener.shm_max_region_bytes == 0) {
    return InvalidArgument("server.shm_max_region_bytes must be > 0");
  }
  if (listener.idle_timeout.count() <= 0) {
    return InvalidArgument("server.idle_timeout_ms must be > 0");
  }
  if (listener.frame_timeout.count() <= 0) {
    return InvalidArgument("server.frame_timeout_ms must be > 0");
  }
  if (listener.max_queued_reply_bytes < limits.max_payload_bytes) {
    return InvalidArgument(
        "server.max_queued_reply_bytes (" + FormatByteSize(listener.max_queued_reply_bytes) +
        ") must be >= limits.max_payload_bytes (" + FormatByteSize(limits.max_payload_bytes) + ")");
  }
  if (listener.tls.enabled) {
    if (listener.tls.cert_file.empty() || listener.tls.key_file.empty()) {
      return InvalidArgument("server.tls needs cert_file and key_file");
    }
    if (listener.tls.host.empty()) return InvalidArgument("server.tls.listen has an empty host");
  }
  if (listener.resp.enabled) {
    if (listener.resp.host.empty()) return InvalidArgument("server.resp_listen has an empty host");
    if (listener.resp.idle_timeout.count() < 0) {
      return InvalidArgument("server.resp_idle_timeout_ms must be >= 0");
    }
    const std::string& wanted = listener.resp.namespace_name;
    bool found = false;
    for (const NamespaceConfig& ns : namespaces) {
      if (!wanted.empty() && ns.name != wanted) continue;
      if (ns.kind != NamespaceKind::kKv && ns.kind != NamespaceKind::kKb) {
        if (wanted.empty()) continue;
        return InvalidArgument("server.resp_namespace: '" + wanted + "' is a " +
                               std::string(NamespaceKindName(ns.kind)) +
                               " namespace; RESP serves kv and kb namespaces");
      }
      found = true;
      break;
    }
    if (!found) {
      return InvalidArgument(wanted.empty()
                                 ? "server.resp_listen needs a kv or kb namespace to serve"
                                 : "server.resp_namespace: no namespace '" + wanted + "'");
    }
  }
  if (listener.blob.enabled) {
    if (listener.blob.host.empty()) return InvalidArgument("server.blob_listen has an empty host");
    if (listener.blob.idle_timeout.count() < 0) {
      return InvalidArgument("server.blob_idle_timeout_ms must be >= 0");
    }
    const bool serves_something =
        std::any_of(namespaces.begin(), namespaces.end(), [](const NamespaceConfig& ns) {
          return (ns.kind == NamespaceKind::kDataset && ns.origin.enabled) ||
                 (ns.kind == NamespaceKind::kCheckpoint && ns.blob != tiers::BlobUse::kNone);
        });
    if (!serves_something) {
      return InvalidArgument(
          "server.blob_listen needs a dataset namespace with an origin or a checkpoint "
          "namespace with a Blob tier to serve");
    }
  }
  static const std::set<std::string> kLevels = {"trace", "debug",    "info", "warn",
                                                "error", "critical", "off"};
  if (kLevels.count(log_level) == 0) {
    return InvalidArgument(
        "log.level must be one of trace, debug, info, warn, error, critical, "
        "off; got '" +
        log_level + "'");
  }
  KVTIER_RETURN_IF_ERROR(limits.Validate());
  KVTIER_RETURN_IF_ERROR(dram.Validate());
  if (nvme_enabled) KVTIER_RETURN_IF_ERROR(nvme.Validate());
  KVTIER_RETURN_IF_ERROR(stack.Validate());  // also the workers and leases
  if (blob.enabled) {
    if (blob.endpoint.empty() || blob.account.empty()) {
      return InvalidArgument("tiers.blob.endpoint and tiers.blob.account must be set");
    }
    if (blob.presence_ttl_ms == 0 || blob.presence_max_entries == 0) {
      return InvalidArgument(
          "tiers.blob.presence_ttl_ms and tiers.blob.presence_max_entries must be positive");
    }
    if (blob.key_env.empty() == blob.sas_env.empty()) {
      return InvalidArgument("tiers.blob: set exactly one of key_env and sas_env");
    }
  }
  if (namespaces.empty()) return InvalidArgument("namespaces: at least one is required");
  std::set<std::string> seen;
  for (size_t i = 0; i < namespaces.size(); ++i) {
    const std::string& name = namespaces[i].name;
    if (name.empty() || name.size() > 128) {
      return InvalidArgument("namespaces[" + std::to_string(i) + "].name must be 1..128 bytes");
    }
    if (namespaces[i].write_mode == tiers::WriteMode::kWriteThrough &&
        (!nvme_enabled || !namespaces[i].use_nvme)) {
      return InvalidArgument("namespaces[" + std::to_string(i) +
                             "].write_mode write_through needs the nvme tier (tiers.nvme and "
                             "tiers: [dram, nvme])");
    }
    if (namespaces[i].blob != tiers::BlobUse::kNone) {
      const std::string path = "namespaces[" + std::to_string(i) + "].tiers";
      if (!nvme_enabled) return InvalidArgument(path + ": blob needs a tiers.nvme section");
      if (!blob.enabled || blob.container.empty()) {
        return InvalidArgument(path + ": blob needs tiers.blob with a container");
      }
    }
    if (namespaces[i].pin == tiers::PinLevel::kHard && namespaces[i].pin_quota == 0) {
      return InvalidArgument("namespaces[" + std::to_string(i) +
                             "].pin: hard needs a pin_quota (bytes hard pins may hold)");
    }
    if (namespaces[i].kind == NamespaceKind::kCheckpoint) {
      const std::string path = "namespaces[" + std::to_string(i) + "]";
      const ObjectsConfig& objects = namespaces[i].objects;
      // The name is a directory under the NVMe directory (the catalog).
      if (name == "." || name == ".." ||
          name.find_first_not_of(
              "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") !=
              std::string::npos) {
        return InvalidArgument(path +
                               ".name: a checkpoint namespace's name is letters, digits, "
                               "'.', '_' and '-' only");
      }
      if (!nvme_enabled || !namespaces[i].use_nvme) {
        return InvalidArgument(path +
                               ": kind checkpoint needs the nvme tier (tiers.nvme and tiers: "
                               "[dram, nvme] or [dram, nvme, blob]): checkpoints are durable "
                               "there");
      }
      if (objects.block_bytes == 0 || objects.block_bytes > limits.max_value_bytes) {
        return InvalidArgument(path + ".objects.block_bytes must be within 1.." +
                               FormatByteSize(limits.max_value_bytes) +
                               " (limits.max_value_bytes)");
      }
      if (objects.session_ttl.count() <= 0 || objects.listing_ttl.count() <= 0 ||
          objects.max_sessions == 0 || objects.max_objects == 0) {
        return InvalidArgument(path +
                               ".objects: session_ttl_ms, listing_ttl_ms, max_sessions and "
                               "max_objects must be > 0");
      }
    }
    const OriginConfig& origin = namespaces[i].origin;
    if (origin.enabled) {
      const std::string path = "namespaces[" + std::to_string(i) + "].origin";
      if (namespaces[i].kind != NamespaceKind::kDataset) {
        return InvalidArgument(path + " is for kind: dataset namespaces only");
      }
      if (!blob.enabled) return InvalidArgument(path + " needs a tiers.blob section");
      if (origin.container.empty()) return InvalidArgument(path + ".container must be set");
      if (origin.read_ahead_blocks < 1 || origin.read_ahead_blocks > 64) {
        return InvalidArgument(path + ".read_ahead_blocks must be within 1..64");
      }
      if (origin.block_bytes == 0 || origin.block_bytes > limits.max_value_bytes) {
        return InvalidArgument(path + ".block_bytes must be within 1.." +
                               FormatByteSize(limits.max_value_bytes) +
                               " (limits.max_value_bytes)");
      }
    }
    if (!seen.insert(name).second) {
      return InvalidArgument("namespaces[" + std::to_string(i) + "].name '" + name +
                             "' is declared twice");
    }
  }
  return ValidateAuth(auth, seen);
}

}  // namespace kvtier::server
