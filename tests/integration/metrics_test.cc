// /metrics, /healthz and /readyz of a real kvtierd over HTTP: counters in
// the Prometheus text format that move with the traffic, latency histograms
// per operation, health answers, and refusals of other paths and methods.

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <sstream>

#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"

namespace kvtier {
namespace {

struct HttpReply {
  int status = 0;
  std::string body;
};

// One HTTP/1.1 request on a fresh connection; the server closes after it.
HttpReply Http(uint16_t port, const std::string& method, const std::string& path) {
  HttpReply reply;
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    ::close(fd);
    return reply;
  }
  const std::string request = method + " " + path + " HTTP/1.1\r\nHost: test\r\n\r\n";
  (void)!::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string raw;
  char buffer[16384];
  for (long n; (n = ::recv(fd, buffer, sizeof(buffer), 0)) > 0;) raw.append(buffer, n);
  ::close(fd);
  if (raw.rfind("HTTP/1.1 ", 0) != 0 || raw.size() < 12) return reply;
  reply.status = std::stoi(raw.substr(9, 3));
  const size_t body = raw.find("\r\n\r\n");
  if (body != std::string::npos) reply.body = raw.substr(body + 4);
  return reply;
}

// Whether `line` is one sample of the text format: a metric name, optional
// {labels} without a closing brace inside, a space, and a number.
bool IsSampleLine(const std::string& line) {
  auto name_char = [](char c, bool first) {
    return std::isalpha(static_cast<unsigned char>(c)) || c == '_' || c == ':' ||
           (!first && std::isdigit(static_cast<unsigned char>(c)));
  };
  size_t i = 0;
  while (i < line.size() && name_char(line[i], i == 0)) ++i;
  if (i == 0) return false;
  if (i < line.size() && line[i] == '{') {
    const size_t close = line.find('}', i);
    if (close == std::string::npos) return false;
    i = close + 1;
  }
  if (i >= line.size() || line[i] != ' ' || i + 1 == line.size()) return false;
  const std::string value = line.substr(i + 1);
  return value.find_first_not_of("0123456789.e+-") == std::string::npos;
}

// The value of the sample `name{labels}` (exact text), or -1.
double Sample(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return -1;
}

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start().ok()) << server_.log();
    ASSERT_GT(server_.metrics_port(), 0);
  }
  void TearDown() override { EXPECT_EQ(server_.Stop(), 0) << server_.log(); }
  testing::ServerProcess server_;
};

