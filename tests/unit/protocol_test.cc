#include <gtest/gtest.h>

#include <random>

#include "protocol/frame.h"
#include "protocol/messages.h"
#include "protocol/object_messages.h"

namespace kvtier::protocol {
namespace {

std::vector<std::string> MakeKeys(size_t n, size_t length = 16) {
  std::vector<std::string> keys;
  for (size_t i = 0; i < n; ++i) {
    std::string key = "key-" + std::to_string(i);
    key.resize(length, '.');
    keys.push_back(key);
  }
  return keys;
}

// ---- Frame header ----

TEST(FrameHeader, RoundTrips) {
  FrameHeader header;
  header.opcode = static_cast<uint8_t>(Opcode::kGet);
  header.flags = frame_flags::kResponse;
  header.request_id = 0x0102030405060708ull;
  header.metadata_length = 1234;
  header.payload_length = 5ull << 20;
  const auto bytes = EncodeFrameHeader(header);
  EXPECT_EQ(std::to_integer<char>(bytes[0]), 'K');
  EXPECT_EQ(std::to_integer<uint8_t>(bytes[8]), 0x08);  // little-endian request id
  auto decoded = DecodeFrameHeader(bytes, Limits{});
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->opcode, header.opcode);
  EXPECT_EQ(decoded->flags, header.flags);
  EXPECT_EQ(decoded->request_id, header.request_id);
  EXPECT_EQ(decoded->metadata_length, header.metadata_length);
  EXPECT_EQ(decoded->payload_length, header.payload_length);
}

struct HeaderCase {
  const char* name;
  size_t offset;
  uint8_t value;
  FrameProblem problem;
};

class FrameHeaderRejects : public ::testing::TestWithParam<HeaderCase> {};

TEST_P(FrameHeaderRejects, WithTheRightProblem) {
  FrameHeader header;
  header.opcode = static_cast<uint8_t>(Opcode::kPut);
  auto bytes = EncodeFrameHeader(header);
  bytes[GetParam().offset] = static_cast<std::byte>(GetParam().value);
  FrameProblem problem = FrameProblem::kNone;
  auto decoded = DecodeFrameHeader(bytes, Limits{}, &problem);
  ASSERT_FALSE(decoded.ok());
  EXPECT_EQ(decoded.status().code(), StatusCode::kProtocolError);
  EXPECT_EQ(problem, GetParam().problem);
}

INSTANTIATE_TEST_SUITE_P(
    All, FrameHeaderRejects,
    ::testing::Values(HeaderCase{"magic", 0, 'X', FrameProblem::kBadMagic},
                      HeaderCase{"magic_last", 3, 0, FrameProblem::kBadMagic},
                      HeaderCase{"version", 4, 9, FrameProblem::kBadVersion},
                      HeaderCase{"flags", 7, 0x80, FrameProblem::kBadHeader},
                      HeaderCase{"reserved", 21, 1, FrameProblem::kBadHeader},
                      HeaderCase{"metadata_length", 19, 1, FrameProblem::kOversize},
                      HeaderCase{"payload_length", 31, 1, FrameProblem::kOversize}),
    [](const auto& info) { return std::string(info.param.name); });

TEST(FrameHeader, LimitsAreInclusive) {
  Limits limits;
  FrameHeader header;
  header.metadata_length = limits.max_metadata_bytes;
  header.payload_length = limits.max_payload_bytes;
  EXPECT_TRUE(DecodeFrameHeader(EncodeFrameHeader(header), limits).ok());
  header.payload_length += 1;
  EXPECT_FALSE(DecodeFrameHeader(EncodeFrameHeader(header), limits).ok());
}

TEST(FrameHeader, UnknownOpcodeStillDecodes) {
  FrameHeader header;
  header.opcode = 200;
  auto decoded = DecodeFrameHeader(EncodeFrameHeader(header), Limits{});
  ASSERT_TRUE(decoded.ok());
  EXPECT_FALSE(IsKnownOpcode(decoded->opcode));
  EXPECT_TRUE(IsKnownOpcode(static_cast<uint8_t>(Opcode::kStats)));
  EXPECT_TRUE(IsKnownOpcode(static_cast<uint8_t>(Opcode::kFlush)));
  EXPECT_TRUE(IsKnownOpcode(static_cast<uint8_t>(Opcode::kDeleteObject)));
  EXPECT_FALSE(IsKnownOpcode(static_cast<uint8_t>(Opcode::kDeleteObject) + 1));
  EXPECT_EQ(OpcodeName(Opcode::kFlush), "flush");
}

// ---- Requests ----

TEST(Messages, PutRoundTrip) {
  const auto keys = MakeKeys(3);
  const std::vector<uint64_t> lengths = {10, 0, 5};
  const std::vector<uint64_t> checksums = {1, 2, 3};
  const Metadata m = EncodePutRequest("ns", keys, lengths, checksums);
  auto put = DecodePutRequest(m.bytes(), Limits{}, 15);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_EQ(put->namespace_name, "ns");
  ASSERT_EQ(put->keys.size(), 3u);
  EXPECT_EQ(put->keys[2], keys[2]);
  EXPECT_EQ(put->value_lengths, lengths);
  EXPECT_EQ(put->checksums, checksums);
}

TEST(Messages, PutWithoutChecksumsIsAccepted) {
  const auto keys = MakeKeys(1);
  const std::vector<uint64_t> lengths = {7};
  auto put = DecodePutRequest(EncodePutRequest("ns", keys, lengths, {}).bytes(), Limits{}, 7);
  ASSERT_TRUE(put.ok());
  EXPECT_TRUE(put->checksums.empty());
}

TEST(Messages, PutWithTrailingChecksumsCountsThemInThePayload) {
  const auto keys = MakeKeys(2);
  const std::vector<uint64_t> lengths = {7, 3};
  const Metadata bare = EncodePutRequest("ns", keys, lengths, {});
  auto put = DecodePutRequest(bare.bytes(), Limits{}, 10 + 16, /*checksums_trail=*/true);
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_TRUE(put->checksums.empty());
  // Without room for the trailer, or with checksums in the metadata too.
  EXPECT_EQ(DecodePutRequest(bare.bytes(), Limits{}, 10, true).status().code(),
            StatusCode::kInvalidArgument);
  const std::vector<uint64_t> checksums = {1, 2};
  EXPECT_EQ(
      DecodePutRequest(EncodePutRequest("ns", keys, lengths, checksums).bytes(), Limits{}, 26, true)
          .status()
          .code(),
      StatusCode::kInvalidArgument);
}

TEST(Messages, PutSemanticRejects) {
  Limits limits;
  limits.max_keys_per_request = 4;
  limits.max_key_bytes = 32;
  limits.max_value_bytes = 100;
  const auto keys = MakeKeys(2);
  const std::vector<uint64_t> ok_lengths = {10, 20};
  auto decode = [&](const Metadata& m, uint64_t payload) {
    return DecodePutRequest(m.bytes(), limits, payload).status();
  };
  // Payload length disagrees with the value lengths.
  EXPECT_EQ(decode(EncodePutRequest("ns", keys, ok_lengths, {}), 31).code(),
            StatusCode::kInvalidArgument);
  // One value over the limit.
  const std::vector<uint64_t> big = {101, 0};
  EXPECT_EQ(decode(EncodePutRequest("ns", keys, big, {}), 101).code(),
            StatusCode::kInvalidArgument);
  // Counts that do not line up.
  const std::vector<uint64_t> one_length = {30};
  EXPECT_FALSE(decode(EncodePutRequest("ns", keys, one_length, {}), 30).ok());
  const std::vector<uint64_t> one_sum = {1};
  EXPECT_FALSE(decode(EncodePutRequest("ns", keys, ok_lengths, one_sum), 30).ok());
  // Too many keys, an oversized key, an empty namespace.
  const auto many = MakeKeys(5);
  const std::vector<uint64_t> five(5, 0);
  EXPECT_FALSE(decode(EncodePutRequest("ns", many, five, {}), 0).ok());
  const auto long_keys = MakeKeys(2, 33);
  EXPECT_FALSE(decode(EncodePutRequest("ns", long_keys, ok_lengths, {}), 30).ok());
  EXPECT_FALSE(decode(EncodePutRequest("", keys, ok_lengths, {}), 30).ok());
  EXPECT_TRUE(decode(EncodePutRequest("ns", keys, ok_lengths, {}), 30).ok());
}

TEST(Messages, KeysRequestRejectsEmptyAndLongKeys) {
  Limits limits;
  std::vector<std::string> keys = {"a", ""};
  EXPECT_FALSE(DecodeKeysRequest(EncodeKeysRequest("ns", keys).bytes(), limits).ok());
  keys = {"a", std::string(limits.max_key_bytes + 1, 'k')};
  EXPECT_FALSE(DecodeKeysRequest(EncodeKeysRequest("ns", keys).bytes(), limits).ok());
  keys = {"a", std::string(limits.max_key_bytes, 'k')};
  auto ok = DecodeKeysRequest(EncodeKeysRequest("ns", keys).bytes(), limits);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->keys[1].size(), limits.max_key_bytes);
  EXPECT_FALSE(
      DecodeKeysRequest(EncodeKeysRequest(std::string(129, 'n'), keys).bytes(), limits).ok());
}

