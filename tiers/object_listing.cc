#include "tiers/object_listing.h"

namespace kvtier::tiers {
namespace {

// The first path past every path that starts with `prefix` (a rolled-up
// directory). Paths under a prefix form one contiguous run in path order,
// ending before the prefix with its last byte raised by one.
ObjectMap::const_iterator SkipUnder(const ObjectMap& objects, const std::string& prefix) {
  if (static_cast<unsigned char>(prefix.back()) == 0xff) {
    auto at = objects.lower_bound(prefix);
    while (at != objects.end() && at->first.starts_with(prefix)) ++at;
    return at;
  }
  std::string past = prefix;
  past.back() = static_cast<char>(static_cast<unsigned char>(past.back()) + 1);
  return objects.lower_bound(past);
}

}  // namespace

Result<ObjectListing> ListPage(const ObjectMap& objects, const ListQuery& query) {
  if (query.delimiter.size() > 1) return InvalidArgument("delimiter must be one byte or none");
  const uint32_t max_results = query.max_results == 0 ? 1000 : query.max_results;

  auto at = objects.lower_bound(query.prefix);
  if (!query.page_token.empty()) {
    const char kind = query.page_token[0];
    const std::string after = query.page_token.substr(1);
    if ((kind != 'o' && kind != 'p') || after.empty() || !after.starts_with(query.prefix)) {
      return InvalidArgument("page token does not belong to this listing");
    }
    at = kind == 'o' ? objects.upper_bound(after) : SkipUnder(objects, after);
  }

  ObjectListing page;
  std::string last_token;
  while (at != objects.end() && at->first.starts_with(query.prefix)) {
    if (page.objects.size() + page.prefixes.size() == max_results) {
      page.next_page_token = last_token;
      return page;
    }
    const std::string& path = at->first;
    if (!query.delimiter.empty()) {
      const size_t cut = path.find(query.delimiter[0], query.prefix.size());
      if (cut != std::string::npos) {
        std::string directory = path.substr(0, cut + 1);
        at = SkipUnder(objects, directory);
        last_token = "p" + directory;
        page.prefixes.push_back(std::move(directory));
        continue;
      }
    }
    page.objects.push_back(at->second);
    last_token = "o" + path;
    ++at;
  }
  return page;
}

}  // namespace kvtier::tiers