TEST_F(MetricsTest, CountersAndHistogramsMoveWithTraffic) {
  const HttpReply before = Http(server_.metrics_port(), "GET", "/metrics");
  ASSERT_EQ(before.status, 200);
  EXPECT_EQ(Sample(before.body, "kvtier_requests_total{op=\"put\"}"), 0);

  auto client = testing::ConnectTo(server_);
  ASSERT_TRUE(client);
  const auto value = testing::RandomBytes(64 << 10, 1);
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(testing::PutOne(*client, "demo", "m" + std::to_string(i), value).ok());
  }
  const std::vector<std::string> keys = {"m0", "absent"};
  ASSERT_TRUE(client->Get("demo", keys).ok());
  const std::vector<std::string> prefix = {"m0", "m1", "m2", "gap", "m1"};
  ASSERT_EQ(client->MatchPrefix("demo", prefix)->matched, 3u);

  const HttpReply after = Http(server_.metrics_port(), "GET", "/metrics");
  ASSERT_EQ(after.status, 200);
  const std::string& text = after.body;
  EXPECT_EQ(Sample(text, "kvtier_requests_total{op=\"put\"}"), 3);
  EXPECT_EQ(Sample(text, "kvtier_requests_total{op=\"get\"}"), 1);
  EXPECT_EQ(Sample(text, "kvtier_namespace_puts_total{namespace=\"demo\"}"), 3);
  // Bytes held per namespace: at least the three values in DRAM, none in kv.
  EXPECT_GE(Sample(text, "kvtier_namespace_dram_bytes{namespace=\"demo\"}"), 3 * (64 << 10));
  EXPECT_EQ(Sample(text, "kvtier_namespace_dram_bytes{namespace=\"kv\"}"), 0);
  EXPECT_EQ(Sample(text, "kvtier_namespace_nvme_bytes{namespace=\"kv\"}"), 0);
  EXPECT_EQ(Sample(text, "kvtier_namespace_hits_total{namespace=\"demo\"}"), 1);
  EXPECT_EQ(Sample(text, "kvtier_namespace_misses_total{namespace=\"demo\"}"), 1);
  EXPECT_EQ(Sample(text, "kvtier_connections_active"), 1);
  EXPECT_GE(Sample(text, "kvtier_tier_used_bytes{tier=\"dram\"}"), 3 * (64 << 10));
  EXPECT_GT(Sample(text, "kvtier_tier_capacity_bytes{tier=\"nvme\"}"), 0);
  EXPECT_EQ(Sample(text, "kvtier_request_seconds_count{op=\"put\",phase=\"service\"}"), 3);
  EXPECT_EQ(Sample(text, "kvtier_request_seconds_count{op=\"get\",phase=\"transfer\"}"), 1);
  EXPECT_EQ(Sample(text, "kvtier_request_seconds_bucket{op=\"put\",phase=\"service\",le=\"+Inf\"}"),
            3);
  EXPECT_EQ(Sample(text, "kvtier_bad_input_total{kind=\"verify_failed\"}"), 0);
  // One MatchPrefix that found 3 blocks: in the le="4" bucket, not in le="2".
  EXPECT_EQ(Sample(text, "kvtier_match_depth_blocks_count{namespace=\"demo\"}"), 1);
  EXPECT_EQ(Sample(text, "kvtier_match_depth_blocks_sum{namespace=\"demo\"}"), 3);
  EXPECT_EQ(Sample(text, "kvtier_match_depth_blocks_bucket{namespace=\"demo\",le=\"2\"}"), 0);
  EXPECT_EQ(Sample(text, "kvtier_match_depth_blocks_bucket{namespace=\"demo\",le=\"4\"}"), 1);

  // Every line is a comment or a well-formed sample, and every series is typed.
  std::istringstream lines(text);
  size_t samples = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("# ", 0) == 0) continue;
    EXPECT_TRUE(IsSampleLine(line)) << line;
    const std::string metric = line.substr(0, line.find_first_of("{ "));
    std::string family = metric;
    for (const char* suffix : {"_bucket", "_sum", "_count"}) {
      if (family.ends_with(suffix) && text.find("# TYPE " + metric + " ") == std::string::npos) {
        family = family.substr(0, family.size() - std::string(suffix).size());
      }
    }
    EXPECT_NE(text.find("# TYPE " + family + " "), std::string::npos) << line;
    ++samples;
  }
  EXPECT_GT(samples, 50u);
}

TEST_F(MetricsTest, HealthReadinessAndRefusals) {
  const HttpReply health = Http(server_.metrics_port(), "GET", "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, "ok\n");
  const HttpReply ready = Http(server_.metrics_port(), "GET", "/readyz");
  EXPECT_EQ(ready.status, 200);
  EXPECT_EQ(Http(server_.metrics_port(), "GET", "/nowhere").status, 404);
  EXPECT_EQ(Http(server_.metrics_port(), "POST", "/metrics").status, 405);
  // A peer that connects and says nothing delays the next scrape by at most
  // its timeout; it still gets answered.
  const int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(server_.metrics_port());
  ASSERT_EQ(::connect(silent, reinterpret_cast<sockaddr*>(&address), sizeof(address)), 0);
  EXPECT_EQ(Http(server_.metrics_port(), "GET", "/healthz").status, 200);
  ::close(silent);
}

TEST(MetricsOff, NoPortWhenDisabled) {
  testing::ServerProcess server({"--metrics-listen", "off"});
  ASSERT_TRUE(server.Start().ok()) << server.log();
  EXPECT_EQ(server.metrics_port(), 0);
  auto client = testing::ConnectTo(server);
  EXPECT_TRUE(client != nullptr);
  EXPECT_EQ(server.Stop(), 0);
}

}  // namespace
}  // namespace kvtier
