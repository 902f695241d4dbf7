// Dataset namespaces through a real kvtierd over a real Azurite origin:
// read-through, one origin read for many concurrent readers, block bounds,
// and a changed source never mixing versions.

#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include "client/client.h"
#include "client/fuse/object_fs.h"
#include "common/keys.h"
#include "tests/support/azurite_process.h"
#include "tests/support/server_process.h"
#include "tiers/blob/blob_client.h"

namespace kvtier {
namespace {

using client::Client;
using protocol::TierId;

constexpr uint64_t kBlock = 1 << 20;

std::vector<std::byte> Bytes(size_t size, uint32_t seed) {
  std::vector<std::byte> out(size);
  std::mt19937 random(seed);
  for (auto& b : out) b = static_cast<std::byte>(random());
  return out;
}

uint64_t Counter(const client::StatsResult& stats, const std::string& tier,
                 const std::string& name) {
  const auto value = client::FindTierCounter(stats, tier, name);
  if (!value) ADD_FAILURE() << "no counter " << tier << "." << name;
  return value.value_or(0);
}

std::string BlockKey(const std::string& object, uint64_t index) {
  auto key = ObjectBlockKey(object, index, 256);
  EXPECT_TRUE(key.ok());
  return key.ok() ? *key : "";
}

class DatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(azurite_.Start().ok()) << azurite_.log();
    tiers::blob::BlobClientOptions options;
    options.endpoint = azurite_.endpoint();
    options.account = testing::kAzuriteAccount;
    options.account_key = testing::kAzuriteKey;
    options.container = "training";
    auto origin = tiers::blob::BlobClient::Create(options);
    ASSERT_TRUE(origin.ok());
    origin_ = std::move(*origin);
    ASSERT_TRUE(origin_->CreateContainer().ok());
    object_ = Bytes(2 * kBlock + kBlock / 2, 1);  // three blocks, the last one half
    ASSERT_TRUE(origin_->PutBlob("shards/train-0001.bin", object_, {}, false).ok());

    large_ = Bytes(24 * kBlock, 3);  // three times the DRAM tier
    ASSERT_TRUE(origin_->PutBlob("shards/train-0002.bin", large_, {}, false).ok());

    char pattern[] = "/tmp/kvtier-dataset-nvme-XXXXXX";
    nvme_dir_ = mkdtemp(pattern);
    setenv("KVTIER_TEST_BLOB_KEY", testing::kAzuriteKey, 1);
    const std::string config =
        "tiers:\n"
        "  dram: {capacity: 8MiB}\n"
        "  nvme: {directory: " +
        nvme_dir_.string() +
        ", capacity: 256MiB, segment_bytes: 4MiB}\n"
        "  blob: {endpoint: '" +
        azurite_.endpoint() +
        "', account: devstoreaccount1, key_env: KVTIER_TEST_BLOB_KEY, "
        "operation_timeout_ms: 3000}\n"
        "namespaces:\n"
        "  - name: dataset\n"
        "    kind: dataset\n"
        "    tiers: [dram, nvme]\n"
        "    origin: {container: training, prefix: shards/, block_bytes: "
        "1MiB}\n"
        "  - name: kv\n"
        "    tiers: [dram]\n";
    config_ = config;
    server_ = std::make_unique<testing::ServerProcess>(std::vector<std::string>{}, config);
    ASSERT_TRUE(server_->Start().ok()) << server_->log();
  }

  std::unique_ptr<Client> Connect() {
    client::ClientOptions options;
    options.port = server_->port();
    auto client = Client::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }

  uint64_t NamespaceCounter(const std::string& ns, const std::string& name) {
    auto client = Connect();
    if (client == nullptr) return 0;
    auto stats = client->Stats();
    if (!stats.ok()) return 0;
    for (const auto& entry : stats->namespaces) {
      if (entry.name != ns) continue;
      for (const auto& counter : entry.counters) {
        if (counter.name == name) return counter.value;
      }
    }
    ADD_FAILURE() << "no counter " << ns << "." << name;
    return 0;
  }

