#include "protocol/object_messages.h"

#include "protocol/wire_codec.h"

namespace kvtier::protocol {
using namespace codec;  // NOLINT: the helpers shared by every message file

namespace {

// Whether `text` is well-formed UTF-8 (no overlong forms, no surrogates,
// nothing past U+10FFFF): Blob names and file names must be.
bool IsUtf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const auto lead = static_cast<uint8_t>(text[i]);
    size_t length = 0;
    uint32_t min = 0;
    uint32_t code = 0;
    if (lead < 0x80) {
      ++i;
      continue;
    } else if ((lead & 0xe0) == 0xc0) {
      length = 2, min = 0x80, code = lead & 0x1f;
    } else if ((lead & 0xf0) == 0xe0) {
      length = 3, min = 0x800, code = lead & 0x0f;
    } else if ((lead & 0xf8) == 0xf0) {
      length = 4, min = 0x10000, code = lead & 0x07;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (size_t k = 1; k < length; ++k) {
      const auto next = static_cast<uint8_t>(text[i + k]);
      if ((next & 0xc0) != 0x80) return false;
      code = (code << 6) | (next & 0x3f);
    }
    if (code < min || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) return false;
    i += length;
  }
  return true;
}

}  // namespace

Status CheckObjectPath(std::string_view path) {
  if (path.empty()) return InvalidArgument("object path is empty");
  if (path.size() > kMaxObjectPathBytes) {
    return InvalidArgument("object path is " + std::to_string(path.size()) + " bytes; limit is " +
                           std::to_string(kMaxObjectPathBytes));
  }
  if (path.find('\0') != std::string_view::npos) {
    return InvalidArgument("object path contains a 0x00 byte");
  }
  if (!IsUtf8(path)) return InvalidArgument("object path is not valid UTF-8");
  // "." and ".." segments: HTTP stacks fold them, so a path could name a
  // blob outside its namespace's prefix.
  for (size_t start = 0; start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    if (segment == "." || segment == "..") {
      return InvalidArgument("object path has a '" + std::string(segment) + "' segment");
    }
    start = end + 1;
  }
  return Status::Ok();
}

namespace {

fb::Offset<w::ObjectEntry> EncodeEntry(fb::FlatBufferBuilder& builder, const ObjectEntry& entry) {
  return w::CreateObjectEntryDirect(builder, entry.path.c_str(), entry.size, entry.version.c_str(),
                                    entry.modified_ms, entry.block_bytes, entry.in_blob);
}

// Decodes a verified entry; `bad` makes the error (request or response side).
Result<ObjectEntry> DecodeEntry(const w::ObjectEntry* entry) {
  if (entry == nullptr) return BadResponse("object entry missing");
  ObjectEntry out;
  out.path = std::string(View(entry->path()));
  if (Status status = CheckObjectPath(out.path); !status.ok()) {
    return BadResponse(status.message());
  }
  out.size = entry->size();
  out.version = std::string(View(entry->version()));
  out.modified_ms = entry->modified_ms();
  out.block_bytes = entry->block_bytes();
  out.in_blob = entry->in_blob();
  return out;
}

fb::Offset<fb::String> MaybeString(fb::FlatBufferBuilder& builder, std::string_view s) {
  return s.empty() ? 0 : builder.CreateString(s.data(), s.size());
}

}  // namespace

// ---- Encoders ----

Metadata EncodeListRequest(const ListRequest& request) {
  fb::FlatBufferBuilder builder(128 + request.prefix.size() + request.page_token.size());
  auto name = builder.CreateString(request.namespace_name.data(), request.namespace_name.size());
  auto prefix = MaybeString(builder, request.prefix);
  auto delimiter = MaybeString(builder, request.delimiter);
  auto token = MaybeString(builder, request.page_token);
  builder.Finish(
      w::CreateListRequest(builder, name, prefix, delimiter, token, request.max_results));
  return Finish(builder);
}

Metadata EncodeListResponse(const ListResponse& response) {
  fb::FlatBufferBuilder builder(256 + response.objects.size() * 96);
  std::vector<fb::Offset<w::ObjectEntry>> objects;
  objects.reserve(response.objects.size());
  for (const ObjectEntry& entry : response.objects) objects.push_back(EncodeEntry(builder, entry));
  auto objects_vector = builder.CreateVector(objects);
  auto prefixes = builder.CreateVectorOfStrings(response.prefixes);
  auto token = MaybeString(builder, response.next_page_token);
  builder.Finish(w::CreateListResponse(builder, objects_vector, prefixes, token));
  return Finish(builder);
}

