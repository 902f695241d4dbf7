#pragma once

// The parts of a Blob REST request the endpoint reads: the resource its
// target names, its query, its byte range and the time formats of its
// headers. Pure functions over untrusted text: every malformed input is a
// kInvalidArgument naming what is wrong.

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "tiers/blob/auth.h"

namespace kvtier::server::blob_endpoint {

// Longest blob name Azure accepts, in bytes.
inline constexpr size_t kMaxBlobNameBytes = 1024;

struct BlobTarget {
  std::string raw_path;   // as sent (percent-encoded): what Shared Key signs
  std::string container;  // decoded; "" for the account itself
  std::string blob;       // decoded; "" for a container or the account
  std::vector<std::pair<std::string, std::string>> query;  // decoded, in order

  // The first value of query parameter `name` (names compare exactly, as
  // Azure's are lower case).
  std::optional<std::string_view> Query(std::string_view name) const;
};

// Splits a request target. Path-style URLs (`/<account>/<container>/<blob>`,
// as for Azurite and IP endpoints) are recognised by their first segment
// being `account`; otherwise the first segment is the container (the
// account is the host, as for `<account>.blob.core.windows.net`).
Result<BlobTarget> ParseTarget(std::string_view target, std::string_view account);

// The value of header field `name` (compared without case; the first of
// several), or "" when absent.
std::string_view HeaderValue(const std::vector<tiers::blob::HeaderField>& headers,
                             std::string_view name);

// Decodes %XX escapes ('+' stays '+', as Azure reads paths and queries).
Result<std::string> PercentDecode(std::string_view text);

// A byte range of `Range` or `x-ms-range`: `bytes=first-last` or
// `bytes=first-`. nullopt for none.
struct ByteRange {
  uint64_t first = 0;
  std::optional<uint64_t> last;  // inclusive; none: to the end
};
Result<std::optional<ByteRange>> ParseRange(std::string_view header);

// "Sun, 06 Dec 2026 10:00:00 GMT" (RFC 1123), from Unix seconds.
std::string HttpDateOf(std::time_t seconds);
// The RFC 1123 form above; nullopt when it does not parse.
std::optional<std::time_t> ParseHttpDate(std::string_view text);
// ISO 8601 UTC as SAS tokens carry it: "2026-12-06", "2026-12-06T10:00Z",
// "2026-12-06T10:00:00Z", "2026-12-06T10:00:00.1234567Z".
std::optional<std::time_t> ParseIsoTime(std::string_view text);

}  // namespace kvtier::server::blob_endpoint
