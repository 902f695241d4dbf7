// Throws malformed frames at a real kvtierd over raw sockets. Each bad input
// must get the reply docs/protocol.md lists (an error reply, and a close when
// the stream cannot be trusted), be counted, and leave the server serving.

#include <gtest/gtest.h>

#include <atomic>

#include <random>
#include <thread>

#include "client/client.h"
#include "common/checksum.h"
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "protocol/rdma/provider.h"
#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"

namespace kvtier {
namespace {

using protocol::FrameHeader;
using protocol::Opcode;

struct Reply {
  FrameHeader header;
  std::vector<std::byte> metadata;
  std::vector<std::byte> payload;
  bool is_error() const { return (header.flags & protocol::frame_flags::kError) != 0; }
  Status error() const { return protocol::DecodeErrorReply(metadata); }
};

// Appends one whole frame to `out`.
void AppendFrame(std::vector<std::byte>& out, FrameHeader header,
                 std::span<const std::byte> metadata, std::span<const std::byte> payload = {}) {
  header.metadata_length = static_cast<uint32_t>(metadata.size());
  header.payload_length = payload.size();
  const auto bytes = protocol::EncodeFrameHeader(header);
  out.insert(out.end(), bytes.begin(), bytes.end());
  out.insert(out.end(), metadata.begin(), metadata.end());
  out.insert(out.end(), payload.begin(), payload.end());
}

bool SendFrame(testing::RawSocket& socket, FrameHeader header, std::span<const std::byte> metadata,
               std::span<const std::byte> payload = {}) {
  std::vector<std::byte> bytes;
  AppendFrame(bytes, header, metadata, payload);
  return socket.SendAll(bytes.data(), bytes.size());
}

FrameHeader Header(Opcode opcode, uint64_t id) {
  FrameHeader header;
  header.opcode = static_cast<uint8_t>(opcode);
  header.request_id = id;
  return header;
}

std::optional<Reply> ReadReply(testing::RawSocket& socket) {
  protocol::FrameHeaderBytes bytes;
  if (!socket.RecvAll(bytes.data(), bytes.size())) return std::nullopt;
  protocol::Limits limits;
  auto header = protocol::DecodeFrameHeader(bytes, limits);
  if (!header.ok()) return std::nullopt;
  Reply reply{*header, std::vector<std::byte>(header->metadata_length),
              std::vector<std::byte>(header->payload_length)};
  if (!socket.RecvAll(reply.metadata.data(), reply.metadata.size()) ||
      !socket.RecvAll(reply.payload.data(), reply.payload.size())) {
    return std::nullopt;
  }
  return reply;
}

// Reads a Put's reply and checks each key's outcome.
void ExpectPutCodes(testing::RawSocket& socket, const std::vector<StatusCode>& expected) {
  auto reply = ReadReply(socket);
  ASSERT_TRUE(reply.has_value());
  ASSERT_FALSE(reply->is_error());
  auto codes = protocol::DecodePutResponse(reply->metadata, expected.size());
  ASSERT_TRUE(codes.ok()) << codes.status().ToString();
  EXPECT_EQ(codes->codes, expected);
}

// The connection still answers a valid request after the bad one.
void ExpectStillServing(testing::RawSocket& socket) {
  ASSERT_TRUE(
      SendFrame(socket, Header(Opcode::kStats, 77), protocol::EncodeStatsRequest().bytes()));
  auto reply = ReadReply(socket);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.request_id, 77u);
  EXPECT_FALSE(reply->is_error());
}

class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // RDMA on the software provider: this process plays the client's side
    // of one-sided transfers with raw frames.
    server_ = new testing::ServerProcess(
        {"--rdma-device", protocol::rdma::kSoftProviderName},
        "server: {frame_timeout_ms: 500, max_connections: 8}\n"
        "limits: {max_keys_per_request: 16, max_key_bytes: 32, max_value_bytes: 1MiB,\n"
        "         max_payload_bytes: 4MiB, max_metadata_bytes: 64KiB}\n"
        "tiers: {dram: {capacity: 64MiB}}\n"
        "namespaces: [{name: demo}]\n");
    ASSERT_TRUE(server_->Start().ok()) << server_->log();
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(), 0) << server_->log();
    delete server_;
  }

  testing::RawSocket Socket() {
    auto socket = testing::RawSocket::Connect(server_->port());
    EXPECT_TRUE(socket.ok());
    return std::move(*socket);
  }

  uint64_t Counter(const std::string& name) {
    client::ClientOptions options;
    options.port = server_->port();
    auto client = client::Client::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status().ToString();
    auto stats = (*client)->Stats();
    EXPECT_TRUE(stats.ok());
    for (const auto& c : stats->counters) {
      if (c.name == name) return c.value;
    }
    ADD_FAILURE() << "no counter " << name;
    return 0;
  }

  // After each test the server must still be up and answering.
  void TearDown() override {
    ASSERT_TRUE(server_->running()) << server_->log();
    auto socket = Socket();
    ExpectStillServing(socket);
  }

  static testing::ServerProcess* server_;
};
testing::ServerProcess* BadInputTest::server_ = nullptr;

