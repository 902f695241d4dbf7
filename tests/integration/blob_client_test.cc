// The Azure Blob REST client against a real Azurite: round trips, ranges,
// block uploads, conditional writes, listing, errors and an outage.

#include "tiers/blob/blob_client.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <thread>

#include "tests/support/azurite_process.h"
#include "tests/support/fault_proxy.h"

namespace kvtier::tiers::blob {
namespace {

std::vector<std::byte> Bytes(size_t size, uint32_t seed) {
  std::vector<std::byte> out(size);
  std::mt19937 random(seed);
  for (auto& b : out) b = static_cast<std::byte>(random());
  return out;
}

bool Same(const std::string& got, const std::vector<std::byte>& want) {
  return got.size() == want.size() && std::memcmp(got.data(), want.data(), want.size()) == 0;
}

class BlobClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(azurite_.Start().ok()) << azurite_.log();
    client_ = MakeClient(Options());
    ASSERT_NE(client_, nullptr);
    ASSERT_TRUE(client_->CreateContainer().ok());
  }

  BlobClientOptions Options() const {
    BlobClientOptions options;
    options.endpoint = azurite_.endpoint();
    options.account = kvtier::testing::kAzuriteAccount;
    options.account_key = kvtier::testing::kAzuriteKey;
    options.container = "blocks";
    options.initial_backoff = std::chrono::milliseconds(10);
    options.max_backoff = std::chrono::milliseconds(100);
    return options;
  }

  static std::unique_ptr<BlobClient> MakeClient(BlobClientOptions options) {
    auto client = BlobClient::Create(std::move(options));
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }

  kvtier::testing::AzuriteProcess azurite_;
  std::unique_ptr<BlobClient> client_;
};

TEST_F(BlobClientTest, PutThenGetReturnsTheBytesAndMetadata) {
  const auto value = Bytes(300 * 1024, 1);
  auto put = client_->PutBlob("ns/one", value, {{"kvtier_checksum", "abc123"}}, false);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_TRUE(*put);
  auto got = client_->GetBlob("ns/one");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(Same(got->bytes, value));
  EXPECT_EQ(got->properties.size, value.size());
  EXPECT_EQ(got->properties.metadata["kvtier_checksum"], "abc123");
  EXPECT_FALSE(got->properties.etag.empty());

  auto properties = client_->GetProperties("ns/one");
  ASSERT_TRUE(properties.ok()) << properties.status().ToString();
  EXPECT_EQ(properties->size, value.size());
  EXPECT_EQ(properties->etag, got->properties.etag);
  EXPECT_EQ(properties->metadata["kvtier_checksum"], "abc123");
}

TEST_F(BlobClientTest, RangedReadReturnsOnlyThatRange) {
  const auto value = Bytes(1 << 20, 2);
  ASSERT_TRUE(client_->PutBlob("ranged", value, {}, false).ok());
  auto got = client_->GetBlob("ranged", ByteRange{.offset = 1000, .length = 4096});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->bytes.size(), 4096u);
  EXPECT_EQ(std::memcmp(got->bytes.data(), value.data() + 1000, 4096), 0);
  EXPECT_EQ(got->properties.size, value.size());  // from Content-Range

  auto outside = client_->GetBlob("ranged", ByteRange{.offset = 2 << 20, .length = 10});
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.status().code(), StatusCode::kInvalidArgument) << outside.status().ToString();
}

TEST_F(BlobClientTest, LargeBlobGoesUpInBlocksAndReadsBack) {
  auto options = Options();
  options.single_put_limit = 1 << 20;
  options.block_bytes = 256 << 10;
  auto client = MakeClient(options);
  const auto value = Bytes((3 << 20) + 12345, 3);  // 13 blocks, the last one short
  const uint64_t before = client->counters().requests.load();
  auto put = client->PutBlob("large", value, {{"kvtier_checksum", "77"}}, false);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(client->counters().requests.load() - before, 14u);  // 13 blocks + the list
  auto got = client->GetBlob("large");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(Same(got->bytes, value));
  EXPECT_EQ(got->properties.metadata["kvtier_checksum"], "77");
}

