// Runs the kvtier CLI binary against a real kvtierd, as a user would.

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "tests/support/server_process.h"

namespace kvtier {
namespace {

using CliRun = testing::ShellRun;

class CliTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new testing::ServerProcess();
    ASSERT_TRUE(server_->EnableTls().ok());
    ASSERT_TRUE(server_->Start().ok()) << server_->log();
    char pattern[] = "/tmp/kvtier-cli-XXXXXX";
    dir_ = mkdtemp(pattern);
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(), 0);
    delete server_;
    std::filesystem::remove_all(dir_);
  }

  // Runs `kvtier --server 127.0.0.1:PORT ARGS` through the shell; stdout
  // (and stderr with `2>&1` in args) is captured.
  static CliRun Cli(const std::string& args) { return CliAt(server_->port(), args); }

  static CliRun CliAt(uint16_t port, const std::string& args) {
    return testing::RunShell(testing::BinaryPath("kvtier") +
                             " --server 127.0.0.1:" + std::to_string(port) + " " + args);
  }

  static std::string Path(const std::string& name) { return (dir_ / name).string(); }

  static void WriteRandomFile(const std::string& path, size_t size) {
    std::mt19937 random(7);
    std::string data(size, '\0');
    for (auto& c : data) c = static_cast<char>(random());
    std::ofstream(path, std::ios::binary) << data;
  }

  static testing::ServerProcess* server_;
  static std::filesystem::path dir_;
};
testing::ServerProcess* CliTest::server_ = nullptr;
std::filesystem::path CliTest::dir_;

TEST_F(CliTest, PutFileThenGetToStdoutIsByteIdentical) {
  WriteRandomFile(Path("in.bin"), 3 << 20);
  ASSERT_EQ(Cli("put demo k1 " + Path("in.bin")).exit_code, 0);
  EXPECT_EQ(Cli("get demo k1 - > " + Path("out.bin")).exit_code, 0);
  EXPECT_EQ(std::system(("cmp -s " + Path("in.bin") + " " + Path("out.bin")).c_str()), 0);
  EXPECT_EQ(Cli("get demo k1 " + Path("out2.bin")).exit_code, 0);
  EXPECT_EQ(std::system(("cmp -s " + Path("in.bin") + " " + Path("out2.bin")).c_str()), 0);
}

TEST_F(CliTest, PutFromStdin) {
  ASSERT_EQ(Cli("put demo piped - < /etc/hostname").exit_code, 0);
  EXPECT_EQ(Cli("get demo piped | cmp -s - /etc/hostname && echo same").out, "same\n");
}

TEST_F(CliTest, ExistsDeleteAndMatchPrintPerKey) {
  ASSERT_EQ(Cli("put demo a /etc/hostname").exit_code, 0);
  ASSERT_EQ(Cli("put demo b /etc/hostname").exit_code, 0);
  EXPECT_EQ(Cli("exists demo a zz").out, "a\tdram\nzz\tabsent\n");
  EXPECT_EQ(Cli("match demo a b zz a").out, "matched 2 of 4\na\tdram\nb\tdram\n");
  EXPECT_EQ(Cli("del demo b zz").out, "b\tdeleted\nzz\tnot_found\n");
  EXPECT_EQ(Cli("exists demo b").out, "b\tabsent\n");
}

TEST_F(CliTest, HexKeys) {
  ASSERT_EQ(Cli("--hex put demo 00ff10 /etc/hostname").exit_code, 0);
  EXPECT_EQ(Cli("--hex exists demo 00ff10").out, "00ff10\tdram\n");
  EXPECT_EQ(Cli("--hex get demo 0g 2>&1").exit_code, 2);
}

TEST_F(CliTest, FailuresAreOneLineAndNonZero) {
  CliRun missing = Cli("get demo never-stored 2>&1");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_EQ(std::count(missing.out.begin(), missing.out.end(), '\n'), 1);
  EXPECT_NE(missing.out.find("not_found"), std::string::npos);

  CliRun unknown_ns = Cli("get nowhere k 2>&1");
  EXPECT_EQ(unknown_ns.exit_code, 1);
  EXPECT_NE(unknown_ns.out.find("unknown_namespace"), std::string::npos);

  // The default server has no Blob tier: nothing to flush, said plainly.
  CliRun flush = Cli("flush demo 2>&1");
  EXPECT_EQ(flush.exit_code, 1);
  EXPECT_NE(flush.out.find("does not write back to Blob"), std::string::npos) << flush.out;

  EXPECT_EQ(Cli("frobnicate 2>/dev/null").exit_code, 2);
  EXPECT_EQ(Cli("put demo 2>/dev/null").exit_code, 2);
  EXPECT_EQ(Cli("put demo k /no/such/file 2>/dev/null").exit_code, 1);
}

