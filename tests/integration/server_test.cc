// Drives a real kvtierd process through the C++ client library.

#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <random>
#include <thread>

#include "client/client.h"
#include "common/keys.h"
#include "protocol/asio.h"
#include "protocol/rdma/rdma_devices.h"
#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"

namespace kvtier {
namespace {

using client::Client;
using client::ClientOptions;
using protocol::TierId;

std::vector<std::byte> Bytes(size_t size, uint32_t seed) {
  std::vector<std::byte> out(size);
  std::mt19937 random(seed);
  for (auto& b : out) b = static_cast<std::byte>(random());
  return out;
}

std::span<const std::byte> View(const std::vector<std::byte>& v) { return v; }

// Runs over TCP, over the shared-memory transport and over TLS: same
// operations, same answers.
class ServerTest : public ::testing::TestWithParam<testing::Transport> {
 protected:
  static void SetUpTestSuite() {
    // RDMA on this machine's device, else on the software provider.
    server_ = new testing::ServerProcess({"--rdma-device", testing::RdmaProviderForTests()});
    ASSERT_TRUE(server_->EnableTls().ok());
    ASSERT_TRUE(server_->Start().ok()) << server_->log();
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(), 0) << server_->log();
    delete server_;
  }

  std::unique_ptr<Client> Connect() {
    auto client = testing::ConnectTo(*server_, GetParam());
    if (client) {
      EXPECT_EQ(client->uses_shared_memory(), GetParam() == testing::Transport::kSharedMemory);
      EXPECT_EQ(client->uses_rdma(), GetParam() == testing::Transport::kRdma)
          << client->rdma_fallback();
    }
    return client;
  }

  static testing::ServerProcess* server_;
};
testing::ServerProcess* ServerTest::server_ = nullptr;

TEST_P(ServerTest, HelloReportsLimitsAndNamespaces) {
  auto client = Connect();
  const auto& info = client->server_info();
  EXPECT_EQ(info.version, 1);
  EXPECT_EQ(info.server_name, "kvtier");
  EXPECT_EQ(info.server_id.size(), 16u);
  EXPECT_EQ(info.limits.max_key_bytes, 256u);
  EXPECT_EQ(info.limits.max_value_bytes, 64ull << 20);
  EXPECT_NE(std::find(info.namespaces.begin(), info.namespaces.end(), "demo"),
            info.namespaces.end());
}

// A client that asks for RDMA where it cannot have it (no device, a Unix
// socket, TLS) says why its values stay on the stream and works as any
// other; where it can, it uses RDMA and says nothing.
TEST_P(ServerTest, AClientAskingForRdmaSaysWhyAndWorks) {
  EXPECT_TRUE(Connect()->rdma_fallback().empty());  // not asked for
  ClientOptions options = testing::OptionsFor(*server_, GetParam());
  options.rdma = true;
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  const std::string why = (*client)->rdma_fallback();
  EXPECT_EQ(why.empty(), (*client)->uses_rdma()) << why;
  if (GetParam() == testing::Transport::kSharedMemory) {
    EXPECT_NE(why.find("Unix socket"), std::string::npos) << why;
  } else if (GetParam() == testing::Transport::kTls) {
    EXPECT_NE(why.find("TLS"), std::string::npos) << why;
  } else if (GetParam() == testing::Transport::kRdma) {
    EXPECT_TRUE((*client)->uses_rdma()) << why;
  } else if (protocol::rdma::SurveyDevices().devices.empty()) {
    EXPECT_NE(why.find("no RDMA device on this host"), std::string::npos) << why;
  }
  const auto value = Bytes(300 << 10, 9);
  const std::vector<std::string> keys = {"rdma-asked"};
  const std::vector<std::span<const std::byte>> values = {View(value)};
  ASSERT_TRUE((*client)->Put("demo", keys, values).ok());
  auto got = (*client)->Get("demo", keys);
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->values[0].status.ok());
  EXPECT_TRUE(std::ranges::equal(got->values[0].bytes, value));
}

