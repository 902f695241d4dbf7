#include <fcntl.h>
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>

#include "common/checksum.h"
#include "tiers/dram/dram_tier.h"
#include "tiers/nvme/nvme_tier.h"

namespace kvtier::tiers {
namespace {

std::string IndexKey(const BlockKey& key) {
  std::string out;
  EncodeIndexKey(key, out);
  return out;
}

class NvmeTierTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/kvtier-nvme-XXXXXX";
    options_.directory = mkdtemp(pattern);
    options_.capacity_bytes = 8ull << 20;
    options_.segment_bytes = 1ull << 20;
  }
  void TearDown() override { std::filesystem::remove_all(options_.directory); }

  std::unique_ptr<NvmeTier> Open() {
    auto tier = NvmeTier::Open(options_);
    EXPECT_TRUE(tier.ok()) << tier.status().ToString();
    return tier.ok() ? std::move(*tier) : nullptr;
  }

  static BlockHandle Block(size_t size, uint32_t seed) {
    WritableBlock block = HeapBlockAllocator::Instance().Allocate(size);
    auto bytes = block.mutable_bytes();
    for (size_t i = 0; i < size; ++i) bytes[i] = static_cast<std::byte>((seed * 131 + i) & 0xff);
    const uint64_t checksum = BlockChecksum(bytes);
    return std::move(block).Seal(checksum);
  }

  static uint64_t Counter(const TierStats& stats, std::string_view name) {
    for (const auto& c : stats.counters) {
      if (c.name == name) return c.value;
    }
    ADD_FAILURE() << "no counter " << name;
    return 0;
  }

  std::vector<std::filesystem::path> Segments() const {
    std::vector<std::filesystem::path> out;
    for (const auto& f : std::filesystem::directory_iterator(options_.directory / "segments")) {
      out.push_back(f.path());
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  NvmeTierOptions options_;
};

TEST_F(NvmeTierTest, DiskStaysWithinCapacityAfterWritingTwiceIt) {
  auto tier = Open();
  constexpr size_t kValue = 64 * 1024;
  const int count = static_cast<int>(2 * options_.capacity_bytes / kValue);
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(tier->Put({1, "k" + std::to_string(i)}, Block(kValue, i)).ok()) << i;
    ASSERT_LE(tier->DiskBytes(), options_.capacity_bytes) << i;
  }
  // The bytes really on disk, measured from the files themselves.
  uint64_t on_disk = 0;
  for (const auto& path : Segments()) on_disk += std::filesystem::file_size(path);
  EXPECT_LE(on_disk, options_.capacity_bytes);
  EXPECT_GT(on_disk, options_.capacity_bytes / 2);
  // FIFO: the newest blocks are there, the oldest are gone.
  EXPECT_TRUE(tier->Contains({1, "k" + std::to_string(count - 1)}));
  EXPECT_FALSE(tier->Contains({1, "k0"}));
  const TierStats stats = tier->Stats();
  EXPECT_GT(Counter(stats, "evictions"), 0u);
  EXPECT_EQ(stats.items + Counter(stats, "evictions"), static_cast<uint64_t>(count));
}

TEST_F(NvmeTierTest, BlocksSurviveReopenByteIdentical) {
  {
    auto tier = Open();
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(tier->Put({1, "k" + std::to_string(i)}, Block(100000 + i, i)).ok());
    }
    ASSERT_TRUE(tier->Put({1, "k3"}, Block(777, 99)).ok());  // a later put wins
    ASSERT_TRUE(tier->Erase({1, "k4"}).ok());
  }
  auto tier = Open();
  for (int i = 0; i < 20; ++i) {
    auto got = tier->Get({1, "k" + std::to_string(i)});
    if (i == 4) {
      EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
      continue;
    }
    ASSERT_TRUE(got.ok()) << i << ": " << got.status().ToString();
    const BlockHandle expected = i == 3 ? Block(777, 99) : Block(100000 + i, i);
    ASSERT_EQ(got->size(), expected.size());
    EXPECT_EQ(std::memcmp(got->bytes().data(), expected.bytes().data(), got->size()), 0) << i;
  }
  EXPECT_EQ(Counter(tier->Stats(), "recovered_entries"), 19u);
}