Metadata EncodeStatRequest(const StatRequest& request) {
  fb::FlatBufferBuilder builder(96 + request.path.size());
  auto name = builder.CreateString(request.namespace_name.data(), request.namespace_name.size());
  auto path = builder.CreateString(request.path.data(), request.path.size());
  builder.Finish(w::CreateStatRequest(builder, name, path));
  return Finish(builder);
}

Metadata EncodeStatResponse(const ObjectEntry& object) {
  fb::FlatBufferBuilder builder(128 + object.path.size());
  auto entry = EncodeEntry(builder, object);
  builder.Finish(w::CreateStatResponse(builder, entry));
  return Finish(builder);
}

Metadata EncodeReadRangeRequest(const ReadRangeRequest& request) {
  fb::FlatBufferBuilder builder(128 + request.path.size());
  auto name = builder.CreateString(request.namespace_name.data(), request.namespace_name.size());
  auto path = builder.CreateString(request.path.data(), request.path.size());
  builder.Finish(
      w::CreateReadRangeRequest(builder, name, path, request.offset, request.length, request.bulk));
  return Finish(builder);
}

Metadata EncodeReadRangeResponse(const ReadRangeResponse& response) {
  fb::FlatBufferBuilder builder(128 + response.object.path.size());
  auto entry = EncodeEntry(builder, response.object);
  builder.Finish(w::CreateReadRangeResponse(builder, entry, response.offset, response.length));
  return Finish(builder);
}

Metadata EncodeObjectWriteRequest(const ObjectWriteRequest& request) {
  fb::FlatBufferBuilder builder(128 + request.path.size() + request.to_path.size());
  auto name = builder.CreateString(request.namespace_name.data(), request.namespace_name.size());
  auto path = MaybeString(builder, request.path);
  auto to_path = MaybeString(builder, request.to_path);
  auto session = MaybeString(builder, request.session);
  builder.Finish(w::CreateObjectWriteRequest(builder, name, path, to_path, session, request.size));
  return Finish(builder);
}

Metadata EncodeObjectWriteResponse(const ObjectWriteResponse& response) {
  fb::FlatBufferBuilder builder(128 + response.object.path.size());
  auto session = MaybeString(builder, response.session);
  auto entry = response.has_object ? EncodeEntry(builder, response.object) : 0;
  builder.Finish(w::CreateObjectWriteResponse(builder, session, response.block_bytes, entry));
  return Finish(builder);
}

// ---- Request decoders ----

Result<ListRequest> DecodeListRequest(std::span<const std::byte> metadata) {
  const auto* root = VerifiedRoot<w::ListRequest>(metadata);
  if (root == nullptr) return VerifyFailure("List");
  ListRequest out;
  out.namespace_name = View(root->namespace_name());
  KVTIER_RETURN_IF_ERROR(CheckNamespaceName(out.namespace_name));
  out.prefix = View(root->prefix());
  if (out.prefix.size() > kMaxObjectPathBytes) return BadRequest("List prefix is too long");
  out.delimiter = View(root->delimiter());
  if (out.delimiter.size() > 1) return BadRequest("List delimiter must be one byte or none");
  out.page_token = View(root->page_token());
  if (out.page_token.size() > kMaxPageTokenBytes) return BadRequest("List page token is too long");
  out.max_results = root->max_results();
  if (out.max_results == 0 || out.max_results > kMaxListResults) out.max_results = kMaxListResults;
  return out;
}

Result<StatRequest> DecodeStatRequest(std::span<const std::byte> metadata) {
  const auto* root = VerifiedRoot<w::StatRequest>(metadata);
  if (root == nullptr) return VerifyFailure("Stat");
  StatRequest out;
  out.namespace_name = View(root->namespace_name());
  KVTIER_RETURN_IF_ERROR(CheckNamespaceName(out.namespace_name));
  out.path = View(root->path());
  KVTIER_RETURN_IF_ERROR(CheckObjectPath(out.path));
  return out;
}

Result<ReadRangeRequest> DecodeReadRangeRequest(std::span<const std::byte> metadata,
                                                const Limits& limits) {
  const auto* root = VerifiedRoot<w::ReadRangeRequest>(metadata);
  if (root == nullptr) return VerifyFailure("ReadRange");
  ReadRangeRequest out;
  out.namespace_name = View(root->namespace_name());
  KVTIER_RETURN_IF_ERROR(CheckNamespaceName(out.namespace_name));
  out.path = View(root->path());
  KVTIER_RETURN_IF_ERROR(CheckObjectPath(out.path));
  out.offset = root->offset();
  out.length = root->length();
  out.bulk = root->bulk();
  if (out.length > limits.max_payload_bytes) {
    return BadRequest("ReadRange of " + std::to_string(out.length) +
                      " bytes; one request reads at most max_payload_bytes (" +
                      std::to_string(limits.max_payload_bytes) + ")");
  }
  if (out.offset > UINT64_MAX - out.length) return BadRequest("ReadRange runs past 2^64");
  return out;
}