TEST_F(BadInputTest, GarbageGetsClosedAndCounted) {
  const uint64_t before = Counter("bad_input_bad_magic");
  auto socket = Socket();
  std::mt19937 random(42);
  std::vector<uint8_t> garbage(100000);
  for (auto& b : garbage) b = static_cast<uint8_t>(random());
  garbage[0] = 'X';
  socket.SendAll(garbage.data(), garbage.size());
  // The error reply arrives even though the peer sent far more than one
  // frame: the server drains before it closes, so no reset eats the reply.
  auto reply = ReadReply(socket);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.request_id, 0u);
  EXPECT_EQ(reply->error().code(), StatusCode::kProtocolError);
  EXPECT_TRUE(socket.WaitClosed());
  EXPECT_EQ(Counter("bad_input_bad_magic"), before + 1);
}

TEST_F(BadInputTest, WrongVersionIsAnsweredThenClosed) {
  auto socket = Socket();
  auto bytes = protocol::EncodeFrameHeader(Header(Opcode::kStats, 5));
  bytes[4] = std::byte{9};
  socket.SendAll(bytes.data(), bytes.size());
  auto reply = ReadReply(socket);
  ASSERT_TRUE(reply.has_value());
  EXPECT_TRUE(reply->is_error());
  EXPECT_EQ(reply->header.request_id, 5u);
  EXPECT_EQ(reply->error().code(), StatusCode::kProtocolError);
  EXPECT_TRUE(socket.WaitClosed());
}

TEST_F(BadInputTest, OversizeLengthsAreRefusedBeforeAllocation) {
  for (int which = 0; which < 2; ++which) {
    auto socket = Socket();
    FrameHeader header = Header(Opcode::kPut, 6);
    if (which == 0) header.metadata_length = 1u << 30;
    if (which == 1) header.payload_length = 1ull << 40;
    const auto bytes = protocol::EncodeFrameHeader(header);
    socket.SendAll(bytes.data(), bytes.size());
    auto reply = ReadReply(socket);
    ASSERT_TRUE(reply.has_value());
    EXPECT_EQ(reply->error().code(), StatusCode::kProtocolError);
    EXPECT_NE(reply->error().message().find("exceeds limit"), std::string::npos);
    EXPECT_TRUE(socket.WaitClosed());
  }
}

TEST_F(BadInputTest, MetadataThatFailsVerificationKeepsTheConnection) {
  const uint64_t before = Counter("bad_input_verify_failed");
  auto socket = Socket();
  std::vector<std::byte> junk(200, std::byte{0xee});
  ASSERT_TRUE(SendFrame(socket, Header(Opcode::kGet, 9), junk));
  auto reply = ReadReply(socket);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.request_id, 9u);
  EXPECT_EQ(reply->error().code(), StatusCode::kInvalidArgument);
  ExpectStillServing(socket);
  EXPECT_EQ(Counter("bad_input_verify_failed"), before + 1);
}

TEST_F(BadInputTest, UnknownOpcodeWithPayloadIsSkipped) {
  auto socket = Socket();
  FrameHeader header;
  header.opcode = 99;
  header.request_id = 10;
  std::vector<std::byte> payload(5000, std::byte{1});
  ASSERT_TRUE(SendFrame(socket, header, protocol::EncodeStatsRequest().bytes(), payload));
  auto reply = ReadReply(socket);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error().code(), StatusCode::kUnsupported);
  ExpectStillServing(socket);
}

