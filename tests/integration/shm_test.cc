// The shared-memory transport against a real kvtierd: value bytes cross the
// region (the server's counters say so), replies that do not fit fall back
// to the socket, results outlive the client, a small region serves many
// requests in flight, and hostile regions and offsets are refused while the
// server keeps serving. The general operation suite runs over shared memory
// in server_test (Transports/ServerTest.*/SharedMemory).

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <future>

#include "client/client.h"
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "protocol/shared_region.h"
#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"

namespace kvtier {
namespace {

using client::Client;
using testing::ConnectTo;
using testing::OptionsFor;
using testing::RandomBytes;
using testing::SameBytes;
using testing::ServerCounter;
using testing::Transport;

class ShmTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()) << server_.log(); }
  void TearDown() override { EXPECT_EQ(server_.Stop(), 0) << server_.log(); }
  testing::ServerProcess server_;
};

TEST_F(ShmTest, ValuesCrossTheRegionNotTheSocket) {
  auto client = ConnectTo(server_, Transport::kSharedMemory);
  ASSERT_TRUE(client && client->uses_shared_memory());
  const auto& transports = client->server_info().transports;
  EXPECT_NE(std::find(transports.begin(), transports.end(), "shm"), transports.end());
  EXPECT_EQ(ServerCounter(*client, "shm_regions_attached"), 1u);

  const auto value = RandomBytes(1 << 20, 1);
  const uint64_t received_before = ServerCounter(*client, "bytes_received");
  ASSERT_TRUE(testing::PutOne(*client, "demo", "k", value).ok());
  EXPECT_EQ(ServerCounter(*client, "shm_bytes_pulled"), value.size());
  // Only frames and metadata crossed the socket (this Stats reply included).
  EXPECT_LT(ServerCounter(*client, "bytes_received") - received_before, 64u << 10);

  const uint64_t sent_before = ServerCounter(*client, "bytes_sent");
  const std::vector<std::string> keys = {"k"};
  auto got = client->Get("demo", keys);
  ASSERT_TRUE(got.ok() && got->values[0].status.ok());
  EXPECT_TRUE(SameBytes(got->values[0].bytes, value));
  EXPECT_EQ(ServerCounter(*client, "shm_bytes_pushed"), value.size());
  EXPECT_LT(ServerCounter(*client, "bytes_sent") - sent_before, 64u << 10);
}

TEST_F(ShmTest, ValuesBuiltInTheRegionAreSentWithoutACopy) {
  auto client = ConnectTo(server_, Transport::kSharedMemory);
  ASSERT_TRUE(client);
  const auto first = RandomBytes(200 << 10, 4);
  const auto second = RandomBytes(100 << 10, 5);
  client::SharedBuffer buffer = client->AllocateShared(first.size());
  ASSERT_EQ(buffer.bytes.size(), first.size());
  std::memcpy(buffer.bytes.data(), first.data(), first.size());
  // One value in the region, one in ordinary memory, in one put.
  const std::vector<std::string> keys = {"in-place", "copied"};
  const std::vector<std::span<const std::byte>> values = {buffer.bytes, second};
  auto put = client->Put("demo", keys, values);
  ASSERT_TRUE(put.ok() && put->all_ok());
  EXPECT_EQ(ServerCounter(*client, "shm_bytes_pulled"), first.size() + second.size());
  auto got = client->Get("demo", keys);
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(SameBytes(got->values[0].bytes, first));
  EXPECT_TRUE(SameBytes(got->values[1].bytes, second));
  // Without a region there is nothing to allocate.
  EXPECT_TRUE(ConnectTo(server_)->AllocateShared(4096).bytes.empty());
}