  // Whether `got` is block `index` of `object`.
  static bool IsBlock(std::span<const std::byte> got, const std::vector<std::byte>& object,
                      uint64_t index) {
    const uint64_t offset = index * kBlock;
    const uint64_t length = std::min<uint64_t>(kBlock, object.size() - offset);
    return got.size() == length && std::memcmp(got.data(), object.data() + offset, length) == 0;
  }

  void TearDown() override {
    server_.reset();
    std::error_code ec;
    std::filesystem::remove_all(nvme_dir_, ec);
  }

  testing::AzuriteProcess azurite_;
  std::unique_ptr<tiers::blob::BlobClient> origin_;
  std::vector<std::byte> object_;
  std::vector<std::byte> large_;
  std::filesystem::path nvme_dir_;
  std::string config_;
  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(DatasetTest, ThirtyTwoConcurrentReadersCauseOneOriginRead) {
  constexpr int kReaders = 32;
  const std::vector<std::string> keys = {BlockKey("train-0001.bin", 1)};
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < kReaders; ++i) clients.push_back(Connect());
  std::vector<int> correct(kReaders, 0);
  std::vector<std::thread> readers;
  for (int i = 0; i < kReaders; ++i) {
    readers.emplace_back([&, i] {
      auto got = clients[i]->Get("dataset", keys);
      correct[i] =
          got.ok() && got->values[0].status.ok() && IsBlock(got->values[0].bytes, object_, 1);
    });
  }
  for (auto& t : readers) t.join();
  for (int i = 0; i < kReaders; ++i) EXPECT_TRUE(correct[i]) << "reader " << i;
  auto stats = clients[0]->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(Counter(*stats, "origin/dataset", "reads"), 1u);
  EXPECT_EQ(Counter(*stats, "origin/dataset", "fills"), 1u);
  // The origin filled the block in DRAM's own memory: kept without a copy.
  EXPECT_EQ(Counter(*stats, "dram", "copied_puts"), 0u);

  // Now a DRAM hit: no more origin reads.
  auto again = clients[0]->Get("dataset", keys);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->values[0].tier, TierId::kDram);
  stats = clients[0]->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(Counter(*stats, "origin/dataset", "reads"), 1u);
}

TEST_F(DatasetTest, BlocksFollowTheObjectsBoundaries) {
  auto client = Connect();
  const std::vector<std::string> keys = {
      BlockKey("train-0001.bin", 0), BlockKey("train-0001.bin", 2), BlockKey("train-0001.bin", 3),
      BlockKey("missing.bin", 0), "not a dataset key"};
  auto got = client->Get("dataset", keys);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->values[0].status.ok()) << got->values[0].status.ToString();
  EXPECT_TRUE(IsBlock(got->values[0].bytes, object_, 0));
  EXPECT_EQ(got->values[0].tier, TierId::kBlob);
  ASSERT_TRUE(got->values[1].status.ok());
  EXPECT_TRUE(IsBlock(got->values[1].bytes, object_, 2));          // the short last block
  EXPECT_EQ(got->values[2].status.code(), StatusCode::kNotFound);  // past the end
  EXPECT_EQ(got->values[3].status.code(), StatusCode::kNotFound);  // no such object
  EXPECT_EQ(got->values[4].status.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(server_->running());
}

