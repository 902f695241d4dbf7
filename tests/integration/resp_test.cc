// The RESP endpoint of a real kvtierd, driven by redis-cli (Debian's
// redis-tools) and by raw sockets for what no well-behaved client sends.
// python3-redis drives it too: tests/resp/test_redis_py.py.

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <vector>

#include "client/client.h"
#include "common/token.h"
#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"

namespace kvtier {
namespace {

using testing::RunShell;

constexpr std::string_view kWriterToken = "resp-writer-token-0123456789";
constexpr std::string_view kReaderToken = "resp-reader-token-9876543210";

class RespTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new testing::ServerProcess(
        {"--resp-listen", "127.0.0.1:0", "--no-nvme"},
        "tiers: {dram: {capacity: 256MiB}}\n"
        "namespaces: [{name: kv}, {name: kb, kind: kb}, {name: data, kind: dataset}]\n");
    ASSERT_TRUE(server_->Start().ok()) << server_->log();
    ASSERT_NE(server_->resp_port(), 0);
    char pattern[] = "/tmp/kvtier-resp-XXXXXX";
    dir_ = mkdtemp(pattern);
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(), 0) << server_->log();
    delete server_;
    std::filesystem::remove_all(dir_);
  }

  // redis-cli against the server's RESP port; stdout only unless `args`
  // redirects stderr.
  static testing::ShellRun Cli(const std::string& args, uint16_t port = 0) {
    return RunShell("redis-cli -p " + std::to_string(port ? port : server_->resp_port()) + " " +
                    args);
  }
  static std::string Out(const std::string& args) { return Cli(args).out; }
  // Commands, one per line, sent on one connection (redis-cli reads them
  // from stdin); the replies.
  static std::string Session(const std::string& lines) {
    const std::string file = (dir_ / "commands.txt").string();
    std::ofstream(file) << lines;
    return Out("< " + file);
  }

  static std::unique_ptr<client::Client> Native() {
    client::ClientOptions options;
    options.port = server_->port();
    auto client = client::Client::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    return client.ok() ? std::move(*client) : nullptr;
  }

  static testing::ServerProcess* server_;
  static std::filesystem::path dir_;
};
testing::ServerProcess* RespTest::server_ = nullptr;
std::filesystem::path RespTest::dir_;

TEST_F(RespTest, RedisCliSetsGetsAndDeletes) {
  EXPECT_EQ(Out("ping"), "PONG\n");
  EXPECT_EQ(Out("set greeting hello"), "OK\n");
  EXPECT_EQ(Out("get greeting"), "hello\n");
  EXPECT_EQ(Out("get absent-key"), "\n");  // nil prints as an empty line in --raw mode
  EXPECT_EQ(Out("mset a 1 b 2 c 3"), "OK\n");
  EXPECT_EQ(Out("mget a nope c"), "1\n\n3\n");
  EXPECT_EQ(Out("exists a b nope c a"), "4\n");
  EXPECT_EQ(Out("del a b nope"), "2\n");
  EXPECT_EQ(Out("unlink c"), "1\n");
  EXPECT_EQ(Out("exists a b c"), "0\n");
  EXPECT_EQ(Out("set once x nx"), "OK\n");
  EXPECT_EQ(Out("set once y nx"), "\n");  // not set: nil
  EXPECT_EQ(Out("get once"), "x\n");
  EXPECT_EQ(Out("set never y xx"), "\n");
  EXPECT_EQ(Out("exists never"), "0\n");
}

TEST_F(RespTest, BinaryValuesMatchWhatTheNativeClientSees) {
  // A value of every byte, set by redis-cli from a file, read by kvtier's
  // own client with its checksum verified; and the other way round.
  const auto value = testing::RandomBytes(300 << 10, 11);
  const std::string in = (dir_ / "value.bin").string();
  std::ofstream(in, std::ios::binary)
      .write(reinterpret_cast<const char*>(value.data()),
             static_cast<std::streamsize>(value.size()));
  ASSERT_EQ(Out("-x set blob < " + in), "OK\n");
  auto native = Native();
  ASSERT_NE(native, nullptr);
  const std::vector<std::string> keys = {"blob"};
  auto got = native->Get("kv", keys);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_TRUE(got->values[0].status.ok()) << got->values[0].status.ToString();
  EXPECT_TRUE(std::equal(value.begin(), value.end(), got->values[0].bytes.begin(),
                         got->values[0].bytes.end()));

  const std::vector<std::string> native_keys = {"from-native"};
  const std::span<const std::byte> values[] = {value};
  ASSERT_TRUE(native->Put("kv", native_keys, values).ok());
  const std::string out = (dir_ / "out.bin").string();
  ASSERT_EQ(Cli("--raw get from-native > " + out).exit_code, 0);
  // --raw adds a newline after the value.
  EXPECT_EQ(
      RunShell("head -c " + std::to_string(value.size()) + " " + out + " | cmp - " + in).exit_code,
      0);
}