// RocksDB's messages go to kvtierd's log, never to a LOG file beside the
// data (whose failed write on a full disk would abort the process).
TEST_F(NvmeTierTest, IndexMessagesGoToTheServerLogAndNoLogFileIsWritten) {
  auto previous = spdlog::default_logger();
  const auto previous_level = spdlog::get_level();
  std::ostringstream captured;
  auto capture = std::make_shared<spdlog::logger>(
      "capture", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured));
  spdlog::set_default_logger(capture);
  spdlog::set_level(spdlog::level::debug);
  {
    auto tier = Open();
    ASSERT_NE(tier, nullptr);
    ASSERT_TRUE(tier->Put({1, "k"}, Block(1000, 1)).ok());
  }
  spdlog::set_default_logger(previous);
  spdlog::set_level(previous_level);
  EXPECT_NE(captured.str().find("NVMe index (RocksDB): "), std::string::npos) << captured.str();
  for (const auto& file : std::filesystem::directory_iterator(options_.directory / "index")) {
    EXPECT_FALSE(file.path().filename().string().starts_with("LOG")) << file.path();
  }

  // Below spdlog's level, nothing is formatted or written.
  std::ostringstream quiet;
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "quiet", std::make_shared<spdlog::sinks::ostream_sink_mt>(quiet)));
  spdlog::set_level(spdlog::level::warn);
  { EXPECT_NE(Open(), nullptr); }
  spdlog::set_default_logger(previous);
  spdlog::set_level(previous_level);
  EXPECT_EQ(quiet.str(), "");
}

