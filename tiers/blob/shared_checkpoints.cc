#include "tiers/blob/shared_checkpoints.h"

#include <spdlog/spdlog.h>

#include "common/keys.h"

namespace kvtier::tiers::blob {
namespace {

constexpr std::string_view kForeignPrefix = "./v";
// Hidden paths kept at most; past it, the ones whose removal is over go
// (the worst a stale listing then does is show a removed object briefly).
constexpr size_t kMaxHidden = 100'000;

// A container name the protocol could not address: a "." or ".." segment.
bool IsAddressable(std::string_view path) {
  for (size_t start = 0; start <= path.size();) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(start, end - start);
    if (segment == "." || segment == "..") return false;
    start = end + 1;
  }
  return !path.empty();
}

}  // namespace

std::string ForeignStorageName(const std::string& path, const std::string& version) {
  return std::string(kForeignPrefix) + ToHex(version) + "/" + path;
}

std::optional<ForeignObject> ParseForeignStorageName(std::string_view storage) {
  if (!storage.starts_with(kForeignPrefix)) return std::nullopt;
  storage.remove_prefix(kForeignPrefix.size());
  const size_t slash = storage.find('/');
  if (slash == std::string_view::npos || slash + 1 == storage.size()) return std::nullopt;
  auto version = FromHex(storage.substr(0, slash));
  if (!version.ok()) return std::nullopt;
  return ForeignObject{std::string(storage.substr(slash + 1)), std::move(*version)};
}

SharedCheckpoints::SharedCheckpoints(CheckpointCatalog& catalog, CheckpointUploader& uploader,
                                     std::unique_ptr<DatasetOrigin> container)
    : catalog_(catalog), uploader_(uploader), container_(std::move(container)) {
  uploader_.OnBlobRemoved([this](const std::string& path) { Removed(path); });
}

ObjectInfo SharedCheckpoints::AsForeign(ObjectInfo object) const {
  object.storage = ForeignStorageName(object.path, object.version);
  object.block_bytes = catalog_.block_bytes();
  object.in_blob = true;
  object.blob_path = object.path;
  return object;
}

bool SharedCheckpoints::IsHiddenLocked(const std::string& path, Clock::time_point read_at) const {
  auto it = hidden_.find(path);
  if (it == hidden_.end()) return false;
  return it->second.removals_pending > 0 || read_at <= it->second.removed_at;
}

void SharedCheckpoints::Hide(const std::string& path) {
  std::lock_guard lock(mu_);
  if (hidden_.size() >= kMaxHidden) {
    std::erase_if(hidden_, [](const auto& entry) { return entry.second.removals_pending == 0; });
  }
  ++hidden_[path].removals_pending;
  ++hidden_generation_;
}

void SharedCheckpoints::Removed(const std::string& path) {
  container_->Forget(path);
  std::lock_guard lock(mu_);
  Hidden& hidden = hidden_[path];
  if (hidden.removals_pending > 0) --hidden.removals_pending;
  hidden.removed_at = Clock::now();
  ++hidden_generation_;
}

Result<std::shared_ptr<const ObjectMap>> SharedCheckpoints::MergedObjects() {
  auto listing = container_->Listing();
  if (!listing.ok()) {
    // Checkpoints are written and read here while Blob is down: list what
    // this server holds, with the last listing of the container if any.
    spdlog::warn("listing the shared checkpoint container failed; listing without it: {}",
                 listing.status().ToString());
    std::lock_guard lock(mu_);
    listing = DatasetOrigin::Snapshot{
        merged_.container != nullptr ? merged_.container : std::make_shared<const ObjectMap>(),
        Clock::time_point{}};
  }
  const uint64_t generation = catalog_.generation();
  std::lock_guard lock(mu_);
  if (merged_.objects != nullptr && merged_.container == listing->objects &&
      merged_.catalog_generation == generation && merged_.hidden_generation == hidden_generation_) {
    return merged_.objects;
  }
  auto merged = std::make_shared<ObjectMap>();
  for (const auto& [path, object] : *listing->objects) {
    if (!IsAddressable(path) || IsHiddenLocked(path, listing->read_at)) continue;
    merged->emplace(path, AsForeign(object));
  }
  uint64_t catalog_generation = 0;
  for (auto& [path, object] : catalog_.Objects(&catalog_generation)) {
    (*merged)[path] = std::move(object);  // this server's object wins
  }
  // Removals that a listing started after has seen are over.
  std::erase_if(hidden_, [&](const auto& entry) {
    return entry.second.removals_pending == 0 && entry.second.removed_at < listing->read_at;
  });
  merged_ = {listing->objects, catalog_generation, hidden_generation_, std::move(merged)};
  return merged_.objects;
}