// A pipeline holds the asynchronous calls made while it is open and runs
// them together: puts of every size (some larger than the socket buffers,
// so replies arrive while later requests are still being written), gets
// and a match, each answered; a waiting call made meanwhile is not held.
// Over TLS the pipeline goes through the I/O thread: same answers.
TEST_P(ServerTest, APipelineAnswersEveryHeldRequest) {
  auto client = Connect();
  const std::vector<size_t> sizes = {0, 1, 4096, 256 << 10, (256 << 10) + 1, 3 << 20, 9 << 20};
  std::vector<std::vector<std::byte>> values;
  std::vector<std::vector<std::string>> keys;
  for (size_t i = 0; i < sizes.size(); ++i) {
    values.push_back(Bytes(sizes[i], static_cast<uint32_t>(100 + i)));
    keys.push_back(
        {"pipe-" + std::to_string(static_cast<int>(GetParam())) + "-" + std::to_string(i)});
  }
  std::vector<std::future<Result<client::KeyStatuses>>> puts;
  std::vector<std::future<Result<client::GetResult>>> gets;
  std::future<Result<client::MatchResult>> match;
  std::vector<size_t> replied;
  {
    client::Pipeline pipeline(*client);
    for (size_t i = 0; i < sizes.size(); ++i) {
      const std::vector<std::span<const std::byte>> one = {View(values[i])};
      puts.push_back(client->PutAsync("demo", keys[i], one));
    }
    for (size_t i = 0; i < sizes.size(); ++i) gets.push_back(client->GetAsync("demo", keys[i]));
    std::vector<std::string> chain;
    for (const auto& key : keys) chain.push_back(key[0]);
    match = client->MatchPrefixAsync("demo", chain);
    EXPECT_EQ(pipeline.held(), 2 * sizes.size() + 1);
    // A waiting call runs at once, before the held ones.
    auto absent = client->Exists("demo", keys.back());
    ASSERT_TRUE(absent.ok()) << absent.status().ToString();
    EXPECT_EQ(absent->tiers[0], TierId::kNone);
    pipeline.Run([&](size_t i) { replied.push_back(i); });
    EXPECT_EQ(pipeline.held(), 0u);
  }
  for (size_t i = 0; i < sizes.size(); ++i) {
    auto put = puts[i].get();
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    EXPECT_TRUE(put->all_ok()) << "value " << i;
    auto got = gets[i].get();
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_TRUE(got->values[0].status.ok()) << got->values[0].status.ToString();
    EXPECT_TRUE(std::ranges::equal(got->values[0].bytes, values[i])) << "value " << i;
  }
  auto matched = match.get();
  ASSERT_TRUE(matched.ok());
  EXPECT_EQ(matched->matched, sizes.size());
  if (GetParam() == testing::Transport::kTls) {
    EXPECT_TRUE(replied.empty()) << "over TLS the I/O thread answers";
  } else {
    std::sort(replied.begin(), replied.end());
    ASSERT_EQ(replied.size(), 2 * sizes.size() + 1);
    for (size_t i = 0; i < replied.size(); ++i) EXPECT_EQ(replied[i], i);
  }
}

TEST_P(ServerTest, PutGetRoundTripOfA5MiBValue) {
  auto client = Connect();
  const auto value = Bytes(5 << 20, 1);
  const std::vector<std::string> keys = {"big"};
  const std::vector<std::span<const std::byte>> values = {View(value)};
  auto put = client->Put("demo", keys, values);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  ASSERT_TRUE(put->all_ok());
  auto got = client->Get("demo", keys);
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->values[0].status.ok()) << got->values[0].status.ToString();
  EXPECT_EQ(got->values[0].tier, TierId::kDram);
  ASSERT_EQ(got->values[0].bytes.size(), value.size());
  EXPECT_TRUE(std::equal(value.begin(), value.end(), got->values[0].bytes.begin()));
}

