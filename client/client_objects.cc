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

std::future<Result<RangeBytes>> Client::ReadRangeAsync(std::string_view ns, std::string_view path,
                                                       uint64_t offset, uint64_t length) {
  if (Status status = protocol::CheckObjectPath(path); !status.ok()) {
    std::promise<Result<RangeBytes>> failed;
    failed.set_value(std::move(status));
    return failed.get_future();
  }
  protocol::ReadRangeRequest request{ns, path, offset, length, false};
  return CallDecoded<RangeBytes>(
      Opcode::kReadRange, protocol::EncodeReadRangeRequest(request),
      [length](const ReplyFrame& frame) -> Result<RangeBytes> {
        KVTIER_ASSIGN_OR_RETURN(auto response, protocol::DecodeReadRangeResponse(
                                                   frame.metadata, length, frame.payload_length));
        return RangeBytes{std::move(response.object), response.offset, response.length,
                          frame.payload};
      });
}

Result<RangeResult> Client::ReadRange(std::string_view ns, std::string_view path, uint64_t offset,
                                      std::span<std::byte> into) {
  KVTIER_RETURN_IF_ERROR(protocol::CheckObjectPath(path));
  const uint64_t chunk = std::max<uint64_t>(server_info().limits.max_payload_bytes, 1);
  // Every request of the range goes out before the first reply is read.
  std::vector<std::future<Result<RangeBytes>>> replies;
  for (uint64_t at = 0; at < into.size() || replies.empty(); at += chunk) {
    const uint64_t length = std::min<uint64_t>(chunk, into.size() - at);
    replies.push_back(ReadRangeAsync(ns, path, offset + at, length));
    if (length == 0) break;
  }
  RangeResult result;
  Status failed = Status::Ok();
  bool ended = false;  // a part came back short: the object ends there
  for (size_t i = 0; i < replies.size(); ++i) {
    Result<RangeBytes> reply = replies[i].get();
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
    if (reply->length > 0) std::memcpy(into.data() + i * chunk, reply->bytes.get(), reply->length);
    result.length += reply->length;
    ended = reply->length < std::min<uint64_t>(chunk, into.size() - i * chunk);
  }
  if (!failed.ok()) return failed;
  return result;
}

}  // namespace kvtier::client