TEST_F(DatasetTest, AChangedSourceIsReadWhole) {
  auto client = Connect();
  const std::vector<std::string> first = {BlockKey("train-0001.bin", 0)};
  auto got = client->Get("dataset", first);
  ASSERT_TRUE(got.ok() && got->values[0].status.ok());
  EXPECT_TRUE(IsBlock(got->values[0].bytes, object_, 0));

  // The source is replaced; the next block comes whole from the new version.
  const auto replaced = Bytes(3 * kBlock, 2);
  ASSERT_TRUE(origin_->PutBlob("shards/train-0001.bin", replaced, {}, false).ok());
  const std::vector<std::string> second = {BlockKey("train-0001.bin", 2)};
  got = client->Get("dataset", second);
  ASSERT_TRUE(got.ok() && got->values[0].status.ok()) << got->values[0].status.ToString();
  EXPECT_TRUE(IsBlock(got->values[0].bytes, replaced, 2));
  auto stats = client->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(Counter(*stats, "origin/dataset", "source_changes"), 1u);
}

TEST_F(DatasetTest, EvictedDatasetBlocksAreServedFromNvmeWithoutAnotherOriginRead) {
  auto client = Connect();
  constexpr int kBlocks = 24;
  for (int i = 0; i < kBlocks; ++i) {
    const std::vector<std::string> keys = {BlockKey("train-0002.bin", i)};
    auto got = client->Get("dataset", keys);
    ASSERT_TRUE(got.ok() && got->values[0].status.ok()) << i;
    EXPECT_TRUE(IsBlock(got->values[0].bytes, large_, i)) << i;
  }
  // Evictions are written to NVMe in the background.
  client::StatsResult stats;
  do {
    auto now = client->Stats();
    ASSERT_TRUE(now.ok());
    stats = *now;
  } while (Counter(stats, "dram", "demotion_queue_bytes") != 0);
  EXPECT_EQ(Counter(stats, "origin/dataset", "reads"), static_cast<uint64_t>(kBlocks));
  EXPECT_GT(Counter(stats, "dram", "demotions"), 0u);

  const std::vector<std::string> first = {BlockKey("train-0002.bin", 0)};
  auto got = client->Get("dataset", first);
  ASSERT_TRUE(got.ok() && got->values[0].status.ok());
  EXPECT_EQ(got->values[0].tier, TierId::kNvme);
  EXPECT_TRUE(IsBlock(got->values[0].bytes, large_, 0));
  auto after = client->Stats();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(Counter(*after, "origin/dataset", "reads"), static_cast<uint64_t>(kBlocks));
}

TEST_F(DatasetTest, OriginDownFailsMissesWhileCachedBlocksAreServed) {
  auto client = Connect();
  const std::vector<std::string> cached = {BlockKey("train-0001.bin", 0)};
  auto got = client->Get("dataset", cached);
  ASSERT_TRUE(got.ok() && got->values[0].status.ok());
  azurite_.Kill();
  // Cached: still served, from DRAM.
  got = client->Get("dataset", cached);
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->values[0].status.ok()) << got->values[0].status.ToString();
  EXPECT_EQ(got->values[0].tier, TierId::kDram);
  // Not cached: a clear, retryable error once the retries are spent.
  const std::vector<std::string> missing = {BlockKey("train-0001.bin", 1)};
  got = client->Get("dataset", missing);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->values[0].status.code(), StatusCode::kUnavailable)
      << got->values[0].status.ToString();
  EXPECT_TRUE(got->values[0].status.retryable());
  EXPECT_TRUE(server_->running());
  auto stats = client->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_GE(Counter(*stats, "origin/dataset", "errors"), 1u);
}

// ---- Objects: List, Stat and ReadRange over the origin's container ----

class DatasetObjectsTest : public DatasetTest {
 protected:
  void SetUp() override {
    DatasetTest::SetUp();
    small_ = Bytes(1000, 5);
    ASSERT_TRUE(origin_->PutBlob("shards/val/a.bin", small_, {}, false).ok());
    ASSERT_TRUE(origin_->PutBlob("shards/val/b.bin", small_, {}, false).ok());
    ASSERT_TRUE(origin_->PutBlob("elsewhere/c.bin", small_, {}, false).ok());
  }
  std::vector<std::byte> small_;
};

