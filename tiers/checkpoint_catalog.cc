#include "tiers/checkpoint_catalog.h"

#include <rocksdb/db.h>
#include <rocksdb/write_batch.h>

#include <chrono>
#include <cstring>
#include <random>

#include "common/keys.h"
#include "tiers/rocksdb_support.h"

namespace kvtier::tiers {
namespace {

// RocksDB keys: "o" + path -> an object record.
constexpr char kObjectPrefix = 'o';
constexpr uint8_t kRecordVersion = 2;  // 2 added blob_path

void PutU64(std::string& out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>(v >> (8 * i)));
}

void PutString(std::string& out, const std::string& s) {
  PutU64(out, s.size());
  out += s;
}

// A cursor over a record; every read is bounds-checked (records come from
// disk, which may be damaged).
class RecordReader {
 public:
  explicit RecordReader(std::string_view bytes) : bytes_(bytes) {}
  bool U8(uint8_t& v) {
    if (bytes_.empty()) return false;
    v = static_cast<uint8_t>(bytes_[0]);
    bytes_.remove_prefix(1);
    return true;
  }
  bool U64(uint64_t& v) {
    if (bytes_.size() < 8) return false;
    v = 0;
    for (int i = 0; i < 8; ++i) v |= uint64_t{static_cast<uint8_t>(bytes_[i])} << (8 * i);
    bytes_.remove_prefix(8);
    return true;
  }
  bool String(std::string& s) {
    uint64_t size = 0;
    if (!U64(size) || size > bytes_.size()) return false;
    s.assign(bytes_.substr(0, size));
    bytes_.remove_prefix(size);
    return true;
  }

 private:
  std::string_view bytes_;
};

std::string EncodeRecord(const ObjectInfo& object, const std::vector<uint64_t>& checksums) {
  std::string out;
  out.push_back(static_cast<char>(kRecordVersion));
  PutU64(out, object.size);
  PutU64(out, object.modified_ms);
  PutU64(out, object.block_bytes);
  out.push_back(object.in_blob ? 1 : 0);
  PutString(out, object.storage);
  PutString(out, object.version);
  PutString(out, object.blob_path);
  PutU64(out, checksums.size());
  for (uint64_t checksum : checksums) PutU64(out, checksum);
  return out;
}

Result<ObjectInfo> DecodeRecord(std::string_view path, std::string_view bytes,
                                std::vector<uint64_t>& checksums) {
  RecordReader reader(bytes);
  ObjectInfo object;
  object.path = std::string(path);
  uint8_t version = 0;
  uint8_t in_blob = 0;
  if (!reader.U8(version) || version < 1 || version > kRecordVersion || !reader.U64(object.size) ||
      !reader.U64(object.modified_ms) || !reader.U64(object.block_bytes) || !reader.U8(in_blob) ||
      !reader.String(object.storage) || !reader.String(object.version) ||
      (version >= 2 && !reader.String(object.blob_path)) || object.block_bytes == 0 ||
      object.storage.empty()) {
    return Corruption("checkpoint catalog record of '" + object.path + "' is damaged");
  }
  uint64_t count = 0;
  if (version >= 2 && (!reader.U64(count) || count != object.block_count())) {
    return Corruption("checkpoint catalog record of '" + object.path + "' is damaged");
  }
  checksums.resize(count);
  for (uint64_t& checksum : checksums) {
    if (!reader.U64(checksum)) {
      return Corruption("checkpoint catalog record of '" + object.path + "' is damaged");
    }
  }
  object.in_blob = in_blob != 0;
  return object;
}

// 128 random bits in hex: a storage name no other session, here or on
// another server writing the same Blob container, picks.
std::string NewStorageName() {
  static thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string name = "w";
  for (int word = 0; word < 2; ++word) {
    const uint64_t bits = random();
    for (int i = 0; i < 16; ++i) name.push_back(kHex[(bits >> (4 * i)) & 0xf]);
  }
  return name;
}

uint64_t NowUnixMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

Status CheckpointCatalogOptions::Validate() const {
  if (directory.empty()) return InvalidArgument("checkpoint catalog: directory is empty");
  if (block_bytes == 0) return InvalidArgument("checkpoint catalog: block_bytes must be > 0");
  if (session_ttl.count() <= 0) {
    return InvalidArgument("checkpoint catalog: session_ttl must be > 0");
  }
  if (max_sessions == 0) return InvalidArgument("checkpoint catalog: max_sessions must be > 0");
  if (max_objects == 0) return InvalidArgument("checkpoint catalog: max_objects must be > 0");
  return Status::Ok();
}

namespace {

rocksdb::Options CatalogOptions() {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.max_open_files = 64;
  return options;
}

}  // namespace

CheckpointCatalog::CheckpointCatalog(const CheckpointCatalogOptions& options)
    : options_(options),
      db_(std::make_unique<ReopeningDb>(options.directory.string(), CatalogOptions(),
                                        "checkpoint catalog")) {}

CheckpointCatalog::~CheckpointCatalog() = default;

Result<std::unique_ptr<CheckpointCatalog>> CheckpointCatalog::Open(
    const CheckpointCatalogOptions& options) {
  KVTIER_RETURN_IF_ERROR(options.Validate());
  std::error_code ec;
  std::filesystem::create_directories(options.directory, ec);
  if (ec) return IoError("cannot create " + options.directory.string() + ": " + ec.message());
  std::unique_ptr<CheckpointCatalog> catalog(new CheckpointCatalog(options));
  KVTIER_RETURN_IF_ERROR(catalog->db_->Open());
  KVTIER_RETURN_IF_ERROR(catalog->Load());
  return catalog;
}

Status CheckpointCatalog::Load() {
  std::unique_ptr<rocksdb::Iterator> it(db_->get().NewIterator(rocksdb::ReadOptions()));
  const std::string first(1, kObjectPrefix);
  for (it->Seek(first); it->Valid() && it->key().starts_with(first); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    std::vector<uint64_t> checksums;
    KVTIER_ASSIGN_OR_RETURN(ObjectInfo object,
                            DecodeRecord(key.substr(1), it->value().ToStringView(), checksums));
    checksums_[object.storage] = std::move(checksums);
    stored_bytes_ += object.size;
    path_of_storage_[object.storage] = object.path;
    objects_.emplace(object.path, std::move(object));
  }
  return FromRocks(it->status(), "reading the checkpoint catalog");
}

Result<ObjectListing> CheckpointCatalog::List(const ListQuery& query) {
  std::lock_guard lock(mu_);
  return ListPage(objects_, query);
}

Result<ObjectInfo> CheckpointCatalog::Stat(const std::string& path) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(path);
  if (it == objects_.end()) return NotFound("no object " + path);
  return it->second;
}

