#pragma once

// Pages of a sorted set of objects, as List answers them: prefix filter,
// delimiter roll-up into "directories", page tokens. Pure functions over a
// path-ordered map, so every catalog pages the same way.
//
// A page token names where the previous page stopped: "o" + the last object
// path returned, or "p" + the last prefix returned (every path under that
// prefix was rolled up into it, so the next page starts past them all).

#include <map>
#include <string>

#include "common/result.h"
#include "tiers/object_catalog.h"

namespace kvtier::tiers {

using ObjectMap = std::map<std::string, ObjectInfo, std::less<>>;

// One page of `objects` for `query`. Errors: kInvalidArgument for a page
// token not of the form above, or a delimiter longer than one byte.
Result<ObjectListing> ListPage(const ObjectMap& objects, const ListQuery& query);

}  // namespace kvtier::tiers