TEST_F(NvmeTierTest, FlippedBytesAreDetectedCountedAndNeverServed) {
  auto tier = Open();
  ASSERT_TRUE(tier->Put({1, "a"}, Block(4096, 1)).ok());
  ASSERT_TRUE(tier->Put({1, "b"}, Block(4096, 2)).ok());
  // Flip one byte of "a" (the first value of the first segment) on disk.
  const auto segments = Segments();
  ASSERT_FALSE(segments.empty());
  const int fd = open(segments.front().c_str(), O_RDWR);
  uint8_t byte = 0;
  ASSERT_EQ(pread(fd, &byte, 1, 100), 1);
  byte ^= 0x20;
  ASSERT_EQ(pwrite(fd, &byte, 1, 100), 1);
  close(fd);

  EXPECT_EQ(tier->Get({1, "a"}).status().code(), StatusCode::kCorruption);
  EXPECT_FALSE(tier->Contains({1, "a"}));  // dropped
  EXPECT_EQ(tier->Get({1, "a"}).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(tier->Get({1, "b"}).ok());
  EXPECT_EQ(Counter(tier->Stats(), "checksum_failures"), 1u);
}

// Two blocks of the same size trade places on disk (a misdirected write):
// each key's bytes are now another block's, valid in themselves. Both are
// detected by their own checksums, counted, dropped and never served.
TEST_F(NvmeTierTest, SwappedPayloadsAreDetectedCountedAndNeverServed) {
  auto tier = Open();
  ASSERT_TRUE(tier->Put({1, "a"}, Block(4096, 1)).ok());
  ASSERT_TRUE(tier->Put({1, "b"}, Block(4096, 2)).ok());
  ASSERT_TRUE(tier->Put({1, "c"}, Block(4096, 3)).ok());
  // Values lie back to back in the first segment: a at 0, b at 4096.
  const auto segments = Segments();
  ASSERT_FALSE(segments.empty());
  const int fd = open(segments.front().c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  std::vector<uint8_t> a(4096), b(4096);
  ASSERT_EQ(pread(fd, a.data(), a.size(), 0), 4096);
  ASSERT_EQ(pread(fd, b.data(), b.size(), 4096), 4096);
  ASSERT_EQ(pwrite(fd, b.data(), b.size(), 0), 4096);
  ASSERT_EQ(pwrite(fd, a.data(), a.size(), 4096), 4096);
  close(fd);

  EXPECT_EQ(tier->Get({1, "a"}).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(tier->Get({1, "b"}).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(Counter(tier->Stats(), "checksum_failures"), 2u);
  EXPECT_EQ(tier->Get({1, "a"}).status().code(), StatusCode::kNotFound);  // dropped
  EXPECT_EQ(tier->Get({1, "b"}).status().code(), StatusCode::kNotFound);
  auto c = tier->Get({1, "c"});
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  const BlockHandle expected = Block(4096, 3);
  EXPECT_EQ(std::memcmp(c->bytes().data(), expected.bytes().data(), 4096), 0);
}

TEST_F(NvmeTierTest, EntriesPastATruncatedSegmentAreDroppedAtOpen) {
  {
    auto tier = Open();
    for (int i = 0; i < 4; ++i)
      ASSERT_TRUE(tier->Put({1, "k" + std::to_string(i)}, Block(1000, i)).ok());
  }
  // Lose the tail of the segment, as an OS crash can.
  const auto segments = Segments();
  std::filesystem::resize_file(segments.front(), 2500);
  auto tier = Open();
  EXPECT_TRUE(tier->Get({1, "k0"}).ok());
  EXPECT_TRUE(tier->Get({1, "k1"}).ok());
  EXPECT_FALSE(tier->Contains({1, "k2"}));
  EXPECT_FALSE(tier->Contains({1, "k3"}));
  EXPECT_EQ(Counter(tier->Stats(), "dropped_at_recovery"), 2u);
}

TEST_F(NvmeTierTest, RejectsBlocksLargerThanASegment) {
  auto tier = Open();
  EXPECT_EQ(tier->Put({1, "big"}, Block(options_.segment_bytes + 1, 0)).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(tier->Allocate(3, options_.segment_bytes + 1).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(NvmeTierTest, ConcurrentWritersAndReadersSeeOnlyWholeBlocks) {
  auto tier = Open();
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 300; ++i) {
        const std::string key = "k" + std::to_string((i * 7 + t) % 50);
        if ((i + t) % 3 == 0) {
          if (!tier->Put({1, key}, Block(20000 + i, i)).ok()) bad++;
        } else {
          auto got = tier->Get({1, key});
          if (!got.ok() && got.status().code() != StatusCode::kNotFound) bad++;
          if (got.ok() && BlockChecksum(got->bytes()) != got->checksum()) bad++;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(bad.load(), 0);
}

TEST_F(NvmeTierTest, UploadMarksSurviveReopenAndClearOnlyForTheirOwnBytes) {
  const BlockHandle first = Block(4096, 1);
  const BlockHandle second = Block(4096, 2);
  {
    auto tier = Open();
    ASSERT_TRUE(tier->PutDurableForUpload({1, "a"}, first.Clone()).ok());
    ASSERT_TRUE(tier->PutDurableForUpload({1, "b"}, Block(4096, 3)).ok());
    ASSERT_TRUE(tier->Put({1, "plain"}, Block(4096, 4)).ok());
    EXPECT_EQ(tier->MarkedForUpload(),
              (std::vector<std::string>{IndexKey({1, "a"}), IndexKey({1, "b"})}));
    // A re-put of "a" keeps its own mark; clearing with the old bytes' checksum
    // leaves it.
    ASSERT_TRUE(tier->PutDurableForUpload({1, "a"}, second.Clone()).ok());
    EXPECT_EQ(tier->ClearUploadMark({1, "a"}, first.checksum()).code(), StatusCode::kNotFound);
    ASSERT_TRUE(tier->ClearUploadMark({1, "b"}, Block(4096, 3).checksum()).ok());
  }
  auto tier = Open();
  EXPECT_EQ(tier->MarkedForUpload(), std::vector<std::string>{IndexKey({1, "a"})});
  EXPECT_EQ(Counter(tier->Stats(), "marked_for_upload"), 1u);
  ASSERT_TRUE(tier->ClearUploadMark({1, "a"}, second.checksum()).ok());
  EXPECT_TRUE(tier->MarkedForUpload().empty());
  EXPECT_EQ(tier->Get({1, "a"}).value().checksum(), second.checksum());
}

TEST_F(NvmeTierTest, UnsyncedMarkedWritesAreServedMarkedAndKeptOnceSynced) {
  const BlockHandle block = Block(4096, 5);
  {
    auto tier = Open();
    // Three segments' worth, so SyncWrites has more than one to sync.
    for (int i = 0; i < 12; ++i) {
      ASSERT_TRUE(
          tier->PutForUploadUnsynced({1, "s" + std::to_string(i)}, Block(256 * 1024, i)).ok());
    }
    ASSERT_TRUE(tier->PutForUploadUnsynced({1, "last"}, block.Clone()).ok());
    auto read = tier->Get({1, "last"});
    ASSERT_TRUE(read.ok());
    EXPECT_EQ(read->checksum(), block.checksum());
    EXPECT_EQ(tier->MarkedForUpload().size(), 13u);
    ASSERT_TRUE(tier->SyncWrites().ok());
    ASSERT_TRUE(tier->SyncWrites().ok());  // nothing left to sync
  }
  auto tier = Open();
  EXPECT_EQ(tier->MarkedForUpload().size(), 13u);
  auto read = tier->Get({1, "last"});
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->checksum(), block.checksum());
}

TEST_F(NvmeTierTest, MarkedBlocksAreNeverEvictedWritesAreRefusedInstead) {
  auto tier = Open();
  constexpr size_t kValue = 256 * 1024;
  ASSERT_TRUE(tier->PutDurableForUpload({1, "marked"}, Block(kValue, 1)).ok());
  Status refused = Status::Ok();
  for (int i = 0; i < 64 && refused.ok(); ++i) {
    refused = tier->Put({1, "k" + std::to_string(i)}, Block(kValue, i + 2));
  }
  EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted) << refused.ToString();
  EXPECT_TRUE(tier->Contains({1, "marked"}));
  EXPECT_GT(Counter(tier->Stats(), "upload_backlog_full"), 0u);
  // Once uploaded (mark cleared), the segment may go and writes go on.
  ASSERT_TRUE(tier->ClearUploadMark({1, "marked"}, Block(kValue, 1).checksum()).ok());
  EXPECT_TRUE(tier->Put({1, "after"}, Block(kValue, 99)).ok());
  EXPECT_FALSE(tier->Contains({1, "marked"}));
}

TEST_F(NvmeTierTest, EvictedBlocksGoToTheSinkAndStayReadableAfterTheirFileIsGone) {
  auto tier = Open();
  std::vector<std::pair<std::string, std::function<Result<BlockHandle>()>>> evicted;
  tier->SetEvictionSink(
      [&](const BlockKey& key, uint64_t size, std::function<Result<BlockHandle>()> read) {
        EXPECT_EQ(size, 256u * 1024);
        evicted.emplace_back(std::string(key.key), std::move(read));
      });
  constexpr size_t kValue = 256 * 1024;
  const int count = static_cast<int>(2 * options_.capacity_bytes / kValue);
  for (int i = 0; i < count; ++i) {
    ASSERT_TRUE(tier->Put({1, "k" + std::to_string(i)}, Block(kValue, i)).ok()) << i;
  }
  ASSERT_FALSE(evicted.empty());
  EXPECT_EQ(evicted.front().first, "k0");
  EXPECT_FALSE(tier->Contains({1, "k0"}));
  for (size_t i = 0; i < evicted.size(); ++i) {
    auto block = evicted[i].second();
    ASSERT_TRUE(block.ok()) << block.status().ToString();
    const int seed = std::stoi(evicted[i].first.substr(1));
    EXPECT_EQ(block->checksum(), Block(kValue, seed).checksum()) << evicted[i].first;
  }
  EXPECT_EQ(Counter(tier->Stats(), "evictions_handed_off"), evicted.size());
}

TEST_F(NvmeTierTest, ExpiryAndPinSurviveReopenAndExpiredBlocksAreMisses) {
  const uint64_t future = UnixNowMs() + 3'600'000;
  auto with = [](BlockHandle block, BlockAttributes attributes) {
    WritableBlock copy = HeapBlockAllocator::Instance().Allocate(block.size());
    std::memcpy(copy.mutable_bytes().data(), block.bytes().data(), block.size());
    return std::move(copy).Seal(block.checksum(), attributes);
  };
  {
    auto tier = Open();
    ASSERT_TRUE(
        tier->Put({1, "fresh"}, with(Block(4096, 1), {future, PinLevel::kSoft, 512, 1024, 77}))
            .ok());
    ASSERT_TRUE(
        tier->Put({1, "old"}, with(Block(4096, 2), {UnixNowMs() - 1, PinLevel::kNone})).ok());
  }
  auto tier = Open();
  auto fresh = tier->Get({1, "fresh"});
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_EQ(fresh->attributes().expires_at_ms, future);
  EXPECT_EQ(fresh->attributes().pin, PinLevel::kSoft);
  EXPECT_EQ(fresh->attributes().token_count, 512u);  // KB metadata too
  EXPECT_EQ(fresh->attributes().position_offset, 1024u);
  EXPECT_EQ(fresh->attributes().producer, 77u);
  EXPECT_FALSE(tier->Contains({1, "old"}));
  EXPECT_EQ(tier->Get({1, "old"}).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Counter(tier->Stats(), "expired"), 1u);
}

TEST(NvmeTierOptions, ValidateNamesTheField) {
  NvmeTierOptions options;
  EXPECT_NE(options.Validate().message().find("nvme.directory"), std::string::npos);
  options.directory = "/tmp/x";
  options.capacity_bytes = options.segment_bytes;
  EXPECT_NE(options.Validate().message().find("nvme.capacity"), std::string::npos);
}

}  // namespace
}  // namespace kvtier::tiers