Result<WriteSession> CheckpointCatalog::CreateSession(const std::string& path) {
  std::lock_guard lock(mu_);
  if (sessions_.size() >= options_.max_sessions) {
    return ResourceExhausted("too many open write sessions (" +
                             std::to_string(options_.max_sessions) + "); retry later");
  }
  WriteSession session{NewStorageName(), options_.block_bytes};
  Session& state = sessions_[session.storage];
  state.path = path;
  state.last_used = std::chrono::steady_clock::now();
  return session;
}

Status CheckpointCatalog::CheckBlockPut(std::string_view key, uint64_t size) {
  auto parsed = ParseObjectBlockKey(key);
  if (!parsed.ok()) {
    return InvalidArgument(
        "a checkpoint namespace takes puts only of the blocks of an open write session "
        "(CreateObject)");
  }
  const auto& [storage, index] = *parsed;
  if (size > options_.block_bytes) {
    return InvalidArgument("block " + std::to_string(index) + " is " + std::to_string(size) +
                           " bytes; the namespace's blocks are " +
                           std::to_string(options_.block_bytes));
  }
  std::lock_guard lock(mu_);
  auto it = sessions_.find(storage);
  if (it == sessions_.end()) {
    return NotFound("no open write session " + storage +
                    " (never created, expired, committed or aborted)");
  }
  Session& session = it->second;
  uint64_t& recorded = session.block_sizes[index];
  const uint64_t grown = session.bytes - recorded + size;
  if (options_.quota_bytes != 0 &&
      stored_bytes_ + session_bytes_ - session.bytes + grown > options_.quota_bytes) {
    if (recorded == 0) session.block_sizes.erase(index);
    return ResourceExhausted("the namespace's quota of " + std::to_string(options_.quota_bytes) +
                             " bytes is full");
  }
  session_bytes_ = session_bytes_ - session.bytes + grown;
  session.bytes = grown;
  recorded = size;
  session.last_used = std::chrono::steady_clock::now();
  return Status::Ok();
}

