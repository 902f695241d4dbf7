// The RDMA transport end to end through the client library, on the
// software provider (protocol/rdma/soft_provider.h) so that it runs on any
// machine: failures of the transport itself, which a device cannot be made
// to produce on demand. ServerTest runs the ordinary operations over RDMA
// (on a device where there is one).

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client/client.h"
#include "protocol/rdma/provider.h"
#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"

namespace kvtier {
namespace {

using client::Client;
using client::ClientOptions;

ClientOptions SoftRdmaOptions(const testing::ServerProcess& server) {
  ClientOptions options = testing::OptionsFor(server);
  options.rdma = true;
  options.rdma_device = protocol::rdma::kSoftProviderName;
  options.rdma_region_bytes = 32ull << 20;
  return options;
}

Status PutValue(Client& client, const std::string& key, const std::vector<std::byte>& value) {
  return testing::PutOne(client, "demo", key, value);
}

void ExpectValue(Client& client, const std::string& key, const std::vector<std::byte>& value) {
  const std::vector<std::string> keys = {key};
  auto got = client.Get("demo", keys);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->values[0].status.ok()) << got->values[0].status.ToString();
  EXPECT_TRUE(testing::SameBytes(got->values[0].bytes, value)) << key;
}

// A completion that fails takes the server's queue pair down: the get it
// belonged to still gets its values (on the stream), the next put hears
// kUnavailable, the client stops using RDMA and the waiting Put goes again
// on the stream. Nothing acknowledged is lost and the server stays up.
TEST(RdmaTest, AFailedCompletionTearsDownTheQueuePairAndTheConnectionGoesOnOverTheStream) {
  testing::ServerProcess server({"--rdma-device", protocol::rdma::kSoftProviderName});
  // The server's fourth work request, and every later one, fails.
  server.set_launcher({"env", "KVTIER_SOFT_RDMA_FAIL_AFTER=3"});
  ASSERT_TRUE(server.Start().ok()) << server.log();
  auto connected = Client::Connect(SoftRdmaOptions(server));
  ASSERT_TRUE(connected.ok()) << connected.status().ToString();
  Client& client = **connected;
  ASSERT_TRUE(client.uses_rdma()) << client.rdma_fallback();

  const auto a = testing::RandomBytes(300 << 10, 1);
  const auto b = testing::RandomBytes(200 << 10, 2);
  const auto c = testing::RandomBytes(100 << 10, 3);
  ASSERT_TRUE(PutValue(client, "a", a).ok());  // READ 1
  ASSERT_TRUE(PutValue(client, "b", b).ok());  // READ 2
  ExpectValue(client, "a", a);                 // WRITE 3
  EXPECT_TRUE(client.uses_rdma());
  ExpectValue(client, "b", b);  // WRITE 4 fails: the values come on the stream
  EXPECT_EQ(testing::ServerCounter(client, "rdma_failures"), 1u);

  const Status put_c = PutValue(client, "c", c);  // refused by RDMA, sent again on the stream
  ASSERT_TRUE(put_c.ok()) << put_c.ToString();
  EXPECT_FALSE(client.uses_rdma());
  EXPECT_NE(client.rdma_fallback().find("RDMA stopped"), std::string::npos)
      << client.rdma_fallback();
  ExpectValue(client, "c", c);
  ExpectValue(client, "a", a);
  EXPECT_EQ(testing::ServerCounter(client, "rdma_bytes_read"), a.size() + b.size());
  EXPECT_EQ(testing::ServerCounter(client, "rdma_bytes_written"), a.size());

  // A new connection gets a new queue pair, which fails at once too.
  auto again = Client::Connect(SoftRdmaOptions(server));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE((*again)->uses_rdma());
  ExpectValue(**again, "c", c);
  EXPECT_EQ(server.Stop(), 0) << server.log();
  EXPECT_NE(server.log().find("RDMA queue pair"), std::string::npos) << server.log();
}

// A put of more values than the queue pair holds work requests (256) goes
// in waves, as do gets of them, several at once: every byte arrives, all of
// it by RDMA.
TEST(RdmaTest, RequestsLargerThanTheQueueGoInWaves) {
  testing::ServerProcess server({"--rdma-device", protocol::rdma::kSoftProviderName});
  ASSERT_TRUE(server.Start().ok()) << server.log();
  auto connected = Client::Connect(SoftRdmaOptions(server));
  ASSERT_TRUE(connected.ok()) << connected.status().ToString();
  Client& client = **connected;
  ASSERT_TRUE(client.uses_rdma()) << client.rdma_fallback();

  constexpr size_t kValues = 600;
  constexpr size_t kSize = 4096;
  std::vector<std::string> keys;
  std::vector<std::vector<std::byte>> values;
  std::vector<std::span<const std::byte>> views;
  for (size_t i = 0; i < kValues; ++i) {
    keys.push_back("wave-" + std::to_string(i));
    values.push_back(testing::RandomBytes(kSize, static_cast<uint32_t>(i)));
  }
  for (const auto& value : values) views.emplace_back(value);
  auto put = client.Put("demo", keys, views);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  ASSERT_TRUE(put->all_ok());

  std::vector<std::future<Result<client::GetResult>>> gets;
  for (int i = 0; i < 3; ++i) gets.push_back(client.GetAsync("demo", keys));
  for (auto& get : gets) {
    auto got = get.get();
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    for (size_t i = 0; i < kValues; ++i) {
      ASSERT_TRUE(got->values[i].status.ok()) << i;
      ASSERT_TRUE(testing::SameBytes(got->values[i].bytes, values[i])) << i;
    }
  }
  EXPECT_EQ(testing::ServerCounter(client, "rdma_bytes_read"), kValues * kSize);
  EXPECT_EQ(testing::ServerCounter(client, "rdma_bytes_written"), 3 * kValues * kSize);
  EXPECT_EQ(testing::ServerCounter(client, "rdma_failures"), 0u);
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

// A server with RDMA off tells the client so; the client says why and works.
TEST(RdmaTest, AServerWithRdmaOffIsToldAndTheValuesGoOnTheStream) {
  testing::ServerProcess server({"--rdma-device", protocol::rdma::kSoftProviderName},
                                "server: {rdma: false}\nnamespaces: [{name: demo}]\n");
  ASSERT_TRUE(server.Start().ok()) << server.log();
  auto connected = Client::Connect(SoftRdmaOptions(server));
  ASSERT_TRUE(connected.ok()) << connected.status().ToString();
  EXPECT_FALSE((*connected)->uses_rdma());
  EXPECT_NE((*connected)->rdma_fallback().find("RDMA is off on this server"), std::string::npos)
      << (*connected)->rdma_fallback();
  const auto value = testing::RandomBytes(64 << 10, 4);
  ASSERT_TRUE(PutValue(**connected, "k", value).ok());
  ExpectValue(**connected, "k", value);
  EXPECT_EQ(testing::ServerCounter(**connected, "rdma_queue_pairs"), 0u);
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

}  // namespace
}  // namespace kvtier
