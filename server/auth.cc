#include "server/auth.h"

#include <openssl/crypto.h>

#include <algorithm>

#include "common/token.h"

namespace kvtier::server {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 0;  // the config's validation admits hex digits only
}

}  // namespace

Access Access::Everything() {
  Access access;
  access.everything_ = true;
  return access;
}

Access Access::Nothing() { return Access(); }

bool Access::Allows(uint32_t namespace_id, Grant need) const {
  if (everything_) return true;
  if (namespace_id >= grants_.size()) return false;
  return static_cast<uint8_t>(grants_[namespace_id]) >= static_cast<uint8_t>(need);
}

Authenticator::Authenticator(const AuthConfig& config,
                             const std::vector<NamespaceConfig>& namespaces) {
  for (const TokenConfig& configured : config.tokens) {
    Token token;
    token.name = configured.name;
    for (size_t i = 0; i < token.hash.size(); ++i) {
      token.hash[i] = static_cast<uint8_t>(HexDigit(configured.sha256_hex[2 * i]) << 4 |
                                           HexDigit(configured.sha256_hex[2 * i + 1]));
    }
    token.access.grants_.assign(namespaces.size(), Grant::kNone);
    for (const auto& [ns, grant] : configured.grants) {
      for (size_t i = 0; i < namespaces.size(); ++i) {
        if (ns == "*" || namespaces[i].name == ns) {
          // The widest grant that names a namespace wins.
          token.access.grants_[i] = std::max(token.access.grants_[i], grant);
        }
      }
    }
    tokens_.push_back(std::move(token));
  }
}

Result<Access> Authenticator::Authenticate(std::string_view token, std::string* name) const {
  if (token.empty()) return Unauthenticated("this server requires an access token in Hello");
  const std::array<uint8_t, 32> presented = TokenDigest(token);
  const Token* match = nullptr;
  for (const Token& candidate : tokens_) {
    // No early exit: each comparison takes the same time, match or not.
    if (CRYPTO_memcmp(candidate.hash.data(), presented.data(), presented.size()) == 0) {
      match = &candidate;
    }
  }
  if (match == nullptr) return Unauthenticated("the access token is not valid on this server");
  if (name != nullptr) *name = match->name;
  return match->access;
}

}  // namespace kvtier::server