TEST_F(BlobClientTest, StagedBlocksAreInvisibleUntilTheirListCommitsThemInOrder) {
  const auto a = Bytes(100 << 10, 6);
  const auto b = Bytes(70 << 10, 7);
  const auto c = Bytes(5, 8);
  const std::string id0 = BlobClient::StagedBlockId(0);
  const std::string id1 = BlobClient::StagedBlockId(1);
  const std::string id2 = BlobClient::StagedBlockId(2);
  EXPECT_EQ(id0.size(), BlobClient::StagedBlockId(123456789).size());
  // Out of order, and block 1 staged twice: the later bytes count.
  ASSERT_TRUE(client_->PutBlock("ckpt/step-100.pt", id2, c).ok());
  ASSERT_TRUE(client_->PutBlock("ckpt/step-100.pt", id1, a).ok());
  ASSERT_TRUE(client_->PutBlock("ckpt/step-100.pt", id0, a).ok());
  ASSERT_TRUE(client_->PutBlock("ckpt/step-100.pt", id1, b).ok());
  EXPECT_EQ(client_->GetProperties("ckpt/step-100.pt").status().code(), StatusCode::kNotFound);

  auto committed = client_->PutBlockList("ckpt/step-100.pt", {id0, id1, id2},
                                         {{"kvtier_version", "9"}}, /*if_absent=*/true);
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();
  EXPECT_TRUE(*committed);
  auto got = client_->GetBlob("ckpt/step-100.pt");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  std::vector<std::byte> want = a;
  want.insert(want.end(), b.begin(), b.end());
  want.insert(want.end(), c.begin(), c.end());
  EXPECT_TRUE(Same(got->bytes, want));
  EXPECT_EQ(got->properties.metadata["kvtier_version"], "9");

  // if_absent: an existing blob is left as it is.
  ASSERT_TRUE(client_->PutBlock("ckpt/step-100.pt", id0, c).ok());
  committed = client_->PutBlockList("ckpt/step-100.pt", {id0}, {}, /*if_absent=*/true);
  ASSERT_TRUE(committed.ok()) << committed.status().ToString();
  EXPECT_FALSE(*committed);
  EXPECT_EQ(client_->GetProperties("ckpt/step-100.pt")->size, want.size());
  // A list naming a block never staged is refused, and changes nothing.
  auto bad = client_->PutBlockList("ckpt/step-100.pt", {BlobClient::StagedBlockId(7)}, {}, false);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(client_->GetProperties("ckpt/step-100.pt")->size, want.size());
}

TEST_F(BlobClientTest, IfAbsentNeverOverwrites) {
  const auto first = Bytes(64 << 10, 4);
  const auto second = Bytes(64 << 10, 5);
  auto put = client_->PutBlob("once", first, {}, /*if_absent=*/true);
  ASSERT_TRUE(put.ok());
  EXPECT_TRUE(*put);
  put = client_->PutBlob("once", second, {}, /*if_absent=*/true);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_FALSE(*put);
  auto got = client_->GetBlob("once");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(Same(got->bytes, first));

  // The same through a block upload's commit.
  auto options = Options();
  options.single_put_limit = 64 << 10;
  options.block_bytes = 64 << 10;
  auto blocks = MakeClient(options);
  const auto large = Bytes(200 << 10, 6);
  put = blocks->PutBlob("once", large, {}, /*if_absent=*/true);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_FALSE(*put);
  got = client_->GetBlob("once");
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(Same(got->bytes, first));
}

