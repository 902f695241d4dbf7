#pragma once

// Who may read through the Blob-compatible endpoint (docs/blob-endpoint.md,
// "Authorisation"). A request carries one of:
// - `Authorization: SharedKey <account>:<signature>`: verified against the
//   account key kvtierd reads its origin with (tiers.blob.key_env), over
//   the same canonical form Azure signs;
// - a SAS token in the query (`sig=`): an account SAS or a blob/container
//   service SAS signed with that key, unexpired, granting the operation;
// - `Authorization: Bearer <token>`: one of kvtier's access tokens, with
//   its grants;
// - nothing: allowed only on a server without access tokens (as for
//   kvtier's own protocol there).
// A holder of the account key can read the origin itself, so Shared Key
// and SAS grant reading every namespace the endpoint serves.

#include <cstdint>
#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"
#include "server/auth.h"
#include "server/blob_endpoint/blob_request.h"
#include "tiers/blob/auth.h"

namespace kvtier::server::blob_endpoint {

// What the request asks to do, for a SAS's permissions and resource types.
enum class BlobOperation {
  kReadBlob,        // Get Blob, Get Blob Properties
  kReadContainer,   // Get Container Properties
  kListBlobs,       // List Blobs
  kListContainers,  // List Containers
  kAccountInfo,     // Get Account Information: any valid credential
};

struct AuthRequest {
  std::string_view verb;
  const BlobTarget* target = nullptr;
  const std::vector<tiers::blob::HeaderField>* headers = nullptr;
  BlobOperation operation = BlobOperation::kReadBlob;
  std::time_t now = 0;
};

// Why a request is refused, in Azure's terms.
struct AuthRefusal {
  int http_status = 403;
  std::string code;     // x-ms-error-code
  std::string message;  // never holds a secret
};

class BlobAuthorizer {
 public:
  // `account_key_base64`: "" when kvtierd reads its origin with a SAS (then
  // Shared Key and SAS requests cannot be verified and are refused).
  BlobAuthorizer(std::string account, std::string_view account_key_base64,
                 const Authenticator& tokens);

  const std::string& account() const { return account_; }

  // The access of the request, or why it is refused.
  std::variant<Access, AuthRefusal> Authorize(const AuthRequest& request) const;

  // The signature a Shared Key request must carry (for tests and tools).
  std::string SharedKeySignature(const AuthRequest& request) const;

 private:
  std::variant<Access, AuthRefusal> SharedKey(const AuthRequest& request,
                                              std::string_view credential) const;
  std::variant<Access, AuthRefusal> Sas(const AuthRequest& request) const;

  std::string account_;
  std::vector<uint8_t> key_;  // empty: none configured
  std::optional<tiers::blob::SharedKeySigner> signer_;
  const Authenticator& tokens_;
};

}  // namespace kvtier::server::blob_endpoint