TEST_F(BadInputTest, PayloadOnAnOperationWithoutOne) {
  auto socket = Socket();
  const std::vector<std::string> keys = {"k"};
  std::vector<std::byte> payload(100, std::byte{2});
  ASSERT_TRUE(SendFrame(socket, Header(Opcode::kGet, 11),
                        protocol::EncodeKeysRequest("demo", keys).bytes(), payload));
  auto reply = ReadReply(socket);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error().code(), StatusCode::kInvalidArgument);
  ExpectStillServing(socket);
}

TEST_F(BadInputTest, TooManyKeysAndOversizedKeys) {
  auto socket = Socket();
  std::vector<std::string> many(17, "k");
  ASSERT_TRUE(SendFrame(socket, Header(Opcode::kExists, 12),
                        protocol::EncodeKeysRequest("demo", many).bytes()));
  auto reply = ReadReply(socket);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error().code(), StatusCode::kInvalidArgument);
  const std::vector<std::string> long_key = {std::string(33, 'k')};
  ASSERT_TRUE(SendFrame(socket, Header(Opcode::kExists, 13),
                        protocol::EncodeKeysRequest("demo", long_key).bytes()));
  reply = ReadReply(socket);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error().code(), StatusCode::kInvalidArgument);
  ExpectStillServing(socket);
}

TEST_F(BadInputTest, OversizedValueIsRejectedAndItsBytesSkipped) {
  auto socket = Socket();
  const std::vector<std::string> keys = {"big"};
  const std::vector<uint64_t> lengths = {(1 << 20) + 1};
  std::vector<std::byte> payload(lengths[0], std::byte{3});
  ASSERT_TRUE(SendFrame(socket, Header(Opcode::kPut, 14),
                        protocol::EncodePutRequest("demo", keys, lengths, {}).bytes(), payload));
  auto reply = ReadReply(socket);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->error().code(), StatusCode::kInvalidArgument);
  ExpectStillServing(socket);
}

TEST_F(BadInputTest, ChecksumMismatchIsNeverStored) {
  auto socket = Socket();
  const std::vector<std::string> keys = {"flip", "fine"};
  std::vector<std::byte> payload(2000, std::byte{4});
  const auto first = std::span(payload).subspan(0, 1000);
  const std::vector<uint64_t> lengths = {1000, 1000};
  const std::vector<uint64_t> checksums = {BlockChecksum(first) ^ 1, BlockChecksum(first)};
  ASSERT_TRUE(SendFrame(socket, Header(Opcode::kPut, 15),
                        protocol::EncodePutRequest("demo", keys, lengths, checksums).bytes(),
                        payload));
  ExpectPutCodes(socket, {StatusCode::kCorruption, StatusCode::kOk});
  ASSERT_TRUE(SendFrame(socket, Header(Opcode::kExists, 16),
                        protocol::EncodeKeysRequest("demo", keys).bytes()));
  auto reply = ReadReply(socket);
  ASSERT_TRUE(reply.has_value());
  auto exists = protocol::DecodeExistsResponse(reply->metadata, 2);
  ASSERT_TRUE(exists.ok());
  EXPECT_EQ(exists->tiers[0], protocol::TierId::kNone);
  EXPECT_EQ(exists->tiers[1], protocol::TierId::kDram);
}