TEST_F(DatasetObjectsTest, ListsTheContainerUnderThePrefixOnceAndPagesThroughIt) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);

  auto all = client->ListAll("dataset");
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  std::vector<std::string> paths;
  for (const auto& object : *all) paths.push_back(object.path);
  EXPECT_EQ(paths, (std::vector<std::string>{"train-0001.bin", "train-0002.bin", "val/a.bin",
                                             "val/b.bin"}));
  EXPECT_EQ((*all)[0].size, object_.size());
  EXPECT_EQ((*all)[0].block_bytes, kBlock);
  EXPECT_FALSE((*all)[0].version.empty());
  EXPECT_GT((*all)[0].modified_ms, 0u);

  // One level with a delimiter: the directory once, the objects beside it.
  auto top = client->List("dataset", "", "/");
  ASSERT_TRUE(top.ok());
  EXPECT_EQ(top->prefixes, std::vector<std::string>{"val/"});
  ASSERT_EQ(top->objects.size(), 2u);
  EXPECT_TRUE(top->next_page_token.empty());

  // Pages of one entry each reach every object, in order.
  std::vector<std::string> paged;
  std::string token;
  int pages = 0;
  do {
    auto page = client->List("dataset", "", "", token, 1);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    ASSERT_EQ(page->objects.size(), 1u);
    paged.push_back(page->objects[0].path);
    token = page->next_page_token;
    ASSERT_LT(++pages, 10);
  } while (!token.empty());
  EXPECT_EQ(paged, paths);

  auto stats = client->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(Counter(*stats, "origin/dataset", "listings"), 1u);  // cached since
}

TEST_F(DatasetObjectsTest, StatAndReadRangeServeBytesAcrossBlockBoundaries) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  auto object = client->Stat("dataset", "train-0001.bin");
  ASSERT_TRUE(object.ok()) << object.status().ToString();
  EXPECT_EQ(object->size, object_.size());

  // 300 bytes straddling the first block boundary.
  std::vector<std::byte> range(300);
  auto read = client->ReadRange("dataset", "train-0001.bin", kBlock - 100, range);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->length, 300u);
  EXPECT_EQ(read->object.version, object->version);
  EXPECT_EQ(std::memcmp(range.data(), object_.data() + kBlock - 100, 300), 0);

  // The whole object in one call, and a read clipped at its end.
  std::vector<std::byte> whole(object_.size() + 4096);
  read = client->ReadRange("dataset", "train-0001.bin", 0, whole);
  ASSERT_TRUE(read.ok()) << read.status().ToString();
  EXPECT_EQ(read->length, object_.size());
  EXPECT_EQ(std::memcmp(whole.data(), object_.data(), object_.size()), 0);

  read = client->ReadRange("dataset", "train-0001.bin", object_.size(), range);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->length, 0u);

  // Every block was read from the origin once, for both reads together.
  auto stats = client->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(Counter(*stats, "origin/dataset", "reads"), 3u);
}

TEST_F(DatasetObjectsTest, MissingObjectsAndKeyNamespacesAnswerClearly) {
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->Stat("dataset", "no-such.bin").status().code(), StatusCode::kNotFound);
  std::vector<std::byte> buffer(10);
  EXPECT_EQ(client->ReadRange("dataset", "no-such.bin", 0, buffer).status().code(),
            StatusCode::kNotFound);
  // A path never climbs out of the namespace's prefix.
  EXPECT_EQ(client->Stat("dataset", "../elsewhere/c.bin").status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Stat("dataset", "val/./a.bin").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Stat("dataset", std::string("a\0b", 3)).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Stat("nope", "a").status().code(), StatusCode::kUnknownNamespace);
  // A namespace of keys holds no objects.
  auto listing = client->List("kv");
  EXPECT_EQ(listing.status().code(), StatusCode::kUnsupported);
  EXPECT_NE(listing.status().message().find("holds no objects"), std::string::npos);
  EXPECT_EQ(client->Stat("kv", "a").status().code(), StatusCode::kUnsupported);
}

