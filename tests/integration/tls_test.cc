// The TLS listener (server.tls) of a real kvtierd: each refusal it promises
// (docs/config.md, "server.tls") happens on both sides, is counted, and
// leaves the server serving everyone else. The operations themselves run
// over TLS in ServerTest and MixedCallers.

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "client/client.h"
#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"

namespace kvtier {
namespace {

using client::Client;
using client::ClientOptions;

// Two servers on certificates of one CA: `open_` has a TLS listener beside
// the plaintext one; `mutual_` listens on TLS only and requires client
// certificates that CA signed. A second, unrelated CA stands for everything
// the servers must not trust.
class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    open_ = new testing::ServerProcess();
    ASSERT_TRUE(open_->EnableTls().ok());
    ASSERT_TRUE(open_->Start().ok()) << open_->log();
    certs_ = open_->tls_dir();
    other_ca_ = open_->dir() / "other";
    ASSERT_TRUE(testing::MakeTestCertificates(other_ca_).ok());
    const std::string config =
        "server:\n"
        "  frame_timeout_ms: 2000\n"
        "  tls:\n"
        "    listen: 127.0.0.1:0\n"
        "    cert_file: " +
        (certs_ / "server.crt").string() + "\n    key_file: " + (certs_ / "server.key").string() +
        "\n    client_ca_file: " + (certs_ / "ca.crt").string() +
        "\n    only: true\n"
        "tiers: {dram: {capacity: 64MiB}}\n"
        "namespaces: [{name: kv}]\n";
    mutual_ = new testing::ServerProcess({}, config);
    ASSERT_TRUE(mutual_->Start().ok()) << mutual_->log();
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(open_->Stop(), 0) << open_->log();
    EXPECT_EQ(mutual_->Stop(), 0) << mutual_->log();
    delete open_;
    delete mutual_;
  }

  // After each test both servers still serve a client they trust.
  void TearDown() override {
    auto client = Client::Connect(OpenOptions());
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    EXPECT_TRUE((*client)->Stats().ok());
    auto mutual = Client::Connect(MutualOptions());
    ASSERT_TRUE(mutual.ok()) << mutual.status().ToString();
    EXPECT_TRUE((*mutual)->Stats().ok());
  }

  static ClientOptions OpenOptions() {
    return testing::OptionsFor(*open_, testing::Transport::kTls);
  }

  static ClientOptions MutualOptions() {
    ClientOptions options;
    options.port = mutual_->tls_port();
    options.tls.enabled = true;
    options.tls.ca_file = (certs_ / "ca.crt").string();
    options.tls.cert_file = (certs_ / "client.crt").string();
    options.tls.key_file = (certs_ / "client.key").string();
    return options;
  }

  // A counter of `server`, read over a connection it accepts.
  static uint64_t Counter(testing::ServerProcess& server, const std::string& name) {
    auto client = Client::Connect(&server == open_ ? OpenOptions() : MutualOptions());
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? testing::ServerCounter(**client, name) : 0;
  }

  static testing::ServerProcess* open_;
  static testing::ServerProcess* mutual_;
  static std::filesystem::path certs_;
  static std::filesystem::path other_ca_;
};
testing::ServerProcess* TlsTest::open_ = nullptr;
testing::ServerProcess* TlsTest::mutual_ = nullptr;
std::filesystem::path TlsTest::certs_;
std::filesystem::path TlsTest::other_ca_;

TEST_F(TlsTest, TheSameServerServesPlaintextAndTls) {
  const auto value = testing::RandomBytes(300000, 1);
  auto tls = Client::Connect(OpenOptions());
  ASSERT_TRUE(tls.ok()) << tls.status().ToString();
  ASSERT_TRUE(testing::PutOne(**tls, "demo", "over-tls", value).ok());
  auto plain = Client::Connect(testing::OptionsFor(*open_));
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  const std::vector<std::string> keys = {"over-tls"};
  auto got = (*plain)->Get("demo", keys);
  ASSERT_TRUE(got.ok() && got->values[0].status.ok());
  EXPECT_TRUE(testing::SameBytes(got->values[0].bytes, value));
}

TEST_F(TlsTest, AServerCertificateFromAnotherCaIsRefusedByTheClient) {
  const uint64_t before = Counter(*open_, "bad_input_tls_handshake");
  ClientOptions options = OpenOptions();
  options.tls.ca_file = (other_ca_ / "ca.crt").string();
  auto client = Client::Connect(options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kUnauthenticated) << client.status().ToString();
  EXPECT_NE(client.status().message().find("certificate verify failed"), std::string::npos)
      << client.status().ToString();
  // The server sees the client's alert: a failed handshake, counted.
  EXPECT_EQ(Counter(*open_, "bad_input_tls_handshake"), before + 1);
}

TEST_F(TlsTest, AServerCertificateForAnotherNameIsRefusedByTheClient) {
  ClientOptions options = OpenOptions();
  options.tls.server_name = "cache.example";  // the certificate names localhost and 127.0.0.1
  auto client = Client::Connect(options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kUnauthenticated) << client.status().ToString();
  // Both names it does hold are accepted.
  options.tls.server_name = "localhost";
  EXPECT_TRUE(Client::Connect(options).ok());
  options.tls.server_name = "127.0.0.1";
  EXPECT_TRUE(Client::Connect(options).ok());
}