// Frames that arrive in one write, the first running past what the server
// reads ahead between frames (4 KiB): each is answered in order and the
// value is stored whole.
TEST_F(BadInputTest, FramesArrivingTogetherAreEachAnswered) {
  auto socket = Socket();
  const std::vector<std::string> keys = {"together"};
  std::vector<std::byte> value(6000);
  for (size_t i = 0; i < value.size(); ++i) value[i] = static_cast<std::byte>(i % 251);
  const std::vector<uint64_t> lengths = {value.size()};
  const std::vector<uint64_t> checksums = {BlockChecksum(value)};
  std::vector<std::byte> bytes;
  AppendFrame(bytes, Header(Opcode::kPut, 31),
              protocol::EncodePutRequest("demo", keys, lengths, checksums).bytes(), value);
  AppendFrame(bytes, Header(Opcode::kExists, 32),
              protocol::EncodeKeysRequest("demo", keys).bytes());
  AppendFrame(bytes, Header(Opcode::kGet, 33), protocol::EncodeKeysRequest("demo", keys).bytes());
  ASSERT_TRUE(socket.SendAll(bytes.data(), bytes.size()));

  auto put = ReadReply(socket);
  ASSERT_TRUE(put.has_value());
  EXPECT_EQ(put->header.request_id, 31u);
  auto codes = protocol::DecodePutResponse(put->metadata, 1);
  ASSERT_TRUE(codes.ok()) << codes.status().ToString();
  EXPECT_EQ(codes->codes, std::vector<StatusCode>{StatusCode::kOk});
  auto exists = ReadReply(socket);
  ASSERT_TRUE(exists.has_value());
  EXPECT_EQ(exists->header.request_id, 32u);
  auto tiers = protocol::DecodeExistsResponse(exists->metadata, 1);
  ASSERT_TRUE(tiers.ok());
  EXPECT_EQ(tiers->tiers[0], protocol::TierId::kDram);
  auto get = ReadReply(socket);
  ASSERT_TRUE(get.has_value());
  EXPECT_EQ(get->header.request_id, 33u);
  EXPECT_EQ(get->payload, value);
}