TEST_F(DatasetObjectsTest, TheCliListsStatsAndCatsObjects) {
  const std::string kvtier =
      testing::BinaryPath("kvtier") + " --server 127.0.0.1:" + std::to_string(server_->port());
  auto ls = testing::RunShell(kvtier + " ls dataset");
  ASSERT_EQ(ls.exit_code, 0) << ls.out;
  EXPECT_NE(ls.out.find("PRE val/\n"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find(std::to_string(object_.size()) + "\t"), std::string::npos) << ls.out;
  EXPECT_NE(ls.out.find("\ttrain-0002.bin\n"), std::string::npos) << ls.out;

  auto stat = testing::RunShell(kvtier + " stat dataset train-0001.bin");
  ASSERT_EQ(stat.exit_code, 0) << stat.out;
  EXPECT_NE(stat.out.find("size\t" + std::to_string(object_.size()) + "\n"), std::string::npos);
  EXPECT_NE(stat.out.find("blocks\t3\n"), std::string::npos) << stat.out;

  // Bytes 10..29 of val/a.bin, exactly.
  auto cat = testing::RunShell(kvtier + " cat dataset val/a.bin 10 20");
  ASSERT_EQ(cat.exit_code, 0) << cat.out;
  ASSERT_EQ(cat.out.size(), 20u);
  EXPECT_EQ(std::memcmp(cat.out.data(), small_.data() + 10, 20), 0);
  auto whole = testing::RunShell(kvtier + " cat dataset train-0001.bin");
  ASSERT_EQ(whole.exit_code, 0);
  ASSERT_EQ(whole.out.size(), object_.size());
  EXPECT_EQ(std::memcmp(whole.out.data(), object_.data(), object_.size()), 0);

  auto missing = testing::RunShell(kvtier + " cat dataset nope.bin 2>&1");
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.out.find("not_found"), std::string::npos) << missing.out;
}

// The mount's reads without a mount: FUSE's threads may take the kernel's
// reads out of order, and a read that arrives after later ones must still
// find its chunk rather than ask the server again.
TEST_F(DatasetObjectsTest, AReadThatArrivesLateFindsItsChunkStillHeld) {
  client::SessionOptions options;
  options.client.port = server_->port();
  client::ServerSession session(options);
  client::ObjectFs fs(session, client::FsOptions{});
  uint64_t handle = 0;
  ASSERT_EQ(fs.Open("/dataset/train-0002.bin", O_RDONLY, &handle), 0);
  std::vector<char> got(large_.size());
  const auto read = [&](uint64_t offset, uint64_t size) {
    EXPECT_EQ(fs.Read(handle, got.data() + offset, size, offset), static_cast<int64_t>(size));
  };
  read(0, kBlock / 2);  // the first half of chunk 0; its second half comes late
  for (uint64_t chunk = 1; chunk < 10; ++chunk) read(chunk * kBlock, kBlock);
  read(kBlock / 2, kBlock / 2);
  for (uint64_t chunk = 10; chunk < 24; ++chunk) read(chunk * kBlock, kBlock);
  fs.Release(handle);
  EXPECT_EQ(std::memcmp(got.data(), large_.data(), large_.size()), 0);
  // Every chunk was asked for once.
  EXPECT_EQ(NamespaceCounter("dataset", "get_bytes"), large_.size());
}

// ---- The same objects as files through kvtier-fuse ----

