// Access tokens against a real kvtierd configured with two of them: each
// refusal the configuration promises (docs/config.md, "auth") happens, is
// counted, and leaves the server serving everyone else.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "client/client.h"
#include "common/token.h"
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"

namespace kvtier {
namespace {

using client::Client;
using client::ClientOptions;

constexpr std::string_view kEngineToken = "engine-token-0123456789abcdef";
constexpr std::string_view kReaderToken = "reader-token-fedcba9876543210";

class AuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const std::string config =
        "tiers: {dram: {capacity: 64MiB}}\n"
        "namespaces: [{name: kv}, {name: kb, kind: kb}, {name: private}]\n"
        "auth:\n"
        "  tokens:\n"
        "    - name: engine\n"
        "      sha256: " +
        TokenHash(kEngineToken) +
        "\n"
        "      grants: {kv: read_write, kb: read}\n"
        "    - name: reader\n"
        "      sha256: " +
        TokenHash(kReaderToken) +
        "\n"
        "      grants: {'*': read}\n";
    server_ = new testing::ServerProcess({}, config);
    ASSERT_TRUE(server_->Start().ok()) << server_->log();
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(), 0) << server_->log();
    delete server_;
  }

  static Result<std::unique_ptr<Client>> ConnectWith(std::string_view token) {
    ClientOptions options;
    options.port = server_->port();
    options.token = std::string(token);
    return Client::Connect(options);
  }

  static uint64_t Counter(const std::string& name) {
    auto client = ConnectWith(kReaderToken);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? testing::ServerCounter(**client, name) : 0;
  }

  // After each test the server still serves a valid token.
  void TearDown() override {
    auto client = ConnectWith(kEngineToken);
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    EXPECT_TRUE((*client)->Stats().ok());
  }

  static testing::ServerProcess* server_;
};
testing::ServerProcess* AuthTest::server_ = nullptr;

TEST_F(AuthTest, AMissingOrWrongTokenIsRefusedAndCounted) {
  const uint64_t before = Counter("bad_input_unauthenticated");
  auto none = ConnectWith("");
  EXPECT_EQ(none.status().code(), StatusCode::kUnauthenticated) << none.status().ToString();
  auto wrong = ConnectWith("engine-token-0123456789abcdeX");
  EXPECT_EQ(wrong.status().code(), StatusCode::kUnauthenticated) << wrong.status().ToString();
  // The hash itself is not a token.
  auto hash = ConnectWith(TokenHash(kEngineToken));
  EXPECT_EQ(hash.status().code(), StatusCode::kUnauthenticated) << hash.status().ToString();
  EXPECT_EQ(Counter("bad_input_unauthenticated"), before + 3);
}

TEST_F(AuthTest, OnlyASmallHelloIsReadBeforeAuthentication) {
  const uint64_t before = Counter("bad_input_unauthenticated");
  // A Get before any Hello: refused, the connection closed.
  {
    auto socket = testing::RawSocket::Connect(server_->port());
    ASSERT_TRUE(socket.ok());
    const std::vector<std::string> keys = {"k"};
    const auto metadata = protocol::EncodeKeysRequest("kv", keys);
    protocol::FrameHeader header;
    header.opcode = static_cast<uint8_t>(protocol::Opcode::kGet);
    header.request_id = 1;
    header.metadata_length = static_cast<uint32_t>(metadata.bytes().size());
    const auto bytes = protocol::EncodeFrameHeader(header);
    ASSERT_TRUE(socket->SendAll(bytes.data(), bytes.size()));
    ASSERT_TRUE(socket->SendAll(metadata.bytes().data(), metadata.bytes().size()));
    protocol::FrameHeaderBytes reply;
    ASSERT_TRUE(socket->RecvAll(reply.data(), reply.size()));
    auto decoded = protocol::DecodeFrameHeader(reply, protocol::Limits{});
    ASSERT_TRUE(decoded.ok());
    std::vector<std::byte> error(decoded->metadata_length);
    ASSERT_TRUE(socket->RecvAll(error.data(), error.size()));
    EXPECT_EQ(protocol::DecodeErrorReply(error).code(), StatusCode::kUnauthenticated);
    EXPECT_TRUE(socket->WaitClosed());
  }
  // A Hello that announces 64 KiB of metadata: refused before it is read.
  {
    auto socket = testing::RawSocket::Connect(server_->port());
    ASSERT_TRUE(socket.ok());
    protocol::FrameHeader header;
    header.opcode = static_cast<uint8_t>(protocol::Opcode::kHello);
    header.request_id = 1;
    header.metadata_length = 64 << 10;
    const auto bytes = protocol::EncodeFrameHeader(header);
    ASSERT_TRUE(socket->SendAll(bytes.data(), bytes.size()));
    EXPECT_TRUE(socket->WaitClosed());
  }
  EXPECT_EQ(Counter("bad_input_unauthenticated"), before + 2);
}