TEST_F(ShmTest, GetPrefixPlacesTheDeliveredPrefixInTheRegion) {
  auto client = ConnectTo(server_, Transport::kSharedMemory);
  ASSERT_TRUE(client);
  std::vector<std::vector<std::byte>> values;
  std::vector<std::string> keys = {"p0", "p1", "p2"};
  for (size_t i = 0; i < keys.size(); ++i) {
    values.push_back(RandomBytes(100 << 10, 20 + static_cast<uint32_t>(i)));
    ASSERT_TRUE(testing::PutOne(*client, "demo", keys[i], values[i]).ok());
  }
  keys.push_back("p3-missing");
  auto prefix = client->GetPrefix("demo", keys, std::chrono::milliseconds(0));
  ASSERT_TRUE(prefix.ok()) << prefix.status().ToString();
  EXPECT_EQ(prefix->stop_reason, protocol::PrefixStop::kMiss);
  ASSERT_EQ(prefix->values.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(SameBytes(prefix->values[i].bytes, values[i])) << i;
  EXPECT_EQ(ServerCounter(*client, "shm_bytes_pushed"), 3u * (100 << 10));
}

TEST_F(ShmTest, RepliesLargerThanTheirAreaComeOnTheSocket) {
  client::ClientOptions options = OptionsFor(server_, Transport::kSharedMemory);
  options.shm_get_bytes_per_key = 64 << 10;  // areas smaller than the value
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  const auto value = RandomBytes(1 << 20, 2);
  ASSERT_TRUE(testing::PutOne(**client, "demo", "big", value).ok());
  const std::vector<std::string> keys = {"big"};
  auto got = (*client)->Get("demo", keys);
  ASSERT_TRUE(got.ok() && got->values[0].status.ok());
  EXPECT_TRUE(SameBytes(got->values[0].bytes, value));
  EXPECT_EQ(ServerCounter(**client, "shm_bytes_pushed"), 0u);
}

TEST_F(ShmTest, ResultsStayValidAfterTheClientIsGone) {
  const auto value = RandomBytes(300 << 10, 3);
  client::GetResult kept;
  {
    auto client = ConnectTo(server_, Transport::kSharedMemory);
    ASSERT_TRUE(client);
    ASSERT_TRUE(testing::PutOne(*client, "demo", "kept", value).ok());
    const std::vector<std::string> keys = {"kept"};
    auto got = client->Get("demo", keys);
    ASSERT_TRUE(got.ok() && got->values[0].status.ok());
    kept = std::move(*got);
  }
  EXPECT_TRUE(SameBytes(kept.values[0].bytes, value));
}

TEST_F(ShmTest, ASmallRegionServesManyRequestsInFlight) {
  client::ClientOptions options = OptionsFor(server_, Transport::kSharedMemory);
  options.shm_region_bytes = 1 << 20;  // room for a few 64 KiB values at a time
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  constexpr int kValues = 96;
  std::vector<std::vector<std::byte>> values;
  std::vector<std::vector<std::string>> keys;
  std::vector<std::future<Result<client::KeyStatuses>>> puts;
  for (int i = 0; i < kValues; ++i) {
    values.push_back(RandomBytes(64 << 10, 100 + i));
    keys.push_back({"f" + std::to_string(i)});
  }
  for (int i = 0; i < kValues; ++i) {
    const std::vector<std::span<const std::byte>> one = {values[i]};
    puts.push_back((*client)->PutAsync("demo", keys[i], one));
  }
  for (auto& put : puts) {
    auto done = put.get();
    ASSERT_TRUE(done.ok() && done->all_ok());
  }
  std::vector<std::future<Result<client::GetResult>>> gets;
  for (int i = 0; i < kValues; ++i) gets.push_back((*client)->GetAsync("demo", keys[i]));
  for (int i = 0; i < kValues; ++i) {
    auto got = gets[i].get();
    ASSERT_TRUE(got.ok() && got->values[0].status.ok()) << i;
    EXPECT_TRUE(SameBytes(got->values[0].bytes, values[i])) << i;
  }
}

// A raw Unix-socket peer that speaks frames by hand.
class RawPeer {
 public:
  explicit RawPeer(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::snprintf(address.sun_path, sizeof(address.sun_path), "%s", path.c_str());
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RawPeer() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return fd_ >= 0; }

  // Sends one frame; with `pass_fd` the descriptor rides on its first byte.
  void Send(protocol::Opcode opcode, uint64_t id, const protocol::Metadata& metadata,
            uint16_t flags = 0, uint64_t payload_length = 0, int pass_fd = -1) {
    protocol::FrameHeader header;
    header.opcode = static_cast<uint8_t>(opcode);
    header.flags = flags;
    header.request_id = id;
    header.metadata_length = static_cast<uint32_t>(metadata.bytes().size());
    header.payload_length = payload_length;
    const auto bytes = protocol::EncodeFrameHeader(header);
    if (pass_fd >= 0) {
      ASSERT_EQ(protocol::SendWithDescriptor(fd_, bytes, pass_fd), 32);
    } else {
      ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL), 32);
    }
    const auto meta = metadata.bytes();
    ASSERT_EQ(::send(fd_, meta.data(), meta.size(), MSG_NOSIGNAL), static_cast<long>(meta.size()));
  }

  // Reads one reply: its header and metadata (no payload expected).
  std::pair<protocol::FrameHeader, std::vector<std::byte>> Receive() {
    protocol::FrameHeaderBytes bytes;
    if (!ReadAll(bytes.data(), bytes.size())) return {};
    protocol::Limits limits;
    auto header = protocol::DecodeFrameHeader(bytes, limits);
    if (!header.ok()) return {};
    std::vector<std::byte> metadata(header->metadata_length);
    if (!ReadAll(metadata.data(), metadata.size())) return {};
    return {*header, std::move(metadata)};
  }

  // True when the server closed the connection.
  bool Closed() {
    std::byte b;
    return ::recv(fd_, &b, 1, 0) == 0;
  }

 private:
  bool ReadAll(std::byte* out, size_t size) {
    while (size > 0) {
      const long n = ::recv(fd_, out, size, 0);
      if (n <= 0) return false;
      out += n;
      size -= static_cast<size_t>(n);
    }
    return true;
  }
  int fd_ = -1;
};