TEST(Messages, VerifierRejectsGarbageAndTruncation) {
  const auto keys = MakeKeys(8);
  const Metadata m = EncodeKeysRequest("namespace", keys);
  const auto bytes = m.bytes();
  // A cut either fails or (when it only drops trailing padding) decodes to
  // exactly what was sent; it never yields different keys.
  size_t rejected = 0;
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    auto r = DecodeKeysRequest(bytes.subspan(0, cut), Limits{});
    if (!r.ok()) {
      ++rejected;
      continue;
    }
    ASSERT_EQ(r->keys.size(), keys.size()) << "truncated at " << cut;
    for (size_t i = 0; i < keys.size(); ++i) ASSERT_EQ(r->keys[i], keys[i]);
  }
  EXPECT_GT(rejected, bytes.size() * 9 / 10);
  std::mt19937 random(12345);
  std::vector<std::byte> garbage(256);
  int verified_failures = 0;
  for (int round = 0; round < 500; ++round) {
    for (auto& b : garbage) b = static_cast<std::byte>(random());
    auto r = DecodeKeysRequest(garbage, Limits{});
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
      verified_failures += IsVerifyFailure(r.status());
    }
  }
  EXPECT_GT(verified_failures, 400);
  EXPECT_FALSE(DecodePutRequest({}, Limits{}, 0).ok());
  EXPECT_TRUE(IsVerifyFailure(DecodeStatsRequest({})));
}