Status CheckpointCatalog::CheckComplete(const std::string& storage, uint64_t size) const {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(storage);
  if (it == sessions_.end()) return NotFound("no open write session " + storage);
  const Session& session = it->second;
  const uint64_t blocks = (size + options_.block_bytes - 1) / options_.block_bytes;
  if (!session.block_sizes.empty() && session.block_sizes.rbegin()->first >= blocks) {
    return InvalidArgument("the session holds block " +
                           std::to_string(session.block_sizes.rbegin()->first) +
                           ", past the end of an object of " + std::to_string(size) + " bytes");
  }
  for (uint64_t index = 0; index < blocks; ++index) {
    const uint64_t want = std::min(options_.block_bytes, size - index * options_.block_bytes);
    auto block = session.block_sizes.find(index);
    if (block == session.block_sizes.end()) {
      return InvalidArgument("block " + std::to_string(index) + " of " + std::to_string(blocks) +
                             " was never put");
    }
    if (block->second != want) {
      return InvalidArgument("block " + std::to_string(index) + " holds " +
                             std::to_string(block->second) + " bytes; an object of " +
                             std::to_string(size) + " bytes needs " + std::to_string(want));
    }
  }
  return Status::Ok();
}

Status CheckpointCatalog::WriteObject(const ObjectInfo* put, const std::string* erase_path) {
  ++generation_;  // every change of objects_ follows a write (mu_ is held)
  rocksdb::WriteBatch batch;
  if (erase_path != nullptr) batch.Delete(std::string(1, kObjectPrefix) + *erase_path);
  if (put != nullptr)
    batch.Put(std::string(1, kObjectPrefix) + put->path,
              EncodeRecord(*put, checksums_[put->storage]));
  // An acknowledged commit survives a crash; after a failed write the
  // catalog reopens before the next (ReopeningDb).
  return db_->Write(batch, /*sync=*/true, "writing the checkpoint catalog");
}

FreedBlocks CheckpointCatalog::BlocksOf(const ObjectInfo& object) {
  return {object.storage, object.block_count()};
}

FreedBlocks CheckpointCatalog::BlocksOf(const std::string& storage, const Session& session) {
  return {storage, session.block_sizes.empty() ? 0 : session.block_sizes.rbegin()->first + 1};
}

Result<CommitResult> CheckpointCatalog::Commit(const std::string& storage, uint64_t size,
                                               std::vector<uint64_t> checksums) {
  KVTIER_RETURN_IF_ERROR(CheckComplete(storage, size));
  // Commits of one catalog are serialised by mu_ across the durable write:
  // they are rare (one per checkpoint file) and a commit must not race a
  // rename of the same path.
  std::lock_guard lock(mu_);
  auto it = sessions_.find(storage);
  if (it == sessions_.end()) return NotFound("no open write session " + storage);
  const std::string path = it->second.path;
  auto old = objects_.find(path);
  if (old == objects_.end() && objects_.size() >= options_.max_objects) {
    return ResourceExhausted("the namespace holds its limit of " +
                             std::to_string(options_.max_objects) + " objects");
  }
  ObjectInfo object;
  object.path = path;
  object.size = size;
  object.version = storage;
  object.modified_ms = NowUnixMs();
  object.block_bytes = options_.block_bytes;
  object.storage = storage;
  if (checksums.size() != object.block_count()) {
    return Internal("commit of " + path + " without a checksum per block");
  }
  checksums_[storage] = std::move(checksums);
  if (Status written = WriteObject(&object, nullptr); !written.ok()) {
    checksums_.erase(storage);
    return written;
  }
  CommitResult result;
  if (old != objects_.end()) {
    result.replaced = BlocksOf(old->second);
    stored_bytes_ -= old->second.size;
    path_of_storage_.erase(old->second.storage);
    checksums_.erase(old->second.storage);
  }
  session_bytes_ -= it->second.bytes;
  sessions_.erase(it);
  stored_bytes_ += size;
  path_of_storage_[storage] = path;
  objects_[path] = object;
  result.object = std::move(object);
  return result;
}

Result<FreedBlocks> CheckpointCatalog::Abort(const std::string& storage) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(storage);
  if (it == sessions_.end()) return NotFound("no open write session " + storage);
  FreedBlocks freed = BlocksOf(storage, it->second);
  session_bytes_ -= it->second.bytes;
  sessions_.erase(it);
  return freed;
}

