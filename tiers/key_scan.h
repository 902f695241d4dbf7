#pragma once

// Walking the keys a server holds, page by page (what RESP's SCAN and
// DBSIZE answer from). Pages follow the order of a 64-bit hash of the key,
// and a cursor is the hash the next page starts at, so a cursor stays
// meaningful while blocks come, go and move between tiers: every key held
// from the first page to the last is returned exactly once, whichever tier
// holds it when its page is read. (Two different keys with the same 64-bit
// hash could straddle a page boundary and one be skipped; the chance is
// about 2^-64 per pair.)

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace kvtier::tiers {

// The position of a key in scan order.
uint64_t ScanHash(std::string_view key);

struct KeyPage {
  std::vector<std::string> keys;  // in scan order, each once
  uint64_t next_cursor = 0;       // 0: the walk is complete
};
using KeyPageDone = std::function<void(Result<KeyPage>)>;
using KeyCountDone = std::function<void(Result<uint64_t>)>;

// Collects one page: offer it every key held (from any number of tiers, a
// key more than once is fine), then Take() the `limit` keys of smallest
// hash at or after `cursor`. Memory: `limit` keys.
class KeyPageBuilder {
 public:
  KeyPageBuilder(uint64_t cursor, size_t limit) : cursor_(cursor), limit_(limit == 0 ? 1 : limit) {}
  void Offer(std::string_view key);
  KeyPage Take();

 private:
  const uint64_t cursor_;
  const size_t limit_;
  std::set<std::pair<uint64_t, std::string>> smallest_;  // (hash, key)
};

}  // namespace kvtier::tiers
