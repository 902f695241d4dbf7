#pragma once

// A client for the Azure Blob REST API over one container: Put Blob (Put
// Block + Put Block List above a size), Get Blob with a range, Get Blob
// Properties, Delete Blob, List Blobs, Create Container. Works against Azure
// and Azurite (path-style endpoints such as http://127.0.0.1:10000/devstoreaccount1).
//
// Why Beast and OpenSSL, not libcurl: Beast is already the project's HTTP
// stack (fixed choice), keeps one connection per pooled object with explicit
// deadlines, and lets bodies go out from our buffers without copies.
//
// Retries: 408, 429, 500, 502, 503, 504 and broken connections are retried
// with exponential backoff and full jitter, at least as long as a
// Retry-After header asks, until `max_attempts` or the per-operation
// `operation_timeout` runs out. 401, 403, 404, 409 and 412 are answers, never
// retried. Writes are idempotent (a whole blob, or a block list), so a
// retried PUT whose first try had landed is harmless; with `if_absent` its
// retry sees the blob and reports it as already present.
//
// Secrets (account key, SAS token) never appear in a Status or a log line.
//
// Thread safety: every method may be called concurrently; each call blocks
// on the network (call it from a worker pool, never a network thread).
// Connections are pooled; at most `max_idle_connections` stay open.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "tiers/blob/auth.h"
#include "tiers/blob/http_connection.h"

namespace kvtier::tiers::blob {

struct BlobClientOptions {
  std::string endpoint;     // http(s)://host[:port][/account for path-style]
  std::string account;      // storage account name
  std::string account_key;  // base64 Shared Key (secret); or
  std::string sas_token;    // a SAS query string without '?' (secret)
  std::string container;
  std::string ca_file;  // TLS: extra CA bundle (empty: system store)

  std::chrono::milliseconds operation_timeout{30'000};  // one call, retries included
  std::chrono::milliseconds initial_backoff{50};
  std::chrono::milliseconds max_backoff{2'000};
  int max_attempts = 6;
  uint64_t single_put_limit = 32ull << 20;  // larger blobs go up in blocks
  uint64_t block_bytes = 8ull << 20;        // block size of those uploads
  size_t max_idle_connections = 16;

  Status Validate() const;
};

struct BlobProperties {
  uint64_t size = 0;  // the whole blob's size
  std::string etag;
  uint64_t modified_ms = 0;                     // Last-Modified as Unix ms; 0 when absent
  std::map<std::string, std::string> metadata;  // lower-case names, without x-ms-meta-
};

struct BlobData {
  std::string bytes;  // the requested range (or the whole blob)
  BlobProperties properties;
};

struct ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;  // > 0
};

struct BlobListing {
  struct Item {
    std::string name;
    uint64_t size = 0;
    std::string etag;
    uint64_t modified_ms = 0;  // Last-Modified as Unix ms; 0 when absent
  };
  std::vector<Item> items;
  std::string next_marker;  // empty: the listing is complete
};

// An HTTP date (RFC 7231 IMF-fixdate, "Sun, 06 Nov 1994 08:49:37 GMT") as
// Unix ms; 0 when it does not parse.
uint64_t ParseHttpDateMs(std::string_view date);

class BlobClient {
 public:
  // Checks the options and credentials; does not touch the network.
  static Result<std::unique_ptr<BlobClient>> Create(BlobClientOptions options);
  ~BlobClient();

  // Creates the container; OK if it already exists.
  Status CreateContainer();

  // Writes a whole blob with `metadata` (names: letters, digits and '_').
  // With `if_absent`, never overwrites: returns false when a blob of that
  // name already exists (nothing written), true when written.
  Result<bool> PutBlob(const std::string& name, std::span<const std::byte> bytes,
                       const std::map<std::string, std::string>& metadata, bool if_absent);

  // A large blob in pieces, as Azure's block blobs are made: PutBlock
  // stages bytes under `block_id` (invisible, replacing a staged block of
  // that id); PutBlockList makes the blob the named staged blocks in that
  // order, at once: a reader sees the old blob or the whole new one, never
  // a part. Block ids of one blob must all have the same length
  // (StagedBlockId gives such ids). PutBlockList with `if_absent` returns
  // false, committing nothing, when the blob exists; else true.
  Status PutBlock(const std::string& name, const std::string& block_id,
                  std::span<const std::byte> bytes);
  Result<bool> PutBlockList(const std::string& name, const std::vector<std::string>& block_ids,
                            const std::map<std::string, std::string>& metadata, bool if_absent);
  // The id of block `index` (base64, one length for every index).
  static std::string StagedBlockId(uint64_t index);