TEST(Messages, HelloRoundTripAndVersionRange) {
  HelloRequest hello{1, 3, "test"};
  auto decoded = DecodeHelloRequest(EncodeHelloRequest(hello).bytes());
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->max_version, 3);
  EXPECT_EQ(decoded->client_name, "test");
  EXPECT_FALSE(DecodeHelloRequest(EncodeHelloRequest({4, 2, ""}).bytes()).ok());

  HelloResponse response;
  response.version = 1;
  response.server_name = "s";
  response.namespaces = {"a", "b"};
  response.namespace_models = {"model=m;dtype=bf16;layout=l;tp_size=2", ""};
  auto back = DecodeHelloResponse(EncodeHelloResponse(response).bytes());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->namespaces, response.namespaces);
  EXPECT_EQ(back->namespace_models, response.namespace_models);
  EXPECT_EQ(back->limits.max_value_bytes, Limits{}.max_value_bytes);
  // Kinds and write flags: absent (an older server) reads as unknown and
  // writable; present, one per namespace.
  EXPECT_EQ(back->namespace_kinds, (std::vector<std::string>{"", ""}));
  EXPECT_EQ(back->namespace_writable, (std::vector<bool>{true, true}));
  response.namespace_kinds = {"checkpoint", "dataset"};
  response.namespace_writable = {true, false};
  back = DecodeHelloResponse(EncodeHelloResponse(response).bytes());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->namespace_kinds, response.namespace_kinds);
  EXPECT_EQ(back->namespace_writable, response.namespace_writable);
  response.namespace_writable.pop_back();
  EXPECT_EQ(DecodeHelloResponse(EncodeHelloResponse(response).bytes()).status().code(),
            StatusCode::kProtocolError);
  response.namespace_writable = {true, false};
  // One model per namespace, or the reply is malformed.
  response.namespace_models.pop_back();
  EXPECT_EQ(DecodeHelloResponse(EncodeHelloResponse(response).bytes()).status().code(),
            StatusCode::kProtocolError);
}