TEST_F(CliTest, TlsOptionsReachTheTlsListener) {
  const std::string ca = "--tls-ca " + (server_->tls_dir() / "ca.crt").string() + " ";
  WriteRandomFile(Path("tls.bin"), 100000);
  EXPECT_EQ(CliAt(server_->tls_port(), ca + "put demo over-tls " + Path("tls.bin")).exit_code, 0);
  EXPECT_EQ(CliAt(server_->tls_port(), ca + "get demo over-tls " + Path("tls.out")).exit_code, 0);
  EXPECT_EQ(testing::ReadFileText(Path("tls.out")), testing::ReadFileText(Path("tls.bin")));

  CliRun misnamed = CliAt(server_->tls_port(), ca + "--tls-server-name cache.example stats 2>&1");
  EXPECT_EQ(misnamed.exit_code, 1);
  EXPECT_NE(misnamed.out.find("hostname mismatch"), std::string::npos) << misnamed.out;
  CliRun plaintext = CliAt(server_->tls_port(), "stats 2>&1");
  EXPECT_EQ(plaintext.exit_code, 1) << plaintext.out;
}

TEST_F(CliTest, UnreachableServerFailsCleanly) {
  CliRun unreachable = CliAt(1, "stats 2>&1");
  EXPECT_EQ(unreachable.exit_code, 1);
  EXPECT_NE(unreachable.out.find("unavailable"), std::string::npos) << unreachable.out;
}

TEST_F(CliTest, StatsTextAndJson) {
  CliRun text = Cli("stats");
  EXPECT_EQ(text.exit_code, 0);
  // A row per tier and per namespace under their headers.
  EXPECT_NE(text.out.find("tier  "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("\ndram "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("\nnvme "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("namespace  "), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("\ndemo "), std::string::npos) << text.out;
  CliRun json = Cli("stats --json");
  EXPECT_EQ(json.exit_code, 0);
  EXPECT_EQ(json.out.front(), '{');
  EXPECT_NE(json.out.find("\"tiers\": [{\"name\": \"dram\""), std::string::npos);
}

TEST(CliClusterTest, ServersSpreadKeysToTheirOwners) {
  testing::ServerProcess a({"--no-nvme"});
  testing::ServerProcess b({"--no-nvme"});
  ASSERT_TRUE(a.Start().ok()) << a.log();
  ASSERT_TRUE(b.Start().ok()) << b.log();
  const std::string cli = testing::BinaryPath("kvtier");
  const std::string servers = " --servers 127.0.0.1:" + std::to_string(a.port()) +
                              ",127.0.0.1:" + std::to_string(b.port()) + " ";
  int on_a = 0;
  int on_b = 0;
  for (int i = 0; i < 16; ++i) {
    const std::string key = "spread-" + std::to_string(i);
    ASSERT_EQ(testing::RunShell("echo value-" + std::to_string(i) + " | " + cli + servers +
                                "put kv " + key + " -")
                  .exit_code,
              0);
    EXPECT_EQ(testing::RunShell(cli + servers + "get kv " + key).out,
              "value-" + std::to_string(i) + "\n");
    const bool held_by_a =
        testing::RunShell(cli + " --server 127.0.0.1:" + std::to_string(a.port()) + " exists kv " +
                          key)
            .out.find("dram") != std::string::npos;
    const bool held_by_b =
        testing::RunShell(cli + " --server 127.0.0.1:" + std::to_string(b.port()) + " exists kv " +
                          key)
            .out.find("dram") != std::string::npos;
    EXPECT_NE(held_by_a, held_by_b) << key << " must live on exactly one server";
    on_a += held_by_a;
    on_b += held_by_b;
  }
  EXPECT_GT(on_a, 0);
  EXPECT_GT(on_b, 0);
  const auto stats = testing::RunShell(cli + servers + "stats 2>&1");
  EXPECT_EQ(stats.exit_code, 2);
  EXPECT_NE(stats.out.find("use --server"), std::string::npos);
}

}  // namespace
}  // namespace kvtier