class DatasetMountTest : public DatasetObjectsTest {
 protected:
  void SetUp() override {
    if (!std::filesystem::exists("/dev/fuse")) GTEST_SKIP() << "no /dev/fuse on this machine";
    DatasetObjectsTest::SetUp();
    if (HasFatalFailure()) return;
    char pattern[] = "/tmp/kvtier-mount-XXXXXX";
    mount_ = mkdtemp(pattern);
    // Without -f it returns once the mount is in place, serving from the
    // background.
    auto run = testing::RunShell(testing::BinaryPath("kvtier-fuse") + " --server 127.0.0.1:" +
                                 std::to_string(server_->port()) + " --retry-ms 20000 " +
                                 ExtraMountOptions() + mount_.string() + " 2>&1");
    ASSERT_EQ(run.exit_code, 0) << run.out;
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) testing::RunShell("fusermount3 -u " + mount_.string() + " 2>&1");
    std::error_code ec;
    if (!mount_.empty()) std::filesystem::remove(mount_, ec);
    DatasetObjectsTest::TearDown();
  }
  virtual std::string ExtraMountOptions() const { return ""; }
  std::string At(const std::string& relative) const { return (mount_ / relative).string(); }
  // The bytes a shell command printed.
  static std::string Shell(const std::string& command) {
    auto run = testing::RunShell(command);
    EXPECT_EQ(run.exit_code, 0) << command << ": " << run.out;
    return run.out;
  }
  static bool Same(const std::string& got, const std::vector<std::byte>& want,
                   uint64_t offset = 0) {
    return want.size() >= offset + got.size() &&
           std::memcmp(got.data(), want.data() + offset, got.size()) == 0;
  }

  // Bytes the server sent for two `cat`s of `relative` made while this process
  // holds the file mapped and locked. The kernel may reclaim page cache at any
  // time (this VM's does so proactively, with most of its memory free: pages
  // of a file read a second before were seen gone); a locked mapping keeps
  // the file's pages, so what this measures is the mount's part: a file read
  // through the page cache is served by the kernel from then on, and opening
  // it again does not drop its pages (keep_cache; without it every open
  // would). A direct-I/O file is read from the server each time.
  uint64_t ServerBytesOfTwoCatsWhilePinned(const std::string& relative,
                                           const std::vector<std::byte>& want) {
    const std::string path = At(relative);
    const int fd = open(path.c_str(), O_RDONLY);
    EXPECT_GE(fd, 0) << std::strerror(errno);
    if (fd < 0) return 0;
    void* mapped = mmap(nullptr, want.size(), PROT_READ, MAP_SHARED, fd, 0);
    EXPECT_NE(mapped, MAP_FAILED) << std::strerror(errno);
    if (mapped == MAP_FAILED) return close(fd), 0;
    EXPECT_EQ(mlock(mapped, want.size()), 0) << std::strerror(errno);  // read once, held
    EXPECT_EQ(std::memcmp(mapped, want.data(), want.size()), 0);
    const uint64_t before = NamespaceCounter("dataset", "get_bytes");
    for (int i = 0; i < 2; ++i) {
      const std::string got = Shell("cat " + path);
      EXPECT_EQ(got.size(), want.size());
      EXPECT_TRUE(Same(got, want));
    }
    const uint64_t sent = NamespaceCounter("dataset", "get_bytes") - before;
    munmap(mapped, want.size());
    close(fd);
    return sent;
  }

  std::filesystem::path mount_;
  bool mounted_ = false;
};

TEST_F(DatasetMountTest, PlainToolsListAndReadTheObjectsAsFiles) {
  // Only namespaces that hold objects appear.
  EXPECT_EQ(Shell("ls " + At("")), "dataset\n");
  EXPECT_EQ(Shell("ls " + At("dataset")), "train-0001.bin\ntrain-0002.bin\nval\n");
  EXPECT_EQ(Shell("ls " + At("dataset/val")), "a.bin\nb.bin\n");
  EXPECT_EQ(Shell("stat -c %s " + At("dataset/train-0002.bin")),
            std::to_string(large_.size()) + "\n");
  EXPECT_EQ(Shell("stat -c %F " + At("dataset/val")), "directory\n");

  const std::string whole = Shell("cat " + At("dataset/train-0002.bin"));
  ASSERT_EQ(whole.size(), large_.size());
  EXPECT_TRUE(Same(whole, large_));
  // Read-ahead asked for every byte once, whatever order the kernel's own
  // read-ahead sent its reads in.
  EXPECT_EQ(NamespaceCounter("dataset", "get_bytes"), large_.size());
  // 3 x 4 KiB from the middle of block 5, as dd reads it.
  const std::string part =
      Shell("dd if=" + At("dataset/train-0001.bin") + " bs=4096 skip=300 count=3 status=none");
  ASSERT_EQ(part.size(), 3u * 4096);
  EXPECT_TRUE(Same(part, object_, 300 * 4096));
  const std::string copied = Shell("cp " + At("dataset/val/a.bin") + " /dev/stdout");
  EXPECT_TRUE(Same(copied, small_));
  EXPECT_EQ(copied.size(), small_.size());
}

