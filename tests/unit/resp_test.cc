// The RESP endpoint's pieces without sockets: the request parser, the reply
// encoder and SCAN's glob patterns.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "server/resp/glob.h"
#include "server/resp/resp_parser.h"
#include "server/resp/resp_reply.h"

namespace kvtier::server::resp {
namespace {

struct Parsed {
  ParseResult result;
  std::vector<std::string> args;
};

Parsed Parse(std::string_view input, ParserLimits limits = {}) {
  std::vector<std::string_view> views;
  Parsed parsed;
  parsed.result = ParseCommand(input, limits, views);
  for (std::string_view view : views) parsed.args.emplace_back(view);
  return parsed;
}

TEST(RespParserTest, ParsesAMultibulkCommandWithBinaryValues) {
  const std::string value("a\r\n\0b", 5);
  const std::string input = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\n" + value + "\r\n*1\r\n";
  const Parsed parsed = Parse(input);
  ASSERT_EQ(parsed.result.outcome, ParseOutcome::kCommand);
  EXPECT_EQ(parsed.args, (std::vector<std::string>{"SET", "k", value}));
  EXPECT_EQ(parsed.result.consumed, input.size() - 4);  // the next command stays
}

TEST(RespParserTest, EveryPrefixOfACommandAsksForMoreBytes) {
  const std::string input = "*2\r\n$3\r\nGET\r\n$10\r\n0123456789\r\n";
  for (size_t n = 0; n < input.size(); ++n) {
    const Parsed parsed = Parse(input.substr(0, n));
    ASSERT_EQ(parsed.result.outcome, ParseOutcome::kNeedMore) << "prefix of " << n << " bytes";
    EXPECT_GE(parsed.result.needed, 1u);
    EXPECT_LE(parsed.result.needed, input.size() - n);
  }
  EXPECT_EQ(Parse(input).result.outcome, ParseOutcome::kCommand);
}

TEST(RespParserTest, AValueStillArrivingAsksForAllOfIt) {
  // Lets the connection read the rest of a large value in one go.
  const Parsed parsed = Parse("*2\r\n$3\r\nGET\r\n$1000\r\nabc");
  ASSERT_EQ(parsed.result.outcome, ParseOutcome::kNeedMore);
  EXPECT_EQ(parsed.result.needed, 1000u - 3 + 2);
}

TEST(RespParserTest, ParsesInlineCommands) {
  Parsed parsed = Parse("PING\r\n");
  ASSERT_EQ(parsed.result.outcome, ParseOutcome::kCommand);
  EXPECT_EQ(parsed.args, (std::vector<std::string>{"PING"}));
  parsed = Parse("  set  key\tvalue \n");
  ASSERT_EQ(parsed.result.outcome, ParseOutcome::kCommand);
  EXPECT_EQ(parsed.args, (std::vector<std::string>{"set", "key", "value"}));
  parsed = Parse("\r\n");
  ASSERT_EQ(parsed.result.outcome, ParseOutcome::kCommand);
  EXPECT_TRUE(parsed.args.empty());
  EXPECT_EQ(Parse("GET k").result.outcome, ParseOutcome::kNeedMore);
}

TEST(RespParserTest, MalformedStreamsAreErrors) {
  for (const std::string& input :
       std::vector<std::string>{"*x\r\n", "*2\r\n$3\r\nGET\r\n:5\r\n", "*1\r\n$-1\r\n",
                                "*1\r\n$3\r\nGETXX", "*1\r\n$\r\n", "*99999999999999999999999\r\n",
                                "*1\r\n$1x\r\nk\r\n", "*1" + std::string(40, '1')}) {
    const Parsed parsed = Parse(input);
    EXPECT_EQ(parsed.result.outcome, ParseOutcome::kError) << input;
    EXPECT_NE(parsed.result.error.find("Protocol error"), std::string::npos);
  }
}

TEST(RespParserTest, LimitsAreCheckedBeforeTheBytesArrive) {
  ParserLimits limits;
  limits.max_bulk_bytes = 100;
  limits.max_arguments = 3;
  limits.max_inline_bytes = 16;
  limits.max_command_bytes = 150;
  // A bulk over the limit is refused from its header alone.
  EXPECT_EQ(Parse("*2\r\n$3\r\nSET\r\n$101\r\n", limits).result.outcome, ParseOutcome::kError);
  EXPECT_EQ(Parse("*4\r\n", limits).result.outcome, ParseOutcome::kError);
  EXPECT_EQ(Parse("*3\r\n$1\r\na\r\n$100\r\n", limits).result.outcome, ParseOutcome::kNeedMore);
  EXPECT_EQ(Parse("*3\r\n$1\r\na\r\n$100\r\n" + std::string(100, 'x') + "\r\n$100\r\n", limits)
                .result.outcome,
            ParseOutcome::kError);  // the whole command would pass 150 bytes
  EXPECT_EQ(Parse(std::string(17, 'a'), limits).result.outcome, ParseOutcome::kError);
  EXPECT_EQ(Parse(std::string(17, 'a') + "\n", limits).result.outcome, ParseOutcome::kError);
  EXPECT_EQ(Parse("a b c d\n", limits).result.outcome, ParseOutcome::kError);  // 4 arguments
}

TEST(RespParserTest, EmptyMultibulkIsNoCommand) {
  const Parsed parsed = Parse("*0\r\nPING\r\n");
  ASSERT_EQ(parsed.result.outcome, ParseOutcome::kCommand);
  EXPECT_TRUE(parsed.args.empty());
  EXPECT_EQ(parsed.result.consumed, 4u);
}

std::string Flatten(ReplyBuffer& replies) {
  std::string out;
  for (const auto& buffer : replies.Buffers()) {
    out.append(static_cast<const char*>(buffer.data()), buffer.size());
  }
  EXPECT_EQ(out.size(), replies.bytes());
  return out;
}

TEST(RespReplyTest, EncodesEveryTypeInRespTwoAndThree) {
  ReplyBuffer replies;
  replies.SimpleString("OK");
  replies.Error("ERR bad\r\nthing");
  replies.Integer(-42);
  replies.Bulk(std::string_view("v\r\n", 3));
  replies.Null();
  replies.NullArray();
  replies.Array(2);
  replies.Map(1);
  EXPECT_EQ(Flatten(replies),
            "+OK\r\n-ERR bad  thing\r\n:-42\r\n$3\r\nv\r\n\r\n$-1\r\n*-1\r\n*2\r\n*2\r\n");
  replies.Clear();
  EXPECT_TRUE(replies.empty());
  replies.set_resp3(true);
  replies.Null();
  replies.Map(2);
  EXPECT_EQ(Flatten(replies), "_\r\n%2\r\n");
}

TEST(GlobTest, MatchesLikeRedis) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("*", "anything"));
  EXPECT_TRUE(GlobMatch("h?llo", "hello"));
  EXPECT_FALSE(GlobMatch("h?llo", "hllo"));
  EXPECT_TRUE(GlobMatch("h*llo", "heeeello"));
  EXPECT_TRUE(GlobMatch("h[ae]llo", "hallo"));
  EXPECT_FALSE(GlobMatch("h[ae]llo", "hillo"));
  EXPECT_TRUE(GlobMatch("h[^e]llo", "hallo"));
  EXPECT_FALSE(GlobMatch("h[^e]llo", "hello"));
  EXPECT_TRUE(GlobMatch("h[a-c]llo", "hbllo"));
  EXPECT_TRUE(GlobMatch("key\\*", "key*"));
  EXPECT_FALSE(GlobMatch("key\\*", "keyx"));
  EXPECT_TRUE(GlobMatch("*metadata", "model@1@0@abcmetadata"));
  EXPECT_FALSE(GlobMatch("*metadata", "model@1@0@abckv_bytes"));
  EXPECT_TRUE(GlobMatch("a*b*c", "axxbyyc"));
  EXPECT_FALSE(GlobMatch("a*b*c", "axxbyy"));
  // Many stars against a long text stays fast (no exponential backtracking).
  EXPECT_FALSE(GlobMatch("*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}

}  // namespace
}  // namespace kvtier::server::resp