TEST_F(BlobClientTest, MissingBlobIsNotFoundWithoutRetries) {
  auto got = client_->GetBlob("never-written");
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(client_->DeleteBlob("never-written").code(), StatusCode::kNotFound);
  EXPECT_EQ(client_->GetProperties("never-written").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(client_->counters().retries.load(), 0u);
}

TEST_F(BlobClientTest, ListPagesThroughAPrefixAndDeleteRemoves) {
  const auto value = Bytes(100, 7);
  for (const char* name : {"a/1", "a/2", "a/3 with space", "b/1"}) {
    ASSERT_TRUE(client_->PutBlob(name, value, {}, false).ok()) << name;
  }
  std::vector<std::string> names;
  std::string marker;
  int pages = 0;
  do {
    auto page = client_->ListBlobs("a/", marker, 2);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const auto& item : page->items) {
      names.push_back(item.name);
      EXPECT_EQ(item.size, value.size());
    }
    marker = page->next_marker;
    ++pages;
  } while (!marker.empty() && pages < 10);
  EXPECT_EQ(names, (std::vector<std::string>{"a/1", "a/2", "a/3 with space"}));
  EXPECT_EQ(pages, 2);

  ASSERT_TRUE(client_->DeleteBlob("a/2").ok());
  auto page = client_->ListBlobs("a/");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[1].name, "a/3 with space");
  EXPECT_EQ(client_->GetBlob("a/2").status().code(), StatusCode::kNotFound);
}

TEST_F(BlobClientTest, ReadWithAnOldEtagIsRefusedAfterTheBlobChanged) {
  ASSERT_TRUE(client_->PutBlob("source", Bytes(4096, 8), {}, false).ok());
  auto properties = client_->GetProperties("source");
  ASSERT_TRUE(properties.ok());
  auto same = client_->GetBlob("source", ByteRange{0, 100}, properties->etag);
  EXPECT_TRUE(same.ok()) << same.status().ToString();
  ASSERT_TRUE(client_->PutBlob("source", Bytes(4096, 9), {}, false).ok());
  auto changed = client_->GetBlob("source", ByteRange{0, 100}, properties->etag);
  ASSERT_FALSE(changed.ok());
  EXPECT_EQ(changed.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(changed.status().message().find("changed"), std::string::npos);
}

TEST_F(BlobClientTest, WrongKeyIsRefusedAndNeverEchoed) {
  auto options = Options();
  // Valid base64, wrong key.
  options.account_key = "c2VjcmV0LWtleS10aGF0LWlzLXdyb25nLWJ1dC1sb25nLWVub3VnaA==";
  auto client = MakeClient(options);
  auto put = client->PutBlob("denied", Bytes(10, 10), {}, false);
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(put.status().message().find("403"), std::string::npos) << put.status().ToString();
  EXPECT_EQ(put.status().message().find(options.account_key), std::string::npos);
  EXPECT_EQ(client->Describe().find(options.account_key), std::string::npos);
  EXPECT_EQ(client->counters().retries.load(), 0u);
}

std::string AccountSas(const std::string& permissions) {
  auto sas = MakeAccountSas(kvtier::testing::kAzuriteAccount, kvtier::testing::kAzuriteKey,
                            permissions, "2099-01-01T00:00:00Z");
  EXPECT_TRUE(sas.ok());
  return sas.ok() ? *sas : "";
}

TEST_F(BlobClientTest, SasTokenAuthorisesWhatItGrantsOnly) {
  auto options = Options();
  options.account_key.clear();
  options.sas_token = AccountSas("rwdlc");
  auto client = MakeClient(options);
  const auto value = Bytes(1000, 30);
  ASSERT_TRUE(client->PutBlob("by-sas", value, {}, false).ok());
  auto got = client->GetBlob("by-sas");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(Same(got->bytes, value));
  EXPECT_EQ(client->Describe().find("sig="), std::string::npos);

  options.sas_token = AccountSas("r");  // read only
  auto reader = MakeClient(options);
  EXPECT_TRUE(reader->GetBlob("by-sas").ok());
  auto denied = reader->PutBlob("by-sas-2", value, {}, false);
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), StatusCode::kInvalidArgument) << denied.status().ToString();
  EXPECT_EQ(denied.status().message().find("sig="), std::string::npos);
}

TEST_F(BlobClientTest, ServiceDownFailsWithUnavailableOnceRetriesAreSpent) {
  auto options = Options();
  options.max_attempts = 3;
  auto client = MakeClient(options);
  ASSERT_TRUE(client->PutBlob("before", Bytes(10, 11), {}, false).ok());
  azurite_.Kill();
  auto put = client->PutBlob("after", Bytes(10, 12), {}, false);
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().code(), StatusCode::kUnavailable) << put.status().ToString();
  EXPECT_TRUE(put.status().retryable());
  EXPECT_EQ(client->counters().retries.load(), 2u);
  EXPECT_EQ(client->counters().no_response.load(), 3u);
}

