// The object requests of the service: List, Stat and ReadRange decode,
// resolve the namespace, make one tier-stack call and encode its answer
// when it completes on a worker.

#include "protocol/object_messages.h"
#include "server/service.h"

namespace kvtier::server {
namespace {

protocol::ObjectEntry ToWire(const tiers::ObjectInfo& object) {
  return {object.path,        object.size,        object.version,
          object.modified_ms, object.block_bytes, object.in_blob};
}

ReplyBody EncodeWrite(const protocol::ObjectWriteResponse& response) {
  return ReplyBody{protocol::EncodeObjectWriteResponse(response), {}, 0};
}

// Completes a write that answers with an empty response.
std::function<void(Status)> AnswerDone(const DeferredReply& deferred) {
  return [deferred](Status status) {
    if (!status.ok()) return deferred(Result<ReplyBody>(std::move(status)));
    deferred(EncodeWrite({}));
  };
}

ReplyBody EncodeListing(const tiers::ObjectListing& listing) {
  protocol::ListResponse response;
  response.objects.reserve(listing.objects.size());
  for (const tiers::ObjectInfo& object : listing.objects)
    response.objects.push_back(ToWire(object));
  response.prefixes = listing.prefixes;
  response.next_page_token = listing.next_page_token;
  return ReplyBody{protocol::EncodeListResponse(response), {}, 0};
}

}  // namespace

Status Service::NotStarted(const NamespaceState& ns, Status status) {
  if (status.code() == StatusCode::kUnsupported) {
    return Unsupported("namespace '" + ns.name + "' (" + std::string(NamespaceKindName(ns.kind)) +
                       ") holds no objects, or none that can be written: List, Stat and "
                       "ReadRange serve dataset namespaces with an origin and checkpoint "
                       "namespaces; only checkpoint namespaces take object writes");
  }
  return status;
}

Service::Answer Service::ListObjects(std::span<const std::byte> metadata,
                                     const DeferredReply& deferred, const Access& access) {
  auto request = protocol::DecodeListRequest(metadata);
  if (!request.ok()) return Reject(request.status());
  auto ns = Resolve(request->namespace_name, access, Grant::kRead);
  if (!ns.ok()) return Reject(ns.status());
  tiers::ListQuery query{std::string(request->prefix), std::string(request->delimiter),
                         std::string(request->page_token), request->max_results};
  // Listings and stats are what a mount waits on before any read: latency class.
  Status started = stack_.ListObjects((*ns)->id, std::move(query), JobClass::kLatency,
                                      [deferred](Result<tiers::ObjectListing> listing) {
                                        if (!listing.ok())
                                          return deferred(Result<ReplyBody>(listing.status()));
                                        deferred(EncodeListing(*listing));
                                      });
  if (!started.ok()) return Result<ReplyBody>(NotStarted(**ns, std::move(started)));
  return std::nullopt;
}

Service::Answer Service::StatObject(std::span<const std::byte> metadata,
                                    const DeferredReply& deferred, const Access& access) {
  auto request = protocol::DecodeStatRequest(metadata);
  if (!request.ok()) return Reject(request.status());
  auto ns = Resolve(request->namespace_name, access, Grant::kRead);
  if (!ns.ok()) return Reject(ns.status());
  Status started =
      stack_.StatObject((*ns)->id, std::string(request->path), JobClass::kLatency,
                        [deferred](Result<tiers::ObjectInfo> object) {
                          if (!object.ok()) return deferred(Result<ReplyBody>(object.status()));
                          deferred(ReplyBody{protocol::EncodeStatResponse(ToWire(*object)), {}, 0});
                        });
  if (!started.ok()) return Result<ReplyBody>(NotStarted(**ns, std::move(started)));
  return std::nullopt;
}

Service::Answer Service::ReadRange(std::span<const std::byte> metadata,
                                   const DeferredReply& deferred, const Access& access) {
  auto request = protocol::DecodeReadRangeRequest(metadata, limits_);
  if (!request.ok()) return Reject(request.status());
  auto ns = Resolve(request->namespace_name, access, Grant::kRead);
  if (!ns.ok()) return Reject(ns.status());
  NamespaceState* state = *ns;
  Status started = stack_.ReadRange(
      state->id, std::string(request->path), request->offset, request->length,
      ClassOf(*state, request->bulk), [state, deferred](Result<tiers::RangeRead> read) {
        if (!read.ok()) {
          state->misses.fetch_add(1, std::memory_order_relaxed);
          return deferred(Result<ReplyBody>(read.status()));
        }
        ReplyBody body;
        body.payload.reserve(read->pieces.size());
        for (tiers::RangePiece& piece : read->pieces) {
          const auto bytes = piece.block.bytes().subspan(piece.offset, piece.length);
          body.payload.push_back({std::move(piece.block), bytes});
          body.payload_bytes += bytes.size();
        }
        state->hits.fetch_add(1, std::memory_order_relaxed);
        state->get_bytes.fetch_add(body.payload_bytes, std::memory_order_relaxed);
        body.metadata =
            protocol::EncodeReadRangeResponse({ToWire(read->object), read->offset, read->length});
        deferred(std::move(body));
      });
  if (!started.ok()) return Result<ReplyBody>(NotStarted(*state, std::move(started)));
  return std::nullopt;
}

Service::Answer Service::WriteObject(protocol::Opcode opcode, std::span<const std::byte> metadata,
                                     const DeferredReply& deferred, const Access& access) {
  auto request = protocol::DecodeObjectWriteRequest(metadata, opcode);
  if (!request.ok()) return Reject(request.status());
  auto ns = Resolve(request->namespace_name, access, Grant::kReadWrite);
  if (!ns.ok()) return Reject(ns.status());
  NamespaceState* state = *ns;
  const uint32_t id = state->id;
  // A commit is what a writer's close() waits on: latency class.
  const JobClass job_class = JobClass::kLatency;
  Status started = Status::Ok();
  switch (opcode) {
    case protocol::Opcode::kCreateObject: {
      auto session = stack_.CreateObject(id, std::string(request->path));
      if (!session.ok()) return Result<ReplyBody>(NotStarted(*state, session.status()));
      return Result<ReplyBody>(EncodeWrite({session->storage, session->block_bytes, false, {}}));
    }
    case protocol::Opcode::kCommitObject:
      started = stack_.CommitObject(id, std::string(request->session), request->size, job_class,
                                    [deferred](Result<tiers::ObjectInfo> object) {
                                      if (!object.ok()) {
                                        return deferred(Result<ReplyBody>(object.status()));
                                      }
                                      deferred(EncodeWrite({"", 0, true, ToWire(*object)}));
                                    });
      break;
    case protocol::Opcode::kAbortObject:
      started =
          stack_.AbortObject(id, std::string(request->session), job_class, AnswerDone(deferred));
      break;
    case protocol::Opcode::kRenameObject:
      started = stack_.RenameObject(id, std::string(request->path), std::string(request->to_path),
                                    job_class, AnswerDone(deferred));
      break;
    case protocol::Opcode::kDeleteObject:
      started =
          stack_.DeleteObject(id, std::string(request->path), job_class, AnswerDone(deferred));
      break;
    default:
      return Result<ReplyBody>(Internal("not an object write"));
  }
  if (!started.ok()) return Result<ReplyBody>(NotStarted(*state, std::move(started)));
  return std::nullopt;
}

}  // namespace kvtier::server