// A Hello that asks for RDMA with a queue pair the server cannot connect to
// (here: not a software provider's) is told why the values stay on the
// stream, and the connection serves as usual; one whose registrations are
// unusable is refused.
TEST_F(BadInputTest, AHelloAskingForRdmaHearsWhyAndIsServed) {
  auto socket = Socket();
  protocol::HelloRequest hello{1, 1, "rdma"};
  hello.rdma = protocol::RdmaEndpoint{0x42, 0x100, 0, {}, 5};
  hello.rdma_regions = {{1 << 20, 1 << 20, 9}};
  ASSERT_TRUE(
      SendFrame(socket, Header(Opcode::kHello, 41), protocol::EncodeHelloRequest(hello).bytes()));
  auto reply = ReadReply(socket);
  ASSERT_TRUE(reply.has_value());
  ASSERT_FALSE(reply->is_error()) << reply->error().ToString();
  auto info = protocol::DecodeHelloResponse(reply->metadata);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_FALSE(info->rdma.has_value());
  EXPECT_NE(info->rdma_refusal.find("values go over the stream"), std::string::npos)
      << info->rdma_refusal;
  ExpectStillServing(socket);

  hello.rdma_regions.push_back({(1 << 20) + 4096, 4096, 9});  // overlaps the first
  ASSERT_TRUE(
      SendFrame(socket, Header(Opcode::kHello, 42), protocol::EncodeHelloRequest(hello).bytes()));
  reply = ReadReply(socket);
  ASSERT_TRUE(reply.has_value());
  ASSERT_TRUE(reply->is_error());
  EXPECT_EQ(reply->error().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(reply->error().message().find("RDMA region"), std::string::npos)
      << reply->error().ToString();

  // A Hello that does not ask hears nothing about RDMA.
  auto plain = Socket();
  ASSERT_TRUE(SendFrame(plain, Header(Opcode::kHello, 43),
                        protocol::EncodeHelloRequest({1, 1, "tcp"}).bytes()));
  reply = ReadReply(plain);
  ASSERT_TRUE(reply.has_value());
  info = protocol::DecodeHelloResponse(reply->metadata);
  ASSERT_TRUE(info.ok());
  EXPECT_TRUE(info->rdma_refusal.empty());
}

// Over RDMA (the software provider; this process is the client) every
// range a request names is checked against what the connection registered
// before anything moves: a put naming memory outside it, or under another
// rkey, is refused and stores nothing; a get offering such an area gets its
// values on the stream. A put whose bytes fail their checksum after the
// READ is not published.
TEST_F(BadInputTest, RdmaRangesAreCheckedAgainstTheRegistrationBeforeAnyTransfer) {
  constexpr uint64_t kRegion = 1 << 20;
  std::vector<std::byte> memory(kRegion);
  const uint64_t base = reinterpret_cast<uint64_t>(memory.data());
  auto value = testing::RandomBytes(4096, 5);
  std::copy(value.begin(), value.end(), memory.begin());
  // This process's side, as a client's: its memory registered with the
  // software provider, and a queue pair to name in Hello.
  auto provider = protocol::rdma::OpenProvider(protocol::rdma::kSoftProviderName);
  ASSERT_TRUE(provider.ok());
  auto registration = (*provider)->Register(memory, protocol::rdma::RemoteAccess::kReadWrite);
  ASSERT_TRUE(registration.ok());
  const uint32_t kKey = (*registration)->rkey();
  auto queue = (*provider)->CreateQueue(1, 1, protocol::rdma::RemoteAccess::kReadWrite);
  ASSERT_TRUE(queue.ok());

  auto socket = Socket();
  protocol::HelloRequest hello{1, 1, "rdma"};
  hello.rdma = (*queue)->LocalEndpoint();
  hello.rdma_regions = {{base, kRegion, kKey}};
  ASSERT_TRUE(
      SendFrame(socket, Header(Opcode::kHello, 1), protocol::EncodeHelloRequest(hello).bytes()));
  auto reply = ReadReply(socket);
  ASSERT_TRUE(reply.has_value());
  auto info = protocol::DecodeHelloResponse(reply->metadata);
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  ASSERT_TRUE(info->rdma.has_value()) << info->rdma_refusal;

  // A put of `value` from client address `address` under `key`.
  auto put = [&](uint64_t id, const std::string& key, uint64_t address, uint32_t rkey,
                 uint64_t checksum) {
    const std::vector<std::string> keys = {key};
    const std::vector<uint64_t> lengths = {value.size()};
    const std::vector<uint64_t> checksums = {checksum};
    const std::vector<uint64_t> addresses = {address};
    FrameHeader header = Header(Opcode::kPut, id);
    header.flags = protocol::frame_flags::kPayloadInRegion;
    auto metadata = protocol::EncodePutRequest("demo", keys, lengths, checksums, {}, {}, false, {},
                                               addresses, rkey);
    header.metadata_length = static_cast<uint32_t>(metadata.bytes().size());
    header.payload_length = value.size();  // in client memory, not on the stream
    const auto bytes = protocol::EncodeFrameHeader(header);
    std::vector<std::byte> frame(bytes.begin(), bytes.end());
    frame.insert(frame.end(), metadata.bytes().begin(), metadata.bytes().end());
    return socket.SendAll(frame.data(), frame.size());
  };
  const uint64_t sum = BlockChecksum(value);
  const uint64_t bad_before = Counter("bad_input_invalid_request");

  ASSERT_TRUE(put(2, "rdma-ok", base, kKey, sum));
  ExpectPutCodes(socket, {StatusCode::kOk});
  for (const auto& [id, address, key] :
       {std::tuple{3, base + kRegion - 100, kKey}, std::tuple{4, base, kKey + 1},
        std::tuple{5, base - 4096, kKey}}) {
    ASSERT_TRUE(put(id, "rdma-refused", address, key, sum));
    reply = ReadReply(socket);
    ASSERT_TRUE(reply.has_value());
    ASSERT_TRUE(reply->is_error()) << id;
    EXPECT_EQ(reply->error().code(), StatusCode::kInvalidArgument) << reply->error().ToString();
  }
  ASSERT_TRUE(put(6, "rdma-bad-sum", base, kKey, sum ^ 1));
  ExpectPutCodes(socket, {StatusCode::kCorruption});
  EXPECT_GE(Counter("bad_input_invalid_request"), bad_before + 3);

  // Gets: into a registered area the values are written and the reply says
  // so; an area outside the registration gets them on the stream.
  auto get = [&](uint64_t id, const std::vector<std::string>& keys, protocol::RegionArea area) {
    return SendFrame(socket, Header(Opcode::kGet, id),
                     protocol::EncodeKeysRequest("demo", keys, 0, 0, 0, false, area).bytes());
  };
  ASSERT_TRUE(
      get(7, {"rdma-ok", "rdma-refused", "rdma-bad-sum"}, {base + kRegion / 2, kRegion / 2, kKey}));
  protocol::FrameHeaderBytes header_bytes;
  ASSERT_TRUE(socket.RecvAll(header_bytes.data(), header_bytes.size()));
  auto header = protocol::DecodeFrameHeader(header_bytes, protocol::Limits{});
  ASSERT_TRUE(header.ok());
  ASSERT_NE(header->flags & protocol::frame_flags::kPayloadInRegion, 0);
  EXPECT_EQ(header->payload_length, value.size());  // the one value stored
  std::vector<std::byte> metadata(header->metadata_length);
  ASSERT_TRUE(socket.RecvAll(metadata.data(), metadata.size()));
  auto got = protocol::DecodeGetResponse(metadata, 3, header->payload_length);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->codes, (std::vector<StatusCode>{StatusCode::kOk, StatusCode::kNotFound,
                                                 StatusCode::kNotFound}));
  EXPECT_TRUE(std::equal(value.begin(), value.end(), memory.begin() + kRegion / 2));

  ASSERT_TRUE(get(8, {"rdma-ok"}, {base + kRegion - 100, 4096, kKey}));
  reply = ReadReply(socket);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.flags & protocol::frame_flags::kPayloadInRegion, 0);
  EXPECT_EQ(reply->payload, value);
  ExpectStillServing(socket);
}

