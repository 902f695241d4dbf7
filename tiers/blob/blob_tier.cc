#include "tiers/blob/blob_tier.h"

#include <charconv>
#include <cstring>
#include <map>

#include "common/checksum.h"
#include "common/keys.h"

namespace kvtier::tiers::blob {
namespace {

constexpr const char* kChecksumMetadata = "kvtier_checksum";
// XXH3-64 of the blob's own name: binds body and checksum to the key, so a
// whole blob copied or renamed under another key (bytes, checksum and all)
// is caught too. Blobs written before it existed have none and are checked
// by their checksum alone.
constexpr const char* kNameMetadata = "kvtier_name";
constexpr const char* kExpiresMetadata = "kvtier_expires_ms";  // Unix ms, decimal
constexpr const char* kKbMetadata = "kvtier_kb";  // "<tokens>,<position>,<producer hex>"

std::string ChecksumText(uint64_t checksum) {
  char text[17];
  std::snprintf(text, sizeof(text), "%016llx", static_cast<unsigned long long>(checksum));
  return text;
}

bool ParseChecksum(const std::string& text, uint64_t* checksum) {
  if (text.size() != 16) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *checksum, 16);
  return ec == std::errc() && end == text.data() + text.size();
}

}  // namespace

Result<std::unique_ptr<BlobTier>> BlobTier::Open(BlobTierOptions options) {
  KVTIER_ASSIGN_OR_RETURN(std::unique_ptr<BlobClient> client, BlobClient::Create(options.client));
  if (options.create_container) KVTIER_RETURN_IF_ERROR(client->CreateContainer());
  return std::unique_ptr<BlobTier>(new BlobTier(std::move(options), std::move(client)));
}

BlobTier::BlobTier(BlobTierOptions options, std::unique_ptr<BlobClient> client)
    : options_(std::move(options)),
      client_(std::move(client)),
      presence_(std::make_unique<BlobPresence>(*client_, options_.name_prefix, options_.presence)) {
  presence_->Start();
}

std::string BlobTier::BlobName(const BlockKey& key) const {
  std::string name = options_.name_prefix;
  if (key.namespace_id < options_.namespace_names.size() &&
      !options_.namespace_names[key.namespace_id].empty()) {
    name += options_.namespace_names[key.namespace_id];
  } else {
    name += "ns" + std::to_string(key.namespace_id);
  }
  name += '/';
  name += ToHex(key.key);
  return name;
}

Result<WritableBlock> BlobTier::Allocate(uint64_t /*key_size*/, uint64_t value_size) {
  if (value_size > options_.max_block_bytes) {
    return InvalidArgument("a block of " + std::to_string(value_size) +
                           " bytes is larger than the Blob tier takes");
  }
  return HeapBlockAllocator::Instance().Allocate(value_size);
}

Status BlobTier::Write(const BlockKey& key, const BlockHandle& block, bool if_absent,
                       bool* written) {
  if (!block) return InvalidArgument("put of an empty block handle");
  if (block.size() > options_.max_block_bytes) {
    return InvalidArgument("a block of " + std::to_string(block.size()) +
                           " bytes is larger than the Blob tier takes");
  }
  const std::string name = BlobName(key);
  std::map<std::string, std::string> metadata = {
      {kChecksumMetadata, ChecksumText(block.checksum())},
      {kNameMetadata, ChecksumText(BlockChecksum(std::as_bytes(std::span(name))))}};
  const BlockAttributes& attributes = block.attributes();
  if (attributes.expires_at_ms != 0) {
    metadata[kExpiresMetadata] = std::to_string(attributes.expires_at_ms);
  }
  if (attributes.token_count != 0 || attributes.position_offset != 0 || attributes.producer != 0) {
    metadata[kKbMetadata] = std::to_string(attributes.token_count) + "," +
                            std::to_string(attributes.position_offset) + "," +
                            ChecksumText(attributes.producer);
  }
  auto put = client_->PutBlob(name, block.bytes(), metadata, if_absent);
  if (!put.ok() && put.status().code() == StatusCode::kNotFound) {
    // The container is missing (not made at Open, or deleted): make it once.
    if (client_->CreateContainer().ok())
      put = client_->PutBlob(name, block.bytes(), metadata, if_absent);
  }
  if (!put.ok()) {
    counters_.errors.fetch_add(1, std::memory_order_relaxed);
    return put.status();
  }
  *written = *put;
  if (*put) {
    counters_.puts.fetch_add(1, std::memory_order_relaxed);
    counters_.put_bytes.fetch_add(block.size(), std::memory_order_relaxed);
    Remember(name, block.size());
    presence_->Wrote(name);
  } else {
    counters_.already_present.fetch_add(1, std::memory_order_relaxed);
    presence_->Read(name);
  }
  return Status::Ok();
}

Status BlobTier::Put(const BlockKey& key, BlockHandle block) {
  bool written = false;
  return Write(key, block, /*if_absent=*/false, &written);
}

Result<bool> BlobTier::PutIfAbsent(const BlockKey& key, BlockHandle block) {
  bool written = false;
  KVTIER_RETURN_IF_ERROR(Write(key, block, /*if_absent=*/true, &written));
  return written;
}