Result<ObjectWriteRequest> DecodeObjectWriteRequest(std::span<const std::byte> metadata,
                                                    Opcode opcode) {
  const auto* root = VerifiedRoot<w::ObjectWriteRequest>(metadata);
  if (root == nullptr) return VerifyFailure(OpcodeName(opcode));
  ObjectWriteRequest out;
  out.namespace_name = View(root->namespace_name());
  KVTIER_RETURN_IF_ERROR(CheckNamespaceName(out.namespace_name));
  out.path = View(root->path());
  out.to_path = View(root->to_path());
  out.session = View(root->session());
  out.size = root->size();
  const bool wants_path = opcode == Opcode::kCreateObject || opcode == Opcode::kRenameObject ||
                          opcode == Opcode::kDeleteObject;
  if (wants_path) KVTIER_RETURN_IF_ERROR(CheckObjectPath(out.path));
  if (opcode == Opcode::kRenameObject) KVTIER_RETURN_IF_ERROR(CheckObjectPath(out.to_path));
  if (opcode == Opcode::kCommitObject || opcode == Opcode::kAbortObject) {
    if (out.session.empty() || out.session.size() > kMaxSessionBytes) {
      return BadRequest(std::string(OpcodeName(opcode)) + " needs a session of 1.." +
                        std::to_string(kMaxSessionBytes) + " bytes");
    }
  }
  return out;
}

// ---- Response decoders ----

Result<ListResponse> DecodeListResponse(std::span<const std::byte> metadata) {
  const auto* root = VerifiedRoot<w::ListResponse>(metadata);
  if (root == nullptr) return BadResponse("ListResponse failed verification");
  ListResponse out;
  if (root->objects() != nullptr) {
    out.objects.reserve(root->objects()->size());
    for (const w::ObjectEntry* entry : *root->objects()) {
      KVTIER_ASSIGN_OR_RETURN(ObjectEntry decoded, DecodeEntry(entry));
      out.objects.push_back(std::move(decoded));
    }
  }
  if (root->prefixes() != nullptr) {
    for (const fb::String* prefix : *root->prefixes()) {
      out.prefixes.emplace_back(View(prefix));
    }
  }
  out.next_page_token = std::string(View(root->next_page_token()));
  return out;
}

Result<ObjectEntry> DecodeStatResponse(std::span<const std::byte> metadata) {
  const auto* root = VerifiedRoot<w::StatResponse>(metadata);
  if (root == nullptr) return BadResponse("StatResponse failed verification");
  return DecodeEntry(root->object());
}

Result<ReadRangeResponse> DecodeReadRangeResponse(std::span<const std::byte> metadata,
                                                  uint64_t asked_length, uint64_t payload_length) {
  const auto* root = VerifiedRoot<w::ReadRangeResponse>(metadata);
  if (root == nullptr) return BadResponse("ReadRangeResponse failed verification");
  ReadRangeResponse out;
  KVTIER_ASSIGN_OR_RETURN(out.object, DecodeEntry(root->object()));
  out.offset = root->offset();
  out.length = root->length();
  if (out.length > asked_length) return BadResponse("ReadRange returned more than was asked");
  if (out.length != payload_length) {
    return BadResponse("ReadRange length " + std::to_string(out.length) + " but payload " +
                       std::to_string(payload_length));
  }
  return out;
}

Result<ObjectWriteResponse> DecodeObjectWriteResponse(std::span<const std::byte> metadata) {
  const auto* root = VerifiedRoot<w::ObjectWriteResponse>(metadata);
  if (root == nullptr) return BadResponse("ObjectWriteResponse failed verification");
  ObjectWriteResponse out;
  out.session = std::string(View(root->session()));
  if (out.session.size() > kMaxSessionBytes) return BadResponse("session name too long");
  out.block_bytes = root->block_bytes();
  if (root->object() != nullptr) {
    KVTIER_ASSIGN_OR_RETURN(out.object, DecodeEntry(root->object()));
    out.has_object = true;
  }
  return out;
}

}  // namespace kvtier::protocol
