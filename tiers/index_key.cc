#include "tiers/index_key.h"

#include <xxhash.h>

#include <cstring>

namespace kvtier::tiers {

void EncodeIndexKey(const BlockKey& key, std::string& out) {
  out.resize(4 + key.key.size());
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((key.namespace_id >> (8 * i)) & 0xff);
  std::memcpy(out.data() + 4, key.key.data(), key.key.size());
}

BlockKey DecodeIndexKey(std::string_view index_key) {
  BlockKey key;
  for (int i = 3; i >= 0; --i) {
    key.namespace_id = (key.namespace_id << 8) | static_cast<uint8_t>(index_key[i]);
  }
  key.key = index_key.substr(4);
  return key;
}

uint64_t IndexKeyHash(std::string_view index_key) {
  const uint64_t hash = XXH3_64bits(index_key.data(), index_key.size());
  return hash == 0 ? 1 : hash;
}

uint64_t ChainHash(const BlockKey& key) {
  thread_local std::string index_key;
  EncodeIndexKey(key, index_key);
  return IndexKeyHash(index_key);
}

}  // namespace kvtier::tiers
