#pragma once

// Access tokens (docs/config.md, "auth"). A server with tokens configured
// requires one in each connection's Hello; the token's grants then decide,
// per namespace, whether the connection may read (Get, Exists, MatchPrefix,
// GetPrefix) or also write (Put, Delete, Flush). Tokens are kept only as
// SHA-256 hashes, and a presented token is compared against every hash in
// constant time.

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "server/config.h"

namespace kvtier::server {

// What one connection may do, per namespace (by its index in the config).
class Access {
 public:
  // Everything in every namespace: servers without tokens.
  static Access Everything();
  // Nothing: a connection that has not authenticated.
  static Access Nothing();

  bool Allows(uint32_t namespace_id, Grant need) const;
  bool everything() const { return everything_; }

 private:
  friend class Authenticator;
  bool everything_ = false;
  std::vector<Grant> grants_;  // by namespace id
};

class Authenticator {
 public:
  Authenticator(const AuthConfig& config, const std::vector<NamespaceConfig>& namespaces);

  bool required() const { return !tokens_.empty(); }

  // The access of the configured token `token` hashes to, and its name in
  // `*name`. Every stored hash is compared, each in constant time, so the
  // time taken says nothing about which (if any) matched. kUnauthenticated
  // for an empty or unknown token.
  Result<Access> Authenticate(std::string_view token, std::string* name) const;

 private:
  struct Token {
    std::string name;
    std::array<uint8_t, 32> hash;
    Access access;
  };
  std::vector<Token> tokens_;
};

}  // namespace kvtier::server