Result<std::optional<FreedBlocks>> CheckpointCatalog::Rename(const std::string& from,
                                                             const std::string& to) {
  std::lock_guard lock(mu_);
  auto source = objects_.find(from);
  if (source == objects_.end()) return NotFound("no object " + from);
  if (from == to) return std::optional<FreedBlocks>();
  ObjectInfo moved = source->second;
  moved.path = to;
  moved.in_blob = false;  // Blob has no rename: it is uploaded again under `to`
  KVTIER_RETURN_IF_ERROR(WriteObject(&moved, &from));
  std::optional<FreedBlocks> replaced;
  if (auto target = objects_.find(to); target != objects_.end()) {
    replaced = BlocksOf(target->second);
    stored_bytes_ -= target->second.size;
    path_of_storage_.erase(target->second.storage);
    checksums_.erase(target->second.storage);
    objects_.erase(target);
  }
  objects_.erase(from);
  path_of_storage_[moved.storage] = to;
  objects_.emplace(to, std::move(moved));
  return replaced;
}

Result<FreedBlocks> CheckpointCatalog::Remove(const std::string& path) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(path);
  if (it == objects_.end()) return NotFound("no object " + path);
  KVTIER_RETURN_IF_ERROR(WriteObject(nullptr, &path));
  FreedBlocks freed = BlocksOf(it->second);
  stored_bytes_ -= it->second.size;
  path_of_storage_.erase(it->second.storage);
  checksums_.erase(it->second.storage);
  objects_.erase(it);
  return freed;
}

std::vector<FreedBlocks> CheckpointCatalog::ExpireSessions(
    std::chrono::steady_clock::time_point now) {
  std::vector<FreedBlocks> expired;
  std::lock_guard lock(mu_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (now - it->second.last_used < options_.session_ttl) {
      ++it;
      continue;
    }
    expired.push_back(BlocksOf(it->first, it->second));
    session_bytes_ -= it->second.bytes;
    it = sessions_.erase(it);
  }
  return expired;
}

bool CheckpointCatalog::IsLiveStorage(std::string_view storage) const {
  std::lock_guard lock(mu_);
  const std::string name(storage);
  return path_of_storage_.contains(name) || sessions_.contains(name);
}

std::optional<ObjectInfo> CheckpointCatalog::ObjectOfStorage(std::string_view storage) const {
  std::lock_guard lock(mu_);
  auto it = path_of_storage_.find(std::string(storage));
  if (it == path_of_storage_.end()) return std::nullopt;
  auto object = objects_.find(it->second);
  if (object == objects_.end()) return std::nullopt;
  return object->second;
}

ObjectMap CheckpointCatalog::Objects(uint64_t* generation) const {
  std::lock_guard lock(mu_);
  *generation = generation_;
  return objects_;
}

uint64_t CheckpointCatalog::generation() const {
  std::lock_guard lock(mu_);
  return generation_;
}

size_t CheckpointCatalog::open_sessions() const {
  std::lock_guard lock(mu_);
  return sessions_.size();
}

Result<bool> CheckpointCatalog::MarkInBlob(const std::string& storage, const std::string& path) {
  std::lock_guard lock(mu_);
  auto at = path_of_storage_.find(storage);
  if (at == path_of_storage_.end() || at->second != path) return false;
  ObjectInfo& object = objects_.at(path);
  ObjectInfo updated = object;
  updated.in_blob = true;
  updated.blob_path = path;
  KVTIER_RETURN_IF_ERROR(WriteObject(&updated, nullptr));
  object = std::move(updated);
  return true;
}

std::vector<ObjectInfo> CheckpointCatalog::NotInBlob() const {
  std::lock_guard lock(mu_);
  std::vector<ObjectInfo> out;
  for (const auto& [path, object] : objects_) {
    if (!object.in_blob) out.push_back(object);
  }
  return out;
}

std::optional<uint64_t> CheckpointCatalog::BlockChecksum(std::string_view storage,
                                                         uint64_t index) const {
  std::lock_guard lock(mu_);
  auto it = checksums_.find(std::string(storage));
  if (it == checksums_.end() || index >= it->second.size()) return std::nullopt;
  return it->second[index];
}

size_t CheckpointCatalog::object_count() const {
  std::lock_guard lock(mu_);
  return objects_.size();
}

uint64_t CheckpointCatalog::stored_bytes() const {
  std::lock_guard lock(mu_);
  return stored_bytes_;
}

}  // namespace kvtier::tiers
