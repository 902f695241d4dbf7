#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "server/config.h"

namespace kvtier::server {
namespace {

// The text of configs/<name>.
std::string ReadSample(const std::string& name) {
  std::ifstream in(std::string(KVTIER_SOURCE_DIR) + "/configs/" + name);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TEST(Config, EmbeddedDefaultIsValidAndMatchesTheDocumentedShape) {
  auto config = ParseConfig(EmbeddedDefaultConfigText());
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_TRUE(config->Validate().ok()) << config->Validate().ToString();
  EXPECT_EQ(config->listener.host, "127.0.0.1");
  EXPECT_EQ(config->listener.port, 7400);
  EXPECT_EQ(config->dram.capacity_bytes, 1ull << 30);
  EXPECT_TRUE(config->nvme_enabled);
  EXPECT_EQ(config->nvme.capacity_bytes, 8ull << 30);
  EXPECT_EQ(config->nvme.directory, "./var/kvtier");
  EXPECT_EQ(config->limits.max_key_bytes, 256u);
  EXPECT_EQ(config->limits.max_value_bytes, 64ull << 20);
  bool has_demo = false;
  for (const auto& ns : config->namespaces) has_demo |= ns.name == "demo";
  EXPECT_TRUE(has_demo);
}

TEST(Config, ParsesEveryOption) {
  auto config = ParseConfig(R"(
server:
  name: rack-7
  listen: 0.0.0.0:9000
  io_threads: 4
  max_connections: 10
  idle_timeout_ms: 1000
  frame_timeout_ms: 500
  max_queued_reply_bytes: 1GiB
log: {level: debug}
limits: {max_metadata_bytes: 64KiB, max_keys_per_request: 128, max_key_bytes: 64,
         max_value_bytes: 1MiB, max_payload_bytes: 8MiB}
tiers:
  dram: {capacity: 2GiB, shards: 16, policy: lru, prefault: true}
  nvme: {directory: /data/kvtier, capacity: 100GiB, segment_bytes: 128MiB, sync_writes: true}
  demotion: {admission: read_once, queue_bytes: 64MiB}
  promote_on_get: false
  workers: {threads: 8, max_queued_jobs: 100}
namespaces:
  - {name: a, kind: kv}
  - {name: b, kind: kb, tiers: [dram], write_mode: write_back}
  - {name: c, kind: dataset, tiers: [dram, nvme], write_mode: write_through}
)");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->Validate().ok());
  EXPECT_EQ(config->server_name, "rack-7");
  EXPECT_EQ(config->listener.host, "0.0.0.0");
  EXPECT_EQ(config->listener.port, 9000);
  EXPECT_EQ(config->listener.io_threads, 4u);
  EXPECT_EQ(config->listener.frame_timeout.count(), 500);
  EXPECT_EQ(config->limits.max_metadata_bytes, 64u * 1024);
  EXPECT_EQ(config->limits.max_keys_per_request, 128u);
  EXPECT_EQ(config->dram.policy, tiers::EvictionPolicyKind::kLru);
  EXPECT_TRUE(config->dram.prefault);
  EXPECT_EQ(config->namespaces[2].kind, NamespaceKind::kDataset);
  EXPECT_EQ(config->nvme.directory, "/data/kvtier");
  EXPECT_EQ(config->nvme.capacity_bytes, 100ull << 30);
  EXPECT_EQ(config->nvme.segment_bytes, 128ull << 20);
  EXPECT_TRUE(config->nvme.sync_writes);
  EXPECT_EQ(config->stack.admission, tiers::AdmissionPolicy::kReadOnce);
  EXPECT_EQ(config->stack.demotion_queue_bytes, 64ull << 20);
  EXPECT_FALSE(config->stack.promote_on_get);
  EXPECT_EQ(config->stack.workers.threads, 8u);
  EXPECT_EQ(config->stack.workers.max_queued_jobs, 100u);
  EXPECT_TRUE(config->namespaces[0].use_nvme);
  EXPECT_FALSE(config->namespaces[1].use_nvme);
  EXPECT_EQ(config->namespaces[2].write_mode, tiers::WriteMode::kWriteThrough);
}

TEST(Config, NoNvmeSectionMeansDramOnly) {
  auto config = ParseConfig("tiers: {dram: {capacity: 64MiB}}\nnamespaces: [{name: a}]");
  ASSERT_TRUE(config.ok());
  EXPECT_TRUE(config->Validate().ok());
  EXPECT_FALSE(config->nvme_enabled);
}

void ExpectError(std::string_view yaml, std::string_view field) {
  auto config = ParseConfig(yaml);
  Status status = config.ok() ? config->Validate() : config.status();
  EXPECT_FALSE(status.ok()) << yaml;
  EXPECT_NE(status.message().find(field), std::string::npos)
      << "error '" << status.message() << "' does not name " << field;
}

TEST(Config, ErrorsNameTheBadField) {
  ExpectError("server: {io_threadz: 2}", "server.io_threadz");
  ExpectError("server: {io_threads: two}", "server.io_threads");
  ExpectError("server: {io_threads: 0}\nnamespaces: [{name: a}]", "server.io_threads");
  ExpectError("server: {listen: nowhere}", "server.listen");
  ExpectError("tiers: {dram: {capacity: lots}}", "tiers.dram.capacity");
  ExpectError("tiers: {dram: {policy: clock}}", "tiers.dram.policy");
  ExpectError("namespaces: [{name: a, kind: graph}]", "namespaces[0].kind");
  ExpectError("namespaces: [{name: a}, {name: a}]", "namespaces[1].name");
  ExpectError("namespaces: []", "namespaces");
  ExpectError("limits: {max_key_bytes: 70000}\nnamespaces: [{name: a}]", "limits.max_key_bytes");
  ExpectError("log: {level: loud}\nnamespaces: [{name: a}]", "log.level");
  ExpectError("colour: blue", "colour");
  ExpectError("server: [1, 2", "YAML");
  ExpectError("tiers: {nvme: {directory: /x, sync_writes: maybe}}", "tiers.nvme.sync_writes");
  ExpectError("tiers: {nvme: {directory: /x, capacity: 32MiB, segment_bytes: 64MiB}}",
              "nvme.capacity");
  ExpectError("tiers: {demotion: {admission: some}}", "tiers.demotion.admission");
  ExpectError("tiers: {workers: {threads: 0}}\nnamespaces: [{name: a}]", "tiers.workers.threads");
  ExpectError("namespaces: [{name: a, tiers: [nvme]}]", "namespaces[0].tiers");
  ExpectError("namespaces: [{name: a, write_mode: later}]", "namespaces[0].write_mode");
  // Write-through needs an NVMe tier to write through to.
  ExpectError("namespaces: [{name: a, write_mode: write_through}]", "namespaces[0].write_mode");
}

TEST(Config, RespListenerIsOffByDefaultAndServesAKeyValueNamespace) {
  auto plain = ParseConfig("namespaces: [{name: a}]");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->listener.resp.enabled);
  auto config = ParseConfig(
      "server: {resp_listen: 0.0.0.0:6380, resp_namespace: b, resp_idle_timeout_ms: 5000}\n"
      "namespaces: [{name: a, kind: dataset}, {name: b, kind: kb}]");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_TRUE(config->Validate().ok());
  EXPECT_TRUE(config->listener.resp.enabled);
  EXPECT_EQ(config->listener.resp.host, "0.0.0.0");
  EXPECT_EQ(config->listener.resp.port, 6380);
  EXPECT_EQ(config->listener.resp.namespace_name, "b");
  EXPECT_EQ(config->listener.resp.idle_timeout.count(), 5000);
  auto off = ParseConfig("server: {resp_listen: 'off'}\nnamespaces: [{name: a}]");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->listener.resp.enabled);
  ExpectError("server: {resp_listen: six}\nnamespaces: [{name: a}]", "server.resp_listen");
  ExpectError(
      "server: {resp_listen: 127.0.0.1:6379, resp_namespace: a}\n"
      "namespaces: [{name: a, kind: dataset}]",
      "server.resp_namespace");
  ExpectError("server: {resp_listen: 127.0.0.1:6379, resp_namespace: z}\nnamespaces: [{name: a}]",
              "server.resp_namespace");
  ExpectError("server: {resp_listen: 127.0.0.1:6379}\nnamespaces: [{name: a, kind: dataset}]",
              "server.resp_listen");
}

TEST(Config, BlobEndpointIsOffByDefaultAndNeedsSomethingToServe) {
  auto plain = ParseConfig("namespaces: [{name: a}]");
  ASSERT_TRUE(plain.ok());
  EXPECT_FALSE(plain->listener.blob.enabled);
  const std::string blob =
      "tiers:\n"
      "  blob: {endpoint: 'http://127.0.0.1:1/acct', account: acct, key_env: K}\n";
  auto config =
      ParseConfig("server: {blob_listen: 0.0.0.0:10000, blob_idle_timeout_ms: 5000}\n" + blob +
                  "namespaces: [{name: d, kind: dataset, origin: {container: data}}]");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_TRUE(config->Validate().ok()) << config->Validate().ToString();
  EXPECT_TRUE(config->listener.blob.enabled);
  EXPECT_EQ(config->listener.blob.host, "0.0.0.0");
  EXPECT_EQ(config->listener.blob.port, 10000);
  EXPECT_EQ(config->listener.blob.idle_timeout.count(), 5000);
  auto off = ParseConfig("server: {blob_listen: 'off'}\nnamespaces: [{name: a}]");
  ASSERT_TRUE(off.ok());
  EXPECT_FALSE(off->listener.blob.enabled);
  ExpectError("server: {blob_listen: ten}\nnamespaces: [{name: a}]", "server.blob_listen");
  // Nothing to serve: no dataset origin, no checkpoint namespace in Blob.
  ExpectError("server: {blob_listen: 127.0.0.1:10000}\nnamespaces: [{name: a}]",
              "server.blob_listen");
}

TEST(Config, DatasetExampleParsesWithAnOriginOverBlob) {
  auto config = ParseConfig(ReadSample("dataset.yaml"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_TRUE(config->Validate().ok()) << config->Validate().ToString();
  EXPECT_TRUE(config->blob.enabled);
  EXPECT_EQ(config->blob.key_env, "KVTIER_BLOB_KEY");
  ASSERT_EQ(config->namespaces.size(), 1u);
  const OriginConfig& origin = config->namespaces[0].origin;
  EXPECT_TRUE(origin.enabled);
  EXPECT_EQ(origin.container, "training");
  EXPECT_EQ(origin.prefix, "shards/");
  EXPECT_EQ(origin.block_bytes, 4ull << 20);
  EXPECT_EQ(origin.listing_ttl, std::chrono::minutes(5));
  EXPECT_EQ(origin.max_listed_objects, 1'000'000u);  // the default
}

TEST(Config, RackExampleSpillsAndWritesBackToBlob) {
  auto config = ParseConfig(ReadSample("rack.yaml"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_TRUE(config->Validate().ok()) << config->Validate().ToString();
  EXPECT_EQ(config->blob.container, "kvtier");
  ASSERT_EQ(config->namespaces.size(), 5u);
  EXPECT_EQ(config->namespaces[0].blob, tiers::BlobUse::kSpill);
  EXPECT_EQ(config->namespaces[1].blob, tiers::BlobUse::kWriteBack);
  EXPECT_EQ(config->namespaces[2].kind, NamespaceKind::kKb);
  EXPECT_EQ(config->namespaces[3].kind, NamespaceKind::kDataset);
  EXPECT_TRUE(config->namespaces[3].origin.enabled);
  EXPECT_EQ(config->namespaces[4].kind, NamespaceKind::kCheckpoint);
  EXPECT_EQ(config->namespaces[4].objects.block_bytes, 8ull << 20);
  EXPECT_EQ(config->namespaces[4].objects.blob_prefix, "ckpt/");
  EXPECT_EQ(config->listener.unix_socket, "/run/kvtier/kvtier.sock");
}

TEST(Config, SidecarExampleIsSmallAndServesSharedMemory) {
  auto config = ParseConfig(ReadSample("sidecar.yaml"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_TRUE(config->Validate().ok()) << config->Validate().ToString();
  EXPECT_FALSE(config->listener.unix_socket.empty());
  EXPECT_LE(config->dram.capacity_bytes, 8ull << 30);
  EXPECT_FALSE(config->nvme_enabled);
}

TEST(Config, BlobAndOriginErrorsNameTheField) {
  const std::string blob =
      "tiers: {blob: {endpoint: 'http://127.0.0.1:1/a', account: a, key_env: K}}\n";
  auto invalid = [](const std::string& yaml) {
    auto config = ParseConfig(yaml);
    return config.ok() ? config->Validate() : config.status();
  };
  EXPECT_NE(invalid(blob + "namespaces: [{name: d, kind: kv, origin: {container: c}}]")
                .message()
                .find("namespaces[0].origin"),
            std::string::npos);
  EXPECT_NE(invalid("namespaces: [{name: d, kind: dataset, origin: {container: c}}]")
                .message()
                .find("tiers.blob"),
            std::string::npos);
  EXPECT_NE(invalid(blob + "namespaces: [{name: d, kind: dataset, origin: {prefix: p}}]")
                .message()
                .find("container"),
            std::string::npos);
  EXPECT_NE(invalid("tiers: {blob: {endpoint: 'http://h', account: a}}\nnamespaces: [{name: a}]")
                .message()
                .find("key_env"),
            std::string::npos);
  EXPECT_TRUE(
      invalid(blob + "namespaces: [{name: d, kind: dataset, origin: {container: c}}]").ok());
}

TEST(Config, CheckpointNamespacesNeedNvmeAndTakeObjectSettings) {
  auto invalid = [](const std::string& yaml) {
    auto config = ParseConfig(yaml);
    return config.ok() ? config->Validate() : config.status();
  };
  const std::string nvme = "tiers: {nvme: {directory: /tmp/x}}\n";
  auto config = ParseConfig(nvme +
                            "namespaces: [{name: ckpt, kind: checkpoint, objects: {block_bytes: "
                            "8MiB, quota: 1GiB, session_ttl_ms: 5000}}]");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_TRUE(config->Validate().ok()) << config->Validate().ToString();
  const NamespaceConfig& ns = config->namespaces[0];
  EXPECT_EQ(ns.kind, NamespaceKind::kCheckpoint);
  EXPECT_EQ(ns.objects.block_bytes, 8ull << 20);
  EXPECT_EQ(ns.objects.quota_bytes, 1ull << 30);
  EXPECT_EQ(ns.objects.session_ttl, std::chrono::milliseconds(5000));
  EXPECT_EQ(ns.objects.blob_prefix, "ckpt/");

  EXPECT_NE(invalid("namespaces: [{name: ckpt, kind: checkpoint}]").message().find("nvme"),
            std::string::npos);
  EXPECT_NE(invalid(nvme + "namespaces: [{name: ckpt, kind: checkpoint, tiers: [dram]}]")
                .message()
                .find("nvme"),
            std::string::npos);
  EXPECT_NE(invalid(nvme + "namespaces: [{name: kv, objects: {block_bytes: 1MiB}}]")
                .message()
                .find("namespaces[0].objects"),
            std::string::npos);
  EXPECT_NE(invalid(nvme + "namespaces: [{name: '../up', kind: checkpoint}]")
                .message()
                .find("letters, digits"),
            std::string::npos);
  EXPECT_NE(
      invalid(nvme + "namespaces: [{name: c, kind: checkpoint, objects: {block_bytes: 1GiB}}]")
          .message()
          .find("block_bytes"),
      std::string::npos);
}

TEST(Config, BlobTierNamespacesSpillOrWriteBack) {
  auto config = ParseConfig(
      "tiers:\n"
      "  nvme: {directory: /tmp/x}\n"
      "  blob: {endpoint: 'http://127.0.0.1:1/a', account: a, key_env: K, container: kv,\n"
      "         prefix: rack7/, upload_threads: 8, spill_queue_bytes: 64MiB}\n"
      "namespaces:\n"
      "  - {name: prefixes, tiers: [dram, nvme, blob]}\n"
      "  - {name: checkpoints, tiers: [dram, nvme, blob], blob_mode: write_back}\n"
      "  - {name: local}\n");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_TRUE(config->Validate().ok()) << config->Validate().ToString();
  EXPECT_EQ(config->blob.container, "kv");
  EXPECT_EQ(config->blob.prefix, "rack7/");
  EXPECT_EQ(config->stack.uploads.threads, 8);
  EXPECT_EQ(config->stack.uploads.spill_queue_bytes, 64ull << 20);
  EXPECT_EQ(config->namespaces[0].blob, tiers::BlobUse::kSpill);
  EXPECT_EQ(config->namespaces[1].blob, tiers::BlobUse::kWriteBack);
  EXPECT_EQ(config->namespaces[2].blob, tiers::BlobUse::kNone);
  EXPECT_NE(DescribeConfig(*config).find("blob_mode: write_back"), std::string::npos);

  auto invalid = [](const std::string& yaml) {
    auto parsed = ParseConfig(yaml);
    return parsed.ok() ? parsed->Validate() : parsed.status();
  };
  const std::string tiers =
      "tiers: {nvme: {directory: /tmp/x}, blob: {endpoint: 'http://h/a', account: a, "
      "key_env: K}}\n";
  // No container for the Blob tier.
  EXPECT_NE(invalid(tiers + "namespaces: [{name: a, tiers: [dram, nvme, blob]}]")
                .message()
                .find("container"),
            std::string::npos);
  // blob_mode without blob in the tiers, and an unknown mode.
  EXPECT_NE(invalid(tiers + "namespaces: [{name: a, blob_mode: spill}]")
                .message()
                .find("namespaces[0].blob_mode"),
            std::string::npos);
  EXPECT_NE(invalid(tiers + "namespaces: [{name: a, tiers: [dram, nvme, blob], blob_mode: x}]")
                .message()
                .find("spill or write_back"),
            std::string::npos);
  // Blob below DRAM only is not a stack.
  EXPECT_NE(invalid(tiers + "namespaces: [{name: a, tiers: [dram, blob]}]")
                .message()
                .find("[dram, nvme, blob]"),
            std::string::npos);
}

TEST(Config, NamespaceModelIdentity) {
  auto config = ParseConfig(
      "namespaces: [{name: a, model: {id: m/x, dtype: bf16, layout: nhd, tp_size: 8}}, "
      "{name: b}]\n");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->namespaces[0].has_model);
  EXPECT_EQ(config->namespaces[0].model.Canonical(), "model=m/x;dtype=bf16;layout=nhd;tp_size=8");
  EXPECT_FALSE(config->namespaces[1].has_model);
  EXPECT_NE(ParseConfig("namespaces: [{name: a, model: {dtype: bf16}}]\n")
                .status()
                .message()
                .find("namespaces[0].model.id"),
            std::string::npos);
  EXPECT_NE(ParseConfig("namespaces: [{name: a, model: {id: m, tp_size: 0}}]\n")
                .status()
                .message()
                .find("tp_size"),
            std::string::npos);
}

TEST(Config, NamespaceTtlAndPins) {
  auto config = ParseConfig(
      "namespaces: [{name: a, ttl_ms: 60000, pin: hard, pin_quota: 1GiB}, {name: docs, kind: kb}, "
      "{name: c}]\n");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_TRUE(config->Validate().ok()) << config->Validate().ToString();
  EXPECT_EQ(config->namespaces[0].ttl_ms, 60000u);
  EXPECT_EQ(config->namespaces[0].pin, tiers::PinLevel::kHard);
  EXPECT_EQ(config->namespaces[0].pin_quota, 1ull << 30);
  EXPECT_EQ(config->namespaces[1].pin, tiers::PinLevel::kSoft);  // kb default
  EXPECT_EQ(config->namespaces[2].pin, tiers::PinLevel::kNone);
  EXPECT_FALSE(config->namespaces[0].bulk);
  auto classes = ParseConfig(
      "tiers: {blob: {endpoint: 'http://h/a', account: a, key_env: K}}\n"
      "namespaces: [{name: d, kind: dataset, origin: {container: c}}, {name: b, class: bulk}, "
      "{name: l, kind: dataset, class: latency, origin: {container: c}}]\n");
  ASSERT_TRUE(classes.ok()) << classes.status().ToString();
  EXPECT_TRUE(classes->namespaces[0].bulk);  // dataset default
  EXPECT_TRUE(classes->namespaces[1].bulk);
  EXPECT_FALSE(classes->namespaces[2].bulk);
  EXPECT_NE(ParseConfig("namespaces: [{name: a, class: urgent}]\n")
                .status()
                .message()
                .find("namespaces[0].class"),
            std::string::npos);
  auto no_quota = ParseConfig("namespaces: [{name: a, pin: hard}]\n");
  ASSERT_TRUE(no_quota.ok());
  EXPECT_NE(no_quota->Validate().message().find("pin_quota"), std::string::npos);
  EXPECT_NE(ParseConfig("namespaces: [{name: a, pin: sticky}]\n")
                .status()
                .message()
                .find("namespaces[0].pin"),
            std::string::npos);
}

TEST(Config, TlsListener) {
  auto none = ParseConfig("namespaces: [{name: a}]\n");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(none->listener.tls.enabled);

  auto config = ParseConfig(R"(
server:
  tls: {listen: 0.0.0.0:7443, cert_file: /etc/kvtier/server.crt, key_file: /etc/kvtier/server.key,
        client_ca_file: /etc/kvtier/clients.crt, only: true}
namespaces: [{name: a}]
)");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_TRUE(config->Validate().ok()) << config->Validate().ToString();
  const TlsListenerConfig& tls = config->listener.tls;
  EXPECT_TRUE(tls.enabled);
  EXPECT_EQ(tls.host, "0.0.0.0");
  EXPECT_EQ(tls.port, 7443);
  EXPECT_EQ(tls.cert_file, "/etc/kvtier/server.crt");
  EXPECT_EQ(tls.key_file, "/etc/kvtier/server.key");
  EXPECT_EQ(tls.client_ca_file, "/etc/kvtier/clients.crt");
  EXPECT_TRUE(tls.only);
  EXPECT_NE(DescribeConfig(*config).find("tls: {listen: 0.0.0.0:7443"), std::string::npos);

  auto no_key = ParseConfig("server: {tls: {cert_file: a.crt}}\nnamespaces: [{name: a}]\n");
  ASSERT_TRUE(no_key.ok());
  EXPECT_NE(no_key->Validate().message().find("server.tls needs cert_file and key_file"),
            std::string::npos);
  EXPECT_NE(
      ParseConfig("server: {tls: {cert: a.crt}}\n").status().message().find("server.tls.cert"),
      std::string::npos);
  EXPECT_NE(ParseConfig("server: {tls: {listen: nowhere}}\n")
                .status()
                .message()
                .find("server.tls.listen"),
            std::string::npos);
}

TEST(Config, HostPort) {
  EXPECT_EQ(ParseHostPort("127.0.0.1:7400")->second, 7400);
  EXPECT_EQ(ParseHostPort("[::1]:80")->first, "::1");
  EXPECT_FALSE(ParseHostPort("host").ok());
  EXPECT_FALSE(ParseHostPort("host:99999").ok());
  EXPECT_FALSE(ParseHostPort(":80").ok());
}

}  // namespace
}  // namespace kvtier::server
