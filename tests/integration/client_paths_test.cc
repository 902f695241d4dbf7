// The client's two ways of running a request: the waiting forms run it on
// the calling thread when nothing else is in flight, the XxxAsync forms
// through the client's I/O thread. These tests check that both keep every
// reply with its own request: after timeouts, late replies, lost
// connections, and when many threads mix both forms on one connection.

#include <gtest/gtest.h>

#include <array>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "protocol/asio.h"
#include "protocol/frame.h"
#include "protocol/messages.h"
#include "tests/support/client_helpers.h"
#include "tests/support/server_process.h"

namespace kvtier {
namespace {

using client::Client;
using client::ClientOptions;
using protocol::FrameHeader;
using protocol::Opcode;
using protocol::TierId;

// A peer that speaks the frame format from a script, one blocking step at
// a time, on its own thread.
class ScriptedPeer {
 public:
  ScriptedPeer() : acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {}

  uint16_t port() const { return acceptor_.local_endpoint().port(); }

  void Accept() { acceptor_.accept(socket_); }

  // Reads one request frame (which carries no payload here).
  FrameHeader ReadRequest() {
    protocol::FrameHeaderBytes bytes;
    asio::read(socket_, asio::buffer(bytes));
    auto header = protocol::DecodeFrameHeader(bytes, protocol::Limits{});
    EXPECT_TRUE(header.ok()) << header.status().ToString();
    std::vector<std::byte> metadata(header->metadata_length);
    asio::read(socket_, asio::buffer(metadata));
    return *header;
  }

  void Reply(const FrameHeader& request, const protocol::Metadata& metadata) {
    FrameHeader header;
    header.opcode = request.opcode;
    header.flags = protocol::frame_flags::kResponse;
    header.request_id = request.request_id;
    header.metadata_length = static_cast<uint32_t>(metadata.bytes().size());
    const protocol::FrameHeaderBytes bytes = protocol::EncodeFrameHeader(header);
    asio::write(socket_, std::array{asio::buffer(bytes), asio::buffer(metadata.bytes().data(),
                                                                      metadata.bytes().size())});
  }

  void AnswerHello() {
    const FrameHeader hello = ReadRequest();
    EXPECT_EQ(hello.opcode, static_cast<uint8_t>(Opcode::kHello));
    protocol::HelloResponse response;
    response.version = protocol::kProtocolVersion;
    response.server_name = "scripted";
    response.namespaces = {"ns"};
    response.namespace_models = {""};
    Reply(hello, protocol::EncodeHelloResponse(response));
  }

  // Answers an Exists of one key with `tier`.
  void AnswerExists(const FrameHeader& request, TierId tier) {
    EXPECT_EQ(request.opcode, static_cast<uint8_t>(Opcode::kExists));
    Reply(request, protocol::EncodeExistsResponse({{tier}}));
  }

  void Send(std::span<const std::byte> bytes) {
    asio::write(socket_, asio::buffer(bytes.data(), bytes.size()));
  }
  void Close() { socket_.close(); }

  // Blocks until the client closes its end.
  void AwaitClose() {
    std::array<char, 256> sink;
    boost::system::error_code ec;
    while (!ec) socket_.read_some(asio::buffer(sink), ec);
  }