TEST(Messages, HelloCarriesRdmaEndpointsAndChecksThem) {
  RdmaEndpoint endpoint;
  endpoint.qp_num = 0x12345;
  endpoint.psn = 0xabcdef;
  endpoint.lid = 7;
  endpoint.gid[15] = 1;
  endpoint.mtu = 5;
  HelloRequest hello{1, 1, "rdma"};
  hello.rdma = endpoint;
  hello.rdma_regions = {{4096, 1 << 20, 11}, {1 << 24, 4096, 12}};
  auto decoded = DecodeHelloRequest(EncodeHelloRequest(hello).bytes());
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  ASSERT_TRUE(decoded->rdma.has_value());
  EXPECT_EQ(*decoded->rdma, endpoint);
  ASSERT_EQ(decoded->rdma_regions.size(), 2u);
  EXPECT_EQ(decoded->rdma_regions[1].address, 1u << 24);
  EXPECT_EQ(decoded->rdma_regions[1].key, 12u);
  // A plain Hello asks for none.
  EXPECT_FALSE(DecodeHelloRequest(EncodeHelloRequest({1, 1, "tcp"}).bytes())->rdma.has_value());

  auto refused = [](HelloRequest bad) {
    auto result = DecodeHelloRequest(EncodeHelloRequest(bad).bytes());
    return !result.ok() && result.status().code() == StatusCode::kInvalidArgument;
  };
  HelloRequest bad = hello;
  bad.rdma->qp_num = 1u << 24;
  EXPECT_TRUE(refused(bad));
  bad = hello;
  bad.rdma->mtu = 0;
  EXPECT_TRUE(refused(bad));
  bad = hello;
  bad.rdma_regions.push_back({4096 + 100, 10, 11});  // overlaps the first under its rkey
  EXPECT_TRUE(refused(bad));
  bad = hello;
  bad.rdma_regions.push_back({~0ull - 10, 100, 13});  // wraps
  EXPECT_TRUE(refused(bad));
  bad = hello;
  bad.rdma.reset();  // regions without a queue pair
  EXPECT_TRUE(refused(bad));

  HelloResponse response;
  response.rdma_refusal = "no RDMA device on the server";
  auto back = DecodeHelloResponse(EncodeHelloResponse(response).bytes());
  ASSERT_TRUE(back.ok());
  EXPECT_FALSE(back->rdma.has_value());
  EXPECT_EQ(back->rdma_refusal, response.rdma_refusal);
  response.rdma = endpoint;
  back = DecodeHelloResponse(EncodeHelloResponse(response).bytes());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->rdma, endpoint);
  response.rdma->psn = 1u << 24;
  EXPECT_EQ(DecodeHelloResponse(EncodeHelloResponse(response).bytes()).status().code(),
            StatusCode::kProtocolError);
}

// ---- Responses ----

TEST(Messages, GetResponseChecksPayloadAccounting) {
  GetResponse response;
  response.codes = {StatusCode::kOk, StatusCode::kNotFound, StatusCode::kOk};
  response.value_lengths = {4, 0, 6};
  response.checksums = {1, 0, 2};
  response.tiers = {TierId::kDram, TierId::kNone, TierId::kDram};
  const Metadata m = EncodeGetResponse(response);
  auto ok = DecodeGetResponse(m.bytes(), 3, 10);
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->codes, response.codes);
  EXPECT_EQ(ok->tiers, response.tiers);
  EXPECT_EQ(DecodeGetResponse(m.bytes(), 3, 11).status().code(), StatusCode::kProtocolError);
  EXPECT_EQ(DecodeGetResponse(m.bytes(), 3, 9).status().code(), StatusCode::kProtocolError);
  EXPECT_EQ(DecodeGetResponse(m.bytes(), 2, 10).status().code(), StatusCode::kProtocolError);
}