TEST_P(ServerTest, BatchesOf256Keys) {
  auto client = Connect();
  std::vector<std::string> keys;
  std::vector<std::vector<std::byte>> data;
  std::vector<std::span<const std::byte>> values;
  for (int i = 0; i < 256; ++i) {
    keys.push_back("batch-" + std::to_string(i));
    data.push_back(Bytes(1000 + i * 37, i));
  }
  for (const auto& d : data) values.push_back(d);
  auto put = client->Put("kv", keys, values);
  ASSERT_TRUE(put.ok() && put->all_ok());

  auto got = client->Get("kv", keys);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->values.size(), 256u);
  for (int i = 0; i < 256; ++i) {
    ASSERT_TRUE(got->values[i].status.ok()) << i;
    ASSERT_TRUE(std::equal(data[i].begin(), data[i].end(), got->values[i].bytes.begin(),
                           got->values[i].bytes.end()))
        << i;
  }

  std::vector<std::string> mixed = {"batch-0", "absent", "batch-255"};
  auto exists = client->Exists("kv", mixed);
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists->tiers, (std::vector<TierId>{TierId::kDram, TierId::kNone, TierId::kDram}));

  auto deleted = client->Delete("kv", mixed);
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(deleted->statuses[0].ok());
  EXPECT_EQ(deleted->statuses[1].code(), StatusCode::kNotFound);
  auto after = client->Get("kv", mixed);
  ASSERT_TRUE(after.ok());
  for (const auto& v : after->values) EXPECT_EQ(v.status.code(), StatusCode::kNotFound);
}

TEST_P(ServerTest, MatchPrefixStopsAtTheFirstGap) {
  auto client = Connect();
  std::vector<uint32_t> tokens(16 * 6);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<uint32_t>(i * 7);
  const auto keys = PrefixBlockKeys(tokens, 16, "match-test");
  ASSERT_EQ(keys.size(), 6u);
  const auto block = Bytes(4096, 5);
  // Store blocks 0, 1, 2 and 4: the answer must be 3, not 4.
  for (int i : {0, 1, 2, 4}) {
    const std::vector<std::string> one = {keys[i]};
    const std::vector<std::span<const std::byte>> v = {View(block)};
    ASSERT_TRUE(client->Put("kv", one, v)->all_ok());
  }
  auto match = client->MatchPrefix("kv", keys);
  ASSERT_TRUE(match.ok());
  EXPECT_EQ(match->matched, 3u);
  EXPECT_EQ(match->tiers, (std::vector<TierId>(3, TierId::kDram)));
  // Another namespace shares nothing.
  auto other = client->MatchPrefix("kb", keys);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->matched, 0u);
}

TEST_P(ServerTest, UnknownNamespaceIsARequestError) {
  auto client = Connect();
  const std::vector<std::string> keys = {"k"};
  auto got = client->Get("no-such-namespace", keys);
  EXPECT_EQ(got.status().code(), StatusCode::kUnknownNamespace);
  // The connection is still usable.
  EXPECT_TRUE(client->Get("demo", keys).ok());
}

