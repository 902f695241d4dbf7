// Checkpoint namespaces through a real kvtierd with an NVMe tier: objects
// written in write sessions (CreateObject, block puts, CommitObject),
// visible only once committed, renamed and deleted; a SIGKILL after a
// commit loses nothing, and blocks of sessions nobody committed are freed.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "client/client.h"
#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"

namespace kvtier {
namespace {

using client::Client;
using client::ObjectWriter;

constexpr uint64_t kBlock = 64 * 1024;

std::string Config(const std::filesystem::path& nvme_dir, const std::string& objects_extra = "") {
  return "tiers:\n"
         "  dram: {capacity: 16MiB}\n"
         "  nvme: {directory: " +
         nvme_dir.string() +
         ", capacity: 16MiB, segment_bytes: 1MiB}\n"
         "namespaces:\n"
         "  - {name: kv}\n"
         "  - {name: ckpt, kind: checkpoint, objects: {block_bytes: 64KiB" +
         objects_extra + "}}\n";
}

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(); }

  void Start(const std::string& objects_extra = "") {
    client_.reset();
    if (nvme_dir_.empty()) {
      holder_ = std::make_unique<testing::ServerProcess>();  // only for its directory
      nvme_dir_ = holder_->dir() / "nvme";
    }
    server_ = std::make_unique<testing::ServerProcess>(std::vector<std::string>{},
                                                       Config(nvme_dir_, objects_extra));
    ASSERT_TRUE(server_->Start().ok()) << server_->log();
    client_ = testing::ConnectTo(*server_);
    ASSERT_NE(client_, nullptr);
  }

  // Puts block `index` of `bytes` (the object's bytes) in `writer`'s session.
  Status PutBlock(const ObjectWriter& writer, uint64_t index, std::span<const std::byte> bytes) {
    const uint64_t at = index * writer.block_bytes;
    const std::span<const std::byte> block =
        bytes.subspan(at, std::min<uint64_t>(writer.block_bytes, bytes.size() - at));
    return client_->PutObjectBlocks(writer, index, std::span(&block, 1));
  }

  std::vector<std::byte> ReadAll(const std::string& path) {
    return testing::ReadObject(*client_, "ckpt", path);
  }

  std::unique_ptr<testing::ServerProcess> holder_;
  std::filesystem::path nvme_dir_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<Client> client_;
};

TEST_F(CheckpointTest, AnObjectWrittenInASessionReadsBackAcrossBlockBoundaries) {
  const auto bytes = testing::RandomBytes(3 * kBlock + 1234, 1);
  auto written = client_->WriteObject("ckpt", "run/step-100.pt", bytes);
  ASSERT_TRUE(written.ok()) << written.status().ToString();
  EXPECT_EQ(written->size, bytes.size());
  EXPECT_EQ(written->block_bytes, kBlock);
  EXPECT_FALSE(written->version.empty());

  auto stat = client_->Stat("ckpt", "run/step-100.pt");
  ASSERT_TRUE(stat.ok()) << stat.status().ToString();
  EXPECT_EQ(*stat, *written);
  EXPECT_TRUE(testing::SameBytes(ReadAll("run/step-100.pt"), bytes));
  // A range across the boundary of blocks 1 and 2.
  std::vector<std::byte> middle(1000);
  auto read = client_->ReadRange("ckpt", "run/step-100.pt", 2 * kBlock - 500, middle);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_TRUE(testing::SameBytes(middle, std::span(bytes).subspan(2 * kBlock - 500, 1000)));

  auto page = client_->List("ckpt", "", "/");
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  EXPECT_TRUE(page->objects.empty());
  EXPECT_EQ(page->prefixes, std::vector<std::string>{"run/"});
  auto all = client_->ListAll("ckpt");
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 1u);
  EXPECT_EQ((*all)[0].path, "run/step-100.pt");

  // The NVMe index's and the catalog's RocksDB write no LOG file beside
  // them (one on a full disk would abort the server: tiers/rocksdb_support.h).
  for (const auto& file : std::filesystem::recursive_directory_iterator(nvme_dir_)) {
    EXPECT_FALSE(file.path().filename().string().starts_with("LOG")) << file.path();
  }
}

