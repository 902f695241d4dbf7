#pragma once

// Which namespace serves a blob of the Blob-compatible endpoint
// (docs/blob-endpoint.md). Readers keep the URLs they use against Azure:
// container and blob names are the origin's own. A dataset namespace serves
// the blobs `<origin prefix><path>` of its origin container; a checkpoint
// namespace with a Blob tier serves `<blob_prefix><path>` of the Blob tier's
// container, where its objects land. Several namespaces may share a
// container under different prefixes; a blob belongs to the longest
// matching one.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/config.h"

namespace kvtier::server::blob_endpoint {

struct BlobRoute {
  std::string container;
  std::string prefix;  // blob name = prefix + object path
  std::string namespace_name;
};

// How one route takes part in a listing of its container (List Blobs with
// `prefix` and `delimiter`).
struct RouteListing {
  enum class Kind {
    kSkip,      // none of its blobs match the prefix
    kRolledUp,  // its whole prefix rolls up into `rolled_prefix` (one BlobPrefix)
    kList,      // list the namespace under `inner_prefix`
  };
  Kind kind = Kind::kSkip;
  std::string rolled_prefix;
  std::string inner_prefix;
};

// Where a listing continues: the route (by its index within the
// container's routes) and the namespace's own page token. Rendered as an
// opaque marker for NextMarker.
struct ListMarker {
  size_t route = 0;
  std::string inner_token;
};
std::string FormatMarker(const ListMarker& marker);
// "" is the start; anything not made by FormatMarker is kInvalidArgument.
Result<ListMarker> ParseMarker(std::string_view marker);

class BlobRoutes {
 public:
  // The routes of `config`'s dataset namespaces with an origin and
  // checkpoint namespaces with a Blob tier.
  static BlobRoutes FromConfig(const ServerConfig& config);
  explicit BlobRoutes(std::vector<BlobRoute> routes);

  // Container names served, sorted, without repeats.
  std::vector<std::string> Containers() const;
  bool HasContainer(std::string_view container) const;
  // The routes of `container`, by prefix.
  std::vector<const BlobRoute*> InContainer(std::string_view container) const;
  // The route that serves `blob` in `container` (the longest prefix it
  // starts with), or null.
  const BlobRoute* Find(std::string_view container, std::string_view blob) const;

  // How `route` answers a listing of its container under `prefix`, with
  // `delimiter` ("" or one character).
  static RouteListing ListingOf(const BlobRoute& route, std::string_view prefix,
                                std::string_view delimiter);

 private:
  std::vector<BlobRoute> routes_;  // by container, then prefix
};

}  // namespace kvtier::server::blob_endpoint
