#pragma once

// The one byte form of a BlockKey every tier indexes by, and its hash.

#include <cstdint>
#include <string>
#include <string_view>

#include "tiers/tier.h"

namespace kvtier::tiers {

// The index key of a block: namespace id (4 bytes little-endian) then the
// key bytes. Written into `out` to avoid an allocation per lookup.
void EncodeIndexKey(const BlockKey& key, std::string& out);
// The inverse; the key views `index_key`, which must hold at least 4 bytes.
BlockKey DecodeIndexKey(std::string_view index_key);

// XXH3-64 of an index key: what the DRAM tier shards by, and how chain links
// name a block (BlockAttributes::parent_hash).
uint64_t IndexKeyHash(std::string_view index_key);
// IndexKeyHash of EncodeIndexKey(key). Never 0 (0 means "no parent").
uint64_t ChainHash(const BlockKey& key);

}  // namespace kvtier::tiers
