// The pure parts of the Blob-compatible endpoint: request targets, ranges
// and dates, routes and listing plans, markers, XML, and the Shared Key and
// SAS checks (signatures made independently here, the way Azure's SDKs
// make them).

#include <gtest/gtest.h>

#include "server/blob_endpoint/blob_auth.h"
#include "server/blob_endpoint/blob_request.h"
#include "server/blob_endpoint/blob_routes.h"
#include "server/blob_endpoint/blob_xml.h"
#include "tiers/blob/auth.h"

namespace kvtier::server::blob_endpoint {
namespace {

constexpr const char* kKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
constexpr const char* kAccount = "devstoreaccount1";

TEST(BlobTargetTest, PathStyleAndHostStyle) {
  auto path_style = ParseTarget("/devstoreaccount1/data/a%20b/c.bin?comp=x&y=%2F", kAccount);
  ASSERT_TRUE(path_style.ok());
  EXPECT_EQ(path_style->raw_path, "/devstoreaccount1/data/a%20b/c.bin");
  EXPECT_EQ(path_style->container, "data");
  EXPECT_EQ(path_style->blob, "a b/c.bin");
  EXPECT_EQ(path_style->Query("comp"), "x");
  EXPECT_EQ(path_style->Query("y"), "/");
  EXPECT_FALSE(path_style->Query("z"));

  auto host_style = ParseTarget("/data/shards/0?restype=container", kAccount);
  ASSERT_TRUE(host_style.ok());
  EXPECT_EQ(host_style->container, "data");
  EXPECT_EQ(host_style->blob, "shards/0");

  auto account = ParseTarget("/devstoreaccount1/?comp=list", kAccount);
  ASSERT_TRUE(account.ok());
  EXPECT_EQ(account->container, "");
  EXPECT_EQ(account->blob, "");
  auto container = ParseTarget("/devstoreaccount1/data", kAccount);
  ASSERT_TRUE(container.ok());
  EXPECT_EQ(container->container, "data");
  EXPECT_EQ(container->blob, "");
}

TEST(BlobTargetTest, RefusesMalformedTargets) {
  EXPECT_FALSE(ParseTarget("", kAccount).ok());
  EXPECT_FALSE(ParseTarget("data/x", kAccount).ok());
  EXPECT_FALSE(ParseTarget("/data/x%2", kAccount).ok());
  EXPECT_FALSE(ParseTarget("/data/x%zz", kAccount).ok());
  EXPECT_FALSE(ParseTarget("/data/x?a=%", kAccount).ok());
  EXPECT_FALSE(ParseTarget("/data/" + std::string(1025, 'a'), kAccount).ok());
  EXPECT_TRUE(ParseTarget("/data/" + std::string(1024, 'a'), kAccount).ok());
}

TEST(BlobTargetTest, HeaderValuesIgnoreCase) {
  const std::vector<tiers::blob::HeaderField> headers = {{"X-MS-Range", "bytes=0-1"},
                                                         {"authorization", "SharedKey a:b"}};
  EXPECT_EQ(HeaderValue(headers, "x-ms-range"), "bytes=0-1");
  EXPECT_EQ(HeaderValue(headers, "Authorization"), "SharedKey a:b");
  EXPECT_EQ(HeaderValue(headers, "range"), "");
}

TEST(BlobRangeTest, Forms) {
  auto none = ParseRange("");
  ASSERT_TRUE(none.ok());
  EXPECT_FALSE(*none);
  auto closed = ParseRange("bytes=10-19");
  ASSERT_TRUE(closed.ok() && *closed);
  EXPECT_EQ((*closed)->first, 10u);
  EXPECT_EQ((*closed)->last, 19u);
  auto open = ParseRange("bytes=5-");
  ASSERT_TRUE(open.ok() && *open);
  EXPECT_EQ((*open)->first, 5u);
  EXPECT_FALSE((*open)->last);
  for (const char* bad : {"bytes=-5", "bytes=5-4", "items=0-1", "bytes=0-1,4-5", "bytes=a-b",
                          "bytes=1", "bytes=99999999999999999999-"}) {
    EXPECT_FALSE(ParseRange(bad).ok()) << bad;
  }
}

TEST(BlobDateTest, HttpAndIsoTimes) {
  EXPECT_EQ(HttpDateOf(0), "Thu, 01 Jan 1970 00:00:00 GMT");
  EXPECT_EQ(ParseHttpDate("Sun, 06 Dec 2026 10:00:00 GMT"), 1796551200);
  EXPECT_EQ(ParseHttpDate(HttpDateOf(1796551200)), 1796551200);
  EXPECT_FALSE(ParseHttpDate("yesterday"));
  EXPECT_FALSE(ParseHttpDate("Sun, 06 Foo 2026 10:00:00 GMT"));
  EXPECT_EQ(ParseIsoTime("2026-12-06T10:00:00Z"), 1796551200);
  EXPECT_EQ(ParseIsoTime("2026-12-06T10:00Z"), 1796551200);
  EXPECT_EQ(ParseIsoTime("2026-12-06T10:00:00.1234567Z"), 1796551200);
  EXPECT_EQ(ParseIsoTime("2026-12-06"), 1796515200);
  for (const char* bad : {"", "2026-12-06T10", "2026-13-06T10:00:00Z", "2026-12-06T10:00:00",
                          "2026-12-06T10:00:00.Z", "20261206"}) {
    EXPECT_FALSE(ParseIsoTime(bad)) << bad;
  }
}

TEST(BlobRoutesTest, LongestPrefixWins) {
  BlobRoutes routes({{"data", "", "all"}, {"data", "train/", "train"}, {"ckpt", "job/", "job"}});
  EXPECT_EQ(routes.Containers(), (std::vector<std::string>{"ckpt", "data"}));
  EXPECT_TRUE(routes.HasContainer("data"));
  EXPECT_FALSE(routes.HasContainer("other"));
  ASSERT_NE(routes.Find("data", "train/0"), nullptr);
  EXPECT_EQ(routes.Find("data", "train/0")->namespace_name, "train");
  EXPECT_EQ(routes.Find("data", "val/0")->namespace_name, "all");
  EXPECT_EQ(routes.Find("ckpt", "other/0"), nullptr);
  EXPECT_EQ(routes.InContainer("data").size(), 2u);
}

TEST(BlobRoutesTest, ListingPlans) {
  const BlobRoute route{"c", "datasets/imagenet/", "ns"};
  auto inside = BlobRoutes::ListingOf(route, "datasets/imagenet/train/", "/");
  EXPECT_EQ(inside.kind, RouteListing::Kind::kList);
  EXPECT_EQ(inside.inner_prefix, "train/");
  auto rolled = BlobRoutes::ListingOf(route, "", "/");
  EXPECT_EQ(rolled.kind, RouteListing::Kind::kRolledUp);
  EXPECT_EQ(rolled.rolled_prefix, "datasets/");
  auto rolled_deeper = BlobRoutes::ListingOf(route, "datasets/", "/");
  EXPECT_EQ(rolled_deeper.rolled_prefix, "datasets/imagenet/");
  auto flat = BlobRoutes::ListingOf(route, "data", "");
  EXPECT_EQ(flat.kind, RouteListing::Kind::kList);
  EXPECT_EQ(flat.inner_prefix, "");
  EXPECT_EQ(BlobRoutes::ListingOf(route, "models/", "/").kind, RouteListing::Kind::kSkip);
}

TEST(BlobRoutesTest, MarkersRoundTripAndRefuseForgeries) {
  auto start = ParseMarker("");
  ASSERT_TRUE(start.ok());
  EXPECT_EQ(start->route, 0u);
  auto back = ParseMarker(FormatMarker({3, "inner.token/with.dots"}));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->route, 3u);
  EXPECT_EQ(back->inner_token, "inner.token/with.dots");
  for (const char* bad : {"x", "k1.", "k1..x", "k1.a.x", "k2.0.x"}) {
    EXPECT_FALSE(ParseMarker(bad).ok()) << bad;
  }
}

TEST(BlobXmlTest, EscapesAndMergesInNameOrder) {
  EXPECT_EQ(XmlEscape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&apos;");
  EXPECT_EQ(EtagOf("0x1"), "\"0x1\"");
  EXPECT_EQ(EtagOf("\"0x1\""), "\"0x1\"");
  EXPECT_EQ(BareEtagOf("\"0x1\""), "0x1");
  EXPECT_EQ(BareEtagOf("0x1"), "0x1");
  BlobListPage page;
  page.container = "c";
  page.blobs = {{"a", 1, "\"e\"", 0}, {"c&d", 2, "\"e\"", 0}};
  page.prefixes = {"b/"};
  page.next_marker = "k1.0.x";
  const std::string xml = ListBlobsXml(page);
  const size_t a = xml.find("<Name>a</Name>");
  const size_t b = xml.find("<BlobPrefix><Name>b/</Name></BlobPrefix>");
  const size_t c = xml.find("<Name>c&amp;d</Name>");
  ASSERT_NE(a, std::string::npos);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(c, std::string::npos);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_NE(xml.find("<NextMarker>k1.0.x</NextMarker>"), std::string::npos);
  EXPECT_NE(xml.find("<Content-Length>2</Content-Length>"), std::string::npos);
  const std::string error = ErrorXml("BlobNotFound", "gone", "id-1");
  EXPECT_NE(error.find("<Code>BlobNotFound</Code>"), std::string::npos);
  EXPECT_NE(error.find("RequestId:id-1"), std::string::npos);
}

class BlobAuthTest : public ::testing::Test {
 protected:
  BlobAuthTest() : tokens_({}, {}), authorizer_(kAccount, kKey, tokens_) {}

  std::variant<Access, AuthRefusal> Authorize(const std::string& target_text,
                                              std::vector<tiers::blob::HeaderField> headers,
                                              BlobOperation operation = BlobOperation::kReadBlob,
                                              std::time_t now = 1796551200) {
    auto target = ParseTarget(target_text, kAccount);
    EXPECT_TRUE(target.ok());
    target_ = std::move(*target);
    headers_ = std::move(headers);
    return authorizer_.Authorize({"GET", &target_, &headers_, operation, now});
  }

  // A Shared Key Authorization header made with the client-side signer.
  std::string SharedKeyFor(const std::string& target_text,
                           const std::vector<tiers::blob::HeaderField>& headers) {
    auto target = ParseTarget(target_text, kAccount);
    auto signer = tiers::blob::SharedKeySigner::Create(kAccount, kKey);
    tiers::blob::RequestToSign request;
    request.verb = "GET";
    request.path = target->raw_path;
    request.query = target->query;
    request.headers = &headers;
    return signer->Authorization(request);
  }

  static std::string Sign(const std::string& text) {
    auto key = tiers::blob::Base64Decode(kKey);
    return tiers::blob::PercentEncode(tiers::blob::HmacSha256Base64(*key, text), false);
  }

  Authenticator tokens_;
  BlobAuthorizer authorizer_;
  BlobTarget target_;
  std::vector<tiers::blob::HeaderField> headers_;
};

TEST_F(BlobAuthTest, AnonymousAllowedWithoutTokens) {
  EXPECT_TRUE(std::holds_alternative<Access>(Authorize("/devstoreaccount1/c/b", {})));
}

TEST_F(BlobAuthTest, SharedKeyVerifiedAndTamperingRefused) {
  const std::string target = "/devstoreaccount1/c/dir/b%20x.bin";
  std::vector<tiers::blob::HeaderField> headers = {{"x-ms-date", "Sun, 06 Dec 2026 10:00:00 GMT"},
                                                   {"x-ms-version", "2021-12-02"},
                                                   {"x-ms-range", "bytes=0-9"}};
  const std::string authorization = SharedKeyFor(target, headers);
  headers.push_back({"Authorization", authorization});
  EXPECT_TRUE(std::holds_alternative<Access>(Authorize(target, headers)));

  auto tampered = headers;
  tampered[2].value = "bytes=0-99";
  auto refused = Authorize(target, tampered);
  ASSERT_TRUE(std::holds_alternative<AuthRefusal>(refused));
  EXPECT_EQ(std::get<AuthRefusal>(refused).code, "AuthenticationFailed");
  EXPECT_TRUE(std::holds_alternative<AuthRefusal>(Authorize("/devstoreaccount1/c/other", headers)));

  auto other_account = headers;
  other_account.back().value =
      "SharedKey someone:" + authorization.substr(authorization.find(':') + 1);
  EXPECT_TRUE(std::holds_alternative<AuthRefusal>(Authorize(target, other_account)));
}

TEST_F(BlobAuthTest, AccountSas) {
  const std::string to_sign =
      std::string(kAccount) + "\nrl\nb\nsco\n\n2026-12-07T00:00:00Z\n\nhttps,http\n2021-12-02\n\n";
  const std::string query =
      "?sv=2021-12-02&ss=b&srt=sco&sp=rl&se=2026-12-07T00%3A00%3A00Z&spr=https,http&sig=" +
      Sign(to_sign);
  EXPECT_TRUE(std::holds_alternative<Access>(Authorize("/devstoreaccount1/c/b" + query, {})));
  EXPECT_TRUE(std::holds_alternative<Access>(
      Authorize("/devstoreaccount1/c" + query + "&restype=container&comp=list", {},
                BlobOperation::kListBlobs)));
  // Expired.
  auto expired = Authorize("/devstoreaccount1/c/b" + query, {}, BlobOperation::kReadBlob,
                           1796551200 + 86400 * 2);
  ASSERT_TRUE(std::holds_alternative<AuthRefusal>(expired));
  // A changed permission breaks the signature.
  std::string widened = query;
  widened.replace(widened.find("sp=rl"), 5, "sp=rw");
  EXPECT_TRUE(
      std::holds_alternative<AuthRefusal>(Authorize("/devstoreaccount1/c/b" + widened, {})));
}

TEST_F(BlobAuthTest, ServiceSasOfBlobAndContainer) {
  const std::string blob_sign =
      "r\n\n2026-12-07T00:00:00Z\n/blob/devstoreaccount1/c/dir/"
      "b.bin\n\n\n\n2021-12-02\nb\n\n\n\n\n\n\n";
  const std::string blob_query =
      "?sv=2021-12-02&sr=b&sp=r&se=2026-12-07T00%3A00%3A00Z&sig=" + Sign(blob_sign);
  EXPECT_TRUE(
      std::holds_alternative<Access>(Authorize("/devstoreaccount1/c/dir/b.bin" + blob_query, {})));
  // The same token for another blob, or to list, is refused.
  EXPECT_TRUE(std::holds_alternative<AuthRefusal>(
      Authorize("/devstoreaccount1/c/dir/other.bin" + blob_query, {})));
  EXPECT_TRUE(std::holds_alternative<AuthRefusal>(
      Authorize("/devstoreaccount1/c" + blob_query, {}, BlobOperation::kListBlobs)));

  const std::string container_sign =
      "rl\n\n2026-12-07T00:00:00Z\n/blob/devstoreaccount1/c\n\n\n\n2021-12-02\nc\n\n\n\n\n\n\n";
  const std::string container_query =
      "?sv=2021-12-02&sr=c&sp=rl&se=2026-12-07T00%3A00%3A00Z&sig=" + Sign(container_sign);
  EXPECT_TRUE(std::holds_alternative<Access>(
      Authorize("/devstoreaccount1/c/any/blob" + container_query, {})));
  EXPECT_TRUE(std::holds_alternative<AuthRefusal>(
      Authorize("/devstoreaccount1/other/blob" + container_query, {})));
}

TEST(BlobAuthTokensTest, WithoutKeyOrTokens) {
  Authenticator none({}, {});
  BlobAuthorizer open_server(kAccount, "", none);
  auto target = ParseTarget("/devstoreaccount1/c/b", kAccount);
  std::vector<tiers::blob::HeaderField> headers;
  AuthRequest request{"GET", &*target, &headers, BlobOperation::kReadBlob, 0};
  EXPECT_TRUE(std::holds_alternative<Access>(open_server.Authorize(request)));
  // Without an account key, Shared Key cannot be verified: refused, never
  // let through as if anonymous.
  headers.push_back({"Authorization", "SharedKey devstoreaccount1:abc="});
  auto refused = open_server.Authorize(request);
  ASSERT_TRUE(std::holds_alternative<AuthRefusal>(refused));
  EXPECT_EQ(std::get<AuthRefusal>(refused).http_status, 403);
}

TEST(BlobAuthTokensTest, TokensRequiredAndBearerAccepted) {
  AuthConfig config;
  // The SHA-256 of "secret-token".
  config.tokens.push_back({"reader",
                           "930bbdc51b6aed5c2a5678fd6e28dee7a05e8a4b643cfc0b4427c3efb86c0d94",
                           {{"*", Grant::kRead}}});
  NamespaceConfig ns;
  ns.name = "data";
  ns.kind = NamespaceKind::kDataset;
  Authenticator tokens(config, {ns});
  BlobAuthorizer server(kAccount, kKey, tokens);
  auto target = ParseTarget("/devstoreaccount1/c/b", kAccount);
  std::vector<tiers::blob::HeaderField> headers;
  AuthRequest request{"GET", &*target, &headers, BlobOperation::kReadBlob, 0};
  auto anonymous = server.Authorize(request);
  ASSERT_TRUE(std::holds_alternative<AuthRefusal>(anonymous));
  EXPECT_EQ(std::get<AuthRefusal>(anonymous).http_status, 401);
  EXPECT_EQ(std::get<AuthRefusal>(anonymous).code, "NoAuthenticationInformation");
  headers.push_back({"Authorization", "Bearer secret-token"});
  auto granted = server.Authorize(request);
  ASSERT_TRUE(std::holds_alternative<Access>(granted));
  EXPECT_TRUE(std::get<Access>(granted).Allows(0, Grant::kRead));
  EXPECT_FALSE(std::get<Access>(granted).Allows(0, Grant::kReadWrite));
  headers.back().value = "Bearer wrong-token";
  auto wrong = server.Authorize(request);
  ASSERT_TRUE(std::holds_alternative<AuthRefusal>(wrong));
  EXPECT_EQ(std::get<AuthRefusal>(wrong).code, "AuthenticationFailed");
}

}  // namespace
}  // namespace kvtier::server::blob_endpoint