Result<BlockHandle> BlobTier::Get(const BlockKey& key) {
  const std::string name = BlobName(key);
  auto got = client_->GetBlob(name);
  if (!got.ok()) {
    if (got.status().code() == StatusCode::kNotFound) {
      counters_.misses.fetch_add(1, std::memory_order_relaxed);
      Forget(name);
      presence_->Erased(name);
    } else {
      counters_.errors.fetch_add(1, std::memory_order_relaxed);
    }
    return got.status();
  }
  const std::span<const std::byte> bytes = std::as_bytes(std::span(got->bytes));
  uint64_t expected = 0;
  const auto metadata = got->properties.metadata.find(kChecksumMetadata);
  const bool has_checksum =
      metadata != got->properties.metadata.end() && ParseChecksum(metadata->second, &expected);
  const uint64_t actual = BlockChecksum(bytes);
  const auto owner = got->properties.metadata.find(kNameMetadata);
  const bool misplaced =
      owner != got->properties.metadata.end() &&
      owner->second != ChecksumText(BlockChecksum(std::as_bytes(std::span(name))));
  if (!has_checksum || actual != expected || misplaced) {
    // Never served: drop it so that the next writer can put good bytes.
    counters_.checksum_failures.fetch_add(1, std::memory_order_relaxed);
    client_->DeleteBlob(name).IgnoreError();
    Forget(name);
    presence_->Erased(name);
    return Corruption(!has_checksum ? "Blob block has no checksum; dropped"
                      : misplaced   ? "Blob block was written under another key; dropped"
                                    : "Blob block failed its checksum; dropped");
  }
  BlockAttributes attributes;
  if (auto expires = got->properties.metadata.find(kExpiresMetadata);
      expires != got->properties.metadata.end()) {
    std::from_chars(expires->second.data(), expires->second.data() + expires->second.size(),
                    attributes.expires_at_ms);
  }
  if (auto kb = got->properties.metadata.find(kKbMetadata); kb != got->properties.metadata.end()) {
    // Malformed metadata (another writer) leaves the fields at zero.
    const std::string& text = kb->second;
    const size_t first = text.find(',');
    const size_t second = first == std::string::npos ? first : text.find(',', first + 1);
    if (second != std::string::npos) {
      std::from_chars(text.data(), text.data() + first, attributes.token_count);
      std::from_chars(text.data() + first + 1, text.data() + second, attributes.position_offset);
      ParseChecksum(text.substr(second + 1), &attributes.producer);
    }
  }
  if (attributes.Expired()) {
    counters_.expired.fetch_add(1, std::memory_order_relaxed);
    return NotFound("Blob block has expired");
  }
  WritableBlock block = HeapBlockAllocator::Instance().Allocate(bytes.size());
  if (!bytes.empty()) std::memcpy(block.mutable_bytes().data(), bytes.data(), bytes.size());
  counters_.hits.fetch_add(1, std::memory_order_relaxed);
  counters_.get_bytes.fetch_add(bytes.size(), std::memory_order_relaxed);
  Remember(name, bytes.size());
  presence_->Read(name);
  return std::move(block).Seal(actual, attributes);
}

bool BlobTier::Contains(const BlockKey& key) const {
  return client_->GetProperties(BlobName(key)).ok();
}

bool BlobTier::ContainsWithoutIo(const BlockKey& key) const {
  return presence_->Knows(BlobName(key));
}

void BlobTier::Probe(const BlockKey& key) const { presence_->Probe(BlobName(key)); }

Status BlobTier::Erase(const BlockKey& key) {
  const std::string name = BlobName(key);
  Status status = client_->DeleteBlob(name);
  if (status.ok() || status.code() == StatusCode::kNotFound) {
    Forget(name);
    presence_->Erased(name);
  }
  if (status.ok()) counters_.erases.fetch_add(1, std::memory_order_relaxed);
  return status;
}

void BlobTier::Remember(const std::string& name, uint64_t size) {
  std::lock_guard lock(known_mu_);
  auto [it, inserted] = known_.try_emplace(name, size);
  if (!inserted) known_bytes_ -= it->second;
  it->second = size;
  known_bytes_ += size;
}

void BlobTier::Forget(const std::string& name) {
  std::lock_guard lock(known_mu_);
  auto it = known_.find(name);
  if (it == known_.end()) return;
  known_bytes_ -= it->second;
  known_.erase(it);
}

TierStats BlobTier::Stats() const {
  TierStats stats;
  stats.name = "blob";
  stats.capacity_bytes = options_.capacity_bytes;
  {
    std::lock_guard lock(known_mu_);
    stats.items = known_.size();
    stats.used_bytes = known_bytes_;
  }
  stats.Add("hits", counters_.hits);
  stats.Add("misses", counters_.misses);
  stats.Add("puts", counters_.puts);
  stats.Add("put_bytes", counters_.put_bytes);
  stats.Add("already_present", counters_.already_present);
  stats.Add("get_bytes", counters_.get_bytes);
  stats.Add("erases", counters_.erases);
  stats.Add("checksum_failures", counters_.checksum_failures);
  stats.Add("errors", counters_.errors);
  stats.Add("expired", counters_.expired);
  const auto& client = client_->counters();
  stats.Add("requests", client.requests);
  stats.Add("retries", client.retries);
  stats.Add("request_failures", client.failures);
  stats.Add("http_2xx", client.http_2xx);
  stats.Add("http_403", client.http_403);
  stats.Add("http_404", client.http_404);
  stats.Add("http_409", client.http_409);
  stats.Add("http_412", client.http_412);
  stats.Add("http_429", client.http_429);
  stats.Add("http_5xx", client.http_5xx);
  stats.Add("http_other", client.http_other);
  stats.Add("no_response", client.no_response);
  presence_->AddStats(stats);
  return stats;
}

}  // namespace kvtier::tiers::blob
