// The Kubernetes manifests and the Dockerfile (configs/kubernetes/) tie
// together: the ConfigMap's config is a valid kvtierd config, and the ports,
// probe paths, secret, volumes, labels and memory of the other manifests
// agree with it and with each other.

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "server/config.h"

namespace kvtier::server {
namespace {

const std::string kDir = std::string(KVTIER_SOURCE_DIR) + "/configs/kubernetes/";

YAML::Node Load(const std::string& file) { return YAML::LoadFile(kDir + file); }

// A Kubernetes memory quantity ("52Gi", "512Mi", "1G") in bytes.
uint64_t Quantity(const std::string& text) {
  static const std::pair<const char*, uint64_t> kUnits[] = {
      {"Ki", 1ull << 10}, {"Mi", 1ull << 20}, {"Gi", 1ull << 30}, {"Ti", 1ull << 40},
      {"K", 1000},        {"M", 1000000},     {"G", 1000000000}};
  for (const auto& [suffix, factor] : kUnits) {
    if (text.ends_with(suffix)) {
      return std::stoull(text.substr(0, text.size() - std::strlen(suffix))) * factor;
    }
  }
  return std::stoull(text);
}

YAML::Node NamedEntry(const YAML::Node& list, const std::string& name) {
  for (const auto& entry : list) {
    if (entry["name"] && entry["name"].as<std::string>() == name) return entry;
  }
  return YAML::Node();
}

class Manifests : public ::testing::Test {
 protected:
  void SetUp() override {
    configmap_ = Load("configmap.yaml");
    daemonset_ = Load("daemonset.yaml");
    secret_ = Load("secret.yaml");
    service_ = Load("service.yaml");
    pdb_ = Load("pdb.yaml");
    auto config = ParseConfig(configmap_["data"]["kvtier.yaml"].as<std::string>());
    ASSERT_TRUE(config.ok()) << config.status().ToString();
    ASSERT_TRUE(config->Validate().ok()) << config->Validate().ToString();
    config_ = *config;
    pod_ = daemonset_["spec"]["template"];
    container_ = pod_["spec"]["containers"][0];
  }
  uint16_t ContainerPort(const std::string& name) {
    return NamedEntry(container_["ports"], name)["containerPort"].as<uint16_t>();
  }