TEST_F(DatasetMountTest, ErrorsAreTheErrnoProgramsExpect) {
  auto missing = testing::RunShell("cat " + At("dataset/nope.bin") + " 2>&1");
  EXPECT_NE(missing.exit_code, 0);
  EXPECT_NE(missing.out.find("No such file"), std::string::npos) << missing.out;
  auto write = testing::RunShell("touch " + At("dataset/new.bin") + " 2>&1");
  EXPECT_NE(write.exit_code, 0);
  EXPECT_NE(write.out.find("Read-only file system"), std::string::npos) << write.out;
  auto remove = testing::RunShell("rm " + At("dataset/val/a.bin") + " 2>&1");
  EXPECT_NE(remove.exit_code, 0);
  EXPECT_NE(remove.out.find("Read-only file system"), std::string::npos) << remove.out;
}

TEST_F(DatasetMountTest, ReadersOfTheMountAndOfTheServerShareOneOriginReadPerBlock) {
  const std::string kvtier =
      testing::BinaryPath("kvtier") + " --server 127.0.0.1:" + std::to_string(server_->port());
  for (int round = 0; round < 3; ++round) {
    ASSERT_TRUE(Same(Shell("cat " + At("dataset/train-0001.bin")), object_));
    ASSERT_TRUE(Same(Shell(kvtier + " cat dataset train-0001.bin"), object_));
  }
  auto client = Connect();
  ASSERT_NE(client, nullptr);
  auto stats = client->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(Counter(*stats, "origin/dataset", "reads"), 3u);  // its three blocks, once each
}

// Whether the running kernel is at least `major`.`minor`.
bool KernelAtLeast(int major, int minor) {
  struct utsname name {};
  if (uname(&name) != 0) return false;
  int got_major = 0;
  int got_minor = 0;
  if (std::sscanf(name.release, "%d.%d", &got_major, &got_minor) != 2) return false;
  return got_major > major || (got_major == major && got_minor >= minor);
}

TEST_F(DatasetMountTest, ThePageCacheKeepsWhatWasReadOnce) {
  // By default a file under 64 MiB is read through the page cache.
  EXPECT_EQ(ServerBytesOfTwoCatsWhilePinned("dataset/train-0002.bin", large_), 0u);
}

class DatasetBySizeMountTest : public DatasetMountTest {
 protected:
  std::string ExtraMountOptions() const override { return "--direct-io-from 16MiB "; }
};

TEST_F(DatasetBySizeMountTest, LargeFilesAreReadDirectAndSmallOnesThroughThePageCache) {
  if (!KernelAtLeast(6, 6)) GTEST_SKIP() << "direct I/O by size needs Linux 6.6 (shared maps)";
  // 2.5 MiB: the page cache keeps it; 24 MiB: every read goes to the server
  // (and a shared map of it still works).
  EXPECT_EQ(ServerBytesOfTwoCatsWhilePinned("dataset/train-0001.bin", object_), 0u);
  EXPECT_EQ(ServerBytesOfTwoCatsWhilePinned("dataset/train-0002.bin", large_), 2 * large_.size());
}