TEST_F(BlobClientTest, InjectedFaultsAreRetriedAndNoAcknowledgedWriteIsLost) {
  using kvtier::testing::ProxyFault;
  // Per new connection: every third answers 503, every fifth (from the
  // third) is reset; at most two faults in a row.
  kvtier::testing::FaultProxy proxy(azurite_.port(), [](uint64_t n) {
    if (n % 3 == 1) return ProxyFault::kServiceUnavailable;
    if (n % 5 == 2) return ProxyFault::kReset;
    return ProxyFault::kNone;
  });
  ASSERT_TRUE(proxy.Start().ok());
  auto options = Options();
  options.endpoint = "http://127.0.0.1:" + std::to_string(proxy.port()) + "/devstoreaccount1";
  options.max_idle_connections = 0;  // a new connection, so a new fault draw, per request
  auto client = MakeClient(options);
  constexpr int kBlobs = 30;
  for (int i = 0; i < kBlobs; ++i) {
    auto put = client->PutBlob("faulty/" + std::to_string(i), Bytes(64 << 10, 100 + i), {}, false);
    ASSERT_TRUE(put.ok()) << i << ": " << put.status().ToString();
  }
  EXPECT_GT(proxy.injected_503(), 0u);
  EXPECT_GT(proxy.injected_resets(), 0u);
  EXPECT_EQ(client->counters().retries.load(), proxy.injected_503() + proxy.injected_resets());
  // Every response and every lost attempt is counted by what it was.
  EXPECT_EQ(client->counters().http_5xx.load(), proxy.injected_503());
  EXPECT_EQ(client->counters().no_response.load(), proxy.injected_resets());
  EXPECT_EQ(client->counters().http_2xx.load(), static_cast<uint64_t>(kBlobs));
  client.reset();
  // Every acknowledged write is there, read around the proxy.
  for (int i = 0; i < kBlobs; ++i) {
    auto got = client_->GetBlob("faulty/" + std::to_string(i));
    ASSERT_TRUE(got.ok()) << i << ": " << got.status().ToString();
    EXPECT_TRUE(Same(got->bytes, Bytes(64 << 10, 100 + i))) << i;
  }
}

TEST_F(BlobClientTest, ARangeCutOffMidBodyIsReadAgainAndHandedOnOnceIntoTheOfferedMemory) {
  constexpr uint64_t kSize = 10 << 20;
  const auto bytes = Bytes(kSize, 77);
  ASSERT_TRUE(client_->PutBlob("cut", bytes, {}, false).ok());
  using kvtier::testing::ProxyFault;
  kvtier::testing::FaultProxy proxy(azurite_.port(), [](uint64_t n) {
    return n == 0 ? ProxyFault::kCutResponse : ProxyFault::kNone;
  });
  proxy.set_cut_after_bytes((3 << 20) + 12345);  // in the middle of an offered window
  ASSERT_TRUE(proxy.Start().ok());
  auto options = Options();
  options.endpoint = "http://127.0.0.1:" + std::to_string(proxy.port()) + "/devstoreaccount1";
  options.max_idle_connections = 0;
  auto client = MakeClient(options);
  ASSERT_NE(client, nullptr);

  // The destination offers itself in windows of 1.5 MiB, as blocks would.
  std::vector<std::byte> destination(kSize);
  uint64_t received = 0;
  uint64_t in_place = 0;
  const BlobClient::RangeTarget target = [&]() -> std::span<std::byte> {
    const uint64_t window = (3 << 20) / 2 - received % ((3 << 20) / 2);
    return std::span(destination).subspan(received, std::min(window, kSize - received));
  };
  const BlobClient::RangeSink sink = [&](std::span<const std::byte> piece) -> Status {
    if (received + piece.size() > kSize) return Internal("more than the range");
    if (piece.data() == destination.data() + received) {
      in_place += piece.size();
    } else {
      std::memcpy(destination.data() + received, piece.data(), piece.size());
    }
    received += piece.size();
    return Status::Ok();
  };
  bool changed = false;
  const Status read = client->ReadRange("cut", ByteRange{0, kSize}, "", &changed, sink, &target);
  ASSERT_TRUE(read.ok()) << read.ToString();
  EXPECT_EQ(proxy.injected_resets(), 1u);
  EXPECT_EQ(received, kSize);
  EXPECT_GT(in_place, 0u);
  EXPECT_TRUE(destination == bytes);
}