TEST_F(RespTest, SelectPicksANamespaceByNameAndKeepsKeysApart) {
  EXPECT_EQ(Out("set shared-name in-kv"), "OK\n");
  // One connection: SELECT lasts for the connection.
  EXPECT_EQ(Session("SELECT kb\nGET shared-name\nSET shared-name in-kb\nGET shared-name\n"),
            "OK\n\nOK\nin-kb\n");
  EXPECT_EQ(Out("get shared-name"), "in-kv\n");
  EXPECT_NE(Out("select data").find("RESP serves kv and kb"), std::string::npos);
  EXPECT_NE(Out("select nowhere").find("no namespace"), std::string::npos);
  EXPECT_NE(Out("select 3").find("out of range"), std::string::npos);
}

TEST_F(RespTest, ScanWalksEveryKeyOnceAndDbsizeCountsThem) {
  const std::string before = Session("SELECT kb\nDBSIZE\n");  // "OK\n<n>\n"
  const int keys_before = std::stoi(before.substr(3));
  std::string sets = "SELECT kb\n";
  for (int i = 0; i < 300; ++i) sets += "SET scan:" + std::to_string(i) + " v\n";
  ASSERT_EQ(Session(sets).size(), std::string("OK\n").size() * 301);
  const std::string keys = Session("SELECT kb\nSCAN 0 MATCH scan:* COUNT 1000\nDBSIZE\n");
  EXPECT_NE(keys.find("scan:299"), std::string::npos);
  size_t listed = 0;
  for (size_t at = keys.find("scan:"); at != std::string::npos; at = keys.find("scan:", at + 1)) {
    ++listed;
  }
  EXPECT_EQ(listed, 300u);
  EXPECT_NE(keys.find("\n" + std::to_string(keys_before + 300) + "\n"), std::string::npos)
      << keys;  // DBSIZE
  // Through redis-cli's own cursor loop, in the listener's namespace.
  EXPECT_EQ(Out("mset s1 a s2 b s3 c"), "OK\n");
  EXPECT_EQ(Out("--scan --pattern 's[0-9]' | sort"), "s1\ns2\ns3\n");
}

TEST_F(RespTest, InfoCommandAndClientAnswerWhatClientsProbe) {
  const std::string info = Out("info");
  EXPECT_NE(info.find("redis_version:"), std::string::npos);
  EXPECT_NE(info.find("# Tiers"), std::string::npos);
  EXPECT_NE(info.find("dram_capacity_bytes:268435456"), std::string::npos);
  EXPECT_NE(info.find("ns_kv:kind=kv"), std::string::npos);
  EXPECT_EQ(Out("info tiers").find("# Server"), std::string::npos);
  EXPECT_NE(Out("command count"), "0\n");
  EXPECT_NE(Out("command info get").find("readonly"), std::string::npos);
  EXPECT_EQ(Out("client setname engine-1"), "OK\n");
  EXPECT_EQ(Out("echo hi"), "hi\n");
  EXPECT_NE(Out("-3 hello 3").find("proto"), std::string::npos);
}

// Raw bytes: replies as a client library would read them.
std::string Exchange(testing::RawSocket& socket, const std::string& request, size_t reply_bytes) {
  EXPECT_TRUE(socket.SendAll(request.data(), request.size()));
  std::string reply(reply_bytes, '\0');
  EXPECT_TRUE(socket.RecvAll(reply.data(), reply.size()));
  return reply;
}

TEST_F(RespTest, UnknownCommandsAndBadArgumentsKeepTheConnection) {
  auto socket = testing::RawSocket::Connect(server_->resp_port());
  ASSERT_TRUE(socket.ok());
  const std::string unknown = "-ERR unknown command 'FLUSHALL', with args beginning with: \r\n";
  EXPECT_EQ(Exchange(*socket, "*1\r\n$8\r\nFLUSHALL\r\n", unknown.size()), unknown);
  const std::string arity = "-ERR wrong number of arguments for 'get' command\r\n";
  EXPECT_EQ(Exchange(*socket, "*1\r\n$3\r\nGET\r\n", arity.size()), arity);
  const std::string long_key(300, 'k');
  const std::string too_long = "-ERR keys must be 1..256 bytes, got 300\r\n";
  EXPECT_EQ(Exchange(*socket, "*2\r\n$3\r\nGET\r\n$300\r\n" + long_key + "\r\n", too_long.size()),
            too_long);
  const std::string syntax = "-ERR syntax error\r\n";
  EXPECT_EQ(Exchange(*socket, "SET k v BOGUS\r\n", syntax.size()), syntax);
  // Pipelined: three commands in one write, three replies in order.
  EXPECT_EQ(Exchange(*socket, "PING\r\nSET p 1\r\nGET p\r\n", 7 + 5 + 7),
            "+PONG\r\n+OK\r\n$1\r\n1\r\n");
}