TEST_F(BadInputTest, TrailingChecksumsAreCheckedLikeMetadataOnes) {
  auto socket = Socket();
  const std::vector<std::string> keys = {"trail-flip", "trail-fine"};
  std::vector<std::byte> payload(2000, std::byte{5});
  const auto first = std::span(payload).subspan(0, 1000);
  for (const uint64_t checksum : {BlockChecksum(first) ^ 1, BlockChecksum(first)}) {
    for (int b = 0; b < 8; ++b) payload.push_back(static_cast<std::byte>(checksum >> (8 * b)));
  }
  const std::vector<uint64_t> lengths = {1000, 1000};
  FrameHeader header = Header(Opcode::kPut, 30);
  header.flags = protocol::frame_flags::kChecksumsTrail;
  const uint64_t mismatches = Counter("bad_input_checksum_mismatch");
  ASSERT_TRUE(SendFrame(socket, header,
                        protocol::EncodePutRequest("demo", keys, lengths, {}).bytes(), payload));
  ExpectPutCodes(socket, {StatusCode::kCorruption, StatusCode::kOk});
  EXPECT_EQ(Counter("bad_input_checksum_mismatch"), mismatches + 1);

  // Lengths that leave no room for the trailer: refused, its bytes skipped.
  payload.resize(2000);
  ASSERT_TRUE(SendFrame(socket, header,
                        protocol::EncodePutRequest("demo", keys, lengths, {}).bytes(), payload));
  auto reply = ReadReply(socket);
  ASSERT_TRUE(reply.has_value());
  ASSERT_TRUE(reply->is_error());
  EXPECT_EQ(protocol::DecodeErrorReply(reply->metadata).code(), StatusCode::kInvalidArgument);
  ExpectStillServing(socket);

  // The flag on anything but a Put: the payload's layout is unknown, so the
  // connection ends.
  const uint64_t bad_headers = Counter("bad_input_bad_header");
  auto other = Socket();
  FrameHeader get = Header(Opcode::kGet, 31);
  get.flags = protocol::frame_flags::kChecksumsTrail;
  ASSERT_TRUE(SendFrame(other, get, protocol::EncodeKeysRequest("demo", keys).bytes()));
  reply = ReadReply(other);
  ASSERT_TRUE(reply.has_value());
  EXPECT_TRUE(reply->is_error());
  EXPECT_TRUE(other.WaitClosed());
  EXPECT_EQ(Counter("bad_input_bad_header"), bad_headers + 1);
}

