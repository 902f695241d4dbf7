#pragma once

// Azure Storage request authentication: Shared Key signing and SAS tokens.
//
// Shared Key (https://learn.microsoft.com/rest/api/storageservices/authorize-with-shared-key):
// the client signs a canonical form of the request (verb, standard headers,
// every x-ms-* header, the resource path and query) with HMAC-SHA256 under
// the account key and sends `Authorization: SharedKey <account>:<signature>`.
// A SAS token is a pre-signed query string appended to every request.
//
// Secrets: neither the key nor a SAS token is ever put into a Status message
// or a log line; `Redacted()` describes a credential for logs.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace kvtier::tiers::blob {

std::string Base64Encode(std::span<const uint8_t> bytes);
Result<std::vector<uint8_t>> Base64Decode(std::string_view text);

// Percent-encodes a path segment or query value (RFC 3986 unreserved bytes
// stay; `keep_slash` keeps '/' for blob names with folders).
std::string PercentEncode(std::string_view text, bool keep_slash);

// base64(HMAC-SHA256(key, text)): the signature of Shared Key requests and of
// SAS tokens.
std::string HmacSha256Base64(std::span<const uint8_t> key, std::string_view text);

// An account SAS token (service version 2019-12-12 form) for the Blob service,
// all resource types, http and https, valid until `expiry` (ISO 8601 UTC,
// e.g. "2099-01-01T00:00:00Z"); `permissions` in Azure's letters ("rwdlc").
// For handing narrower credentials to tools; the result is a secret.
Result<std::string> MakeAccountSas(const std::string& account, std::string_view account_key_base64,
                                   const std::string& permissions, const std::string& expiry);

// RFC 1123 date in GMT for x-ms-date, e.g. "Mon, 23 Nov 2026 10:00:00 GMT".
std::string HttpDate();

struct HeaderField {
  std::string name;  // as sent; Shared Key canonicalises case itself
  std::string value;
};

// What Shared Key signs: the request as it will be sent.
struct RequestToSign {
  std::string_view verb;                                   // "GET", "PUT", ...
  std::string_view path;                                   // percent-encoded, starting with '/'
  std::vector<std::pair<std::string, std::string>> query;  // decoded names and values
  const std::vector<HeaderField>* headers = nullptr;       // every header to be sent
  uint64_t content_length = 0;
};

class SharedKeySigner {
 public:
  // `account_key_base64` is the storage account key as the portal shows it.
  static Result<SharedKeySigner> Create(std::string account, std::string_view account_key_base64);

  // The value of the Authorization header for `request`.
  std::string Authorization(const RequestToSign& request) const;

  // The exact string that is signed (exposed for tests of the canonical form).
  std::string StringToSign(const RequestToSign& request) const;

 private:
  SharedKeySigner(std::string account, std::vector<uint8_t> key)
      : account_(std::move(account)), key_(std::move(key)) {}
  std::string account_;
  std::vector<uint8_t> key_;
};

}  // namespace kvtier::tiers::blob