  YAML::Node configmap_, daemonset_, secret_, service_, pdb_, pod_, container_;
  ServerConfig config_;
};

TEST_F(Manifests, KindsAreWhatTheirFilesSay) {
  EXPECT_EQ(configmap_["kind"].as<std::string>(), "ConfigMap");
  EXPECT_EQ(daemonset_["kind"].as<std::string>(), "DaemonSet");
  EXPECT_EQ(secret_["kind"].as<std::string>(), "Secret");
  EXPECT_EQ(service_["kind"].as<std::string>(), "Service");
  EXPECT_EQ(pdb_["kind"].as<std::string>(), "PodDisruptionBudget");
}

TEST_F(Manifests, PortsAndProbesMatchTheConfig) {
  EXPECT_EQ(ContainerPort("kvtier"), config_.listener.port);
  ASSERT_TRUE(config_.listener.metrics_enabled);
  EXPECT_EQ(ContainerPort("metrics"), config_.listener.metrics_port);
  EXPECT_EQ(config_.listener.metrics_host, "0.0.0.0");  // the kubelet probes from outside
  EXPECT_EQ(container_["livenessProbe"]["httpGet"]["path"].as<std::string>(), "/healthz");
  EXPECT_EQ(container_["readinessProbe"]["httpGet"]["path"].as<std::string>(), "/readyz");
  EXPECT_EQ(container_["livenessProbe"]["httpGet"]["port"].as<std::string>(), "metrics");
  EXPECT_EQ(container_["readinessProbe"]["httpGet"]["port"].as<std::string>(), "metrics");
  EXPECT_EQ(pod_["metadata"]["annotations"]["prometheus.io/port"].as<std::string>(),
            std::to_string(config_.listener.metrics_port));
}

TEST_F(Manifests, ConfigSecretAndVolumesLineUp) {
  // The config file kvtierd is told to read is the ConfigMap's.
  const auto args = container_["args"].as<std::vector<std::string>>();
  ASSERT_EQ(args.size(), 2u);
  EXPECT_EQ(args[0], "--config");
  const std::filesystem::path config_path = args[1];
  const YAML::Node config_mount = NamedEntry(container_["volumeMounts"], "config");
  EXPECT_EQ(config_mount["mountPath"].as<std::string>(), config_path.parent_path().string());
  EXPECT_TRUE(configmap_["data"][config_path.filename().string()]);
  EXPECT_EQ(NamedEntry(pod_["spec"]["volumes"], "config")["configMap"]["name"].as<std::string>(),
            configmap_["metadata"]["name"].as<std::string>());
  // The Blob key: the env var the config names, filled from the Secret.
  const YAML::Node env = NamedEntry(container_["env"], config_.blob.key_env);
  ASSERT_TRUE(env) << "no env var " << config_.blob.key_env;
  const YAML::Node ref = env["valueFrom"]["secretKeyRef"];
  EXPECT_EQ(ref["name"].as<std::string>(), secret_["metadata"]["name"].as<std::string>());
  EXPECT_TRUE(secret_["stringData"][ref["key"].as<std::string>()]);
  // NVMe and the Unix socket live on mounted host paths.
  EXPECT_EQ(NamedEntry(container_["volumeMounts"], "nvme")["mountPath"].as<std::string>(),
            config_.nvme.directory);
  EXPECT_EQ(NamedEntry(container_["volumeMounts"], "socket")["mountPath"].as<std::string>(),
            std::filesystem::path(config_.listener.unix_socket).parent_path().string());
}

TEST_F(Manifests, MemoryCoversTheDramTier) {
  const uint64_t requested =
      Quantity(container_["resources"]["requests"]["memory"].as<std::string>());
  const uint64_t limit = Quantity(container_["resources"]["limits"]["memory"].as<std::string>());
  EXPECT_EQ(requested, limit);
  const uint64_t bound =
      config_.dram.capacity_bytes * 105 / 100 + config_.stack.demotion_queue_bytes;
  EXPECT_GE(requested, bound);
  EXPECT_LE(requested, bound + (4ull << 30));  // not wildly more than it needs
}

TEST_F(Manifests, ServiceAndBudgetSelectThePods) {
  const YAML::Node labels = pod_["metadata"]["labels"];
  auto selects = [&](const YAML::Node& selector) {
    for (const auto& entry : selector) {
      const std::string key = entry.first.as<std::string>();
      if (!labels[key] || labels[key].as<std::string>() != entry.second.as<std::string>()) {
        return false;
      }
    }
    return selector.size() > 0;
  };
  EXPECT_TRUE(selects(daemonset_["spec"]["selector"]["matchLabels"]));
  EXPECT_TRUE(selects(service_["spec"]["selector"]));
  EXPECT_TRUE(selects(pdb_["spec"]["selector"]["matchLabels"]));
  EXPECT_EQ(service_["spec"]["clusterIP"].as<std::string>(), "None");  // headless: DNS lists pods
  for (const auto& port : service_["spec"]["ports"]) {
    const std::string target = port["targetPort"].as<std::string>();
    EXPECT_TRUE(NamedEntry(container_["ports"], target)) << target;
    EXPECT_EQ(port["port"].as<uint16_t>(), ContainerPort(target));
  }
  EXPECT_GT(pod_["spec"]["terminationGracePeriodSeconds"].as<int>(), 10);  // the drain's 10 s
}

TEST(Dockerfile, BuildsOnDebian12InTwoStagesAndExposesThePorts) {
  std::ifstream in(kDir + "Dockerfile");
  std::stringstream text;
  text << in.rdbuf();
  const std::string dockerfile = text.str();
  size_t stages = 0;
  for (size_t at = 0; (at = dockerfile.find("\nFROM debian:12", at)) != std::string::npos; ++at) {
    ++stages;
  }
  EXPECT_EQ(stages, 2u);
  EXPECT_NE(dockerfile.find("--target kvtierd"), std::string::npos);
  EXPECT_NE(dockerfile.find("EXPOSE 7400 9400"), std::string::npos);
  EXPECT_NE(dockerfile.find("/etc/kvtier/kvtier.yaml"), std::string::npos);
  // The mount's binary and what it needs at run time.
  EXPECT_NE(dockerfile.find("kvtier-fuse /usr/local/bin/"), std::string::npos);
  EXPECT_NE(dockerfile.find("libfuse3-dev"), std::string::npos);
  EXPECT_NE(dockerfile.find("libfuse3-3 fuse3", dockerfile.rfind("FROM debian:12")),
            std::string::npos);
}

TEST(FuseDaemonSet, MountsOnTheNodeAndPropagatesTheMountToTrainingPods) {
  const YAML::Node daemonset = Load("fuse-daemonset.yaml");
  EXPECT_EQ(daemonset["kind"].as<std::string>(), "DaemonSet");
  const YAML::Node pod = daemonset["spec"]["template"]["spec"];
  const YAML::Node container = pod["containers"][0];
  EXPECT_TRUE(container["securityContext"]["privileged"].as<bool>());
  // The mount point is a host path shared back to the node (Bidirectional),
  // and /dev/fuse comes from the host.
  const YAML::Node mount = NamedEntry(container["volumeMounts"], "mount");
  ASSERT_TRUE(mount);
  EXPECT_EQ(mount["mountPropagation"].as<std::string>(), "Bidirectional");
  const std::string mount_path = mount["mountPath"].as<std::string>();
  EXPECT_EQ(NamedEntry(pod["volumes"], "mount")["hostPath"]["path"].as<std::string>(), mount_path);
  EXPECT_EQ(NamedEntry(pod["volumes"], "fuse")["hostPath"]["path"].as<std::string>(), "/dev/fuse");
  // kvtier-fuse in the foreground, on that path, for every user, at the
  // server's port.
  const std::string command = container["args"][0].as<std::string>();
  EXPECT_NE(command.find("kvtier-fuse -f --server \"$KVTIER_SERVER:7400\""), std::string::npos);
  EXPECT_NE(command.find(mount_path + " -o allow_other"), std::string::npos);
  EXPECT_NE(command.find("fusermount3 -u"), std::string::npos);  // no dead mount left behind
  const YAML::Node server = NamedEntry(container["env"], "KVTIER_SERVER");
  EXPECT_EQ(server["valueFrom"]["fieldRef"]["fieldPath"].as<std::string>(), "status.hostIP");
  const YAML::Node kvtierd = Load("daemonset.yaml")["spec"]["template"]["spec"]["containers"][0];
  EXPECT_EQ(NamedEntry(kvtierd["ports"], "kvtier")["hostPort"].as<uint16_t>(), 7400);
}

}  // namespace
}  // namespace kvtier::server