TEST_F(BadInputTest, TruncatedFrameIsCountedWhenThePeerCloses) {
  const uint64_t before = Counter("bad_input_truncated");
  {
    auto socket = Socket();
    const std::vector<std::string> keys = {"k"};
    const std::vector<uint64_t> lengths = {1000};
    const auto metadata = protocol::EncodePutRequest("demo", keys, lengths, {});
    FrameHeader header = Header(Opcode::kPut, 17);
    header.metadata_length = static_cast<uint32_t>(metadata.bytes().size());
    header.payload_length = 1000;
    const auto bytes = protocol::EncodeFrameHeader(header);
    socket.SendAll(bytes.data(), bytes.size());
    socket.SendAll(metadata.bytes().data(), metadata.bytes().size());
    socket.SendAll("only part", 9);
  }  // closed mid-payload
  // The count lands when the server notices; poll (bounded) rather than sleep.
  uint64_t after = before;
  for (int i = 0; i < 200 && after == before; ++i) {
    after = Counter("bad_input_truncated");
    if (after == before) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(after, before + 1);
}

TEST_F(BadInputTest, StalledFrameIsCutByTheFrameTimeout) {
  auto socket = Socket();
  const auto bytes = protocol::EncodeFrameHeader(Header(Opcode::kStats, 18));
  socket.SendAll(bytes.data(), 10);  // then nothing: the frame never completes
  EXPECT_TRUE(socket.WaitClosed());
  EXPECT_GE(Counter("bad_input_frame_timeout"), 1u);
}

TEST_F(BadInputTest, ConnectionLimitRefusesClearly) {
  std::vector<testing::RawSocket> held;
  // Fill every slot; each answered request proves the slot is taken.
  for (int i = 0; i < 8; ++i) {
    held.push_back(Socket());
    ExpectStillServing(held.back());
  }
  auto extra = Socket();
  auto reply = ReadReply(extra);
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->header.request_id, 0u);
  EXPECT_EQ(reply->error().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(reply->error().retryable());
  EXPECT_TRUE(extra.WaitClosed());
  held.clear();
  // Slots free up as the held connections close.
  bool served = false;
  for (int i = 0; i < 200 && !served; ++i) {
    auto socket = Socket();
    if (SendFrame(socket, Header(Opcode::kStats, 1), protocol::EncodeStatsRequest().bytes())) {
      auto r = ReadReply(socket);
      served = r.has_value() && !r->is_error();
    }
    if (!served) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(served);
}

// A client that sends requests but never reads the replies: the server stops
// reading it once replies pile up, cuts it when a reply write makes no
// progress for frame_timeout_ms, and counts it, while another client is
// served all along (checked by what that client receives).
TEST_F(BadInputTest, AClientThatStopsReadingIsCutWhileOthersAreServed) {
  client::ClientOptions options;
  options.port = server_->port();
  auto good = client::Client::Connect(options);
  ASSERT_TRUE(good.ok());
  const auto big = testing::RandomBytes(1 << 20, 5);
  ASSERT_TRUE(testing::PutOne(**good, "demo", "big", big).ok());
  const uint64_t cut_before = Counter("bad_input_write_timeout");

  // 64 gets of 1 MiB each, far more than the socket buffers hold.
  auto stalled = Socket();
  const std::vector<std::string> keys = {"big"};
  for (uint64_t id = 1; id <= 64; ++id) {
    ASSERT_TRUE(SendFrame(stalled, Header(Opcode::kGet, id),
                          protocol::EncodeKeysRequest("demo", keys).bytes()));
  }
  // Meanwhile the well-behaved client works.
  for (int i = 0; i < 20; ++i) {
    const auto value = testing::RandomBytes(4096, 100 + i);
    ASSERT_TRUE(testing::PutOne(**good, "demo", "small" + std::to_string(i), value).ok());
    const std::vector<std::string> small = {"small" + std::to_string(i)};
    auto got = (*good)->Get("demo", small);
    ASSERT_TRUE(got.ok() && got->values[0].status.ok());
    EXPECT_TRUE(testing::SameBytes(got->values[0].bytes, value));
  }
  // The stalled connection is cut and counted (waits for the event, at most 10 s).
  uint64_t cut = cut_before;
  for (int i = 0; i < 100 && cut == cut_before; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cut = Counter("bad_input_write_timeout");
  }
  EXPECT_EQ(cut, cut_before + 1);
}

// Puts and reads back `rounds` small values through `client`, checking
// every byte: the proof that a client is served.
void ExpectServed(client::Client& client, const std::string& prefix, int rounds) {
  for (int i = 0; i < rounds; ++i) {
    const std::string key = prefix + std::to_string(i);
    const auto value = testing::RandomBytes(4096, static_cast<uint32_t>(i));
    ASSERT_TRUE(testing::PutOne(client, "demo", key, value).ok()) << key;
    const std::vector<std::string> keys = {key};
    auto got = client.Get("demo", keys);
    ASSERT_TRUE(got.ok() && got->values[0].status.ok()) << key;
    EXPECT_TRUE(testing::SameBytes(got->values[0].bytes, value)) << key;
  }
}

// A client that sends a frame one byte at a time, a byte every 50 ms, never
// finishing within frame_timeout_ms (500 ms): the server cuts it, while a
// well-behaved client is served throughout.
TEST_F(BadInputTest, ATricklingClientIsCutWhileOthersAreServed) {
  client::ClientOptions options;
  options.port = server_->port();
  auto good = client::Client::Connect(options);
  ASSERT_TRUE(good.ok());
  const uint64_t cut_before = Counter("bad_input_frame_timeout");

  auto trickler = Socket();
  std::atomic<int> bytes_sent = 0;
  std::atomic<bool> stop = false;
  std::thread trickle([&] {
    std::vector<std::byte> frame;
    const auto header = protocol::EncodeFrameHeader([] {
      FrameHeader h = Header(Opcode::kStats, 5);
      h.metadata_length = static_cast<uint32_t>(protocol::EncodeStatsRequest().bytes().size());
      return h;
    }());
    frame.assign(header.begin(), header.end());
    const auto metadata = protocol::EncodeStatsRequest();
    frame.insert(frame.end(), metadata.bytes().begin(), metadata.bytes().end());
    for (std::byte b : frame) {
      if (stop || !trickler.SendAll(&b, 1)) return;
      ++bytes_sent;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  ExpectServed(**good, "trickle-", 20);
  const bool cut = trickler.WaitClosed();
  stop = true;
  trickle.join();
  EXPECT_TRUE(cut);
  EXPECT_GT(bytes_sent.load(), 0);
  EXPECT_EQ(Counter("bad_input_frame_timeout"), cut_before + 1);
  ExpectServed(**good, "after-trickle-", 5);
}

// Far more connections than max_connections (8) arrive while a connected
// client works: each one past the limit is refused with a retryable error
// and closed; the connected client is served between every arrival.
TEST_F(BadInputTest, AConnectionFloodIsRefusedWhileAConnectedClientIsServed) {
  client::ClientOptions options;
  options.port = server_->port();
  auto good = client::Client::Connect(options);
  ASSERT_TRUE(good.ok());
  constexpr int kFlood = 40;
  std::vector<testing::RawSocket> flood;
  int accepted = 0;
  int refused = 0;
  for (int i = 0; i < kFlood; ++i) {
    flood.push_back(Socket());
    testing::RawSocket& socket = flood.back();
    // A slot answers the request; past the limit the refusal comes first.
    SendFrame(socket, Header(Opcode::kStats, 9), protocol::EncodeStatsRequest().bytes());
    auto reply = ReadReply(socket);
    ASSERT_TRUE(reply.has_value()) << "connection " << i << " got no answer";
    if (reply->header.request_id == 0 && reply->is_error()) {
      EXPECT_EQ(reply->error().code(), StatusCode::kResourceExhausted);
      EXPECT_TRUE(socket.WaitClosed());
      ++refused;
    } else {
      EXPECT_EQ(reply->header.request_id, 9u);
      ++accepted;
    }
    ExpectServed(**good, "flood-" + std::to_string(i) + "-", 1);
  }
  EXPECT_EQ(accepted + refused, kFlood);
  EXPECT_LE(accepted, 7);  // 8 slots, one held by the good client
  EXPECT_GE(refused, kFlood - 7);
  flood.clear();
  ExpectServed(**good, "after-flood-", 5);
}

TEST(IdleTimeout, SilentConnectionsAreClosedAndCounted) {
  testing::ServerProcess server({}, "server: {idle_timeout_ms: 200}\nnamespaces: [{name: demo}]\n");
  ASSERT_TRUE(server.Start().ok()) << server.log();
  auto socket = testing::RawSocket::Connect(server.port());
  ASSERT_TRUE(socket.ok());
  EXPECT_TRUE(socket->WaitClosed());  // never sent a byte
  client::ClientOptions options;
  options.port = server.port();
  auto client = client::Client::Connect(options);
  ASSERT_TRUE(client.ok());
  auto stats = (*client)->Stats();
  ASSERT_TRUE(stats.ok());
  uint64_t idle = 0;
  for (const auto& c : stats->counters) {
    if (c.name == "bad_input_idle_timeout") idle = c.value;
  }
  EXPECT_GE(idle, 1u);
  client->reset();
  EXPECT_EQ(server.Stop(), 0);
}

}  // namespace
}  // namespace kvtier
