// The object calls of the client: List, Stat and ReadRange
// (docs/protocol.md, "Objects").

#include <algorithm>
#include <cstring>

#include "client/client.h"
#include "client/client_internal.h"
#include "common/keys.h"

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

Result<std::string> ObjectWriter::BlockKey(uint64_t index) const {
  return ObjectBlockKey(session, index, protocol::kMaxObjectPathBytes + 9);
}

namespace {

Result<protocol::ObjectWriteResponse> DecodeWrite(const ReplyFrame& frame) {
  return protocol::DecodeObjectWriteResponse(frame.metadata);
}

}  // namespace

Result<protocol::ObjectWriteResponse> Client::CallObjectWrite(
    Opcode opcode, const protocol::ObjectWriteRequest& request) {
  return CallDecoded<protocol::ObjectWriteResponse>(
             opcode, protocol::EncodeObjectWriteRequest(request), DecodeWrite)
      .get();
}

Result<ObjectWriter> Client::CreateObject(std::string_view ns, std::string_view path) {
  KVTIER_RETURN_IF_ERROR(protocol::CheckObjectPath(path));
  KVTIER_ASSIGN_OR_RETURN(auto response, CallObjectWrite(Opcode::kCreateObject, {ns, path}));
  if (response.session.empty() || response.block_bytes == 0) {
    return ProtocolError("CreateObject answered without a session or block size");
  }
  return ObjectWriter{std::string(ns), std::string(path), std::move(response.session),
                      response.block_bytes};
}

Status Client::PutObjectBlocks(const ObjectWriter& writer, uint64_t first_index,
                               std::span<const std::span<const std::byte>> blocks) {
  std::vector<std::string> keys;
  keys.reserve(blocks.size());
  for (size_t i = 0; i < blocks.size(); ++i) {
    KVTIER_ASSIGN_OR_RETURN(keys.emplace_back(), writer.BlockKey(first_index + i));
  }
  KVTIER_ASSIGN_OR_RETURN(KeyStatuses statuses, Put(writer.ns, keys, blocks));
  for (const Status& status : statuses.statuses) KVTIER_RETURN_IF_ERROR(status);
  return Status::Ok();
}

Result<ObjectEntry> Client::CommitObject(const ObjectWriter& writer, uint64_t size) {
  protocol::ObjectWriteRequest request{writer.ns, {}, {}, writer.session, size};
  KVTIER_ASSIGN_OR_RETURN(auto response, CallObjectWrite(Opcode::kCommitObject, request));
  if (!response.has_object) return ProtocolError("CommitObject answered without the object");
  return std::move(response.object);
}

Status Client::AbortObject(const ObjectWriter& writer) {
  protocol::ObjectWriteRequest request{writer.ns, {}, {}, writer.session, 0};
  return CallObjectWrite(Opcode::kAbortObject, request).status();
}

Status Client::RenameObject(std::string_view ns, std::string_view from, std::string_view to) {
  KVTIER_RETURN_IF_ERROR(protocol::CheckObjectPath(from));
  KVTIER_RETURN_IF_ERROR(protocol::CheckObjectPath(to));
  return CallObjectWrite(Opcode::kRenameObject, {ns, from, to}).status();
}

Status Client::DeleteObject(std::string_view ns, std::string_view path) {
  KVTIER_RETURN_IF_ERROR(protocol::CheckObjectPath(path));
  return CallObjectWrite(Opcode::kDeleteObject, {ns, path}).status();
}

Result<ObjectEntry> Client::WriteObject(std::string_view ns, std::string_view path,
                                        std::span<const std::byte> bytes) {
  KVTIER_ASSIGN_OR_RETURN(ObjectWriter writer, CreateObject(ns, path));
  const uint64_t block = writer.block_bytes;
  const uint64_t per_request =
      std::max<uint64_t>(1, server_info().limits.max_payload_bytes / block);
  // Every batch goes out before the first answer is awaited.
  std::vector<std::future<Result<KeyStatuses>>> puts;
  std::vector<std::vector<std::string>> keys;
  std::vector<std::vector<std::span<const std::byte>>> values;
  const uint64_t blocks = (bytes.size() + block - 1) / block;
  for (uint64_t first = 0; first < blocks; first += per_request) {
    auto& batch_keys = keys.emplace_back();
    auto& batch_values = values.emplace_back();
    for (uint64_t index = first; index < std::min(blocks, first + per_request); ++index) {
      KVTIER_ASSIGN_OR_RETURN(batch_keys.emplace_back(), writer.BlockKey(index));
      const uint64_t at = index * block;
      batch_values.push_back(bytes.subspan(at, std::min<uint64_t>(block, bytes.size() - at)));
    }
  }
  for (size_t i = 0; i < keys.size(); ++i) puts.push_back(PutAsync(ns, keys[i], values[i]));
  Status failed = Status::Ok();
  for (auto& put : puts) {
    Result<KeyStatuses> statuses = put.get();
    if (!failed.ok()) continue;
    if (!statuses.ok()) {
      failed = statuses.status();
      continue;
    }
    for (const Status& status : statuses->statuses) {
      if (!status.ok() && failed.ok()) failed = status;
    }
  }
  if (failed.ok()) {
    auto committed = CommitObject(writer, bytes.size());
    if (committed.ok()) return committed;
    failed = committed.status();
  }
  AbortObject(writer).IgnoreError();
  return failed;
}

}  // namespace kvtier::client
