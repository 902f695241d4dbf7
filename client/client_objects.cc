// The object calls of the client: List, Stat and ReadRange
// (docs/protocol.md, "Objects").

#include <algorithm>
#include <cstring>

#include "client/client.h"
#include "client/client_internal.h"

namespace kvtier::client {
namespace {

using internal::ReplyFrame;
using protocol::Opcode;

// What one ReadRange request read, owned until copied out.
struct RangePart {
  ObjectEntry object;
  uint64_t length = 0;
  std::shared_ptr<std::byte[]> payload;
};

}  // namespace

Result<ObjectPage> Client::List(std::string_view ns, std::string_view prefix,
                                std::string_view delimiter, std::string_view page_token,
                                uint32_t max_results) {
  protocol::ListRequest request{ns, prefix, delimiter, page_token, max_results};
  return CallDecoded<ObjectPage>(
             Opcode::kList, protocol::EncodeListRequest(request),
             [](const ReplyFrame& frame) { return protocol::DecodeListResponse(frame.metadata); })
      .get();
}

Result<std::vector<ObjectEntry>> Client::ListAll(std::string_view ns, std::string_view prefix) {
  std::vector<ObjectEntry> objects;
  std::string token;
  do {
    KVTIER_ASSIGN_OR_RETURN(ObjectPage page, List(ns, prefix, "", token));
    for (ObjectEntry& object : page.objects) objects.push_back(std::move(object));
    token = std::move(page.next_page_token);
  } while (!token.empty());
  return objects;
}

Result<ObjectEntry> Client::Stat(std::string_view ns, std::string_view path) {
  KVTIER_RETURN_IF_ERROR(protocol::CheckObjectPath(path));
  protocol::StatRequest request{ns, path};
  return CallDecoded<ObjectEntry>(
             Opcode::kStat, protocol::EncodeStatRequest(request),
             [](const ReplyFrame& frame) { return protocol::DecodeStatResponse(frame.metadata); })
      .get();
}

Result<RangeResult> Client::ReadRange(std::string_view ns, std::string_view path, uint64_t offset,
                                      std::span<std::byte> into) {
  KVTIER_RETURN_IF_ERROR(protocol::CheckObjectPath(path));
  const uint64_t chunk = std::max<uint64_t>(server_info().limits.max_payload_bytes, 1);
  // Every request of the range goes out before the first reply is read.
  std::vector<std::future<Result<RangeResult>>> replies;
  std::vector<std::shared_ptr<RangePart>> parts;
  for (uint64_t at = 0; at < into.size() || replies.empty(); at += chunk) {
    const uint64_t length = std::min<uint64_t>(chunk, into.size() - at);
    protocol::ReadRangeRequest request{ns, path, offset + at, length, false};
    auto part = std::make_shared<RangePart>();
    parts.push_back(part);
    replies.push_back(CallDecoded<RangeResult>(
        Opcode::kReadRange, protocol::EncodeReadRangeRequest(request),
        [part, length](const ReplyFrame& frame) -> Result<RangeResult> {
          KVTIER_ASSIGN_OR_RETURN(auto response, protocol::DecodeReadRangeResponse(
                                                     frame.metadata, length, frame.payload_length));
          part->object = response.object;
          part->length = response.length;
          part->payload = frame.payload;
          return RangeResult{std::move(response.object), response.length};
        }));
    if (length == 0) break;
  }
  RangeResult result;
  Status failed = Status::Ok();
  bool ended = false;  // a part came back short: the object ends there
  for (size_t i = 0; i < replies.size(); ++i) {
    Result<RangeResult> reply = replies[i].get();
    if (!failed.ok() || ended) continue;  // drain the rest
    if (!reply.ok()) {
      failed = reply.status();
      continue;
    }
    if (i == 0) {
      result.object = reply->object;
    } else if (reply->object.version != result.object.version) {
      failed =
          Unavailable("object " + std::string(path) + " changed while it was read; read again");
      continue;
    }
    if (reply->length > 0) {
      std::memcpy(into.data() + i * chunk, parts[i]->payload.get(), reply->length);
    }
    result.length += reply->length;
    ended = reply->length < std::min<uint64_t>(chunk, into.size() - i * chunk);
  }
  if (!failed.ok()) return failed;
  return result;
}

}  // namespace kvtier::client
