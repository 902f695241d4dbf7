// Checkpoint namespaces through kvtier-fuse, with plain tools (dd, cp, mv,
// rm, mkdir, cmp) and Python: files written through the mount commit on
// close and reach Blob; a writer killed halfway leaves nothing; a full
// quota is ENOSPC, a read-only token EACCES, a bad name EINVAL.

#include <gtest/gtest.h>

#include <filesystem>

#include "common/token.h"
#include "tests/support/azurite_process.h"
#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"

namespace kvtier {
namespace {

constexpr std::string_view kWriterToken = "writer-token-0123456789abcdef";
constexpr std::string_view kReaderToken = "reader-token-fedcba9876543210";

class CheckpointMountTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists("/dev/fuse")) GTEST_SKIP() << "no /dev/fuse on this machine";
    ASSERT_TRUE(azurite_.Start().ok()) << azurite_.log();
    setenv("KVTIER_TEST_BLOB_KEY", testing::kAzuriteKey, 1);
    holder_ = std::make_unique<testing::ServerProcess>();  // only for its directory
    const std::string config =
        "tiers:\n"
        "  dram: {capacity: 16MiB}\n"
        "  nvme: {directory: " +
        (holder_->dir() / "nvme").string() +
        ", capacity: 64MiB, segment_bytes: 2MiB}\n"
        "  blob: {endpoint: '" +
        azurite_.endpoint() +
        "', account: devstoreaccount1, key_env: KVTIER_TEST_BLOB_KEY, "
        "operation_timeout_ms: 3000, container: training}\n"
        "namespaces:\n"
        "  - {name: ckpt, kind: checkpoint, tiers: [dram, nvme, blob], "
        "objects: {block_bytes: 256KiB}}\n"
        "  - {name: small, kind: checkpoint, objects: {block_bytes: 256KiB, quota: 1MiB}}\n"
        "auth:\n"
        "  tokens:\n"
        "    - {name: writer, sha256: " +
        TokenHash(kWriterToken) +
        ", grants: {'*': read_write}}\n"
        "    - {name: reader, sha256: " +
        TokenHash(kReaderToken) + ", grants: {'*': read}}\n";
    server_ = std::make_unique<testing::ServerProcess>(std::vector<std::string>{}, config);
    ASSERT_TRUE(server_->Start().ok()) << server_->log();
    writer_mount_ = Mount(kWriterToken);
    reader_mount_ = Mount(kReaderToken);
  }

  void TearDown() override {
    for (const auto& mount : {writer_mount_, reader_mount_}) {
      if (mount.empty()) continue;
      testing::RunShell("fusermount3 -u " + mount.string() + " 2>&1");
      std::error_code ec;
      std::filesystem::remove(mount, ec);
    }
  }

  std::filesystem::path Mount(std::string_view token) {
    char pattern[] = "/tmp/kvtier-mount-XXXXXX";
    std::filesystem::path mount = mkdtemp(pattern);
    auto run = testing::RunShell("KVTIER_TOKEN=" + std::string(token) + " " +
                                 testing::BinaryPath("kvtier-fuse") +
                                 " --server 127.0.0.1:" + std::to_string(server_->port()) +
                                 " --retry-ms 5000 " + mount.string() + " 2>&1");
    EXPECT_EQ(run.exit_code, 0) << run.out;
    return mount;
  }

  std::string W(const std::string& relative) const { return (writer_mount_ / relative).string(); }
  std::string R(const std::string& relative) const { return (reader_mount_ / relative).string(); }

  // Runs `command`; its exit code and output.
  static testing::ShellRun Shell(const std::string& command) {
    return testing::RunShell(command + " 2>&1");
  }

  testing::AzuriteProcess azurite_;
  std::unique_ptr<testing::ServerProcess> holder_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::filesystem::path writer_mount_;
  std::filesystem::path reader_mount_;
};