// Checkpoints are written once and rarely read on the rack that wrote them:
// their blocks go to NVMe only, never evicting the DRAM working set.
TEST_F(CheckpointTest, WrittenBlocksGoToNvmeAndLeaveDramAlone) {
  const auto bytes = testing::RandomBytes(2 * kBlock + 7, 11);
  ASSERT_TRUE(client_->WriteObject("ckpt", "step-1.pt", bytes).ok());
  auto stats = client_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  uint64_t dram_items = 1;
  uint64_t nvme_items = 0;
  for (const auto& tier : stats->tiers) {
    if (tier.name == "dram") dram_items = tier.items;
    if (tier.name == "nvme") nvme_items = tier.items;
  }
  EXPECT_EQ(dram_items, 0u);
  EXPECT_EQ(nvme_items, 3u);
  EXPECT_TRUE(testing::SameBytes(ReadAll("step-1.pt"), bytes));
}

TEST_F(CheckpointTest, NothingIsVisibleUntilCommitAndACommitReplacesTheOldVersionWhole) {
  const auto first = testing::RandomBytes(2 * kBlock, 2);
  ASSERT_TRUE(client_->WriteObject("ckpt", "latest.pt", first).ok());

  const auto second = testing::RandomBytes(3 * kBlock - 7, 3);
  auto writer = client_->CreateObject("ckpt", "latest.pt");
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  // Blocks out of order; the old version is what readers see meanwhile.
  for (uint64_t index : {2u, 0u, 1u}) ASSERT_TRUE(PutBlock(*writer, index, second).ok());
  EXPECT_TRUE(testing::SameBytes(ReadAll("latest.pt"), first));
  auto fresh = client_->CreateObject("ckpt", "other.pt");
  ASSERT_TRUE(fresh.ok());
  ASSERT_TRUE(PutBlock(*fresh, 0, second).ok());
  EXPECT_EQ(client_->Stat("ckpt", "other.pt").status().code(), StatusCode::kNotFound);

  auto committed = client_->CommitObject(*writer, second.size());
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();
  EXPECT_TRUE(testing::SameBytes(ReadAll("latest.pt"), second));
  // The replaced version's two blocks are freed.
  EXPECT_EQ(testing::ServerCounter(*client_, "object_blocks_freed"), 2u);
  // A committed session is over.
  EXPECT_EQ(client_->CommitObject(*writer, second.size()).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(PutBlock(*writer, 0, second).code(), StatusCode::kNotFound);
}

TEST_F(CheckpointTest, ACommitWithAMissingOrShortBlockIsRefusedAndTheSessionStaysOpen) {
  const auto bytes = testing::RandomBytes(3 * kBlock, 4);
  auto writer = client_->CreateObject("ckpt", "partial.pt");
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(PutBlock(*writer, 0, bytes).ok());
  ASSERT_TRUE(PutBlock(*writer, 2, bytes).ok());
  const Status missing = client_->CommitObject(*writer, bytes.size()).status();
  EXPECT_EQ(missing.code(), StatusCode::kInvalidArgument) << missing.ToString();
  EXPECT_NE(missing.message().find("block 1"), std::string::npos) << missing.ToString();
  // A size the blocks cannot make: block 2 would be past the end.
  EXPECT_EQ(client_->CommitObject(*writer, kBlock).status().code(), StatusCode::kInvalidArgument);
  ASSERT_TRUE(PutBlock(*writer, 1, bytes).ok());
  EXPECT_TRUE(client_->CommitObject(*writer, bytes.size()).ok());
  EXPECT_TRUE(testing::SameBytes(ReadAll("partial.pt"), bytes));
}

TEST_F(CheckpointTest, PutsOutsideAnOpenSessionAndBlocksLargerThanABlockAreRefused) {
  const std::vector<std::byte> value(100, std::byte{1});
  const Status plain = testing::PutOne(*client_, "ckpt", "some-key", value);
  EXPECT_EQ(plain.code(), StatusCode::kInvalidArgument) << plain.ToString();
  EXPECT_NE(plain.message().find("write session"), std::string::npos) << plain.ToString();

  auto writer = client_->CreateObject("ckpt", "big.pt");
  ASSERT_TRUE(writer.ok());
  const std::vector<std::byte> too_big(kBlock + 1, std::byte{2});
  const std::span<const std::byte> block(too_big);
  EXPECT_EQ(client_->PutObjectBlocks(*writer, 0, std::span(&block, 1)).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(client_->AbortObject(*writer).ok());
  EXPECT_EQ(PutBlock(*writer, 0, value).code(), StatusCode::kNotFound);
  // Key namespaces take no object writes.
  EXPECT_EQ(client_->CreateObject("kv", "x.pt").status().code(), StatusCode::kUnsupported);
}

TEST_F(CheckpointTest, RenameReplacesTheTargetAndDeleteRemoves) {
  const auto a = testing::RandomBytes(kBlock + 10, 5);
  const auto b = testing::RandomBytes(kBlock / 2, 6);
  ASSERT_TRUE(client_->WriteObject("ckpt", "tmp/step-5.pt.tmp", a).ok());
  ASSERT_TRUE(client_->WriteObject("ckpt", "step-5.pt", b).ok());
  ASSERT_TRUE(client_->RenameObject("ckpt", "tmp/step-5.pt.tmp", "step-5.pt").ok());
  EXPECT_EQ(client_->Stat("ckpt", "tmp/step-5.pt.tmp").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(testing::SameBytes(ReadAll("step-5.pt"), a));
  EXPECT_EQ(testing::ServerCounter(*client_, "object_blocks_freed"), 1u);  // b's block

  EXPECT_EQ(client_->RenameObject("ckpt", "nothing.pt", "x.pt").code(), StatusCode::kNotFound);
  ASSERT_TRUE(client_->DeleteObject("ckpt", "step-5.pt").ok());
  EXPECT_EQ(client_->Stat("ckpt", "step-5.pt").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(client_->DeleteObject("ckpt", "step-5.pt").code(), StatusCode::kNotFound);
  EXPECT_EQ(testing::ServerCounter(*client_, "object_blocks_freed"), 3u);
}

TEST_F(CheckpointTest, AKillAfterCommitLosesNothingAndUncommittedBlocksAreFreedAtRestart) {
  const auto bytes = testing::RandomBytes(4 * kBlock + 99, 7);
  ASSERT_TRUE(client_->WriteObject("ckpt", "durable.pt", bytes).ok());
  // A writer that dies halfway: two blocks put, never committed.
  auto writer = client_->CreateObject("ckpt", "halfway.pt");
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE(PutBlock(*writer, 0, bytes).ok());
  ASSERT_TRUE(PutBlock(*writer, 1, bytes).ok());

  server_->Kill();
  Start();
  EXPECT_TRUE(testing::SameBytes(ReadAll("durable.pt"), bytes));
  EXPECT_EQ(client_->Stat("ckpt", "halfway.pt").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(client_->CommitObject(*writer, 2 * kBlock).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(testing::ServerCounter(*client_, "object_blocks_freed"), 2u);
  auto all = client_->ListAll("ckpt");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 1u);
}

TEST_F(CheckpointTest, AnAbandonedSessionExpiresAndFreesItsBlocks) {
  Start(", session_ttl_ms: 100");
  const auto bytes = testing::RandomBytes(2 * kBlock, 8);
  auto abandoned = client_->CreateObject("ckpt", "abandoned.pt");
  ASSERT_TRUE(abandoned.ok());
  ASSERT_TRUE(PutBlock(*abandoned, 0, bytes).ok());
  ASSERT_TRUE(PutBlock(*abandoned, 1, bytes).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  // The next session (or the periodic sweep) drops it.
  auto next = client_->CreateObject("ckpt", "next.pt");
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(client_->CommitObject(*abandoned, bytes.size()).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(testing::ServerCounter(*client_, "write_sessions_expired"), 1u);
  while (testing::ServerCounter(*client_, "object_blocks_freed") < 2) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

TEST_F(CheckpointTest, TheQuotaRefusesBlocksPastItAndAnAbortGivesTheRoomBack) {
  Start(", quota: 128KiB");
  const auto bytes = testing::RandomBytes(3 * kBlock, 9);
  const auto over = client_->WriteObject("ckpt", "too-big.pt", bytes);
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted) << over.status().ToString();
  EXPECT_NE(over.status().message().find("quota"), std::string::npos);
  EXPECT_EQ(client_->Stat("ckpt", "too-big.pt").status().code(), StatusCode::kNotFound);
  // WriteObject aborted its session, so the room is back.
  EXPECT_TRUE(client_->WriteObject("ckpt", "fits.pt", std::span(bytes).first(2 * kBlock)).ok());
  EXPECT_EQ(client_->WriteObject("ckpt", "more.pt", std::span(bytes).first(10)).status().code(),
            StatusCode::kResourceExhausted);
}

TEST_F(CheckpointTest, AFullNvmeTierRefusesNewBlocksAndNeverEvictsCommittedOnes) {
  // 16 MiB of NVMe: checkpoint blocks are kept until deleted (no Blob here),
  // so writes stop with kResourceExhausted instead of evicting them.
  std::vector<std::vector<std::byte>> written;
  Status refused = Status::Ok();
  for (uint32_t i = 0; i < 64 && refused.ok(); ++i) {
    auto bytes = testing::RandomBytes(1 << 20, 100 + i);
    auto put = client_->WriteObject("ckpt", "fill/" + std::to_string(i), bytes);
    if (put.ok()) {
      written.push_back(std::move(bytes));
    } else {
      refused = put.status();
    }
  }
  EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted) << refused.ToString();
  ASSERT_GE(written.size(), 4u);
  for (size_t i = 0; i < written.size(); ++i) {
    EXPECT_TRUE(testing::SameBytes(ReadAll("fill/" + std::to_string(i)), written[i])) << i;
  }
}

TEST(CheckpointLargeTest, ATwoGibObjectStreamsThroughTheCliAndReadsBackWhole) {
  // No size limit but the quota: 2 GiB in 8 MiB blocks, written by the CLI
  // block by block from a file and read back with cat.
  testing::ServerProcess holder;  // only for its directory
  const std::filesystem::path dir = holder.dir();
  testing::ServerProcess server({},
                                "tiers:\n"
                                "  dram: {capacity: 64MiB}\n"
                                "  nvme: {directory: " +
                                    (dir / "nvme").string() +
                                    ", capacity: 3GiB}\n"
                                    "namespaces:\n"
                                    "  - {name: ckpt, kind: checkpoint, objects: "
                                    "{block_bytes: 8MiB}}\n");
  ASSERT_TRUE(server.Start().ok()) << server.log();
  const std::string source = (dir / "source.bin").string();
  const std::string cli = testing::BinaryPath("kvtier") +
                          " --server 127.0.0.1:" + std::to_string(server.port()) +
                          " --timeout 600000";
  ASSERT_EQ(testing::RunShell("head -c 2147483648 /dev/urandom > " + source).exit_code, 0);
  auto written = testing::RunShell(cli + " write ckpt big/model.bin " + source + " 2>&1");
  ASSERT_EQ(written.exit_code, 0) << written.out << server.log();
  auto stat = testing::RunShell(cli + " stat ckpt big/model.bin");
  EXPECT_NE(stat.out.find("size\t2147483648\n"), std::string::npos) << stat.out;
  EXPECT_NE(stat.out.find("blocks\t256\n"), std::string::npos) << stat.out;
  auto same = testing::RunShell(cli + " cat ckpt big/model.bin | cmp - " + source + " 2>&1");
  EXPECT_EQ(same.exit_code, 0) << same.out;
  std::filesystem::remove(source);
}

}  // namespace
}  // namespace kvtier
