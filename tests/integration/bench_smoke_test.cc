// Runs every kvtier-bench workload briefly, with --verify, against a real
// kvtierd and (when redis-server is installed) a real redis-server: the
// benchmark must complete, move data, and read back only correct bytes.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "tests/support/server_process.h"

namespace kvtier {
namespace {

struct BenchRun {
  int exit_code = -1;
  std::string json;
};

// A small synthetic trace for the trace workload, made by kvtier-tracegen.
std::string TraceFile() {
  static const std::string path = [] {
    const std::string file = "/tmp/kvtier-smoke-" + std::to_string(getpid()) + ".jsonl";
    const std::string command = testing::BinaryPath("kvtier-tracegen") +
                                " --requests 200 --follow-up-gap 20 --seed 3 > " + file;
    EXPECT_EQ(std::system(command.c_str()), 0);
    return file;
  }();
  return path;
}

BenchRun RunBench(const std::string& target, const std::string& workload) {
  const std::string command = testing::BinaryPath("kvtier-bench") + " " + target + " --workload " +
                              workload + " --trace " + TraceFile() +
                              " --duration 0.3 --warmup 0.1 --keys 32 --value-size 65536"
                              " --connections 2 --depth 2 --match-keys 16 --prompt-blocks 8"
                              " --shared-blocks 4 --verify --json 2>&1";
  const testing::ShellRun shell = testing::RunShell(command);
  BenchRun run{shell.exit_code, shell.out};
  std::filesystem::remove(TraceFile());
  return run;
}

void ExpectHealthy(const BenchRun& run, const std::string& workload) {
  EXPECT_EQ(run.exit_code, 0) << run.json;
  if (workload == "trace") {
    // The replay reports both hit ratios, and a warm trace hits something.
    EXPECT_NE(run.json.find("\"lru_block_hit_ratio\""), std::string::npos) << run.json;
    EXPECT_EQ(run.json.find("\"block_hit_ratio\": 0.0000"), std::string::npos) << run.json;
  }
  EXPECT_NE(run.json.find("\"ops_per_s\""), std::string::npos) << run.json;
  EXPECT_EQ(run.json.find("\"errors\": 0") == std::string::npos, false) << run.json;
  EXPECT_EQ(run.json.find("\"verify_failures\": 1"), std::string::npos) << run.json;
}

const char* const kWorkloads[] = {"put", "get", "mixed", "match", "engine", "fanout", "trace"};

class BenchSmoke : public ::testing::TestWithParam<const char*> {};

TEST_P(BenchSmoke, AgainstKvtier) {
  testing::ServerProcess server({"--dram-capacity", "256MiB"});
  ASSERT_TRUE(server.Start().ok()) << server.log();
  ExpectHealthy(RunBench("--server 127.0.0.1:" + std::to_string(server.port()), GetParam()),
                GetParam());
  EXPECT_EQ(server.Stop(), 0);
}

// The same workloads over the shared-memory transport, with put values
// built in the region.
TEST_P(BenchSmoke, AgainstKvtierOverSharedMemory) {
  testing::ServerProcess server({"--dram-capacity", "256MiB"});
  ASSERT_TRUE(server.Start().ok()) << server.log();
  ExpectHealthy(
      RunBench("--unix " + server.unix_socket() + " --shm-region 64000000 --in-place", GetParam()),
      GetParam());
  EXPECT_EQ(server.Stop(), 0);
}

uint16_t FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t length = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &length);
  close(fd);
  return ntohs(addr.sin_port);
}

TEST_P(BenchSmoke, AgainstRedis) {
  if (!std::filesystem::exists("/usr/bin/redis-server")) {
    GTEST_SKIP() << "redis-server is not installed (scripts/setup.sh installs it)";
  }
  const uint16_t port = FreePort();
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string port_text = std::to_string(port);
    execl("/usr/bin/redis-server", "redis-server", "--port", port_text.c_str(), "--bind",
          "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", "/tmp", "--loglevel", "warning",
          static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until it accepts connections.
  bool up = false;
  for (int i = 0; i < 500 && !up; ++i) {
    up = testing::RawSocket::Connect(port).ok();
    if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(up) << "redis-server did not start";
  ExpectHealthy(RunBench("--redis 127.0.0.1:" + std::to_string(port), GetParam()), GetParam());
  kill(pid, SIGTERM);
  waitpid(pid, nullptr, 0);
}

INSTANTIATE_TEST_SUITE_P(Workloads, BenchSmoke, ::testing::ValuesIn(kWorkloads),
                         [](const auto& info) { return std::string(info.param); });

}  // namespace
}  // namespace kvtier