class DatasetDirectIoMountTest : public DatasetMountTest {
 protected:
  std::string ExtraMountOptions() const override { return "--direct-io "; }
};

TEST_F(DatasetDirectIoMountTest, EveryReadGoesToTheServerAndServesTheSameBytes) {
  EXPECT_EQ(Shell("stat -c %s " + At("dataset/train-0002.bin")),
            std::to_string(large_.size()) + "\n");
  ASSERT_TRUE(Same(Shell("cat " + At("dataset/train-0002.bin")), large_));
  ASSERT_TRUE(Same(Shell("cat " + At("dataset/train-0002.bin")), large_));
  // No page cache: the second cat asked the server again.
  EXPECT_EQ(NamespaceCounter("dataset", "get_bytes"), 2 * large_.size());
  const std::string part =
      Shell("dd if=" + At("dataset/train-0001.bin") + " bs=4096 skip=300 count=3 status=none");
  ASSERT_EQ(part.size(), 3u * 4096);
  EXPECT_TRUE(Same(part, object_, 300 * 4096));
  const std::string odd =
      Shell("dd if=" + At("dataset/train-0001.bin") + " bs=1000 skip=7 count=5 status=none");
  ASSERT_EQ(odd.size(), 5000u);
  EXPECT_TRUE(Same(odd, object_, 7000));
  // A private mapping is served (docs/training.md says so; shared ones are
  // the kernel's to refuse).
  const std::string mapped =
      Shell("python3 -c \"import mmap, sys; f = open('" + At("dataset/train-0001.bin") +
            "', 'rb'); m = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE, prot=mmap.PROT_READ); "
            "sys.stdout.buffer.write(m[4096:8192])\"");
  ASSERT_EQ(mapped.size(), 4096u);
  EXPECT_TRUE(Same(mapped, object_, 4096));
}

TEST_F(DatasetDirectIoMountTest, ASharedMappingIsServedWhereTheKernelAllowsIt) {
  if (!KernelAtLeast(6, 6)) GTEST_SKIP() << "shared maps of direct-I/O files need Linux 6.6";
  // numpy.memmap, Arrow and safetensors map files MAP_SHARED (Python's
  // default).
  const std::string mapped =
      Shell("python3 -c \"import mmap, sys; f = open('" + At("dataset/train-0002.bin") +
            "', 'rb'); m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ); "
            "sys.stdout.buffer.write(m[:])\"");
  ASSERT_EQ(mapped.size(), large_.size());
  EXPECT_TRUE(Same(mapped, large_));
  // Reads beside the mapping still come from the server, right.
  ASSERT_TRUE(Same(Shell("cat " + At("dataset/train-0002.bin")), large_));
}

TEST(DatasetMountOptions, ABadSizeIsRefusedBeforeMounting) {
  auto run = testing::RunShell(testing::BinaryPath("kvtier-fuse") +
                               " --server 127.0.0.1:1 --direct-io-from lots /nonexistent 2>&1");
  EXPECT_EQ(run.exit_code, 2) << run.out;
  EXPECT_NE(run.out.find("bad value for --direct-io-from"), std::string::npos) << run.out;
}

TEST_F(DatasetMountTest, TheMountSurvivesAServerRestart) {
  EXPECT_EQ(Shell("stat -c %s " + At("dataset/val/b.bin")), "1000\n");
  const uint16_t port = server_->port();
  EXPECT_EQ(server_->Stop(), 0);
  // The new server comes up on the same port while a reader waits.
  std::thread restart([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    server_ = std::make_unique<testing::ServerProcess>(
        std::vector<std::string>{"--port", std::to_string(port)}, config_);
    EXPECT_TRUE(server_->Start().ok()) << server_->log();
  });
  const std::string whole = Shell("cat " + At("dataset/train-0002.bin"));
  restart.join();
  ASSERT_EQ(whole.size(), large_.size());
  EXPECT_TRUE(Same(whole, large_));
}

}  // namespace
}  // namespace kvtier
