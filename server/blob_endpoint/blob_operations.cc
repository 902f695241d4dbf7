// The operations of the Blob-compatible endpoint (docs/blob-endpoint.md):
// which one a request is, its authorisation, and Get Blob, Get Blob
// Properties, List Blobs, Get Container Properties and List Containers
// answered from the Service's List, Stat and ReadRange.

#include <algorithm>
#include <cctype>
#include <charconv>
#include <deque>
#include <limits>

#include "protocol/object_messages.h"
#include "server/blob_endpoint/blob_connection.h"
#include "server/blob_endpoint/blob_xml.h"

namespace kvtier::server::blob_endpoint {
namespace {

using Fields = BlobConnection::Fields;

// A download's first read, and how many reads after it may be in flight.
constexpr uint64_t kFirstRead = 1u << 20;
constexpr size_t kReadsAhead = 3;

std::time_t ModifiedOf(const protocol::ObjectEntry& object, std::time_t fallback) {
  return object.modified_ms == 0 ? fallback : static_cast<std::time_t>(object.modified_ms / 1000);
}

// The fields every blob answer carries.
Fields BlobFields(const protocol::ObjectEntry& object, std::time_t modified) {
  const std::string date = HttpDateOf(modified);
  return {{"Content-Type", "application/octet-stream"},
          {"ETag", EtagOf(object.version)},
          {"Last-Modified", date},
          {"x-ms-creation-time", date},
          {"Accept-Ranges", "bytes"},
          {"x-ms-blob-type", "BlockBlob"},
          {"x-ms-lease-status", "unlocked"},
          {"x-ms-lease-state", "available"},
          {"x-ms-server-encrypted", "true"}};
}

bool EtagListHas(std::string_view list, std::string_view etag) {
  while (!list.empty()) {
    const size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (item == "*" || item == etag) return true;
  }
  return false;
}

// The status a conditional request ends with (304 or 412), or 0 to go on.
int Precondition(const BlobConnection::Exchange& exchange, const std::string& etag,
                 std::time_t modified) {
  const std::string_view if_match = HeaderValue(exchange.headers, "if-match");
  if (!if_match.empty() && !EtagListHas(if_match, etag)) return 412;
  if (const auto since = ParseHttpDate(HeaderValue(exchange.headers, "if-unmodified-since"))) {
    if (modified > *since) return 412;
  }
  const std::string_view if_none_match = HeaderValue(exchange.headers, "if-none-match");
  if (!if_none_match.empty() && EtagListHas(if_none_match, etag)) return 304;
  if (const auto since = ParseHttpDate(HeaderValue(exchange.headers, "if-modified-since"))) {
    if (modified <= *since) return 304;
  }
  return 0;
}

Fields ContainerFields(const std::string& date) {
  return {{"ETag", "\"0x0\""},
          {"Last-Modified", date},
          {"x-ms-lease-status", "unlocked"},
          {"x-ms-lease-state", "available"},
          {"x-ms-has-immutability-policy", "false"},
          {"x-ms-has-legal-hold", "false"}};
}

}  // namespace

asio::awaitable<void> BlobConnection::Answer(Exchange& exchange) {
  const BlobTarget& target = exchange.target;
  const auto restype = target.Query("restype");
  const auto comp = target.Query("comp");
  BlobOperation operation;
  if (restype == "account" && comp == "properties") {
    // Get Account Information, on the account, a container or a blob
    // (tools such as azcopy ask it first).
    operation = BlobOperation::kAccountInfo;
  } else if (target.container.empty()) {
    if (comp != "list") {
      co_await RespondError(exchange, 400, "InvalidQueryParameterValue",
                            "of the account's operations this endpoint serves List Containers "
                            "(?comp=list) only");
      co_return;
    }
    operation = BlobOperation::kListContainers;
  } else if (target.blob.empty()) {
    if (restype != "container" || (comp && comp != "list")) {
      co_await RespondError(exchange, 400, "InvalidQueryParameterValue",
                            "of a container's operations this endpoint serves Get Container "
                            "Properties (?restype=container) and List Blobs "
                            "(?restype=container&comp=list)");
      co_return;
    }
    operation = comp ? BlobOperation::kListBlobs : BlobOperation::kReadContainer;
  } else {
    if (comp) {
      co_await RespondError(exchange, 400, "InvalidQueryParameterValue",
                            "of a blob's operations this endpoint serves Get Blob and Get Blob "
                            "Properties; '?comp=" +
                                std::string(*comp) + "' is not served");
      co_return;
    }
    operation = BlobOperation::kReadBlob;
  }

  AuthRequest auth{exchange.verb, &target, &exchange.headers, operation, std::time(nullptr)};
  auto decision = endpoint_.authorizer.Authorize(auth);
  if (auto* refusal = std::get_if<AuthRefusal>(&decision)) {
    stats_.blob_auth_failures.fetch_add(1, std::memory_order_relaxed);
    log_.Warn(BadInput::kUnauthenticated, peer_, "Blob endpoint: " + refusal->message);
    co_await RespondError(exchange, refusal->http_status, refusal->code, refusal->message);
    co_return;
  }
  exchange.access = std::get<Access>(decision);

  if (operation == BlobOperation::kAccountInfo) {
    const Fields fields{{"x-ms-sku-name", "Standard_LRS"},
                        {"x-ms-account-kind", "StorageV2"},
                        {"x-ms-is-hns-enabled", "false"}};
    co_await Respond(exchange, 200, fields, std::string());
    co_return;
  }
  if (operation == BlobOperation::kListContainers) {
    const std::string endpoint = "http://" + exchange.host + "/";
    std::vector<std::string> containers = endpoint_.routes.Containers();
    const std::string prefix(target.Query("prefix").value_or(""));
    co_await Respond(exchange, 200, Fields(),
                     ListContainersXml(endpoint, prefix, containers, endpoint_.started),
                     "application/xml");
    co_return;
  }
  if (!endpoint_.routes.HasContainer(target.container)) {
    co_await RespondError(exchange, 404, "ContainerNotFound",
                          "no namespace of this server reads container '" + target.container + "'");
    co_return;
  }
  if (operation == BlobOperation::kReadContainer) {
    const std::string date = HttpDateOf(endpoint_.started);
    const Fields fields = ContainerFields(date);
    co_await Respond(exchange, 200, fields, std::string());
    co_return;
  }
  if (operation == BlobOperation::kListBlobs) {
    co_await ListBlobs(exchange);
    co_return;
  }
  const BlobRoute* route = endpoint_.routes.Find(target.container, target.blob);
  if (route == nullptr || target.blob.size() == route->prefix.size()) {
    co_await RespondError(exchange, 404, "BlobNotFound", "the specified blob does not exist");
    co_return;
  }
  std::string path = target.blob.substr(route->prefix.size());
  if (exchange.head) {
    co_await BlobProperties(exchange, *route, std::move(path));
  } else {
    co_await GetBlob(exchange, *route, std::move(path));
  }
}

asio::awaitable<void> BlobConnection::BlobProperties(Exchange& exchange, const BlobRoute& route,
                                                     std::string path) {
  auto reply = co_await Finish(StartCall(protocol::Opcode::kStat,
                                         protocol::EncodeStatRequest({route.namespace_name, path}),
                                         exchange.access));
  if (!reply.ok()) {
    co_await RespondStatus(exchange, reply.status(), "BlobNotFound");
    co_return;
  }
  auto object = protocol::DecodeStatResponse(reply->metadata.bytes());
  if (!object.ok()) {
    co_await RespondStatus(exchange, object.status(), "BlobNotFound");
    co_return;
  }
  const std::time_t modified = ModifiedOf(*object, endpoint_.started);
  Fields fields = BlobFields(*object, modified);
  if (const int status = Precondition(exchange, EtagOf(object->version), modified)) {
    const Fields answered = status == 304 ? fields : Fields();
    co_await Respond(exchange, status, answered, std::string());
    co_return;
  }
  fields.emplace_back("x-ms-access-tier", "Hot");
  fields.emplace_back("x-ms-access-tier-inferred", "true");
  // HEAD: the length of the blob, and no body.
  const std::string head = Head(exchange, 200, fields, object->size);
  std::vector<asio::const_buffer> buffers{asio::buffer(head)};
  co_await Write(std::move(buffers));
}

asio::awaitable<void> BlobConnection::GetBlob(Exchange& exchange, const BlobRoute& route,
                                              std::string path) {
  std::string_view range_text = HeaderValue(exchange.headers, "x-ms-range");
  if (range_text.empty()) range_text = HeaderValue(exchange.headers, "range");
  auto range = ParseRange(range_text);
  if (!range.ok()) {
    co_await RespondError(exchange, 400, "InvalidHeaderValue", range.status().message());
    co_return;
  }
  const uint64_t chunk = std::min<uint64_t>(service_.limits().max_payload_bytes, 8u << 20);
  const uint64_t first = *range ? (*range)->first : 0;
  const uint64_t wanted =
      *range && (*range)->last ? *(*range)->last + 1 - first : std::numeric_limits<uint64_t>::max();
  auto read = [&](uint64_t offset, uint64_t length) {
    return StartCall(protocol::Opcode::kReadRange,
                     protocol::EncodeReadRangeRequest({route.namespace_name, path, offset, length,
                                                       /*bulk=*/false}),
                     exchange.access);
  };
  // The first read learns the blob's size, version and block size; a small
  // one, so that the answer's head goes out soon.
  const uint64_t first_length = std::min({kFirstRead, chunk, wanted});
  auto reply = co_await Finish(read(first, first_length));
  if (!reply.ok()) {
    co_await RespondStatus(exchange, reply.status(), "BlobNotFound");
    co_return;
  }
  auto answer = protocol::DecodeReadRangeResponse(reply->metadata.bytes(), first_length,
                                                  reply->payload_bytes);
  if (!answer.ok()) {
    co_await RespondStatus(exchange, answer.status(), "BlobNotFound");
    co_return;
  }
  const protocol::ObjectEntry object = answer->object;
  const std::time_t modified = ModifiedOf(object, endpoint_.started);
  const std::string etag = EtagOf(object.version);
  Fields fields = BlobFields(object, modified);
  if (const int status = Precondition(exchange, etag, modified)) {
    if (status == 304) {
      co_await Respond(exchange, 304, fields, std::string());
    } else {
      co_await RespondError(exchange, 412, "ConditionNotMet",
                            "the condition specified using HTTP conditional header(s) is not met");
    }
    co_return;
  }
  if (*range && first >= object.size) {
    co_await RespondError(exchange, 416, "InvalidRange",
                          "the range specified is invalid for the "
                          "current size of the resource");
    co_return;
  }
  const uint64_t end = std::min(
      object.size, wanted == std::numeric_limits<uint64_t>::max() ? object.size : first + wanted);
  const uint64_t total = end - first;
  if (*range) {
    fields.emplace_back("Content-Range", "bytes " + std::to_string(first) + "-" +
                                             std::to_string(end - 1) + "/" +
                                             std::to_string(object.size));
  }
  const std::string head = Head(exchange, *range ? 206 : 200, fields, total);
  std::vector<asio::const_buffer> buffers{asio::buffer(head)};
  // The rest is asked for in block-aligned reads, several in flight, so the
  // blocks a cold read fetches from the origin (or NVMe) arrive in parallel
  // while the socket drains; each holds its blocks pinned until written.
  const uint64_t step = object.block_bytes == 0
                            ? chunk
                            : std::min(chunk, std::max<uint64_t>(object.block_bytes, 1u << 20));
  struct Ahead {
    uint64_t offset;
    uint64_t length;
    std::unique_ptr<PendingCall> call;
  };
  std::deque<Ahead> ahead;
  uint64_t issued = first + reply->payload_bytes;  // the next byte to ask for
  for (;;) {
    for (const PayloadPiece& piece : reply->payload) {
      buffers.push_back(asio::buffer(piece.bytes.data(), piece.bytes.size()));
    }
    while (ahead.size() < kReadsAhead && issued < end) {
      const uint64_t stop = std::min(end, (issued / step + 1) * step);
      ahead.push_back({issued, stop - issued, read(issued, stop - issued)});
      issued = stop;
    }
    if (!co_await Write(std::move(buffers))) co_return;
    stats_.blob_bytes_sent.fetch_add(reply->payload_bytes, std::memory_order_relaxed);
    buffers.clear();
    if (ahead.empty()) break;
    Ahead next = std::move(ahead.front());
    ahead.pop_front();
    reply = co_await Finish(std::move(next.call));
    Status broken = reply.status();
    if (reply.ok()) {
      auto more = protocol::DecodeReadRangeResponse(reply->metadata.bytes(), next.length,
                                                    reply->payload_bytes);
      if (!more.ok()) {
        broken = more.status();
      } else if (more->object.version != object.version || more->object.size != object.size ||
                 reply->payload_bytes != next.length) {
        broken = Unavailable("the blob changed while it was sent");
      }
    }
    if (!broken.ok()) {
      // The status line has gone out: all that is left is to cut the
      // response short, which the client sees and retries.
      log_.Warn(BadInput::kTruncated, peer_,
                "Blob endpoint: download of " + route.namespace_name + "/" + path +
                    " cut at byte " + std::to_string(next.offset) + ": " + broken.message());
      CloseSocket();
      co_return;
    }
  }
}

asio::awaitable<void> BlobConnection::ListBlobs(Exchange& exchange) {
  const BlobTarget& target = exchange.target;
  BlobListPage page;
  page.service_endpoint = "http://" + exchange.host + "/";
  page.container = target.container;
  page.prefix = std::string(target.Query("prefix").value_or(""));
  page.delimiter = std::string(target.Query("delimiter").value_or(""));
  page.marker = std::string(target.Query("marker").value_or(""));
  uint32_t max_results = protocol::kMaxListResults;
  if (const auto text = target.Query("maxresults")) {
    uint64_t value = 0;
    const auto [end, error] = std::from_chars(text->data(), text->data() + text->size(), value);
    if (error != std::errc() || end != text->data() + text->size() || value == 0) {
      co_await RespondError(exchange, 400, "OutOfRangeQueryParameterValue",
                            "maxresults must be a number from 1 to 5000");
      co_return;
    }
    page.max_results = static_cast<uint32_t>(std::min<uint64_t>(value, protocol::kMaxListResults));
    max_results = page.max_results;
  }
  if (page.delimiter.size() > 1) {
    co_await RespondError(exchange, 400, "InvalidQueryParameterValue",
                          "this endpoint lists with a delimiter of one character");
    co_return;
  }
  auto marker = ParseMarker(page.marker);
  if (!marker.ok()) {
    co_await RespondError(exchange, 400, "InvalidQueryParameterValue", marker.status().message());
    co_return;
  }
  const std::vector<const BlobRoute*> routes = endpoint_.routes.InContainer(target.container);
  uint32_t remaining = max_results;
  for (size_t i = marker->route; i < routes.size(); ++i) {
    const BlobRoute& route = *routes[i];
    const RouteListing how = BlobRoutes::ListingOf(route, page.prefix, page.delimiter);
    const std::string token = i == marker->route ? marker->inner_token : std::string();
    if (how.kind == RouteListing::Kind::kSkip) continue;
    if (remaining == 0) {
      page.next_marker = FormatMarker({i, token});
      break;
    }
    if (how.kind == RouteListing::Kind::kRolledUp) {
      if (page.prefixes.empty() || page.prefixes.back() != how.rolled_prefix) {
        page.prefixes.push_back(how.rolled_prefix);
        --remaining;
      }
      continue;
    }
    auto reply = co_await Finish(
        StartCall(protocol::Opcode::kList,
                  protocol::EncodeListRequest(
                      {route.namespace_name, how.inner_prefix, page.delimiter, token, remaining}),
                  exchange.access));
    if (!reply.ok()) {
      co_await RespondStatus(exchange, reply.status(), "ContainerNotFound");
      co_return;
    }
    auto listing = protocol::DecodeListResponse(reply->metadata.bytes());
    if (!listing.ok()) {
      co_await RespondStatus(exchange, listing.status(), "ContainerNotFound");
      co_return;
    }
    for (const protocol::ObjectEntry& object : listing->objects) {
      page.blobs.push_back({route.prefix + object.path, object.size, BareEtagOf(object.version),
                            ModifiedOf(object, endpoint_.started)});
    }
    for (const std::string& prefix : listing->prefixes)
      page.prefixes.push_back(route.prefix + prefix);
    const size_t listed = listing->objects.size() + listing->prefixes.size();
    remaining -= static_cast<uint32_t>(std::min<size_t>(listed, remaining));
    if (!listing->next_page_token.empty()) {
      page.next_marker = FormatMarker({i, listing->next_page_token});
      break;
    }
  }
  co_await Respond(exchange, 200, Fields(), ListBlobsXml(page), "application/xml");
}

}  // namespace kvtier::server::blob_endpoint