TEST_F(BlobClientTest, ASlowSinkStretchesARangeReadPastTheOperationTimeoutWithoutFailingIt) {
  constexpr uint64_t kSize = 6 << 20;
  const auto bytes = Bytes(kSize, 78);
  ASSERT_TRUE(client_->PutBlob("slow", bytes, {}, false).ok());
  auto options = Options();
  options.operation_timeout = std::chrono::milliseconds(400);
  auto client = MakeClient(options);
  ASSERT_NE(client, nullptr);
  // 1 MiB pieces, each taken after 150 ms: about 0.9 s in all, twice the
  // operation timeout, while no piece waits longer than it.
  std::vector<std::byte> got;
  const BlobClient::RangeSink sink = [&](std::span<const std::byte> piece) -> Status {
    std::this_thread::sleep_for(std::chrono::milliseconds(150));
    got.insert(got.end(), piece.begin(), piece.end());
    return Status::Ok();
  };
  bool changed = false;
  const Status read = client->ReadRange("slow", ByteRange{0, kSize}, "", &changed, sink);
  ASSERT_TRUE(read.ok()) << read.ToString();
  EXPECT_TRUE(got == bytes);
}

TEST(BlobClientTlsTest, HttpsWorksWithATrustedCertificateOnly) {
  kvtier::testing::AzuriteProcess azurite(/*tls=*/true);
  ASSERT_TRUE(azurite.Start().ok()) << azurite.log();
  BlobClientOptions options;
  options.endpoint = azurite.endpoint();
  ASSERT_TRUE(options.endpoint.starts_with("https://"));
  options.account = kvtier::testing::kAzuriteAccount;
  options.account_key = kvtier::testing::kAzuriteKey;
  options.container = "secure";
  options.ca_file = azurite.ca_file();
  auto client = BlobClient::Create(options);
  ASSERT_TRUE(client.ok());
  ASSERT_TRUE((*client)->CreateContainer().ok());
  const auto value = Bytes(256 << 10, 20);
  ASSERT_TRUE((*client)->PutBlob("over-tls", value, {}, false).ok());
  auto got = (*client)->GetBlob("over-tls");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(Same(got->bytes, value));

  // The system trust store does not know the self-signed certificate.
  options.ca_file.clear();
  options.max_attempts = 2;
  options.initial_backoff = std::chrono::milliseconds(1);
  auto untrusting = BlobClient::Create(options);
  ASSERT_TRUE(untrusting.ok());
  auto refused = (*untrusting)->GetBlob("over-tls");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable) << refused.status().ToString();
}

TEST(BlobClientOptionsTest, CredentialsMustBeExactlyOne) {
  BlobClientOptions options;
  options.endpoint = "http://127.0.0.1:1/devstoreaccount1";
  options.account = "devstoreaccount1";
  options.container = "c";
  EXPECT_EQ(BlobClient::Create(options).status().code(), StatusCode::kInvalidArgument);
  options.account_key = "not base64 !";
  EXPECT_EQ(BlobClient::Create(options).status().code(), StatusCode::kInvalidArgument);
  options.account_key = kvtier::testing::kAzuriteKey;
  options.sas_token = "sv=2021&sig=x";
  EXPECT_EQ(BlobClient::Create(options).status().code(), StatusCode::kInvalidArgument);
  options.sas_token.clear();
  options.endpoint = "ftp://host";
  EXPECT_EQ(BlobClient::Create(options).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace kvtier::tiers::blob