  // Reads a blob, or `range` of it. With `if_match` (an ETag) a blob that
  // changed since is refused with kUnavailable ("changed"), so one read never
  // mixes versions. Errors: kNotFound, kInvalidArgument (range outside the
  // blob, credentials refused), kUnavailable (service down after retries, or
  // changed), kDeadlineExceeded. `*changed`, when given, is set on an error
  // that says the blob is not what the caller thinks: the ETag no longer
  // matches, or the range reaches past its end.
  Result<BlobData> GetBlob(const std::string& name, std::optional<ByteRange> range = std::nullopt,
                           const std::string& if_match = "", bool* changed = nullptr);

  // Reads `range` of a blob (If-Match `if_match`), handing its bytes to
  // `sink` in order as they arrive, so that a caller can use the first
  // bytes before the last have come and never holds the whole range. A
  // retried attempt reads the range again from its start; bytes already
  // handed on are not handed again. Errors as GetBlob's, `*changed` too; a
  // sink's error ends the read and is returned. On an error part of the
  // range may have been handed on. `operation_timeout` bounds the wait for
  // each piece, not the whole range: a sink that waits for its own reader
  // slows the read down without failing it. `target`, when given, offers the memory
  // the next bytes are to end up in (empty: none); bytes received straight
  // into it are handed to the sink in place (the sink sees its own memory).
  using RangeSink = std::function<Status(std::span<const std::byte> bytes)>;
  using RangeTarget = std::function<std::span<std::byte>()>;
  Status ReadRange(const std::string& name, ByteRange range, const std::string& if_match,
                   bool* changed, const RangeSink& sink, const RangeTarget* target = nullptr);

  Result<BlobProperties> GetProperties(const std::string& name);

  // Errors: kNotFound when there is no such blob.
  Status DeleteBlob(const std::string& name);

  // One page of blob names under `prefix`, in name order.
  Result<BlobListing> ListBlobs(const std::string& prefix, const std::string& marker = "",
                                int max_results = 5000);

  struct Counters {
    std::atomic<uint64_t> requests{0};
    std::atomic<uint64_t> retries{0};
    std::atomic<uint64_t> failures{0};  // operations that ended in an error
    std::atomic<uint64_t> bytes_sent{0};
    std::atomic<uint64_t> bytes_received{0};
    // Responses by HTTP status (the codes Blob storage answers that an
    // operator tells apart), and attempts that got no response at all.
    std::atomic<uint64_t> http_2xx{0};
    std::atomic<uint64_t> http_403{0};  // credentials refused
    std::atomic<uint64_t> http_404{0};
    std::atomic<uint64_t> http_409{0};  // exists already (spill keeps the first)
    std::atomic<uint64_t> http_412{0};  // condition failed (changed underneath)
    std::atomic<uint64_t> http_429{0};  // throttled
    std::atomic<uint64_t> http_5xx{0};
    std::atomic<uint64_t> http_other{0};
    std::atomic<uint64_t> no_response{0};  // connect, reset or timeout
  };
  const Counters& counters() const { return counters_; }

  // A description of the target for logs: endpoint, account, container and
  // the kind of credential, never the credential itself.
  std::string Describe() const;

 private:
  struct Call {
    std::string verb;
    std::string path;                                        // encoded, from the root
    std::vector<std::pair<std::string, std::string>> query;  // decoded
    std::vector<HeaderField> headers;
    std::span<const std::byte> body;
    uint64_t max_body_bytes = 1 << 20;
    const BodySink* body_sink = nullptr;      // a 2xx body goes here (HttpRequest)
    const BodyTarget* body_target = nullptr;  // received into this (HttpRequest)
    const char* what = "";                    // the operation, for messages
  };

  BlobClient(BlobClientOptions options, Endpoint endpoint, std::string base_path,
             std::optional<SharedKeySigner> signer);
  std::string BlobPath(const std::string& name) const;
  // Runs `call` with retries; returns the final response, whatever its
  // status, or the transport error once retries are spent.
  Result<HttpResponse> Execute(const Call& call);
  Result<HttpResponse> Attempt(const Call& call, Deadline deadline);
  void CountResponse(const Result<HttpResponse>& response);
  Status PutBlocks(const std::string& name, std::span<const std::byte> bytes,
                   std::vector<HeaderField> commit_headers, bool* existed);
  // Put Block List with `headers`; false when a condition failed (exists).
  Result<bool> CommitBlocks(const std::string& name, const std::vector<std::string>& block_ids,
                            std::vector<HeaderField> headers);
  Status ErrorFrom(const HttpResponse& response, const char* what);

  const BlobClientOptions options_;
  const Endpoint endpoint_;
  const std::string base_path_;  // "/devstoreaccount1" for path-style, else ""
  const std::optional<SharedKeySigner> signer_;

  std::mutex pool_mu_;
  std::vector<std::unique_ptr<HttpConnection>> idle_;
  Counters counters_;
};

}  // namespace kvtier::tiers::blob