 private:
  asio::io_context io_;
  tcp::acceptor acceptor_;
  tcp::socket socket_{io_};
};

ClientOptions OptionsFor(const ScriptedPeer& peer) {
  ClientOptions options;
  options.port = peer.port();
  options.request_timeout = std::chrono::milliseconds(300);
  return options;
}

const std::vector<std::string> kKey = {"k"};

// How the request that times out is made.
enum class First { kWaiting, kPipelined };

class LateReply : public ::testing::TestWithParam<First> {};

// The server answers a timed-out request only after the next one arrived:
// the late reply must be dropped and the next call get its own answer.
TEST_P(LateReply, IsDroppedAndTheNextCallGetsItsOwnAnswer) {
  ScriptedPeer peer;
  std::thread script([&] {
    peer.Accept();
    peer.AnswerHello();
    const FrameHeader first = peer.ReadRequest();  // left unanswered: the client times out
    const FrameHeader second = peer.ReadRequest();
    EXPECT_NE(first.request_id, second.request_id);
    peer.AnswerExists(first, TierId::kDram);  // late
    peer.AnswerExists(second, TierId::kNvme);
    peer.AnswerExists(peer.ReadRequest(), TierId::kBlob);
    peer.AwaitClose();
  });
  {
    auto client = Client::Connect(OptionsFor(peer));
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    auto timed_out = GetParam() == First::kWaiting ? (*client)->Exists("ns", kKey)
                                                   : (*client)->ExistsAsync("ns", kKey).get();
    EXPECT_EQ(timed_out.status().code(), StatusCode::kDeadlineExceeded)
        << timed_out.status().ToString();

    auto second = (*client)->Exists("ns", kKey);
    ASSERT_TRUE(second.ok()) << second.status().ToString();
    EXPECT_EQ(second->tiers, std::vector<TierId>{TierId::kNvme});
    auto third = (*client)->ExistsAsync("ns", kKey).get();
    ASSERT_TRUE(third.ok()) << third.status().ToString();
    EXPECT_EQ(third->tiers, std::vector<TierId>{TierId::kBlob});
  }
  script.join();
}

INSTANTIATE_TEST_SUITE_P(FirstCall, LateReply,
                         ::testing::Values(First::kWaiting, First::kPipelined),
                         [](const auto& info) {
                           return info.param == First::kWaiting ? "Waiting" : "Pipelined";
                         });

// The connection ends in the middle of a reply to a waiting call: that call
// and every later one, in either form, fail with kUnavailable.
TEST(ClientPaths, ConnectionLostInsideAReplyFailsThisAndLaterCalls) {
  ScriptedPeer peer;
  std::thread script([&] {
    peer.Accept();
    peer.AnswerHello();
    peer.ReadRequest();
    const std::array<std::byte, 10> part_of_a_header{std::byte{'K'}, std::byte{'V'}};
    peer.Send(part_of_a_header);
    peer.Close();
  });
  auto client = Client::Connect(OptionsFor(peer));
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  EXPECT_EQ((*client)->Exists("ns", kKey).status().code(), StatusCode::kUnavailable);
  script.join();
  EXPECT_EQ((*client)->Exists("ns", kKey).status().code(), StatusCode::kUnavailable);
  EXPECT_EQ((*client)->ExistsAsync("ns", kKey).get().status().code(), StatusCode::kUnavailable);
}

// A reply whose values stall half-way while they are read into the caller's
// buffers: the call times out and the connection is closed (nothing may
// write into those buffers once the call has returned); later calls fail.
TEST_P(LateReply, AStalledReplyIntoCallerBuffersClosesTheConnection) {
  ScriptedPeer peer;
  std::thread script([&] {
    peer.Accept();
    peer.AnswerHello();
    const FrameHeader request = peer.ReadRequest();
    protocol::GetResponse get;
    get.codes = {StatusCode::kOk};
    get.value_lengths = {1000};
    get.checksums = {0};
    get.tiers = {TierId::kDram};
    const protocol::Metadata metadata = protocol::EncodeGetResponse(get);
    FrameHeader header;
    header.opcode = request.opcode;
    header.flags = protocol::frame_flags::kResponse;
    header.request_id = request.request_id;
    header.metadata_length = static_cast<uint32_t>(metadata.bytes().size());
    header.payload_length = 1000;
    const protocol::FrameHeaderBytes bytes = protocol::EncodeFrameHeader(header);
    peer.Send(bytes);
    peer.Send(metadata.bytes());
    const std::vector<std::byte> part(10, std::byte{7});
    peer.Send(part);  // then nothing
    peer.AwaitClose();
  });
  {
    auto client = Client::Connect(OptionsFor(peer));
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    std::vector<std::byte> memory(1000);
    const std::vector<std::span<std::byte>> buffers = {memory};
    auto got = GetParam() == First::kWaiting ? (*client)->GetInto("ns", kKey, buffers)
                                             : (*client)->GetIntoAsync("ns", kKey, buffers).get();
    EXPECT_EQ(got.status().code(), StatusCode::kDeadlineExceeded) << got.status().ToString();
    EXPECT_EQ((*client)->Exists("ns", kKey).status().code(), StatusCode::kUnavailable);
  }
  script.join();
}

// A reply not flagged as a response breaks the stream for a waiting call
// as it does for a pipelined one.
TEST(ClientPaths, AFrameNotFlaggedAsAResponseIsAProtocolError) {
  ScriptedPeer peer;
  std::thread script([&] {
    peer.Accept();
    peer.AnswerHello();
    FrameHeader request = peer.ReadRequest();
    FrameHeader header;
    header.opcode = request.opcode;
    header.request_id = request.request_id;  // no kResponse flag
    const protocol::FrameHeaderBytes bytes = protocol::EncodeFrameHeader(header);
    peer.Send(bytes);
    peer.AwaitClose();
  });
  {
    auto client = Client::Connect(OptionsFor(peer));
    ASSERT_TRUE(client.ok()) << client.status().ToString();
    EXPECT_EQ((*client)->Exists("ns", kKey).status().code(), StatusCode::kProtocolError);
    EXPECT_FALSE((*client)->Exists("ns", kKey).ok());
  }
  script.join();
}

// Many threads share one connection, each mixing waiting calls with
// pipelined batches: every value read back is the one that thread wrote
// under that key.
class MixedCallers : public ::testing::TestWithParam<testing::Transport> {};

TEST_P(MixedCallers, EveryCallGetsItsOwnReply) {
  testing::ServerProcess server;
  if (GetParam() == testing::Transport::kTls) {
    ASSERT_TRUE(server.EnableTls().ok());
  }
  ASSERT_TRUE(server.Start().ok()) << server.log();
  auto client = testing::ConnectTo(server, GetParam());
  ASSERT_NE(client, nullptr);
  constexpr int kThreads = 4;
  constexpr int kRounds = 60;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        const std::string key = "t" + std::to_string(t) + "-" + std::to_string(round);
        const auto value = testing::RandomBytes(1000 + 4096 * (round % 5), t * 1000 + round);
        const std::vector<std::string> keys = {key};
        const std::vector<std::span<const std::byte>> values = {value};
        if (round % 3 == 0) {
          // Pipelined: put and get in flight together, then waited for.
          auto put = client->PutAsync("demo", keys, values);
          auto put_done = put.get();
          ASSERT_TRUE(put_done.ok() && put_done->all_ok()) << put_done.status().ToString();
          auto exists = client->ExistsAsync("demo", keys);
          auto get = client->GetAsync("demo", keys);
          auto got = get.get();
          ASSERT_TRUE(got.ok()) << got.status().ToString();
          ASSERT_TRUE(got->values[0].status.ok()) << got->values[0].status.ToString();
          EXPECT_TRUE(testing::SameBytes(got->values[0].bytes, value)) << key;
          auto present = exists.get();
          ASSERT_TRUE(present.ok()) << present.status().ToString();
          EXPECT_NE(present->tiers[0], TierId::kNone) << key;
        } else {
          ASSERT_TRUE(testing::PutOne(*client, "demo", key, value).ok()) << key;
          auto got = client->Get("demo", keys);
          ASSERT_TRUE(got.ok()) << got.status().ToString();
          ASSERT_TRUE(got->values[0].status.ok()) << got->values[0].status.ToString();
          EXPECT_TRUE(testing::SameBytes(got->values[0].bytes, value)) << key;
          auto match = client->MatchPrefix("demo", keys);
          ASSERT_TRUE(match.ok()) << match.status().ToString();
          EXPECT_EQ(match->matched, 1u) << key;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(server.Stop(), 0) << server.log();
}

INSTANTIATE_TEST_SUITE_P(Transports, MixedCallers,
                         ::testing::Values(testing::Transport::kTcp,
                                           testing::Transport::kSharedMemory,
                                           testing::Transport::kTls),
                         testing::TransportName);

}  // namespace
}  // namespace kvtier