TEST(Messages, ResponsesRejectOutOfRangeEnums) {
  PutResponse put;
  put.codes = {static_cast<StatusCode>(200)};
  EXPECT_FALSE(DecodePutResponse(EncodePutResponse(put).bytes(), 1).ok());
  ExistsResponse exists;
  exists.tiers = {static_cast<TierId>(9)};
  EXPECT_FALSE(DecodeExistsResponse(EncodeExistsResponse(exists).bytes(), 1).ok());
}

TEST(Messages, MatchPrefixCannotMatchMoreThanAsked) {
  MatchPrefixResponse response;
  response.matched = 2;
  response.tiers = {TierId::kDram, TierId::kDram};
  const Metadata m = EncodeMatchPrefixResponse(response);
  EXPECT_TRUE(DecodeMatchPrefixResponse(m.bytes(), 2).ok());
  EXPECT_FALSE(DecodeMatchPrefixResponse(m.bytes(), 1).ok());
}

TEST(Messages, ErrorReplyCarriesTheStatus) {
  const Status sent = ResourceExhausted("DRAM tier is full");
  const Status got = DecodeErrorReply(EncodeErrorReply(sent).bytes());
  EXPECT_EQ(got, sent);
  EXPECT_TRUE(got.retryable());
  EXPECT_EQ(DecodeErrorReply(EncodeErrorReply(Status::Ok()).bytes()).code(),
            StatusCode::kProtocolError);
}

TEST(Messages, LeaseFieldsAndReleaseRoundTrip) {
  const std::vector<std::string> keys = {"a", "b"};
  auto match = DecodeKeysRequest(EncodeKeysRequest("kv", keys, 250, 0).bytes(), Limits{});
  ASSERT_TRUE(match.ok());
  EXPECT_EQ(match->lease_ms, 250u);
  EXPECT_EQ(match->lease_id, 0u);
  auto get = DecodeKeysRequest(EncodeKeysRequest("kv", keys, 0, 77).bytes(), Limits{});
  ASSERT_TRUE(get.ok());
  EXPECT_EQ(get->lease_id, 77u);
  MatchPrefixResponse response;
  response.matched = 1;
  response.tiers = {TierId::kDram};
  response.lease_id = 99;
  response.lease_ms = 250;
  auto back = DecodeMatchPrefixResponse(EncodeMatchPrefixResponse(response).bytes(), 2);
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->lease_id, 99u);
  EXPECT_EQ(back->lease_ms, 250u);
  EXPECT_EQ(DecodeReleaseRequest(EncodeReleaseRequest(99).bytes()).value(), 99u);
  EXPECT_TRUE(DecodeReleaseResponse(EncodeReleaseResponse(true).bytes()).value());
  EXPECT_FALSE(DecodeReleaseRequest(std::vector<std::byte>(3, std::byte{0xff})).ok());
}

TEST(Messages, GetPrefixResponseIsCheckedAgainstItsPayload) {
  auto decoded =
      DecodeKeysRequest(EncodeKeysRequest("kv", MakeKeys(3), 0, 5, 250).bytes(), Limits{});
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->deadline_ms, 250u);
  EXPECT_EQ(decoded->lease_id, 5u);

  GetPrefixResponse response;
  response.delivered = 2;
  response.stop_reason = PrefixStop::kDeadline;
  response.value_lengths = {10, 20};
  response.checksums = {1, 2};
  response.tiers = {TierId::kDram, TierId::kNvme};
  const Metadata encoded = EncodeGetPrefixResponse(response);
  auto back = DecodeGetPrefixResponse(encoded.bytes(), 3, 30);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->delivered, 2u);
  EXPECT_EQ(back->stop_reason, PrefixStop::kDeadline);
  EXPECT_EQ(back->tiers[1], TierId::kNvme);
  // The payload must match the lengths exactly.
  EXPECT_FALSE(DecodeGetPrefixResponse(encoded.bytes(), 3, 31).ok());
  // More delivered than asked for, or "complete" short of every key: malformed.
  EXPECT_FALSE(DecodeGetPrefixResponse(encoded.bytes(), 1, 30).ok());
  response.stop_reason = PrefixStop::kComplete;
  EXPECT_FALSE(DecodeGetPrefixResponse(EncodeGetPrefixResponse(response).bytes(), 3, 30).ok());
  EXPECT_TRUE(DecodeGetPrefixResponse(EncodeGetPrefixResponse(response).bytes(), 2, 30).ok());
}