TEST_F(TlsTest, PlaintextOnTheTlsPortIsCutAndCounted) {
  const uint64_t before = Counter(*open_, "bad_input_tls_handshake");
  // A plaintext client: its Hello is not a TLS record.
  ClientOptions options = testing::OptionsFor(*open_);
  options.port = open_->tls_port();
  auto client = Client::Connect(options);
  EXPECT_FALSE(client.ok());
  // Raw bytes that look like nothing at all.
  auto socket = testing::RawSocket::Connect(open_->tls_port());
  ASSERT_TRUE(socket.ok());
  const std::string junk(64, 'x');
  ASSERT_TRUE(socket->SendAll(junk.data(), junk.size()));
  EXPECT_TRUE(socket->WaitClosed());
  EXPECT_EQ(Counter(*open_, "bad_input_tls_handshake"), before + 2);
}

TEST_F(TlsTest, ATlsClientOnThePlaintextPortFailsCleanly) {
  ClientOptions options = OpenOptions();
  options.port = open_->port();
  auto client = Client::Connect(options);
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kUnauthenticated) << client.status().ToString();
}

TEST_F(TlsTest, AStalledHandshakeIsCutByTheFrameTimeout) {
  const uint64_t before = Counter(*mutual_, "bad_input_frame_timeout");
  // Connects and sends half a ClientHello record header, then nothing.
  auto socket = testing::RawSocket::Connect(mutual_->tls_port());
  ASSERT_TRUE(socket.ok());
  const unsigned char partial[] = {0x16, 0x03, 0x01};
  ASSERT_TRUE(socket->SendAll(partial, sizeof partial));
  EXPECT_TRUE(socket->WaitClosed());
  EXPECT_EQ(Counter(*mutual_, "bad_input_frame_timeout"), before + 1);
}

TEST_F(TlsTest, MutualTlsRefusesClientsWithoutATrustedCertificate) {
  const uint64_t before = Counter(*mutual_, "bad_input_tls_handshake");
  // No client certificate.
  ClientOptions options = MutualOptions();
  options.tls.cert_file.clear();
  options.tls.key_file.clear();
  auto none = Client::Connect(options);
  EXPECT_EQ(none.status().code(), StatusCode::kUnauthenticated) << none.status().ToString();
  // A certificate from another CA.
  options.tls.cert_file = (other_ca_ / "client.crt").string();
  options.tls.key_file = (other_ca_ / "client.key").string();
  auto foreign = Client::Connect(options);
  EXPECT_EQ(foreign.status().code(), StatusCode::kUnauthenticated) << foreign.status().ToString();
  EXPECT_EQ(Counter(*mutual_, "bad_input_tls_handshake"), before + 2);

  // A trusted one: served.
  auto client = Client::Connect(MutualOptions());
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  const auto value = testing::RandomBytes(5000, 2);
  ASSERT_TRUE(testing::PutOne(**client, "kv", "k", value).ok());
}

TEST_F(TlsTest, TlsOnlyOpensNoPlaintextListener) {
  EXPECT_EQ(mutual_->port(), 0);
  EXPECT_NE(mutual_->log().find("no plaintext TCP listener"), std::string::npos) << mutual_->log();
}

TEST(TlsConfig, UnusableFilesStopTheServerWithAClearMessage) {
  testing::ServerProcess reference;
  ASSERT_TRUE(reference.EnableTls().ok());
  const auto certs = reference.tls_dir();
  const auto other = reference.dir() / "other";
  ASSERT_TRUE(testing::MakeTestCertificates(other).ok());
  struct Case {
    std::string cert, key, message;
  };
  for (const Case& c : std::vector<Case>{
           {"/nonexistent/server.crt", (certs / "server.key").string(),
            "TLS certificate '/nonexistent/server.crt'"},
           {(certs / "server.crt").string(), (certs / "ca.crt").string(), "TLS private key"},
           {(certs / "server.crt").string(), (other / "server.key").string(),
            "TLS private key '" + (other / "server.key").string() + "'"},
       }) {
    testing::ServerProcess server(
        {"--tls-listen", "127.0.0.1:0", "--tls-cert", c.cert, "--tls-key", c.key});
    EXPECT_FALSE(server.Start().ok()) << c.message;
    EXPECT_NE(server.log().find(c.message), std::string::npos) << server.log();
  }
  // A TLS listener without its key file.
  testing::ServerProcess no_key(
      {"--tls-listen", "127.0.0.1:0", "--tls-cert", (certs / "server.crt").string()});
  EXPECT_FALSE(no_key.Start().ok());
  EXPECT_NE(no_key.log().find("server.tls needs cert_file and key_file"), std::string::npos)
      << no_key.log();
}

TEST(TlsClientOptions, AHandshakeWithASilentPeerEndsAtTheConnectTimeout) {
  testing::SilentListener silent;  // accepts TCP, never answers
  ClientOptions options;
  options.port = silent.port();
  options.connect_timeout = std::chrono::milliseconds(300);
  options.tls.enabled = true;
  auto client = Client::Connect(options);
  EXPECT_EQ(client.status().code(), StatusCode::kDeadlineExceeded) << client.status().ToString();
  EXPECT_NE(client.status().message().find("TLS handshake"), std::string::npos)
      << client.status().ToString();
}

TEST(TlsClientOptions, AreCheckedBeforeConnecting) {
  ClientOptions options;
  options.tls.enabled = true;
  options.tls.ca_file = "/nonexistent/ca.crt";
  auto client = Client::Connect(options);
  EXPECT_EQ(client.status().code(), StatusCode::kInvalidArgument) << client.status().ToString();
  options.tls.ca_file.clear();
  options.tls.cert_file = "/some/client.crt";  // without its key
  client = Client::Connect(options);
  EXPECT_EQ(client.status().code(), StatusCode::kInvalidArgument) << client.status().ToString();
  options.tls.cert_file.clear();
  options.unix_socket = "/tmp/kvtier.sock";
  client = Client::Connect(options);
  EXPECT_EQ(client.status().code(), StatusCode::kInvalidArgument) << client.status().ToString();
}

}  // namespace
}  // namespace kvtier
