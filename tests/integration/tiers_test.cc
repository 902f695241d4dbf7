// DRAM over NVMe through a real kvtierd: demotion under pressure, reads from
// NVMe, write-through, and warm restart after kill -9.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <random>

#include "client/client.h"
#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"

namespace kvtier {
namespace {

using client::Client;
using client::ClientOptions;
using protocol::TierId;

constexpr size_t kValue = 512 * 1024;

std::vector<std::byte> Value(uint32_t seed) {
  std::vector<std::byte> out(kValue);
  std::mt19937 random(seed);
  for (auto& b : out) b = static_cast<std::byte>(random());
  return out;
}

std::string Key(int i) { return "block-" + std::to_string(i); }

std::unique_ptr<Client> Connect(const testing::ServerProcess& server) {
  ClientOptions options;
  options.port = server.port();
  auto client = Client::Connect(options);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(*client) : nullptr;
}

void PutAll(Client& client, const std::string& ns, int count) {
  for (int i = 0; i < count; ++i) {
    const std::vector<std::string> keys = {Key(i)};
    const auto value = Value(i);
    const std::vector<std::span<const std::byte>> values = {value};
    auto put = client.Put(ns, keys, values);
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    ASSERT_TRUE(put->all_ok()) << i << ": " << put->statuses[0].ToString();
  }
}

// Reads key i; returns its tier, or kNone when absent. Fails the test when
// the bytes differ from what was written.
TierId ReadBack(Client& client, const std::string& ns, int i) {
  const std::vector<std::string> keys = {Key(i)};
  auto got = client.Get(ns, keys);
  EXPECT_TRUE(got.ok()) << got.status().ToString();
  if (!got.ok() || !got->values[0].status.ok()) return TierId::kNone;
  const auto expected = Value(i);
  EXPECT_TRUE(std::equal(got->values[0].bytes.begin(), got->values[0].bytes.end(), expected.begin(),
                         expected.end()))
      << "wrong bytes for " << Key(i);
  return got->values[0].tier;
}

uint64_t Counter(const client::StatsResult& stats, const std::string& tier,
                 const std::string& name) {
  const auto value = client::FindTierCounter(stats, tier, name);
  if (!value) ADD_FAILURE() << "no counter " << tier << "." << name;
  return value.value_or(0);
}

// Stats until the demotion queue is empty (the server writes it in the
// background).
client::StatsResult SettledStats(Client& client) {
  for (;;) {
    auto stats = client.Stats();
    EXPECT_TRUE(stats.ok());
    if (!stats.ok() || Counter(*stats, "dram", "demotion_queue_bytes") == 0) return *stats;
  }
}

TEST(TiersTest, SmallDramSpillsToNvmeAndEveryBlockReadsBack) {
  testing::ServerProcess server({"--dram-capacity", "8MiB"});
  ASSERT_TRUE(server.Start().ok()) << server.log();
  auto client = Connect(server);
  constexpr int kBlocks = 48;  // 24 MiB through 8 MiB of DRAM
  PutAll(*client, "demo", kBlocks);
  const auto stats = SettledStats(*client);
  EXPECT_GT(Counter(stats, "dram", "demotions"), 0u);
  EXPECT_LE(stats.tiers[0].used_bytes, 8u << 20);

  // Every block is in a tier and reads back intact; the early ones from
  // NVMe. (Demotions dropped for a full queue would show as misses here.)
  const uint64_t dropped = Counter(stats, "dram", "demotion_queue_full");
  int from_nvme = 0;
  int missing = 0;
  for (int i = 0; i < kBlocks; ++i) {
    const TierId tier = ReadBack(*client, "demo", i);
    if (tier == TierId::kNvme) ++from_nvme;
    if (tier == TierId::kNone) ++missing;
  }
  EXPECT_GT(from_nvme, 0);
  EXPECT_LE(static_cast<uint64_t>(missing), dropped);
  const auto after = client->Stats();
  ASSERT_TRUE(after.ok());
  EXPECT_GT(Counter(*after, "nvme", "hits"), 0u);
  EXPECT_GT(Counter(*after, "nvme", "promotions"), 0u);
  client.reset();
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

TEST(TiersTest, BlocksOnNvmeSurviveKillNine) {
  testing::ServerProcess scratch;  // only for its directory
  const std::string nvme_dir = (scratch.dir() / "shared-nvme").string();
  const std::vector<std::string> args = {"--dram-capacity", "8MiB", "--nvme-dir", nvme_dir};
  constexpr int kBlocks = 48;
  std::vector<int> on_nvme;
  {
    testing::ServerProcess first(args);
    ASSERT_TRUE(first.Start().ok()) << first.log();
    auto client = Connect(first);
    PutAll(*client, "demo", kBlocks);
    SettledStats(*client);
    std::vector<std::string> keys;
    for (int i = 0; i < kBlocks; ++i) keys.push_back(Key(i));
    auto exists = client->Exists("demo", keys);
    ASSERT_TRUE(exists.ok());
    for (int i = 0; i < kBlocks; ++i) {
      if (exists->tiers[i] == TierId::kNvme) on_nvme.push_back(i);
    }
    ASSERT_FALSE(on_nvme.empty());
    client.reset();
    first.Kill();
  }
  testing::ServerProcess second(args);
  ASSERT_TRUE(second.Start().ok()) << second.log();
  auto client = Connect(second);
  for (int i : on_nvme) EXPECT_EQ(ReadBack(*client, "demo", i), TierId::kNvme) << Key(i);
  // Whatever else comes back (nothing was in DRAM after a restart) is
  // intact too.
  for (int i = 0; i < kBlocks; ++i) ReadBack(*client, "demo", i);
  client.reset();
  EXPECT_EQ(second.Stop(), 0) << second.log();
}

TEST(TiersTest, WriteThroughBlocksSurviveKillNineWithoutDemotion) {
  testing::ServerProcess scratch;
  const std::string config =
      "tiers:\n"
      "  dram: {capacity: 64MiB}\n"
      "  nvme: {directory: " +
      (scratch.dir() / "nvme").string() +
      ", capacity: 256MiB}\n"
      "namespaces:\n"
      "  - {name: durable, write_mode: write_through}\n";
  constexpr int kBlocks = 8;  // all fit in DRAM: nothing is demoted
  {
    testing::ServerProcess first({}, config);
    ASSERT_TRUE(first.Start().ok()) << first.log();
    auto client = Connect(first);
    PutAll(*client, "durable", kBlocks);
    auto stats = client->Stats();
    ASSERT_TRUE(stats.ok());
    EXPECT_EQ(Counter(*stats, "dram", "demotions"), 0u);
    EXPECT_EQ(Counter(*stats, "nvme", "write_through_puts"), static_cast<uint64_t>(kBlocks));
    client.reset();
    first.Kill();
  }
  testing::ServerProcess second({}, config);
  ASSERT_TRUE(second.Start().ok()) << second.log();
  auto client = Connect(second);
  for (int i = 0; i < kBlocks; ++i) EXPECT_EQ(ReadBack(*client, "durable", i), TierId::kNvme);
  client.reset();
  EXPECT_EQ(second.Stop(), 0) << second.log();
}

TEST(TiersTest, DeleteRemovesTheNvmeCopy) {
  testing::ServerProcess server({"--dram-capacity", "8MiB"});
  ASSERT_TRUE(server.Start().ok()) << server.log();
  auto client = Connect(server);
  PutAll(*client, "demo", 32);
  SettledStats(*client);
  const std::vector<std::string> first = {Key(0)};
  auto where = client->Exists("demo", first);
  ASSERT_TRUE(where.ok());
  ASSERT_EQ(where->tiers[0], TierId::kNvme);
  auto deleted = client->Delete("demo", first);
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(deleted->all_ok());
  where = client->Exists("demo", first);
  ASSERT_TRUE(where.ok());
  EXPECT_EQ(where->tiers[0], TierId::kNone);
  auto got = client->Get("demo", first);
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->values[0].status.code(), StatusCode::kNotFound);
  client.reset();
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

// Whether this machine lets a process mount a tmpfs in a mount namespace of
// its own (root, or CAP_SYS_ADMIN).
bool CanMountPrivateTmpfs(const std::filesystem::path& dir) {
  const std::string command =
      "unshare --mount --propagation private -- mount -t tmpfs -o size=1m "
      "kvtier-probe '" +
      dir.string() + "' >/dev/null 2>&1";
  return std::system(command.c_str()) == 0;
}

// A kvtierd whose NVMe directory is a tmpfs of `megabytes`, mounted in a
// mount namespace that only this kvtierd sees; inside() reaches that
// directory through /proc/<pid>/root, where a filler file takes space and
// removing it gives the space back. Its config: a DRAM tier of `dram`, an
// NVMe tier of 1GiB (more than the disk) in segments of `segment`, and
// `namespaces` (YAML list lines, "  - {...}\n" each).
class SmallDiskServer {
 public:
  SmallDiskServer(int megabytes, const std::string& dram, const std::string& segment,
                  const std::string& namespaces) {
    const auto probe = scratch_.dir() / "probe";
    std::filesystem::create_directories(probe);
    supported_ = CanMountPrivateTmpfs(probe);
    nvme_dir_ = scratch_.dir() / "small-disk";
    std::filesystem::create_directories(nvme_dir_);
    config_ = "tiers:\n  dram: {capacity: " + dram +
              "}\n  nvme: {directory: " + nvme_dir_.string() +
              ", capacity: 1GiB, segment_bytes: " + segment + "}\nnamespaces:\n" + namespaces;
    server_ = std::make_unique<testing::ServerProcess>(std::vector<std::string>{}, config_);
    server_->set_launcher({"unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                           "mount -t tmpfs -o size=" + std::to_string(megabytes) +
                               "m kvtier-small-disk \"$0\" && exec \"$@\"",
                           nvme_dir_.string()});
  }
  // Whether this machine can mount such a tmpfs (else the test skips).
  bool supported() const { return supported_; }
  testing::ServerProcess& server() { return *server_; }
  // The NVMe directory as the running server sees it.
  std::filesystem::path inside() const {
    return std::filesystem::path("/proc/" + std::to_string(server_->pid()) + "/root") /
           nvme_dir_.relative_path();
  }

 private:
  testing::ServerProcess scratch_;  // only for its directory
  bool supported_ = false;
  std::filesystem::path nvme_dir_;
  std::string config_;
  std::unique_ptr<testing::ServerProcess> server_;
};

Status PutOne(Client& client, const std::string& ns, int i) {
  const std::vector<std::string> keys = {Key(i)};
  const auto value = Value(i);
  const std::vector<std::span<const std::byte>> values = {value};
  auto put = client.Put(ns, keys, values);
  if (!put.ok()) return put.status();
  return put->statuses[0];
}

// The NVMe directory is a 24 MiB tmpfs, mounted in a mount namespace that
// only this kvtierd sees; the test reaches into it through
// /proc/<pid>/root. A filler file takes part of the space so that freeing
// space can be shown too.
TEST(TiersTest, FullDiskRefusesNvmeWritesWhileReadsAndDramGoOn) {
  SmallDiskServer disk(24, "8MiB", "4MiB",
                       "  - {name: durable, write_mode: write_through}\n"
                       "  - {name: cached}\n"
                       "  - {name: memory, tiers: [dram]}\n");
  if (!disk.supported()) GTEST_SKIP() << "cannot mount a tmpfs in a mount namespace";
  testing::ServerProcess& server = disk.server();
  ASSERT_TRUE(server.Start().ok()) << server.log();
  const auto inside = disk.inside();
  ASSERT_EQ(std::system(("dd if=/dev/zero of='" + (inside / "filler").string() +
                         "' bs=1M count=6 status=none")
                            .c_str()),
            0);
  auto client = Connect(server);

  // Write-through puts until the disk is full: the refusal is typed and
  // retryable, and nothing acknowledged before it is lost.
  int acknowledged = 0;
  Status refused;
  for (int i = 0; i < 100; ++i) {
    refused = PutOne(*client, "durable", i);
    if (!refused.ok()) break;
    ++acknowledged;
  }
  ASSERT_FALSE(refused.ok()) << "24 MiB never filled up";
  EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted) << refused.ToString();
  EXPECT_GT(acknowledged, 8);
  auto stats = client->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(Counter(*stats, "nvme", "disk_full"), 1u);
  for (int i = 0; i < acknowledged; ++i) EXPECT_NE(ReadBack(*client, "durable", i), TierId::kNone);

  // DRAM goes on: memory-only and write-back namespaces still take puts.
  // (Each is read back at once: 8 MiB of DRAM holds few blocks.)
  for (int i = 0; i < 4; ++i) {
    EXPECT_TRUE(PutOne(*client, "memory", i).ok());
    EXPECT_EQ(ReadBack(*client, "memory", i), TierId::kDram);
    EXPECT_TRUE(PutOne(*client, "cached", i).ok());
    EXPECT_EQ(ReadBack(*client, "cached", i), TierId::kDram);
  }

  // Space returns: writes are taken again.
  std::filesystem::remove(inside / "filler");
  const Status retaken = PutOne(*client, "durable", 1000);
  EXPECT_TRUE(retaken.ok()) << retaken.ToString() << "\n" << server.log();
  stats = client->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(Counter(*stats, "nvme", "disk_full"), 0u);
  EXPECT_NE(ReadBack(*client, "durable", 1000), TierId::kNone);
  client.reset();
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

// The disk fills up and frees again, several times, while write-through and
// write-back namespaces keep writing and blocks are erased on the full disk:
// the server stays up, refuses while full, takes writes again each time
// space returns, and loses nothing it acknowledged.
TEST(TiersTest, RepeatedFullDisksNeverStopTheServer) {
  SmallDiskServer disk(32, "4MiB", "2MiB",
                       "  - {name: durable, write_mode: write_through}\n"
                       "  - {name: cached}\n");
  if (!disk.supported()) GTEST_SKIP() << "cannot mount a tmpfs in a mount namespace";
  testing::ServerProcess& server = disk.server();
  ASSERT_TRUE(server.Start().ok()) << server.log();
  const auto inside = disk.inside();
  // Fillers of 1 MiB each, freed a few at a time.
  constexpr int kFillers = 20;
  for (int f = 0; f < kFillers; ++f) {
    ASSERT_EQ(
        std::system(("dd if=/dev/zero of='" + (inside / ("filler-" + std::to_string(f))).string() +
                     "' bs=1M count=1 status=none")
                        .c_str()),
        0);
  }
  auto client = Connect(server);

  std::vector<int> acknowledged;
  int next = 0;
  int freed = 0;
  for (int cycle = 0; cycle < 6; ++cycle) {
    // Write until the disk refuses: write-through puts (synced index
    // writes) and write-back puts (whose DRAM evictions demote to NVMe).
    Status refused;
    for (int attempt = 0; attempt < 200 && refused.ok(); ++attempt) {
      const int i = next++;
      refused = PutOne(*client, "durable", i);
      if (refused.ok()) acknowledged.push_back(i);
      ASSERT_TRUE(PutOne(*client, "cached", 100000 + i).ok());  // DRAM takes it
    }
    ASSERT_FALSE(refused.ok()) << "cycle " << cycle << ": the disk never filled up";
    EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted) << refused.ToString();
    // Take the last free bytes too, then erase a block: its index delete is
    // an index write alone (RocksDB's WAL fails it when it needs a new page),
    // and the block is gone at once either way.
    const int filled = std::system(("dd if=/dev/zero of='" +
                                    (inside / ("tail-" + std::to_string(cycle))).string() +
                                    "' bs=4k status=none 2>/dev/null")
                                       .c_str());
    (void)filled;  // dd stops with an error at the full disk
    const int erased = acknowledged.front();
    acknowledged.erase(acknowledged.begin());
    auto deleted = client->Delete("durable", std::vector<std::string>{Key(erased)});
    ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
    EXPECT_EQ(ReadBack(*client, "durable", erased), TierId::kNone) << Key(erased);
    std::filesystem::remove(inside / ("tail-" + std::to_string(cycle)));
    // Space returns.
    for (int f = 0; f < 3 && freed < kFillers; ++f, ++freed) {
      std::filesystem::remove(inside / ("filler-" + std::to_string(freed)));
    }
    const Status retaken = PutOne(*client, "durable", next);
    ASSERT_TRUE(retaken.ok()) << "cycle " << cycle << ": " << retaken.ToString() << "\n"
                              << server.log();
    acknowledged.push_back(next++);
  }
  for (int i : acknowledged) EXPECT_NE(ReadBack(*client, "durable", i), TierId::kNone) << Key(i);
  client.reset();
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

// Index writes themselves fail on a full disk: every block is erased while
// the disk is full (an erase is an index write alone, and RocksDB's WAL
// needs new pages for them), then space returns. RocksDB's own recovery
// would wait for more free space than its write buffer; the tier reopens
// its index instead, and writes go on at once.
TEST(TiersTest, IndexWritesResumeWhenSpaceReturnsAfterTheyFailed) {
  SmallDiskServer disk(16, "4MiB", "1MiB", "  - {name: durable, write_mode: write_through}\n");
  if (!disk.supported()) GTEST_SKIP() << "cannot mount a tmpfs in a mount namespace";
  testing::ServerProcess& server = disk.server();
  ASSERT_TRUE(server.Start().ok()) << server.log();
  const auto inside = disk.inside();
  auto client = Connect(server);
  const std::vector<std::byte> value(4096, std::byte{7});
  auto put = [&](const std::string& key) -> Status {
    const std::vector<std::string> keys = {key};
    const std::vector<std::span<const std::byte>> values = {value};
    auto put = client->Put("durable", keys, values);
    return put.ok() ? put->statuses[0] : put.status();
  };
  constexpr int kBlocks = 1500;
  for (int i = 0; i < kBlocks; ++i) ASSERT_TRUE(put("k" + std::to_string(i)).ok()) << i;

  const int filled = std::system(
      ("dd if=/dev/zero of='" + (inside / "tail").string() + "' bs=4k status=none 2>/dev/null")
          .c_str());
  (void)filled;  // dd stops with an error at the full disk
  for (int i = 0; i < kBlocks; ++i) {
    auto deleted = client->Delete("durable", std::vector<std::string>{"k" + std::to_string(i)});
    ASSERT_TRUE(deleted.ok()) << i << ": " << deleted.status().ToString();
  }
  auto stats = client->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_GT(Counter(*stats, "nvme", "io_errors"), 0u) << "no index write failed";
  for (int i = 0; i < kBlocks; i += 100) {
    auto got = client->Get("durable", std::vector<std::string>{"k" + std::to_string(i)});
    ASSERT_TRUE(got.ok());
    EXPECT_EQ(got->values[0].status.code(), StatusCode::kNotFound) << i;  // erased at once
  }

  std::filesystem::remove(inside / "tail");
  for (int i = 0; i < 50; ++i) {
    const Status again = put("again" + std::to_string(i));
    ASSERT_TRUE(again.ok()) << i << ": " << again.ToString() << "\n" << server.log();
  }
  stats = client->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_GT(Counter(*stats, "nvme", "index_reopens"), 0u);
  client.reset();
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

// The checkpoint catalog's own writes fail on a full disk (object commits
// after their blocks are on NVMe), then space returns: commits go on at
// once, and every acknowledged commit reads back.
TEST(TiersTest, CheckpointCommitsResumeWhenSpaceReturnsAfterTheyFailed) {
  SmallDiskServer disk(16, "4MiB", "1MiB",
                       "  - {name: ckpt, kind: checkpoint, objects: {block_bytes: 4KiB}}\n");
  if (!disk.supported()) GTEST_SKIP() << "cannot mount a tmpfs in a mount namespace";
  testing::ServerProcess& server = disk.server();
  ASSERT_TRUE(server.Start().ok()) << server.log();
  const auto inside = disk.inside();
  auto client = Connect(server);
  const std::vector<std::byte> bytes(4096, std::byte{9});
  const std::vector<std::span<const std::byte>> blocks = {bytes};
  constexpr int kObjects = 400;
  std::vector<client::ObjectWriter> writers;
  for (int i = 0; i < kObjects; ++i) {
    auto writer = client->CreateObject("ckpt", "step-" + std::to_string(i) + ".pt");
    ASSERT_TRUE(writer.ok()) << writer.status().ToString();
    ASSERT_TRUE(client->PutObjectBlocks(*writer, 0, blocks).ok()) << i;
    writers.push_back(*writer);
  }

  const int filled = std::system(
      ("dd if=/dev/zero of='" + (inside / "tail").string() + "' bs=4k status=none 2>/dev/null")
          .c_str());
  (void)filled;  // dd stops with an error at the full disk
  std::vector<int> committed;
  int refused = 0;
  for (int i = 0; i < kObjects; ++i) {
    auto entry = client->CommitObject(writers[i], bytes.size());
    if (entry.ok()) {
      committed.push_back(i);
    } else {
      EXPECT_EQ(entry.status().code(), StatusCode::kResourceExhausted) << entry.status().ToString();
      ++refused;
    }
  }
  EXPECT_GT(refused, 0) << "no commit met the full disk";

  std::filesystem::remove(inside / "tail");
  for (int i = 0; i < 20; ++i) {
    auto written = client->WriteObject("ckpt", "after-" + std::to_string(i) + ".pt", bytes);
    ASSERT_TRUE(written.ok()) << i << ": " << written.status().ToString() << "\n" << server.log();
  }
  for (int i : committed) {
    EXPECT_TRUE(testing::SameBytes(
        testing::ReadObject(*client, "ckpt", "step-" + std::to_string(i) + ".pt"), bytes))
        << i;
  }
  client.reset();
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

}  // namespace
}  // namespace kvtier