TEST(Messages, FlushTakesKeysOrNoneAndAnswersEmpty) {
  const std::vector<std::string> none;
  auto all = DecodeKeysRequest(EncodeKeysRequest("ckpt", none).bytes(), Limits{});
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_TRUE(all->keys.empty());
  EXPECT_TRUE(DecodeFlushResponse(EncodeFlushResponse().bytes()).ok());
  // Bytes that are no FlatBuffer fail verification.
  const std::vector<std::byte> garbage(3, std::byte{0xff});
  EXPECT_EQ(DecodeFlushResponse(garbage).code(), StatusCode::kProtocolError);
}

TEST(Messages, StatsRoundTrip) {
  StatsResponse stats;
  stats.server_name = "kvtier";
  stats.counters = {{"a", 1}, {"b", 2}};
  stats.tiers = {{"dram", 100, 50, 3, {{"hits", 7}}}};
  stats.namespaces = {{"demo", "kv", {{"puts", 9}}}};
  auto back = DecodeStatsResponse(EncodeStatsResponse(stats).bytes());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->tiers[0].counters[0].value, 7u);
  EXPECT_EQ(back->namespaces[0].kind, "kv");
  EXPECT_EQ(back->counters[1].name, "b");
}

// ---- Objects ----

TEST(ObjectMessages, ListRoundTripsAndBoundsItsFields) {
  const ListRequest request{"dataset", "shards/", "/", "oshards/a", 10};
  const Metadata encoded = EncodeListRequest(request);  // the decoded views point into it
  auto decoded = DecodeListRequest(encoded.bytes());
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->namespace_name, "dataset");
  EXPECT_EQ(decoded->prefix, "shards/");
  EXPECT_EQ(decoded->delimiter, "/");
  EXPECT_EQ(decoded->page_token, "oshards/a");
  EXPECT_EQ(decoded->max_results, 10u);
  // 0 and too many both mean the server's page size.
  EXPECT_EQ(DecodeListRequest(EncodeListRequest({"d", "", "", "", 0}).bytes())->max_results,
            kMaxListResults);
  EXPECT_EQ(DecodeListRequest(EncodeListRequest({"d", "", "", "", 1u << 30}).bytes())->max_results,
            kMaxListResults);
  EXPECT_EQ(DecodeListRequest(EncodeListRequest({"d", "", "//", "", 0}).bytes()).status().code(),
            StatusCode::kInvalidArgument);

  ListResponse response;
  response.objects.push_back({"shards/a", 10, "\"v1\"", 1234, 4096});
  response.prefixes = {"shards/d/"};
  response.next_page_token = "pshards/d/";
  auto back = DecodeListResponse(EncodeListResponse(response).bytes());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->objects, response.objects);
  EXPECT_EQ(back->prefixes, response.prefixes);
  EXPECT_EQ(back->next_page_token, response.next_page_token);
}

TEST(ObjectMessages, PathsAreCheckedOnBothSides) {
  EXPECT_TRUE(CheckObjectPath("a/b.bin").ok());
  EXPECT_TRUE(CheckObjectPath("a/..b/c.").ok());
  for (const std::string& bad :
       {std::string(), std::string("a\0b", 3), std::string("../x"), std::string("a/./b"),
        std::string("a/.."), std::string(kMaxObjectPathBytes + 1, 'p'), std::string("a\xff"),
        std::string("\xc0\xaf"), std::string("\xed\xa0\x80"), std::string("x\xe2\x82")}) {
    EXPECT_EQ(CheckObjectPath(bad).code(), StatusCode::kInvalidArgument) << bad;
    EXPECT_FALSE(DecodeStatRequest(EncodeStatRequest({"d", bad}).bytes()).ok()) << bad;
  }
  const Metadata stat_request = EncodeStatRequest({"d", "a/b"});
  auto stat = DecodeStatRequest(stat_request.bytes());
  ASSERT_TRUE(stat.ok());
  EXPECT_EQ(stat->path, "a/b");
  EXPECT_TRUE(IsVerifyFailure(DecodeStatRequest({}).status()));
}