TEST_F(RespTest, BrokenStreamsGetAnErrorThenAClose) {
  auto native = Native();
  ASSERT_NE(native, nullptr);
  const uint64_t before = testing::ServerCounter(*native, "bad_input_resp_protocol");
  const std::vector<std::string> broken = {
      "*2\r\n$3\r\nGET\r\n:12\r\n",            // not a bulk string
      "*1\r\n$abc\r\n",                        // bad length
      "*2\r\n$3\r\nSET\r\n$999999999999\r\n",  // over max_value_bytes
      "*3\r\n$3\r\nGET\r\n",                   // then garbage below
      std::string(70 << 10, 'a'),              // inline over 64 KiB
  };
  for (size_t i = 0; i < broken.size(); ++i) {
    auto socket = testing::RawSocket::Connect(server_->resp_port());
    ASSERT_TRUE(socket.ok());
    std::string request = broken[i];
    if (i == 3) request += "$x\r\n";
    ASSERT_TRUE(socket->SendAll(request.data(), request.size()));
    std::string reply(16, '\0');
    ASSERT_TRUE(socket->RecvAll(reply.data(), reply.size())) << i;
    EXPECT_EQ(reply, "-ERR Protocol er") << i;
    EXPECT_TRUE(socket->WaitClosed()) << i;
  }
  EXPECT_EQ(testing::ServerCounter(*native, "bad_input_resp_protocol"), before + broken.size());
  EXPECT_EQ(Out("ping"), "PONG\n");  // and the server serves on
}

TEST(RespAuthTest, TokensGateEveryCommandAndGrantsHold) {
  testing::ServerProcess server({"--resp-listen", "127.0.0.1:0", "--no-nvme"},
                                "tiers: {dram: {capacity: 64MiB}}\n"
                                "namespaces: [{name: kv}]\n"
                                "auth:\n"
                                "  tokens:\n"
                                "    - {name: writer, sha256: " +
                                    TokenHash(kWriterToken) +
                                    ", grants: {kv: read_write}}\n"
                                    "    - {name: reader, sha256: " +
                                    TokenHash(kReaderToken) + ", grants: {kv: read}}\n");
  ASSERT_TRUE(server.Start().ok()) << server.log();
  const std::string cli = "redis-cli --no-auth-warning -p " + std::to_string(server.resp_port());
  EXPECT_NE(RunShell(cli + " get k").out.find("NOAUTH"), std::string::npos);
  EXPECT_NE(RunShell(cli + " -a wrong-token get k 2>&1").out.find("WRONGPASS"), std::string::npos);
  EXPECT_EQ(RunShell(cli + " -a " + std::string(kWriterToken) + " set k v").out, "OK\n");
  EXPECT_EQ(RunShell(cli + " -a " + std::string(kReaderToken) + " get k").out, "v\n");
  EXPECT_NE(RunShell(cli + " -a " + std::string(kReaderToken) + " set k w").out.find("NOPERM"),
            std::string::npos);
  // HELLO with AUTH, as RESP3 clients log in.
  EXPECT_NE(RunShell(cli + " hello 3 auth default " + std::string(kWriterToken)).out.find("proto"),
            std::string::npos);
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

TEST(RespLimitTest, PastTheConnectionLimitAClientReadsRedisRefusal) {
  testing::ServerProcess server({"--resp-listen", "127.0.0.1:0", "--no-nvme"},
                                "server: {max_connections: 1}\nnamespaces: [{name: kv}]\n");
  ASSERT_TRUE(server.Start().ok()) << server.log();
  auto first = testing::RawSocket::Connect(server.resp_port());
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(Exchange(*first, "PING\r\n", 7), "+PONG\r\n");  // holds the only slot
  auto second = testing::RawSocket::Connect(server.resp_port());
  ASSERT_TRUE(second.ok());
  const std::string refusal = "-ERR max number of clients reached\r\n";
  std::string reply(refusal.size(), '\0');
  ASSERT_TRUE(second->RecvAll(reply.data(), reply.size()));
  EXPECT_EQ(reply, refusal);
  EXPECT_TRUE(second->WaitClosed());
  EXPECT_EQ(Exchange(*first, "PING\r\n", 7), "+PONG\r\n");
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

}  // namespace
}  // namespace kvtier