TEST_P(ServerTest, ClientRejectsWhatTheServerWould) {
  auto client = Connect();
  const std::vector<std::string> long_key = {std::string(257, 'k')};
  EXPECT_EQ(client->Get("demo", long_key).status().code(), StatusCode::kInvalidArgument);
  std::vector<std::string> many(4097, "k");
  EXPECT_EQ(client->Exists("demo", many).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(ServerTest, PipelinedRequestsFromSeveralConnections) {
  constexpr int kConnections = 4;
  constexpr int kInFlight = 64;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int c = 0; c < kConnections; ++c) {
    threads.emplace_back([&, c] {
      auto client = Connect();
      if (!client) {
        failures++;
        return;
      }
      std::vector<std::vector<std::byte>> data;
      std::vector<std::vector<std::string>> keys;
      std::vector<std::vector<std::span<const std::byte>>> values;
      for (int i = 0; i < kInFlight; ++i) {
        data.push_back(Bytes(8192 + i, c * 1000 + i));
        keys.push_back({"pipe-" + std::to_string(c) + "-" + std::to_string(i)});
      }
      for (int i = 0; i < kInFlight; ++i) values.push_back({View(data[i])});
      // All puts in flight at once, then all gets, then check every answer.
      std::vector<std::future<Result<client::KeyStatuses>>> puts;
      for (int i = 0; i < kInFlight; ++i)
        puts.push_back(client->PutAsync("kv", keys[i], values[i]));
      for (auto& p : puts) {
        auto r = p.get();
        if (!r.ok() || !r->all_ok()) failures++;
      }
      std::vector<std::future<Result<client::GetResult>>> gets;
      for (int i = 0; i < kInFlight; ++i) gets.push_back(client->GetAsync("kv", keys[i]));
      for (int i = 0; i < kInFlight; ++i) {
        auto r = gets[i].get();
        if (!r.ok() || !r->values[0].status.ok() ||
            !std::equal(data[i].begin(), data[i].end(), r->values[0].bytes.begin(),
                        r->values[0].bytes.end())) {
          failures++;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
}

// Over RDMA the server READs put values from the client's registered
// region and WRITEs get values into it: its counters show the bytes, and the
// values are right. Over the other transports they stay untouched.
TEST_P(ServerTest, ValuesMoveByRdmaOnlyOverRdma) {
  auto client = Connect();
  const uint64_t read_before = testing::ServerCounter(*client, "rdma_bytes_read");
  const uint64_t written_before = testing::ServerCounter(*client, "rdma_bytes_written");
  const std::vector<std::string> keys = {"rdma-a", "rdma-b", "rdma-empty"};
  const auto a = Bytes(1 << 20, 21);
  const auto b = Bytes(70000, 22);
  const std::vector<std::span<const std::byte>> values = {View(a), View(b), {}};
  ASSERT_TRUE(client->Put("demo", keys, values)->all_ok());
  auto got = client->Get("demo", keys);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(std::ranges::equal(got->values[0].bytes, a));
  EXPECT_TRUE(std::ranges::equal(got->values[1].bytes, b));
  EXPECT_TRUE(got->values[2].status.ok());
  EXPECT_TRUE(got->values[2].bytes.empty());
  // A batch of more blocks than one WRITE gathers.
  std::vector<std::string> batch_keys;
  std::vector<std::vector<std::byte>> batch;
  std::vector<std::span<const std::byte>> batch_views;
  for (int i = 0; i < 20; ++i) {
    batch_keys.push_back("rdma-batch-" + std::to_string(i));
    batch.push_back(Bytes(8192, 100 + static_cast<uint32_t>(i)));
  }
  for (const auto& value : batch) batch_views.emplace_back(value);
  ASSERT_TRUE(client->Put("demo", batch_keys, batch_views)->all_ok());
  auto batch_got = client->Get("demo", batch_keys);
  ASSERT_TRUE(batch_got.ok());
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_TRUE(std::ranges::equal(batch_got->values[i].bytes, batch[i])) << i;
  }
  // GetPrefix offers an area the same way.
  auto prefix = client->GetPrefix("demo", batch_keys, std::chrono::milliseconds(0));
  ASSERT_TRUE(prefix.ok()) << prefix.status().ToString();
  ASSERT_EQ(prefix->values.size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_TRUE(std::ranges::equal(prefix->values[i].bytes, batch[i])) << i;
  }
  const uint64_t moved = a.size() + b.size() + 20 * 8192;
  const uint64_t prefix_moved = 20 * 8192;
  const bool rdma = GetParam() == testing::Transport::kRdma;
  EXPECT_EQ(testing::ServerCounter(*client, "rdma_bytes_read") - read_before, rdma ? moved : 0);
  EXPECT_EQ(testing::ServerCounter(*client, "rdma_bytes_written") - written_before,
            rdma ? moved + prefix_moved : 0);
}

TEST_P(ServerTest, StatsCountersMove) {
  auto client = Connect();
  auto before = client->Stats();
  ASSERT_TRUE(before.ok());
  const std::vector<std::string> keys = {"stats-key"};
  const auto value = Bytes(100, 3);
  const std::vector<std::span<const std::byte>> values = {View(value)};
  ASSERT_TRUE(client->Put("demo", keys, values)->all_ok());
  ASSERT_TRUE(client->Get("demo", keys).ok());
  auto after = client->Stats();
  ASSERT_TRUE(after.ok());
  auto counter = [](const client::StatsResult& s, const std::string& ns, const std::string& name) {
    for (const auto& n : s.namespaces) {
      if (n.name != ns) continue;
      for (const auto& c : n.counters) {
        if (c.name == name) return c.value;
      }
    }
    return uint64_t{0};
  };
  EXPECT_EQ(counter(*after, "demo", "puts"), counter(*before, "demo", "puts") + 1);
  EXPECT_EQ(counter(*after, "demo", "hits"), counter(*before, "demo", "hits") + 1);
  // The embedded default: DRAM over NVMe.
  ASSERT_EQ(after->tiers.size(), 2u);
  EXPECT_EQ(after->tiers[0].name, "dram");
  EXPECT_GT(after->tiers[0].used_bytes, 0u);
  EXPECT_EQ(after->tiers[1].name, "nvme");
}

// GetInto reads each value straight into the caller's buffer: exact and
// larger buffers are filled, a buffer too small is refused (its value's
// bytes dropped without desynchronising the stream), a miss is a miss.
TEST_P(ServerTest, GetIntoFillsCallerBuffers) {
  auto client = Connect();
  const std::vector<std::string> keys = {"into-a", "into-b", "into-c", "into-absent"};
  const std::vector<std::vector<std::byte>> values = {Bytes(4096, 1), Bytes(100000, 2),
                                                      Bytes(5000, 3)};
  const std::vector<std::span<const std::byte>> views = {values[0], values[1], values[2]};
  ASSERT_TRUE(client->Put("demo", std::span(keys).first(3), views)->all_ok());

  std::vector<std::vector<std::byte>> memory = {
      std::vector<std::byte>(4096), std::vector<std::byte>(200000), std::vector<std::byte>(10),
      std::vector<std::byte>(64)};
  const std::vector<std::span<std::byte>> buffers = {memory[0], memory[1], memory[2], memory[3]};
  for (int round = 0; round < 2; ++round) {  // waiting, then pipelined
    auto got = round == 0 ? client->GetInto("demo", keys, buffers)
                          : client->GetIntoAsync("demo", keys, buffers).get();
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(got->statuses[0].ok());
    EXPECT_TRUE(got->statuses[1].ok());
    EXPECT_EQ(got->statuses[2].code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(got->statuses[3].code(), StatusCode::kNotFound);
    EXPECT_EQ(got->lengths, (std::vector<uint64_t>{4096, 100000, 0, 0}));
    EXPECT_TRUE(testing::SameBytes(memory[0], values[0]));
    EXPECT_TRUE(testing::SameBytes(std::span(memory[1]).first(100000), values[1]));
    std::fill(memory[0].begin(), memory[0].end(), std::byte{0});
  }
  // The dropped bytes left the stream in step.
  auto after = client->Get("demo", std::span(keys).subspan(2, 1));
  ASSERT_TRUE(after.ok() && after->values[0].status.ok());
  EXPECT_TRUE(testing::SameBytes(after->values[0].bytes, values[2]));

  // The prefix form stops at the gap, and before a value its buffer cannot hold.
  const std::vector<std::string> chain = {"into-a", "into-b", "into-absent", "into-c"};
  const std::vector<std::span<std::byte>> chain_buffers = {memory[0], memory[1], memory[3],
                                                           memory[3]};
  auto prefix = client->GetPrefixInto("demo", chain, chain_buffers, std::chrono::milliseconds(0));
  ASSERT_TRUE(prefix.ok()) << prefix.status().ToString();
  EXPECT_EQ(prefix->lengths, (std::vector<uint64_t>{4096, 100000}));
  EXPECT_TRUE(testing::SameBytes(memory[0], values[0]));
  const std::vector<std::span<std::byte>> small = {memory[2], memory[1], memory[3], memory[3]};
  prefix = client->GetPrefixInto("demo", chain, small, std::chrono::milliseconds(0));
  ASSERT_TRUE(prefix.ok());
  EXPECT_TRUE(prefix->lengths.empty());
  EXPECT_EQ(prefix->stop_reason, protocol::PrefixStop::kError);
  EXPECT_EQ(prefix->stop_code, StatusCode::kInvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(Transports, ServerTest,
                         ::testing::Values(testing::Transport::kTcp,
                                           testing::Transport::kSharedMemory,
                                           testing::Transport::kTls, testing::Transport::kRdma),
                         testing::TransportName);

// A server that stops reading while 8 MiB of replies wait to be sent, and
// a pipeline that alternates 8 MiB gets with 8 MiB puts: written all before
// reading anything, the puts would stall behind unread replies for good.
// The pipeline reads replies while it writes, so every request completes.
TEST(ServerPipeline, RepliesThatFillTheSocketDoNotStallTheWrites) {
  testing::ServerProcess server({},
                                "server: {max_queued_reply_bytes: 8MiB}\n"
                                "limits: {max_value_bytes: 8MiB, max_payload_bytes: 8MiB}\n"
                                "tiers: {dram: {capacity: 256MiB}}\n"
                                "namespaces: [{name: demo}]\n");
  ASSERT_TRUE(server.Start().ok()) << server.log();
  ClientOptions options;
  options.port = server.port();
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  const auto big = Bytes(8 << 20, 21);
  const std::vector<std::string> big_key = {"big"};
  const std::vector<std::span<const std::byte>> big_value = {View(big)};
  ASSERT_TRUE((*client)->Put("demo", big_key, big_value).ok());

  const auto value = Bytes(8 << 20, 22);
  const std::vector<std::span<const std::byte>> one = {View(value)};
  std::vector<std::vector<std::string>> keys;
  for (int i = 0; i < 4; ++i) keys.push_back({"w" + std::to_string(i)});
  std::vector<std::future<Result<client::GetResult>>> gets;
  std::vector<std::future<Result<client::KeyStatuses>>> puts;
  {
    client::Pipeline pipeline(**client);
    for (int i = 0; i < 4; ++i) {
      gets.push_back((*client)->GetAsync("demo", big_key));
      puts.push_back((*client)->PutAsync("demo", keys[i], one));
    }
  }  // runs here
  for (int i = 0; i < 4; ++i) {
    auto got = gets[i].get();
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_TRUE(std::ranges::equal(got->values[0].bytes, big));
    auto put = puts[i].get();
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    EXPECT_TRUE(put->all_ok());
  }
  auto back = (*client)->Get("demo", keys[3]);
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(std::ranges::equal(back->values[0].bytes, value));
  client->reset();
  EXPECT_EQ(server.Stop(), 0);
}

TEST(ServerEviction, SmallDramEvictsInsteadOfFailing) {
  testing::ServerProcess server({"--dram-capacity", "4MiB"});
  ASSERT_TRUE(server.Start().ok()) << server.log();
  ClientOptions options;
  options.port = server.port();
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok());
  const auto value = Bytes(256 * 1024, 9);
  for (int i = 0; i < 64; ++i) {
    const std::vector<std::string> keys = {"e" + std::to_string(i)};
    const std::vector<std::span<const std::byte>> values = {View(value)};
    auto put = (*client)->Put("demo", keys, values);
    ASSERT_TRUE(put.ok() && put->all_ok()) << i;
  }
  auto stats = (*client)->Stats();
  ASSERT_TRUE(stats.ok());
  EXPECT_LE(stats->tiers[0].used_bytes, 4u << 20);
  EXPECT_LT(stats->tiers[0].items, 64u);
  client->reset();
  EXPECT_EQ(server.Stop(), 0);
}

TEST(ServerModels, ClientsOfAnotherModelAreRefusedANamespace) {
  testing::ServerProcess server(
      {},
      "namespaces:\n"
      "  - {name: llama, model: {id: meta-llama/Llama-3.1-8B, dtype: bf16, layout: nhd-16, "
      "tp_size: 2}}\n"
      "  - {name: open}\n");
  ASSERT_TRUE(server.Start().ok()) << server.log();
  ClientOptions options;
  options.port = server.port();
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok());
  const ModelIdentity llama{"meta-llama/Llama-3.1-8B", "bf16", "nhd-16", 2};
  EXPECT_TRUE((*client)->CheckModel("llama", llama).ok());
  ModelIdentity fp8 = llama;
  fp8.dtype = "fp8";
  const Status refused = (*client)->CheckModel("llama", fp8);
  EXPECT_EQ(refused.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.message().find("dtype=bf16"), std::string::npos) << refused.ToString();
  EXPECT_TRUE((*client)->CheckModel("open", fp8).ok());
  EXPECT_EQ((*client)->CheckModel("nowhere", llama).code(), StatusCode::kUnknownNamespace);
  // The ranks of one model get different chain seeds, so their keys differ.
  EXPECT_NE(PrefixBlockKeys(std::vector<uint32_t>(16, 1), 16, llama.Seed(0))[0],
            PrefixBlockKeys(std::vector<uint32_t>(16, 1), 16, llama.Seed(1))[0]);
}

TEST(ServerShutdown, SigtermAnswersInFlightRequestsThenExitsZero) {
  testing::ServerProcess server;
  ASSERT_TRUE(server.Start().ok()) << server.log();
  ClientOptions options;
  options.port = server.port();
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok());
  const auto value = Bytes(1 << 20, 4);
  std::vector<std::future<Result<client::KeyStatuses>>> puts;
  std::vector<std::vector<std::string>> keys(32);
  const std::vector<std::span<const std::byte>> values = {View(value)};
  for (int i = 0; i < 32; ++i) {
    keys[i] = {"s" + std::to_string(i)};
    puts.push_back((*client)->PutAsync("demo", keys[i], values));
  }
  // The first reply proves the server is working through the batch.
  auto first = puts[0].get();
  ASSERT_TRUE(first.ok() && first->all_ok());
  std::thread stopper([&] { EXPECT_EQ(server.Stop(), 0) << server.log(); });
  // Every request gets an answer: stored, or a clear retryable error.
  for (size_t i = 1; i < puts.size(); ++i) {
    auto r = puts[i].get();
    if (r.ok()) {
      EXPECT_TRUE(r->all_ok());
    } else {
      EXPECT_TRUE(r.status().retryable()) << r.status().ToString();
    }
  }
  stopper.join();
}

// A peer that accepts and reads but never answers: the client's request
// timeout must turn the silence into kDeadlineExceeded, not a hang.
TEST(ClientTimeouts, SilentPeerGivesDeadlineExceeded) {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  std::thread peer([&] {
    tcp::socket socket(io);
    acceptor.accept(socket);
    std::array<char, 4096> sink;
    boost::system::error_code ec;
    while (!ec) socket.read_some(asio::buffer(sink), ec);  // until the client closes
  });
  ClientOptions options;
  options.port = acceptor.local_endpoint().port();
  options.request_timeout = std::chrono::milliseconds(200);
  auto client = Client::Connect(options);
  EXPECT_EQ(client.status().code(), StatusCode::kDeadlineExceeded) << client.status().ToString();
  peer.join();
}

TEST(ServerStart, APrefaultedDramTierLargerThanMemoryIsRefusedWithAClearError) {
  testing::ServerProcess server({"--no-nvme"},
                                "tiers: {dram: {capacity: 64TiB, prefault: true}}\n"
                                "namespaces: [{name: demo, kind: kv, tiers: [dram]}]\n");
  EXPECT_FALSE(server.Start().ok());
  EXPECT_NE(server.log().find("tiers.dram.prefault"), std::string::npos) << server.log();
}

TEST(ServerStart, APrefaultedDramTierServes) {
  testing::ServerProcess server({"--no-nvme"},
                                "tiers: {dram: {capacity: 64MiB, prefault: true}}\n"
                                "namespaces: [{name: demo, kind: kv, tiers: [dram]}]\n");
  ASSERT_TRUE(server.Start().ok()) << server.log();
  auto client = testing::ConnectTo(server);
  ASSERT_NE(client, nullptr);
  const auto value = Bytes(1 << 20, 5);
  const std::vector<std::string> keys = {"k"};
  const std::vector<std::span<const std::byte>> values = {View(value)};
  ASSERT_TRUE(client->Put("demo", keys, values).ok());
  auto got = client->Get("demo", keys);
  ASSERT_TRUE(got.ok());
  ASSERT_TRUE(got->values[0].status.ok());
  EXPECT_TRUE(std::ranges::equal(got->values[0].bytes, value));
}

TEST(ClientTimeouts, NothingListeningGivesUnavailable) {
  ClientOptions options;
  options.port = 1;  // privileged and unused: refused at once
  auto client = Client::Connect(options);
  EXPECT_EQ(client.status().code(), StatusCode::kUnavailable);
}

}  // namespace
}  // namespace kvtier