TEST(ObjectMessages, ObjectWritesCheckTheFieldsTheirOpcodeNeeds) {
  EXPECT_TRUE(CheckObjectPath("ckpt/\xc3\xa9t\xc3\xa9/\xf0\x9f\x98\x80.pt").ok());
  const Metadata rename = EncodeObjectWriteRequest({"c", "a.tmp", "a", "", 0});
  auto decoded = DecodeObjectWriteRequest(rename.bytes(), Opcode::kRenameObject);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(decoded->path, "a.tmp");
  EXPECT_EQ(decoded->to_path, "a");
  // Each opcode checks what it uses.
  EXPECT_FALSE(DecodeObjectWriteRequest(EncodeObjectWriteRequest({"c", "a", "../b", "", 0}).bytes(),
                                        Opcode::kRenameObject)
                   .ok());
  EXPECT_FALSE(DecodeObjectWriteRequest(EncodeObjectWriteRequest({"c", "", "", "", 0}).bytes(),
                                        Opcode::kCreateObject)
                   .ok());
  EXPECT_FALSE(DecodeObjectWriteRequest(EncodeObjectWriteRequest({"c", "", "", "", 5}).bytes(),
                                        Opcode::kCommitObject)
                   .ok());
  EXPECT_FALSE(DecodeObjectWriteRequest(
                   EncodeObjectWriteRequest({"c", "", "", std::string(65, 's'), 5}).bytes(),
                   Opcode::kAbortObject)
                   .ok());
  const Metadata commit = EncodeObjectWriteRequest({"c", "", "", "w123", 77});
  auto committed = DecodeObjectWriteRequest(commit.bytes(), Opcode::kCommitObject);
  ASSERT_TRUE(committed.ok());
  EXPECT_EQ(committed->session, "w123");
  EXPECT_EQ(committed->size, 77u);
  EXPECT_TRUE(IsVerifyFailure(DecodeObjectWriteRequest({}, Opcode::kDeleteObject).status()));

  ObjectWriteResponse response;
  response.has_object = true;
  response.object = {"a", 10, "v", 1, 4, true};
  auto back = DecodeObjectWriteResponse(EncodeObjectWriteResponse(response).bytes());
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->has_object);
  EXPECT_EQ(back->object, response.object);
}

TEST(ObjectMessages, ReadRangeIsBoundedByThePayloadLimitAndItsPayload) {
  Limits limits;
  limits.max_payload_bytes = 1000;
  auto request =
      DecodeReadRangeRequest(EncodeReadRangeRequest({"d", "a", 5, 1000, true}).bytes(), limits);
  ASSERT_TRUE(request.ok());
  EXPECT_EQ(request->offset, 5u);
  EXPECT_EQ(request->length, 1000u);
  EXPECT_TRUE(request->bulk);
  EXPECT_FALSE(
      DecodeReadRangeRequest(EncodeReadRangeRequest({"d", "a", 0, 1001, false}).bytes(), limits)
          .ok());
  EXPECT_FALSE(DecodeReadRangeRequest(
                   EncodeReadRangeRequest({"d", "a", UINT64_MAX, 10, false}).bytes(), limits)
                   .ok());

  const ReadRangeResponse response{{"a", 100, "v", 0, 64}, 10, 50};
  const Metadata m = EncodeReadRangeResponse(response);
  EXPECT_TRUE(DecodeReadRangeResponse(m.bytes(), 50, 50).ok());
  EXPECT_FALSE(DecodeReadRangeResponse(m.bytes(), 40, 50).ok());  // more than asked
  EXPECT_FALSE(DecodeReadRangeResponse(m.bytes(), 50, 49).ok());  // payload disagrees
}

}  // namespace
}  // namespace kvtier::protocol
