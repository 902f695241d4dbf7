#include <gtest/gtest.h>

#include "common/byte_size.h"
#include "common/checksum.h"
#include "common/keys.h"
#include "common/result.h"

namespace kvtier {
namespace {

TEST(Status, OkHasNoMessageAndIsNotRetryable) {
  Status ok;
  EXPECT_TRUE(ok.ok());
  EXPECT_EQ(ok.ToString(), "ok");
  EXPECT_FALSE(ok.retryable());
}

TEST(Status, RetryableFollowsTheCode) {
  EXPECT_TRUE(ResourceExhausted("full").retryable());
  EXPECT_TRUE(Unavailable("stopping").retryable());
  EXPECT_TRUE(DeadlineExceeded("late").retryable());
  EXPECT_FALSE(InvalidArgument("bad").retryable());
  EXPECT_FALSE(Corruption("flip").retryable());
  EXPECT_EQ(InvalidArgument("bad key").ToString(), "invalid_argument: bad key");
}

TEST(Status, EveryCodeHasADistinctName) {
  std::set<std::string_view> names;
  for (uint8_t code = 0; code <= kMaxStatusCode; ++code) {
    names.insert(StatusCodeName(static_cast<StatusCode>(code)));
  }
  EXPECT_EQ(names.size(), kMaxStatusCode + 1u);
  EXPECT_EQ(names.count("unknown_code"), 0u);
}

Result<int> Half(int n) {
  if (n % 2 != 0) return InvalidArgument("odd");
  return n / 2;
}

Result<int> Quarter(int n) {
  KVTIER_ASSIGN_OR_RETURN(int half, Half(n));
  return Half(half);
}

TEST(Result, CarriesValueOrStatus) {
  EXPECT_EQ(*Quarter(8), 2);
  EXPECT_EQ(Quarter(6).status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Quarter(4).status().ok());
}

TEST(Result, OkStatusBecomesInternal) {
  Result<int> r{Status::Ok()};
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(ByteSize, ParsesUnits) {
  EXPECT_EQ(*ParseByteSize("4096"), 4096u);
  EXPECT_EQ(*ParseByteSize("64KiB"), 64u * 1024);
  EXPECT_EQ(*ParseByteSize("1 GiB"), 1ull << 30);
  EXPECT_EQ(*ParseByteSize("2MB"), 2000000u);
  EXPECT_EQ(*ParseByteSize("3g"), 3ull << 30);
  EXPECT_EQ(*ParseByteSize("256MiB"), 256ull << 20);
}

TEST(ByteSize, RejectsNonsense) {
  EXPECT_FALSE(ParseByteSize("").ok());
  EXPECT_FALSE(ParseByteSize("-1").ok());
  EXPECT_FALSE(ParseByteSize("1.5GiB").ok());
  EXPECT_FALSE(ParseByteSize("12 parsecs").ok());
  EXPECT_FALSE(ParseByteSize("99999999999999999999").ok());
  EXPECT_FALSE(ParseByteSize("99999999999TiB").ok());
}

TEST(ByteSize, FormatsWithTheLargestExactUnit) {
  EXPECT_EQ(FormatByteSize(1ull << 30), "1GiB");
  EXPECT_EQ(FormatByteSize(1536), "1536B");
  EXPECT_EQ(FormatByteSize(3 * 1024), "3KiB");
  EXPECT_EQ(FormatByteSize(0), "0B");
}

TEST(Checksum, MatchesPublishedXxh3Vector) {
  // XXH3-64 of the empty input with seed 0, from the xxHash reference.
  EXPECT_EQ(BlockChecksum({}), 0x2D06800538D394C2ull);
}

TEST(Checksum, IncrementalEqualsOneShot) {
  std::vector<std::byte> data(100000);
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::byte>(i * 31 + 7);
  BlockChecksummer incremental;
  incremental.Update(std::span(data).subspan(0, 333));
  incremental.Update(std::span(data).subspan(333));
  EXPECT_EQ(incremental.Digest(), BlockChecksum(data));
  data[5000] ^= std::byte{1};
  EXPECT_NE(incremental.Digest(), BlockChecksum(data));
}

TEST(Hex, RoundTripsAndRejectsBadDigits) {
  const std::string bytes("\x00\x7f\xff k", 5);
  EXPECT_EQ(ToHex(bytes), "007fff206b");
  EXPECT_EQ(*FromHex("007FFF206b"), bytes);
  EXPECT_FALSE(FromHex("abc").ok());
  EXPECT_FALSE(FromHex("zz").ok());
}

}  // namespace
}  // namespace kvtier