TEST_F(AuthTest, GrantsDecideReadsAndWritesPerNamespace) {
  auto engine = ConnectWith(kEngineToken);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  auto reader = ConnectWith(kReaderToken);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  const uint64_t denied_before = Counter("bad_input_permission_denied");
  const auto value = testing::RandomBytes(1000, 1);
  const std::vector<std::string> keys = {"k"};

  // engine: read_write on kv.
  ASSERT_TRUE(testing::PutOne(**engine, "kv", "k", value).ok());
  auto got = (*engine)->Get("kv", keys);
  ASSERT_TRUE(got.ok() && got->values[0].status.ok());
  EXPECT_TRUE(testing::SameBytes(got->values[0].bytes, value));

  // reader: read on every namespace, no writes anywhere.
  got = (*reader)->Get("kv", keys);
  ASSERT_TRUE(got.ok() && got->values[0].status.ok());
  EXPECT_TRUE(testing::SameBytes(got->values[0].bytes, value));
  auto match = (*reader)->MatchPrefix("kv", keys);
  ASSERT_TRUE(match.ok());
  EXPECT_EQ(match->matched, 1u);
  EXPECT_EQ(testing::PutOne(**reader, "kv", "k", value).code(), StatusCode::kPermissionDenied);
  EXPECT_EQ((*reader)->Delete("kv", keys).status().code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE((*reader)->Exists("private", keys).ok());

  // engine: read only on kb, nothing on private.
  EXPECT_EQ(testing::PutOne(**engine, "kb", "k", value).code(), StatusCode::kPermissionDenied);
  EXPECT_TRUE((*engine)->Exists("kb", keys).ok());
  EXPECT_EQ((*engine)->Exists("private", keys).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ((*engine)->Get("private", keys).status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ((*engine)->MatchPrefix("private", keys).status().code(), StatusCode::kPermissionDenied);

  // A refusal is per request: the connections still work, nothing changed.
  got = (*reader)->Get("kv", keys);
  ASSERT_TRUE(got.ok() && got->values[0].status.ok());
  EXPECT_TRUE(testing::SameBytes(got->values[0].bytes, value));
  EXPECT_EQ(Counter("bad_input_permission_denied"), denied_before + 6);
}

TEST_F(AuthTest, HelloListsOnlyTheNamespacesATokenMayRead) {
  auto engine = ConnectWith(kEngineToken);
  ASSERT_TRUE(engine.ok()) << engine.status().ToString();
  EXPECT_EQ((*engine)->server_info().namespaces, (std::vector<std::string>{"kv", "kb"}));
  EXPECT_EQ((*engine)->server_info().namespace_models.size(), 2u);
  auto reader = ConnectWith(kReaderToken);
  ASSERT_TRUE(reader.ok()) << reader.status().ToString();
  EXPECT_EQ((*reader)->server_info().namespaces, (std::vector<std::string>{"kv", "kb", "private"}));
}

TEST(AuthConfig, TokensAreCheckedAtStart) {
  const std::string base = "namespaces: [{name: kv}]\nauth: {tokens: [{name: t, ";
  // A plain token where its hash belongs, a namespace that does not exist,
  // an unknown grant level: each stops the server with a clear message.
  for (const auto& [tokens, message] : std::vector<std::pair<std::string, std::string>>{
           {"sha256: engine-token, grants: {kv: read}}]}", "64 hex digits"},
           {"sha256: " + TokenHash("x") + ", grants: {nowhere: read}}]}", "'nowhere'"},
           {"sha256: " + TokenHash("x") + ", grants: {kv: admin}}]}", "read or read_write"},
       }) {
    testing::ServerProcess server({}, base + tokens + "\n");
    EXPECT_FALSE(server.Start().ok()) << tokens;
    EXPECT_NE(server.log().find(message), std::string::npos) << server.log();
  }
}

}  // namespace
}  // namespace kvtier
