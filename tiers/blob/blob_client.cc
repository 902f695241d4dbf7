#include "tiers/blob/blob_client.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <thread>

namespace kvtier::tiers::blob {
namespace {

constexpr const char* kApiVersion = "2021-08-06";

bool Retryable(int status) {
  return status == 408 || status == 429 || status == 500 || status == 502 || status == 503 ||
         status == 504;
}

uint64_t ParseUint(std::string_view text) {
  uint64_t value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  return value;
}

// The text between <tag> and </tag> at or after `from`; npos-safe.
std::string_view XmlElement(std::string_view xml, std::string_view tag, size_t from = 0,
                            size_t* end = nullptr) {
  const std::string open = "<" + std::string(tag) + ">";
  const std::string close = "</" + std::string(tag) + ">";
  const size_t start = xml.find(open, from);
  if (start == std::string_view::npos) return {};
  const size_t body = start + open.size();
  const size_t stop = xml.find(close, body);
  if (stop == std::string_view::npos) return {};
  if (end != nullptr) *end = stop + close.size();
  return xml.substr(body, stop - body);
}

std::string XmlUnescape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  static constexpr std::pair<std::string_view, char> kEntities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  for (size_t i = 0; i < text.size();) {
    bool replaced = false;
    if (text[i] == '&') {
      for (const auto& [entity, c] : kEntities) {
        if (text.substr(i).starts_with(entity)) {
          out.push_back(c);
          i += entity.size();
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) out.push_back(text[i++]);
  }
  return out;
}

BlobProperties PropertiesFrom(const HttpResponse& response) {
  BlobProperties properties;
  properties.etag = response.Header("etag");
  properties.modified_ms = ParseHttpDateMs(response.Header("last-modified"));
  // Content-Range "bytes a-b/total" names the whole size for a ranged read.
  const std::string range = response.Header("content-range");
  const size_t slash = range.rfind('/');
  properties.size = slash != std::string::npos
                        ? ParseUint(std::string_view(range).substr(slash + 1))
                        : ParseUint(response.Header("content-length"));
  for (const auto& [name, value] : response.headers) {
    if (name.starts_with("x-ms-meta-")) properties.metadata[name.substr(10)] = value;
  }
  return properties;
}

std::string BlockId(size_t index) {
  char id[32];
  std::snprintf(id, sizeof(id), "kvtier-block-%08zu", index);  // same length for every block
  return Base64Encode(std::span(reinterpret_cast<const uint8_t*>(id), std::strlen(id)));
}

// ETags as Get Blob Properties answers them, in quotes: List Blobs gives
// them bare on Azure, and If-Match compares the quoted form.
std::string QuotedEtag(std::string etag) {
  if (etag.empty() || etag.front() == '"') return etag;
  return '"' + etag + '"';
}

}  // namespace

uint64_t ParseHttpDateMs(std::string_view date) {
  std::tm tm{};
  const std::string text(date);
  const char* end = strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return 0;
  const time_t seconds = timegm(&tm);
  return seconds < 0 ? 0 : static_cast<uint64_t>(seconds) * 1000;
}

Status BlobClientOptions::Validate() const {
  if (endpoint.empty()) return InvalidArgument("blob endpoint must be set");
  if (account.empty()) return InvalidArgument("blob account must be set");
  if (container.empty()) return InvalidArgument("blob container must be set");
  if (account_key.empty() == sas_token.empty()) {
    return InvalidArgument("blob credentials: set exactly one of account_key and sas_token");
  }
  if (max_attempts < 1) return InvalidArgument("blob max_attempts must be at least 1");
  if (block_bytes < (64u << 10) || block_bytes > (100ull << 20)) {
    return InvalidArgument("blob block_bytes must be within 64KiB..100MiB");
  }
  if (single_put_limit > (256ull << 20)) {
    return InvalidArgument("blob single_put_limit must be at most 256MiB");
  }
  return Status::Ok();
}

Result<std::unique_ptr<BlobClient>> BlobClient::Create(BlobClientOptions options) {
  KVTIER_RETURN_IF_ERROR(options.Validate());
  std::string base_path;
  KVTIER_ASSIGN_OR_RETURN(Endpoint endpoint, Endpoint::Parse(options.endpoint, &base_path));
  endpoint.ca_file = options.ca_file;
  std::optional<SharedKeySigner> signer;
  if (!options.account_key.empty()) {
    KVTIER_ASSIGN_OR_RETURN(SharedKeySigner made,
                            SharedKeySigner::Create(options.account, options.account_key));
    signer.emplace(std::move(made));
  }
  while (options.sas_token.starts_with('?')) options.sas_token.erase(0, 1);
  return std::unique_ptr<BlobClient>(new BlobClient(std::move(options), std::move(endpoint),
                                                    std::move(base_path), std::move(signer)));
}

BlobClient::BlobClient(BlobClientOptions options, Endpoint endpoint, std::string base_path,
                       std::optional<SharedKeySigner> signer)
    : options_(std::move(options)),
      endpoint_(std::move(endpoint)),
      base_path_(std::move(base_path)),
      signer_(std::move(signer)) {}

BlobClient::~BlobClient() = default;

std::string BlobClient::Describe() const {
  return options_.endpoint + " account " + options_.account + " container " + options_.container +
         (signer_ ? " (shared key)" : " (SAS)");
}

std::string BlobClient::BlobPath(const std::string& name) const {
  return base_path_ + "/" + PercentEncode(options_.container, false) + "/" +
         PercentEncode(name, /*keep_slash=*/true);
}

Result<HttpResponse> BlobClient::Attempt(const Call& call, Deadline deadline) {
  std::unique_ptr<HttpConnection> connection;
  {
    std::lock_guard lock(pool_mu_);
    if (!idle_.empty()) {
      connection = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (!connection) {
    KVTIER_ASSIGN_OR_RETURN(connection, HttpConnection::Connect(endpoint_, deadline));
  }
  HttpRequest request;
  request.verb = call.verb;
  request.body = call.body;
  request.body_sink = call.body_sink;
  request.body_target = call.body_target;
  request.headers = call.headers;
  request.headers.push_back({"x-ms-date", HttpDate()});
  request.headers.push_back({"x-ms-version", kApiVersion});
  request.target = call.path;
  char separator = '?';
  for (const auto& [name, value] : call.query) {
    request.target += separator + PercentEncode(name, false) + '=' + PercentEncode(value, false);
    separator = '&';
  }
  if (signer_) {
    RequestToSign to_sign{.verb = call.verb,
                          .path = call.path,
                          .query = call.query,
                          .headers = &request.headers,
                          .content_length = call.body.size()};
    request.headers.push_back({"Authorization", signer_->Authorization(to_sign)});
  } else {
    request.target += separator + options_.sas_token;
  }
  request.headers.push_back(
      {"Host", endpoint_.host + ":" + std::to_string(static_cast<unsigned>(endpoint_.port))});
  counters_.requests.fetch_add(1, std::memory_order_relaxed);
  auto response = connection->RoundTrip(request, deadline, call.max_body_bytes);
  if (response.ok()) {
    counters_.bytes_sent.fetch_add(call.body.size(), std::memory_order_relaxed);
    counters_.bytes_received.fetch_add(response->body.size() + response->sunk_bytes,
                                       std::memory_order_relaxed);
    if (connection->reusable()) {
      std::lock_guard lock(pool_mu_);
      if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(connection));
    }
  }
  return response;
}

void BlobClient::CountResponse(const Result<HttpResponse>& response) {
  auto bump = [](std::atomic<uint64_t>& counter) {
    counter.fetch_add(1, std::memory_order_relaxed);
  };
  if (!response.ok()) return bump(counters_.no_response);
  const int code = response->status;
  if (code >= 200 && code < 300) return bump(counters_.http_2xx);
  if (code >= 500 && code < 600) return bump(counters_.http_5xx);
  switch (code) {
    case 403:
      return bump(counters_.http_403);
    case 404:
      return bump(counters_.http_404);
    case 409:
      return bump(counters_.http_409);
    case 412:
      return bump(counters_.http_412);
    case 429:
      return bump(counters_.http_429);
    default:
      return bump(counters_.http_other);
  }
}

Result<HttpResponse> BlobClient::Execute(const Call& call) {
  const auto start = std::chrono::steady_clock::now();
  const Deadline deadline = start + options_.operation_timeout;
  thread_local std::mt19937_64 random{std::random_device{}()};
  auto backoff = options_.initial_backoff;
  for (int attempt = 1;; ++attempt) {
    auto response = Attempt(call, deadline);
    CountResponse(response);
    std::chrono::milliseconds retry_after{0};
    if (response.ok()) {
      if (!Retryable(response->status)) return response;
      // Retry-After in seconds (Azure does not send the HTTP-date form).
      const std::string header = response->Header("retry-after");
      if (!header.empty()) retry_after = std::chrono::milliseconds(ParseUint(header) * 1000);
    } else if (response.status().code() != StatusCode::kUnavailable) {
      // Deadline passed or the peer spoke malformed HTTP: no retry helps.
      counters_.failures.fetch_add(1, std::memory_order_relaxed);
      return response.status();
    }
    // Jitter within the upper half of the capped backoff, and never shorter
    // than Retry-After asks.
    const int64_t cap = std::min(backoff, options_.max_backoff).count();
    const auto wait =
        std::max(retry_after, std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(
                                  cap / 2, std::max<int64_t>(cap, 1))(random)));
    if (attempt >= options_.max_attempts || std::chrono::steady_clock::now() + wait >= deadline) {
      counters_.failures.fetch_add(1, std::memory_order_relaxed);
      if (!response.ok()) {
        return Unavailable(std::string(call.what) + ": blob service unreachable after " +
                           std::to_string(attempt) + " attempts: " + response.status().message());
      }
      return response;  // the last retryable answer, for the caller to map
    }
    counters_.retries.fetch_add(1, std::memory_order_relaxed);
    std::this_thread::sleep_for(wait);
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

Status BlobClient::ErrorFrom(const HttpResponse& response, const char* what) {
  counters_.failures.fetch_add(1, std::memory_order_relaxed);
  // The error code names the problem; the message may echo request details.
  std::string code = response.Header("x-ms-error-code");
  if (code.empty()) code = std::string(XmlElement(response.body, "Code"));
  const std::string detail = std::string(what) + ": HTTP " + std::to_string(response.status) +
                             (code.empty() ? "" : " " + code);
  switch (response.status) {
    case 404:
      return NotFound(detail);
    case 401:
    case 403:
      return InvalidArgument(detail + " (credentials refused)");
    case 412:
      return Unavailable(detail + " (the blob changed)");
    case 416:
      return InvalidArgument(detail + " (range outside the blob)");
    default:
      if (Retryable(response.status)) return Unavailable(detail + " (retries spent)");
      return InvalidArgument(detail);
  }
}

Status BlobClient::CreateContainer() {
  Call call{.verb = "PUT",
            .path = base_path_ + "/" + PercentEncode(options_.container, false),
            .query = {{"restype", "container"}},
            .what = "create container"};
  KVTIER_ASSIGN_OR_RETURN(HttpResponse response, Execute(call));
  if (response.status == 201 || response.status == 409) return Status::Ok();
  return ErrorFrom(response, call.what);
}

Result<bool> BlobClient::PutBlob(const std::string& name, std::span<const std::byte> bytes,
                                 const std::map<std::string, std::string>& metadata,
                                 bool if_absent) {
  std::vector<HeaderField> headers;
  for (const auto& [key, value] : metadata) headers.push_back({"x-ms-meta-" + key, value});
  if (if_absent) headers.push_back({"If-None-Match", "*"});
  if (bytes.size() > options_.single_put_limit) {
    bool existed = false;
    KVTIER_RETURN_IF_ERROR(PutBlocks(name, bytes, std::move(headers), &existed));
    return !existed;
  }
  headers.push_back({"x-ms-blob-type", "BlockBlob"});
  headers.push_back({"Content-Type", "application/octet-stream"});
  Call call{.verb = "PUT",
            .path = BlobPath(name),
            .headers = std::move(headers),
            .body = bytes,
            .what = "put blob"};
  KVTIER_ASSIGN_OR_RETURN(HttpResponse response, Execute(call));
  if (response.status == 201) return true;
  if (if_absent && (response.status == 409 || response.status == 412)) return false;
  return ErrorFrom(response, call.what);
}

std::string BlobClient::StagedBlockId(uint64_t index) {
  char id[40];
  // 16 hex digits: one length for every index a blob can have.
  std::snprintf(id, sizeof(id), "kvtier-part-%016llx", static_cast<unsigned long long>(index));
  return Base64Encode(std::span(reinterpret_cast<const uint8_t*>(id), std::strlen(id)));
}

Status BlobClient::PutBlock(const std::string& name, const std::string& block_id,
                            std::span<const std::byte> bytes) {
  Call call{.verb = "PUT",
            .path = BlobPath(name),
            .query = {{"comp", "block"}, {"blockid", block_id}},
            .body = bytes,
            .what = "put block"};
  KVTIER_ASSIGN_OR_RETURN(HttpResponse response, Execute(call));
  if (response.status != 201) return ErrorFrom(response, call.what);
  return Status::Ok();
}

Result<bool> BlobClient::PutBlockList(const std::string& name,
                                      const std::vector<std::string>& block_ids,
                                      const std::map<std::string, std::string>& metadata,
                                      bool if_absent) {
  std::vector<HeaderField> headers;
  for (const auto& [key, value] : metadata) headers.push_back({"x-ms-meta-" + key, value});
  if (if_absent) headers.push_back({"If-None-Match", "*"});
  return CommitBlocks(name, block_ids, std::move(headers));
}

Result<bool> BlobClient::CommitBlocks(const std::string& name,
                                      const std::vector<std::string>& block_ids,
                                      std::vector<HeaderField> headers) {
  std::string list = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
  for (const std::string& id : block_ids) list += "<Latest>" + id + "</Latest>";
  list += "</BlockList>";
  headers.push_back({"Content-Type", "application/xml"});
  Call commit{.verb = "PUT",
              .path = BlobPath(name),
              .query = {{"comp", "blocklist"}},
              .headers = std::move(headers),
              .body = std::as_bytes(std::span(list)),
              .what = "put block list"};
  KVTIER_ASSIGN_OR_RETURN(HttpResponse response, Execute(commit));
  if (response.status == 201) return true;
  if (response.status == 409 || response.status == 412) return false;  // exists (if_absent)
  return ErrorFrom(response, commit.what);
}

Status BlobClient::PutBlocks(const std::string& name, std::span<const std::byte> bytes,
                             std::vector<HeaderField> commit_headers, bool* existed) {
  std::vector<std::string> ids;
  for (size_t index = 0, offset = 0; offset < bytes.size(); ++index) {
    const size_t length = std::min<uint64_t>(options_.block_bytes, bytes.size() - offset);
    ids.push_back(BlockId(index));
    KVTIER_RETURN_IF_ERROR(PutBlock(name, ids.back(), bytes.subspan(offset, length)));
    offset += length;
  }
  KVTIER_ASSIGN_OR_RETURN(bool written, CommitBlocks(name, ids, std::move(commit_headers)));
  *existed = !written;
  return Status::Ok();
}

Result<BlobData> BlobClient::GetBlob(const std::string& name, std::optional<ByteRange> range,
                                     const std::string& if_match, bool* changed) {
  if (changed != nullptr) *changed = false;
  Call call{.verb = "GET", .path = BlobPath(name), .what = "get blob"};
  call.max_body_bytes = 5ull << 30;
  if (range) {
    if (range->length == 0) return InvalidArgument("get blob: empty range");
    call.headers.push_back({"x-ms-range", "bytes=" + std::to_string(range->offset) + "-" +
                                              std::to_string(range->offset + range->length - 1)});
    // Room for an error body too; a success is checked against the range.
    call.max_body_bytes = std::max<uint64_t>(range->length, 64 << 10);
  }
  if (!if_match.empty()) call.headers.push_back({"If-Match", if_match});
  KVTIER_ASSIGN_OR_RETURN(HttpResponse response, Execute(call));
  if (response.status != 200 && response.status != 206) {
    if (changed != nullptr) *changed = response.status == 412 || response.status == 416;
    return ErrorFrom(response, call.what);
  }
  if (range && (response.status != 206 || response.body.size() != range->length)) {
    if (changed != nullptr) *changed = true;
    counters_.failures.fetch_add(1, std::memory_order_relaxed);
    return InvalidArgument("get blob: the range reaches past the blob; got " +
                           std::to_string(response.body.size()) + " bytes, not " +
                           std::to_string(range->length));
  }
  BlobData data;
  data.properties = PropertiesFrom(response);
  data.bytes = std::move(response.body);
  return data;
}

Status BlobClient::ReadRange(const std::string& name, ByteRange range, const std::string& if_match,
                             bool* changed, const RangeSink& sink, const RangeTarget* target) {
  if (changed != nullptr) *changed = false;
  if (range.length == 0) return InvalidArgument("get blob: empty range");
  Call call{.verb = "GET", .path = BlobPath(name), .what = "get blob"};
  call.headers.push_back({"x-ms-range", "bytes=" + std::to_string(range.offset) + "-" +
                                            std::to_string(range.offset + range.length - 1)});
  if (!if_match.empty()) call.headers.push_back({"If-Match", if_match});
  call.max_body_bytes = std::max<uint64_t>(range.length, 64 << 10);  // an error body fits too
  uint64_t handed_on = 0;                                            // over every attempt
  const BodySink body_sink = [&](uint64_t at, std::span<const std::byte> bytes) -> Status {
    if (at + bytes.size() > range.length) {
      return ProtocolError("get blob: the service sent more than the range");
    }
    if (at + bytes.size() <= handed_on) return Status::Ok();  // a retry's repeat
    const uint64_t skip = handed_on > at ? handed_on - at : 0;
    KVTIER_RETURN_IF_ERROR(sink(bytes.subspan(skip)));
    handed_on = at + bytes.size();
    return Status::Ok();
  };
  call.body_sink = &body_sink;
  // Only where the body continues what was handed on: a retry's repeat goes
  // through the connection's buffer and is skipped.
  const BodyTarget body_target = [&](uint64_t at) -> std::span<std::byte> {
    if (at != handed_on) return {};
    const std::span<std::byte> offered = (*target)();
    return offered.subspan(0, std::min<uint64_t>(offered.size(), range.length - at));
  };
  if (target != nullptr) call.body_target = &body_target;
  KVTIER_ASSIGN_OR_RETURN(HttpResponse response, Execute(call));
  if (response.status != 200 && response.status != 206) {
    if (changed != nullptr) *changed = response.status == 412 || response.status == 416;
    return ErrorFrom(response, call.what);
  }
  if (response.status != 206 || handed_on != range.length) {
    if (changed != nullptr) *changed = true;
    counters_.failures.fetch_add(1, std::memory_order_relaxed);
    return InvalidArgument("get blob: the range reaches past the blob; got " +
                           std::to_string(handed_on) + " bytes, not " +
                           std::to_string(range.length));
  }
  return Status::Ok();
}

Result<BlobProperties> BlobClient::GetProperties(const std::string& name) {
  Call call{.verb = "HEAD", .path = BlobPath(name), .what = "get blob properties"};
  KVTIER_ASSIGN_OR_RETURN(HttpResponse response, Execute(call));
  if (response.status != 200) return ErrorFrom(response, call.what);
  return PropertiesFrom(response);
}

Status BlobClient::DeleteBlob(const std::string& name) {
  Call call{.verb = "DELETE", .path = BlobPath(name), .what = "delete blob"};
  KVTIER_ASSIGN_OR_RETURN(HttpResponse response, Execute(call));
  if (response.status == 202) return Status::Ok();
  return ErrorFrom(response, call.what);
}

Result<BlobListing> BlobClient::ListBlobs(const std::string& prefix, const std::string& marker,
                                          int max_results) {
  Call call{.verb = "GET",
            .path = base_path_ + "/" + PercentEncode(options_.container, false),
            .query = {{"restype", "container"},
                      {"comp", "list"},
                      {"maxresults", std::to_string(max_results)}},
            .what = "list blobs"};
  call.max_body_bytes = 64ull << 20;
  if (!prefix.empty()) call.query.push_back({"prefix", prefix});
  if (!marker.empty()) call.query.push_back({"marker", marker});
  KVTIER_ASSIGN_OR_RETURN(HttpResponse response, Execute(call));
  if (response.status != 200) return ErrorFrom(response, call.what);
  BlobListing listing;
  const std::string_view xml = response.body;
  size_t at = 0;
  for (;;) {
    size_t end = 0;
    const std::string_view blob = XmlElement(xml, "Blob", at, &end);
    if (end == 0) break;
    at = end;
    listing.items.push_back({XmlUnescape(XmlElement(blob, "Name")),
                             ParseUint(XmlElement(blob, "Content-Length")),
                             QuotedEtag(XmlUnescape(XmlElement(blob, "Etag"))),
                             ParseHttpDateMs(XmlElement(blob, "Last-Modified"))});
  }
  listing.next_marker = XmlUnescape(XmlElement(xml, "NextMarker"));
  return listing;
}

}  // namespace kvtier::tiers::blob
