// Fuzz target: a connection's byte stream, served the way the server's
// Connection serves it but with no socket: each frame's header is decoded
// against the server's limits, its metadata verified and validated by the
// Service, Put payloads copied into the blocks the Service allocated, and
// every operation dispatched to a real Service over a real DRAM tier (state
// carries over between inputs, as on a long-lived server). Nothing may
// crash, leak or read out of bounds, and every reply must be well formed.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <span>
#include <vector>

#include "protocol/frame.h"
#include "protocol/messages.h"
#include "tests/fuzz/fuzz_server.h"

namespace kvtier::server {
namespace {

// Small limits keep each input cheap; the namespaces cover every kind.
constexpr std::string_view kConfig = R"(
server:
  name: fuzz
log:
  level: off
limits:
  max_metadata_bytes: 64KiB
  max_keys_per_request: 64
  max_key_bytes: 64
  max_value_bytes: 256KiB
  max_payload_bytes: 1MiB
tiers:
  dram:
    capacity: 8MiB
    shards: 4
  workers:
    threads: 1
namespaces:
  - name: kv
    kind: kv
  - name: kb
    kind: kb
  - name: ttl
    kind: kv
    ttl_ms: 1
    pin: soft
)";

// Reads from the input as a socket would deliver it; false once it ends.
class Stream {
 public:
  explicit Stream(std::span<const std::byte> bytes) : rest_(bytes) {}
  bool Take(std::span<std::byte> into) {
    if (rest_.size() < into.size()) return false;
    if (!into.empty()) std::memcpy(into.data(), rest_.data(), into.size());
    rest_ = rest_.subspan(into.size());
    return true;
  }
  bool Skip(uint64_t bytes) {
    if (rest_.size() < bytes) return false;
    rest_ = rest_.subspan(bytes);
    return true;
  }

 private:
  std::span<const std::byte> rest_;
};

void CheckReply(const std::optional<Result<ReplyBody>>& reply) {
  if (!reply || !reply->ok()) return;
  uint64_t bytes = 0;
  for (const auto& piece : (*reply)->payload) bytes += piece.bytes.size();
  FuzzCheck(bytes == (*reply)->payload_bytes);
  FuzzCheck(!(*reply)->metadata.bytes().empty());
}

// Serves frames until the stream ends or a frame would end the connection.
void Serve(Service& service, Stream& stream) {
  // Replies that finish on a worker arrive here later; they are dropped.
  const DeferredReply deferred = [](Result<ReplyBody>) {};
  const Access kEverything = Access::Everything();  // no tokens configured
  while (true) {
    protocol::FrameHeaderBytes header_bytes;
    if (!stream.Take(header_bytes)) return;
    auto header = protocol::DecodeFrameHeader(header_bytes, service.limits());
    if (!header.ok()) return;  // stream-fatal, as on a socket
    if ((header->flags & protocol::frame_flags::kResponse) != 0) return;
    if ((header->flags & protocol::frame_flags::kPayloadInRegion) != 0) return;  // no region here
    if ((header->flags & protocol::frame_flags::kChecksumsTrail) != 0 &&
        header->opcode != static_cast<uint8_t>(protocol::Opcode::kPut)) {
      return;  // stream-fatal, as on a socket
    }
    std::vector<std::byte> metadata(header->metadata_length);
    if (!stream.Take(metadata)) return;
    if (!protocol::IsKnownOpcode(header->opcode)) {
      if (!stream.Skip(header->payload_length)) return;
      continue;
    }
    const auto opcode = static_cast<protocol::Opcode>(header->opcode);
    if (opcode == protocol::Opcode::kPut) {
      const bool trail = (header->flags & protocol::frame_flags::kChecksumsTrail) != 0;
      auto put = service.BeginPut(std::move(metadata), header->payload_length, kEverything, trail);
      if (!put.ok()) {
        if (!stream.Skip(header->payload_length)) return;
        continue;
      }
      for (size_t i = 0; i < put->blocks.size(); ++i) {
        const uint64_t length = put->request.value_lengths[i];
        if (put->blocks[i]) {
          const std::span<std::byte> target = put->blocks[i].mutable_bytes();
          FuzzCheck(target.size() == length);
          if (!stream.Take(target)) return;
        } else if (!stream.Skip(length)) {
          return;
        }
      }
      if (trail) {
        std::vector<std::byte> trailer(Service::TrailerBytes(*put));
        if (!stream.Take(trailer)) return;
        Service::TakeTrailingChecksums(*put, trailer);
      }
      CheckReply(service.FinishPut(std::move(*put), deferred));
      continue;
    }
    if (header->payload_length != 0) {
      if (!stream.Skip(header->payload_length)) return;
      continue;
    }
    CheckReply(service.Handle(opcode, std::move(metadata), deferred, kEverything));
  }
}

}  // namespace
}  // namespace kvtier::server

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Lives for the whole run.
  static auto* server = new kvtier::server::FuzzServer(kvtier::server::kConfig);
  kvtier::server::Stream stream(
      std::span<const std::byte>(reinterpret_cast<const std::byte*>(data), size));
  kvtier::server::Serve(server->service, stream);
  return 0;
}
