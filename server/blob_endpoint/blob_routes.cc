#include "server/blob_endpoint/blob_routes.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace kvtier::server::blob_endpoint {

std::string FormatMarker(const ListMarker& marker) {
  return "k1." + std::to_string(marker.route) + "." + marker.inner_token;
}

Result<ListMarker> ParseMarker(std::string_view marker) {
  if (marker.empty()) return ListMarker{};
  auto invalid = [] { return InvalidArgument("the marker was not made by this endpoint"); };
  if (!marker.starts_with("k1.")) return invalid();
  marker.remove_prefix(3);
  const size_t dot = marker.find('.');
  if (dot == std::string_view::npos || dot == 0) return invalid();
  ListMarker out;
  const auto [end, error] = std::from_chars(marker.data(), marker.data() + dot, out.route);
  if (error != std::errc() || end != marker.data() + dot) return invalid();
  out.inner_token = std::string(marker.substr(dot + 1));
  return out;
}

BlobRoutes BlobRoutes::FromConfig(const ServerConfig& config) {
  std::vector<BlobRoute> routes;
  for (const NamespaceConfig& ns : config.namespaces) {
    if (ns.kind == NamespaceKind::kDataset && ns.origin.enabled) {
      routes.push_back({ns.origin.container, ns.origin.prefix, ns.name});
    } else if (ns.kind == NamespaceKind::kCheckpoint && ns.blob != tiers::BlobUse::kNone) {
      const std::string prefix =
          ns.objects.blob_prefix.empty() ? ns.name + "/" : ns.objects.blob_prefix;
      routes.push_back({config.blob.container, prefix, ns.name});
    }
  }
  return BlobRoutes(std::move(routes));
}

BlobRoutes::BlobRoutes(std::vector<BlobRoute> routes) : routes_(std::move(routes)) {
  std::stable_sort(routes_.begin(), routes_.end(), [](const BlobRoute& a, const BlobRoute& b) {
    return std::tie(a.container, a.prefix) < std::tie(b.container, b.prefix);
  });
}

std::vector<std::string> BlobRoutes::Containers() const {
  std::set<std::string> names;
  for (const BlobRoute& route : routes_) names.insert(route.container);
  return {names.begin(), names.end()};
}

bool BlobRoutes::HasContainer(std::string_view container) const {
  return std::any_of(routes_.begin(), routes_.end(),
                     [&](const BlobRoute& route) { return route.container == container; });
}

std::vector<const BlobRoute*> BlobRoutes::InContainer(std::string_view container) const {
  std::vector<const BlobRoute*> out;
  for (const BlobRoute& route : routes_) {
    if (route.container == container) out.push_back(&route);
  }
  return out;
}

const BlobRoute* BlobRoutes::Find(std::string_view container, std::string_view blob) const {
  const BlobRoute* best = nullptr;
  for (const BlobRoute& route : routes_) {
    if (route.container != container || !blob.starts_with(route.prefix)) continue;
    if (best == nullptr || route.prefix.size() > best->prefix.size()) best = &route;
  }
  return best;
}

RouteListing BlobRoutes::ListingOf(const BlobRoute& route, std::string_view prefix,
                                   std::string_view delimiter) {
  RouteListing out;
  const std::string_view own = route.prefix;
  if (std::string_view(prefix).starts_with(own)) {
    // The listing looks inside the route's prefix.
    out.kind = RouteListing::Kind::kList;
    out.inner_prefix = std::string(prefix.substr(own.size()));
    return out;
  }
  if (!own.starts_with(prefix)) return out;  // kSkip: disjoint
  // The route's prefix lies under the listing's: with a delimiter after
  // the listing's prefix, all of its blobs roll up into one BlobPrefix.
  if (!delimiter.empty()) {
    const size_t at = own.find(delimiter, prefix.size());
    if (at != std::string_view::npos) {
      out.kind = RouteListing::Kind::kRolledUp;
      out.rolled_prefix = std::string(own.substr(0, at + delimiter.size()));
      return out;
    }
  }
  out.kind = RouteListing::Kind::kList;  // every blob of the route, under its prefix
  return out;
}

}  // namespace kvtier::server::blob_endpoint
