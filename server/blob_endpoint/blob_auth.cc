#include "server/blob_endpoint/blob_auth.h"

#include <algorithm>

namespace kvtier::server::blob_endpoint {
namespace {

bool EqualConstantTime(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

AuthRefusal Failed(std::string message) {
  return {403, "AuthenticationFailed", std::move(message)};
}

AuthRefusal NotPermitted(std::string message) {
  return {403, "AuthorizationPermissionMismatch", std::move(message)};
}

bool IsList(BlobOperation operation) {
  return operation == BlobOperation::kListBlobs || operation == BlobOperation::kListContainers;
}

}  // namespace

BlobAuthorizer::BlobAuthorizer(std::string account, std::string_view account_key_base64,
                               const Authenticator& tokens)
    : account_(std::move(account)), tokens_(tokens) {
  if (!account_key_base64.empty()) {
    auto key = tiers::blob::Base64Decode(account_key_base64);
    if (key.ok()) key_ = std::move(*key);
    auto signer = tiers::blob::SharedKeySigner::Create(account_, account_key_base64);
    if (signer.ok()) signer_.emplace(std::move(*signer));
  }
}

std::variant<Access, AuthRefusal> BlobAuthorizer::Authorize(const AuthRequest& request) const {
  const std::string_view authorization = HeaderValue(*request.headers, "authorization");
  if (!authorization.empty()) {
    const size_t space = authorization.find(' ');
    const std::string_view scheme = authorization.substr(0, space);
    const std::string_view credential =
        space == std::string_view::npos ? std::string_view() : authorization.substr(space + 1);
    if (scheme == "SharedKey") return SharedKey(request, credential);
    if (scheme == "Bearer") {
      auto access = tokens_.Authenticate(credential, nullptr);
      if (!access.ok()) {
        return Failed("the bearer token is not one of this server's access tokens");
      }
      return *access;
    }
    return Failed("unsupported authorization scheme '" + std::string(scheme) +
                  "': use SharedKey, a SAS or a kvtier token as 'Bearer'");
  }
  if (request.target->Query("sig")) return Sas(request);
  if (tokens_.required()) {
    return AuthRefusal{401, "NoAuthenticationInformation",
                       "this server requires Shared Key, a SAS or a kvtier token"};
  }
  return Access::Everything();
}

std::string BlobAuthorizer::SharedKeySignature(const AuthRequest& request) const {
  if (!signer_) return {};
  tiers::blob::RequestToSign to_sign;
  to_sign.verb = request.verb;
  to_sign.path = request.target->raw_path;
  to_sign.query = request.target->query;
  to_sign.headers = request.headers;
  return tiers::blob::HmacSha256Base64(key_, signer_->StringToSign(to_sign));
}

std::variant<Access, AuthRefusal> BlobAuthorizer::SharedKey(const AuthRequest& request,
                                                            std::string_view credential) const {
  if (!signer_) {
    return Failed(
        "this server holds no account key to verify Shared Key (it reads its origin with a "
        "SAS); use a kvtier token");
  }
  const size_t colon = credential.rfind(':');
  if (colon == std::string_view::npos || credential.substr(0, colon) != account_) {
    return Failed("Shared Key must be signed for account '" + account_ + "'");
  }
  if (!EqualConstantTime(credential.substr(colon + 1), SharedKeySignature(request))) {
    return Failed(
        "the Shared Key signature does not match: check the account key and that the "
        "request was not changed on its way");
  }
  return Access::Everything();
}

std::variant<Access, AuthRefusal> BlobAuthorizer::Sas(const AuthRequest& request) const {
  const BlobTarget& target = *request.target;
  if (key_.empty()) {
    return Failed(
        "this server holds no account key to verify a SAS (it reads its origin with one); "
        "use a kvtier token");
  }
  auto q = [&target](std::string_view name) {
    return std::string(target.Query(name).value_or(std::string_view()));
  };
  const std::string version = q("sv");
  const std::string permissions = q("sp");
  const std::string start = q("st");
  const std::string expiry = q("se");
  if (version.empty() || expiry.empty()) return Failed("a SAS needs sv and se");
  const auto expires = ParseIsoTime(expiry);
  if (!expires) return Failed("the SAS expiry (se) is not an ISO 8601 UTC time");
  if (request.now > *expires) return Failed("the SAS has expired");
  if (!start.empty()) {
    const auto starts = ParseIsoTime(start);
    if (!starts) return Failed("the SAS start (st) is not an ISO 8601 UTC time");
    if (request.now < *starts) return Failed("the SAS is not valid yet");
  }
  const bool any_grant = request.operation == BlobOperation::kAccountInfo;
  const char needed = IsList(request.operation) ? 'l' : 'r';
  if (!any_grant && permissions.find(needed) == std::string::npos) {
    return NotPermitted(std::string("the SAS does not grant '") + needed +
                        "' (read or list), which this operation needs");
  }
  std::string to_sign;
  if (target.Query("ss")) {
    // Account SAS.
    if (q("ss").find('b') == std::string::npos) {
      return NotPermitted("the account SAS does not include the Blob service (ss)");
    }
    const char type = request.operation == BlobOperation::kReadBlob         ? 'o'
                      : request.operation == BlobOperation::kListContainers ? 's'
                                                                            : 'c';
    if (!any_grant && q("srt").find(type) == std::string::npos) {
      return NotPermitted(std::string("the account SAS does not grant resource type '") + type +
                          "' (srt)");
    }
    to_sign = account_ + '\n' + permissions + '\n' + q("ss") + '\n' + q("srt") + '\n' + start +
              '\n' + expiry + '\n' + q("sip") + '\n' + q("spr") + '\n' + version + '\n';
    if (version >= "2020-12-06") to_sign += q("ses") + '\n';
  } else {
    // Service SAS of a container or a blob.
    const std::string resource = q("sr");
    if (target.Query("si")) {
      return Failed("SAS tokens of stored access policies (si) are not served here");
    }
    if (version < "2018-11-09") return Failed("SAS versions before 2018-11-09 are not served");
    std::string canonical = "/blob/" + account_ + '/' + target.container;
    if (resource == "b") {
      if (request.operation != BlobOperation::kReadBlob && !any_grant) {
        return NotPermitted("a blob SAS (sr=b) grants that blob only");
      }
      canonical += '/' + target.blob;
    } else if (resource != "c") {
      return Failed("only container (sr=c) and blob (sr=b) SAS tokens are served");
    } else if (request.operation == BlobOperation::kListContainers) {
      return NotPermitted("a container SAS cannot list the account's containers");
    }
    to_sign = permissions + '\n' + start + '\n' + expiry + '\n' + canonical + '\n' + q("si") +
              '\n' + q("sip") + '\n' + q("spr") + '\n' + version + '\n' + resource + '\n' +
              q("snapshot") + '\n';
    if (version >= "2020-12-06") to_sign += q("ses") + '\n';
    to_sign +=
        q("rscc") + '\n' + q("rscd") + '\n' + q("rsce") + '\n' + q("rscl") + '\n' + q("rsct");
  }
  if (!EqualConstantTime(q("sig"), tiers::blob::HmacSha256Base64(key_, to_sign))) {
    return Failed("the SAS signature does not match this server's account key");
  }
  return Access::Everything();
}

}  // namespace kvtier::server::blob_endpoint