Result<ObjectListing> SharedCheckpoints::List(const ListQuery& query) {
  KVTIER_ASSIGN_OR_RETURN(std::shared_ptr<const ObjectMap> objects, MergedObjects());
  return ListPage(*objects, query);
}

Result<ObjectInfo> SharedCheckpoints::Stat(const std::string& path) {
  if (auto local = catalog_.Stat(path); local.ok()) return local;
  if (!IsAddressable(path)) return NotFound("no object " + path);
  auto listing = container_->Listing();
  if (listing.ok()) {
    auto it = listing->objects->find(path);
    std::lock_guard lock(mu_);
    if (it != listing->objects->end() && !IsHiddenLocked(path, listing->read_at)) {
      return AsForeign(it->second);
    }
  }
  // Not listed (yet): the blob itself, so a checkpoint another server has
  // just flushed is found at once.
  Clock::time_point read_at;
  auto blob = container_->StatBlob(path, &read_at);
  if (blob.status().code() == StatusCode::kNotFound) return NotFound("no object " + path);
  if (!blob.ok()) {
    // A writer creating a new checkpoint asks first; Blob being down must
    // not stop it.
    return NotFound("no object " + path + " here (the shared container cannot be read now: " +
                    blob.status().message() + ")");
  }
  std::lock_guard lock(mu_);
  if (IsHiddenLocked(path, read_at)) return NotFound("no object " + path);
  return AsForeign(std::move(*blob));
}

Result<BlockHandle> SharedCheckpoints::Fetch(const BlockKey& key) {
  auto parsed = ParseObjectBlockKey(key.key);
  if (!parsed.ok()) return InvalidArgument("not a checkpoint block key");
  if (auto foreign = ParseForeignStorageName(parsed->first)) {
    return container_->FetchVersion(foreign->path, foreign->version, parsed->second);
  }
  return uploader_.Fetch(key);
}

TierStats SharedCheckpoints::Stats() const {
  TierStats stats = uploader_.Stats();
  for (const TierCounter& counter : container_->Stats().counters) {
    stats.counters.push_back({"shared_" + counter.name, counter.value});
  }
  return stats;
}

void SharedCheckpoints::Publish(const std::string& storage) { uploader_.Publish(storage); }

void SharedCheckpoints::Republish(const std::string& storage, const std::string& old_blob_path) {
  Hide(old_blob_path);
  uploader_.Republish(storage, old_blob_path);
}

void SharedCheckpoints::Unpublish(const std::string& blob_path) {
  Hide(blob_path);
  uploader_.Unpublish(blob_path);
}

Status SharedCheckpoints::RemoveForeign(const std::string& path) {
  KVTIER_ASSIGN_OR_RETURN(ObjectInfo object, Stat(path));
  if (!ParseForeignStorageName(object.storage)) {
    return Internal("object " + path + " is written here, not by another server");
  }
  Hide(path);
  return uploader_.RemoveForeign(path);  // calls Removed(path)
}

void SharedCheckpoints::Flush(std::vector<std::string> paths, std::function<void(Status)> done) {
  if (!paths.empty()) {
    // Another server's objects are in Blob already. Never blocks: only what
    // was seen of the container (the last listing, recorded properties) is
    // asked.
    std::erase_if(paths, [this](const std::string& path) {
      if (catalog_.Stat(path).ok()) return false;
      if (container_->IsRecorded(path)) return true;
      std::lock_guard lock(mu_);
      return merged_.objects != nullptr && merged_.objects->contains(path);
    });
    if (paths.empty()) return done(Status::Ok());
  }
  uploader_.Flush(std::move(paths), std::move(done));
}

}  // namespace kvtier::tiers::blob