protocol::Metadata HelloWithRegion(uint64_t bytes) {
  protocol::HelloRequest hello;
  hello.client_name = "raw";
  hello.shm_region_bytes = bytes;
  return protocol::EncodeHelloRequest(hello);
}

Status ReplyStatus(const std::pair<protocol::FrameHeader, std::vector<std::byte>>& reply) {
  if ((reply.first.flags & protocol::frame_flags::kError) == 0) return Status::Ok();
  return protocol::DecodeErrorReply(reply.second);
}

TEST_F(ShmTest, HostileRegionsAreRefusedAndTheServerKeepsServing) {
  {  // A region announced but no descriptor sent.
    RawPeer peer(server_.unix_socket());
    ASSERT_TRUE(peer.connected());
    peer.Send(protocol::Opcode::kHello, 1, HelloWithRegion(1 << 20));
    const Status status = ReplyStatus(peer.Receive());
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find("no descriptor"), std::string::npos) << status.ToString();
  }
  {  // An unsealed memfd: it could shrink under the server.
    RawPeer peer(server_.unix_socket());
    const int fd = ::memfd_create("unsealed", MFD_CLOEXEC);
    ASSERT_EQ(::ftruncate(fd, 1 << 20), 0);
    peer.Send(protocol::Opcode::kHello, 1, HelloWithRegion(1 << 20), 0, 0, fd);
    ::close(fd);
    const Status status = ReplyStatus(peer.Receive());
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument);
    EXPECT_NE(status.message().find("sealed"), std::string::npos) << status.ToString();
  }
  {  // A size that does not match the memfd.
    RawPeer peer(server_.unix_socket());
    auto region = protocol::SharedRegion::Create(1 << 20);
    ASSERT_TRUE(region.ok());
    peer.Send(protocol::Opcode::kHello, 1, HelloWithRegion(2 << 20), 0, 0, (*region)->fd());
    EXPECT_EQ(ReplyStatus(peer.Receive()).code(), StatusCode::kInvalidArgument);
  }
  {  // A put whose values would lie past the end of the region.
    RawPeer peer(server_.unix_socket());
    auto region = protocol::SharedRegion::Create(1 << 20);
    ASSERT_TRUE(region.ok());
    peer.Send(protocol::Opcode::kHello, 1, HelloWithRegion(1 << 20), 0, 0, (*region)->fd());
    ASSERT_TRUE(ReplyStatus(peer.Receive()).ok());
    const std::vector<std::string> keys = {"outside"};
    const std::vector<uint64_t> lengths = {4096};
    const std::vector<uint64_t> beyond = {(1 << 20) - 100};
    peer.Send(protocol::Opcode::kPut, 2,
              protocol::EncodePutRequest("demo", keys, lengths, {}, {}, {}, false, {}, beyond),
              protocol::frame_flags::kPayloadInRegion, 4096);
    const Status status = ReplyStatus(peer.Receive());
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << status.ToString();
    // The connection still works.
    peer.Send(protocol::Opcode::kStats, 3, protocol::EncodeStatsRequest());
    EXPECT_TRUE(ReplyStatus(peer.Receive()).ok());
  }
  {  // Region-flagged payload on a connection without a region: stream-fatal.
    RawPeer peer(server_.unix_socket());
    peer.Send(protocol::Opcode::kHello, 1, HelloWithRegion(0));
    ASSERT_TRUE(ReplyStatus(peer.Receive()).ok());
    const std::vector<std::string> keys = {"k"};
    const std::vector<uint64_t> lengths = {16};
    const std::vector<uint64_t> at_zero = {0};
    peer.Send(protocol::Opcode::kPut, 2,
              protocol::EncodePutRequest("demo", keys, lengths, {}, {}, {}, false, {}, at_zero),
              protocol::frame_flags::kPayloadInRegion, 16);
    EXPECT_EQ(ReplyStatus(peer.Receive()).code(), StatusCode::kProtocolError);
    EXPECT_TRUE(peer.Closed());
  }
  // A well-behaved shared-memory client is unaffected.
  auto client = ConnectTo(server_, Transport::kSharedMemory);
  ASSERT_TRUE(client);
  const auto value = RandomBytes(4096, 9);
  ASSERT_TRUE(testing::PutOne(*client, "demo", "after", value).ok());
  EXPECT_GE(ServerCounter(*client, "bad_input_invalid_request"), 4u);
}

TEST_F(ShmTest, ARegionNeedsTheUnixSocket) {
  client::ClientOptions options = OptionsFor(server_);
  options.shm_region_bytes = 1 << 20;  // ignored without a Unix socket
  auto client = Client::Connect(options);
  ASSERT_TRUE(client.ok());
  EXPECT_FALSE((*client)->uses_shared_memory());
}

}  // namespace
}  // namespace kvtier