TEST_F(CheckpointMountTest, PlainToolsWriteRenameAndDeleteCheckpoints) {
  const std::string source = (holder_->dir() / "source.bin").string();
  ASSERT_EQ(Shell("head -c 3300000 /dev/urandom > " + source).exit_code, 0);
  auto made = Shell("mkdir -p " + W("ckpt/run1/tmp"));
  ASSERT_EQ(made.exit_code, 0) << made.out;
  auto written = Shell("dd if=" + source + " of=" + W("ckpt/run1/tmp/step-1.pt") +
                       " bs=1M conv=fsync status=none");
  ASSERT_EQ(written.exit_code, 0) << written.out;
  EXPECT_EQ(Shell("cmp " + source + " " + W("ckpt/run1/tmp/step-1.pt")).exit_code, 0);
  // What one mount wrote, another reads.
  EXPECT_EQ(Shell("cmp " + source + " " + R("ckpt/run1/tmp/step-1.pt")).exit_code, 0);

  auto moved = Shell("mv " + W("ckpt/run1/tmp/step-1.pt") + " " + W("ckpt/run1/step-1.pt"));
  ASSERT_EQ(moved.exit_code, 0) << moved.out;
  // The directory made with mkdir stays while this mount lives.
  EXPECT_EQ(Shell("ls " + W("ckpt/run1")).out, "step-1.pt\ntmp\n");
  EXPECT_EQ(Shell("cmp " + source + " " + W("ckpt/run1/step-1.pt")).exit_code, 0);
  ASSERT_EQ(Shell("cp " + source + " " + W("ckpt/run1/copy.pt")).exit_code, 0);
  EXPECT_EQ(Shell("stat -c %s " + W("ckpt/run1/copy.pt")).out, "3300000\n");
  ASSERT_EQ(Shell("touch " + W("ckpt/run1/empty")).exit_code, 0);
  EXPECT_EQ(Shell("stat -c %s " + W("ckpt/run1/empty")).out, "0\n");

  // It reaches Blob: kvtier flush, then the attribute says so.
  auto flushed = Shell(
      "KVTIER_TOKEN=" + std::string(kWriterToken) + " " + testing::BinaryPath("kvtier") +
      " --server 127.0.0.1:" + std::to_string(server_->port()) + " flush ckpt run1/step-1.pt");
  ASSERT_EQ(flushed.exit_code, 0) << flushed.out;
  auto attribute = Shell("/usr/bin/python3 -c \"import os; print(os.getxattr('" +
                         W("ckpt/run1/step-1.pt") + "', 'user.kvtier.in_blob').decode())\"");
  EXPECT_EQ(attribute.out, "1\n");

  ASSERT_EQ(Shell("rm " + W("ckpt/run1/step-1.pt")).exit_code, 0);
  EXPECT_NE(Shell("ls " + W("ckpt/run1/step-1.pt")).exit_code, 0);
  // Objects are written whole: appending is refused.
  EXPECT_NE(Shell("echo more >> " + W("ckpt/run1/copy.pt")).exit_code, 0);
}

TEST_F(CheckpointMountTest, AWriterKilledHalfwayLeavesNothingAtItsPath) {
  auto killed = Shell(
      "/usr/bin/python3 -c \"import os, signal\n"
      "f = open('" +
      W("ckpt/killed.pt") +
      "', 'wb')\n"
      "f.write(os.urandom(1500000)); f.flush()\n"
      "os.kill(os.getpid(), signal.SIGKILL)\"");
  EXPECT_NE(killed.exit_code, 0);
  EXPECT_NE(Shell("stat " + W("ckpt/killed.pt")).exit_code, 0);
  EXPECT_EQ(Shell("ls " + W("ckpt")).out, "");
}

TEST_F(CheckpointMountTest, ErrorsAreTheErrnoAWriterExpects) {
  // The quota (1 MiB) is full: ENOSPC, and nothing appears.
  auto full = Shell("dd if=/dev/zero of=" + W("small/big.pt") + " bs=256K count=8 conv=fsync");
  EXPECT_NE(full.exit_code, 0);
  EXPECT_NE(full.out.find("No space left on device"), std::string::npos) << full.out;
  EXPECT_NE(Shell("stat " + W("small/big.pt")).exit_code, 0);
  // A token that may only read.
  auto denied = Shell("cp /etc/hostname " + R("ckpt/x.pt"));
  EXPECT_NE(denied.exit_code, 0);
  EXPECT_NE(denied.out.find("Permission denied"), std::string::npos) << denied.out;
  // Names an object path cannot carry.
  auto bad = Shell("touch \"" + W("ckpt/") + "$(printf '\\377\\376')\"");
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.out.find("Invalid argument"), std::string::npos) << bad.out;
  auto long_name = Shell("touch " + W("ckpt/") + std::string(4096, 'n'));
  EXPECT_NE(long_name.exit_code, 0);
  EXPECT_NE(long_name.out.find("too long"), std::string::npos) << long_name.out;
}

}  // namespace
}  // namespace kvtier
