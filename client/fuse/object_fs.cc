#include "client/fuse/object_fs.h"

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace kvtier::client {
namespace {

// Entries the metadata cache holds before it starts over.
constexpr size_t kMaxCachedAttrs = 1 << 20;

std::future<Result<RangeBytes>> Ready(Status status) {
  std::promise<Result<RangeBytes>> promise;
  promise.set_value(std::move(status));
  return promise.get_future();
}

}  // namespace

int ErrnoOf(const Status& status) {
  switch (status.code()) {
    case StatusCode::kOk:
      return 0;
    case StatusCode::kNotFound:
    case StatusCode::kUnknownNamespace:
      return ENOENT;
    case StatusCode::kPermissionDenied:
    case StatusCode::kUnauthenticated:
      return EACCES;
    case StatusCode::kInvalidArgument:
      return EINVAL;
    case StatusCode::kUnsupported:
      return ENOTSUP;
    case StatusCode::kResourceExhausted:
      return EAGAIN;
    default:  // corruption (never served), unavailable after retries, I/O
      return EIO;
  }
}

int WriteErrnoOf(const Status& status) {
  return status.code() == StatusCode::kResourceExhausted ? ENOSPC : ErrnoOf(status);
}

ObjectFs::ObjectFs(ServerSession& session, FsOptions options)
    : session_(session), options_(options) {}

std::pair<std::string, std::string> ObjectFs::Split(const std::string& path) {
  const std::string rest = path.empty() || path[0] != '/' ? path : path.substr(1);
  const size_t slash = rest.find('/');
  if (slash == std::string::npos) return {rest, ""};
  return {rest.substr(0, slash), rest.substr(slash + 1)};
}

Result<std::vector<std::string>> ObjectFs::Namespaces() {
  std::lock_guard lock(namespaces_mu_);
  if (namespaces_) return *namespaces_;
  auto names = session_.Run<std::vector<std::string>>(
      [](Client& client) -> Result<std::vector<std::string>> {
        std::vector<std::string> out;
        for (const std::string& ns : client.server_info().namespaces) {
          // Namespaces of keys answer List kUnsupported: not shown.
          auto page = client.List(ns, "", "/", "", 1);
          if (page.ok()) {
            out.push_back(ns);
          } else if (page.status().code() != StatusCode::kUnsupported) {
            return page.status();
          }
        }
        return out;
      });
  if (!names.ok()) return names.status();
  namespaces_ = *names;
  return *names;
}

bool ObjectFs::IsNamespace(const std::string& name) {
  auto names = Namespaces();
  return names.ok() && std::find(names->begin(), names->end(), name) != names->end();
}

void ObjectFs::Remember(const std::string& key, Attr attr) {
  attr.expires = Clock::now() + options_.metadata_ttl;
  std::lock_guard lock(attrs_mu_);
  if (attrs_.size() >= kMaxCachedAttrs) attrs_.clear();
  attrs_[key] = std::move(attr);
}

std::optional<ObjectFs::Attr> ObjectFs::Recall(const std::string& key) {
  std::lock_guard lock(attrs_mu_);
  auto it = attrs_.find(key);
  if (it == attrs_.end()) return std::nullopt;
  if (it->second.expires <= Clock::now()) {
    attrs_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

Result<ObjectFs::Attr> ObjectFs::Lookup(const std::string& ns, const std::string& object) {
  const std::string key = ns + "/" + object;
  if (auto known = Recall(key)) return *known;
  auto entry = session_.Run<ObjectEntry>([&](Client& client) { return client.Stat(ns, object); });
  Attr attr;
  if (entry.ok()) {
    attr = {false, entry->size, entry->modified_ms, entry->version, entry->block_bytes, {}};
  } else if (entry.status().code() == StatusCode::kNotFound) {
    // Not an object: a directory when some object lies below it.
    auto page = session_.Run<ObjectPage>(
        [&](Client& client) { return client.List(ns, object + "/", "/", "", 1); });
    if (!page.ok()) return page.status();
    if (page->objects.empty() && page->prefixes.empty()) return NotFound(key);
    attr.is_dir = true;
  } else {
    return entry.status();
  }
  Remember(key, attr);
  return attr;
}

int ObjectFs::GetAttr(const std::string& path, struct stat* out) {
  std::memset(out, 0, sizeof(*out));
  out->st_uid = getuid();
  out->st_gid = getgid();
  const auto [ns, object] = Split(path);
  if (ns.empty() || object.empty()) {
    if (!ns.empty() && !IsNamespace(ns)) return -ENOENT;
    out->st_mode = S_IFDIR | (!ns.empty() && CheckWritable(ns) == 0 ? 0755 : 0555);
    out->st_nlink = 2;
    return 0;
  }
  if (!IsNamespace(ns)) return -ENOENT;
  const bool writable = CheckWritable(ns) == 0;
  const std::string key = ns + "/" + object;
  if (auto writer = WriterAt(key)) {
    // Being written: what was written so far, not visible to others yet.
    std::lock_guard lock(writer->mu);
    out->st_mode = S_IFREG | 0644;
    out->st_nlink = 1;
    out->st_size = static_cast<off_t>(writer->size);
    return 0;
  }
  auto attr = Lookup(ns, object);
  if (!attr.ok() && attr.status().code() == StatusCode::kNotFound) {
    std::lock_guard lock(files_mu_);
    if (made_dirs_.contains(key)) attr = Attr{.is_dir = true};
  }
  if (!attr.ok()) return -ErrnoOf(attr.status());
  if (attr->is_dir) {
    out->st_mode = S_IFDIR | (writable ? 0755 : 0555);
    out->st_nlink = 2;
    return 0;
  }
  out->st_mode = S_IFREG | (writable ? 0644 : 0444);
  out->st_nlink = 1;
  out->st_size = static_cast<off_t>(attr->size);
  out->st_blksize = static_cast<blksize_t>(std::min<uint64_t>(attr->block_bytes, 1 << 20));
  out->st_blocks = static_cast<blkcnt_t>((attr->size + 511) / 512);
  out->st_mtim.tv_sec = static_cast<time_t>(attr->modified_ms / 1000);
  out->st_mtim.tv_nsec = static_cast<long>(attr->modified_ms % 1000) * 1'000'000;
  out->st_ctim = out->st_mtim;
  out->st_atim = out->st_mtim;
  return 0;
}

int ObjectFs::ReadDir(const std::string& path, std::vector<DirEntry>* out) {
  const auto [ns, object] = Split(path);
  if (ns.empty()) {
    auto names = Namespaces();
    if (!names.ok()) return -ErrnoOf(names.status());
    for (const std::string& name : *names) out->push_back({name, true, 0, 0});
    return 0;
  }
  if (!IsNamespace(ns)) return -ENOENT;
  const std::string prefix = object.empty() ? "" : object + "/";
  std::string token;
  do {
    auto page = session_.Run<ObjectPage>(
        [&](Client& client) { return client.List(ns, prefix, "/", token); });
    if (!page.ok()) return -ErrnoOf(page.status());
    for (const std::string& directory : page->prefixes) {
      // "a/b/" under prefix "a/": entry "b".
      std::string name = directory.substr(prefix.size());
      if (!name.empty() && name.back() == '/') name.pop_back();
      if (name.empty()) continue;  // a path with "//": not shown
      Remember(ns + "/" + directory.substr(0, directory.size() - 1), Attr{.is_dir = true});
      out->push_back({std::move(name), true, 0, 0});
    }
    for (const ObjectEntry& entry : page->objects) {
      Remember(ns + "/" + entry.path,
               Attr{false, entry.size, entry.modified_ms, entry.version, entry.block_bytes, {}});
      out->push_back({entry.path.substr(prefix.size()), false, entry.size, entry.modified_ms});
    }
    token = page->next_page_token;
  } while (!token.empty());
  {
    // Directories made here that hold nothing yet.
    std::lock_guard lock(files_mu_);
    const std::string parent = ns + "/" + prefix;
    for (auto it = made_dirs_.lower_bound(parent);
         it != made_dirs_.end() && it->starts_with(parent); ++it) {
      const std::string name = it->substr(parent.size());
      if (name.empty() || name.find('/') != std::string::npos) continue;
      const bool listed = std::any_of(out->begin(), out->end(),
                                      [&](const DirEntry& entry) { return entry.name == name; });
      if (!listed) out->push_back({name, true, 0, 0});
    }
  }
  if (out->empty() && !object.empty()) {
    std::lock_guard lock(files_mu_);
    if (!made_dirs_.contains(ns + "/" + object)) return -ENOENT;
  }
  return 0;
}

int ObjectFs::Open(const std::string& path, int flags, uint64_t* handle) {
  const auto [ns, object] = Split(path);
  if (ns.empty() || object.empty()) return -EISDIR;
  if (!IsNamespace(ns)) return -ENOENT;
  if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) != 0) {
    if (int rc = CheckWritable(ns); rc != 0) return rc;
    // Objects are written whole: a new version from its first byte.
    if ((flags & O_ACCMODE) != O_WRONLY || (flags & O_TRUNC) == 0 || (flags & O_APPEND) != 0) {
      return -ENOTSUP;
    }
    return StartWrite(ns, object, handle);
  }
  // The current version, not a cached one: an open pins what it reads.
  auto entry = session_.Run<ObjectEntry>([&](Client& client) { return client.Stat(ns, object); });
  if (!entry.ok()) return -ErrnoOf(entry.status());
  auto file = std::make_shared<OpenFile>();
  file->ns = ns;
  file->object = object;
  file->entry = *entry;
  auto client = session_.Current();
  const uint64_t max_payload = client.ok() ? (*client)->server_info().limits.max_payload_bytes : 0;
  file->chunk_bytes = std::max<uint64_t>(entry->block_bytes, 64 << 10);
  if (max_payload != 0) file->chunk_bytes = std::min(file->chunk_bytes, max_payload);
  std::lock_guard lock(files_mu_);
  *handle = next_handle_++;
  files_[*handle] = std::move(file);
  return 0;
}

std::shared_ptr<ObjectFs::OpenFile> ObjectFs::FileOf(uint64_t handle) {
  std::lock_guard lock(files_mu_);
  auto it = files_.find(handle);
  return it == files_.end() ? nullptr : it->second;
}

uint64_t ObjectFs::OpenedSize(uint64_t handle) {
  std::shared_ptr<OpenFile> file = FileOf(handle);
  return file == nullptr ? 0 : file->entry.size;
}

std::shared_ptr<ObjectFs::WriteFile> ObjectFs::WriterOf(uint64_t handle) {
  std::lock_guard lock(files_mu_);
  auto it = writers_.find(handle);
  return it == writers_.end() ? nullptr : it->second;
}

std::shared_future<Result<RangeBytes>> ObjectFs::Request(OpenFile& file, uint64_t index) {
  auto it = file.chunks.find(index);
  if (it != file.chunks.end()) return it->second.reply;
  const uint64_t offset = index * file.chunk_bytes;
  const uint64_t length = file.ChunkLength(index);
  auto client = session_.Current();
  std::shared_future<Result<RangeBytes>> reply =
      client.ok() ? (*client)->ReadRangeAsync(file.ns, file.object, offset, length).share()
                  : Ready(client.status()).share();
  file.chunks.emplace(index, OpenFile::Chunk{reply});
  return reply;
}

void ObjectFs::Served(OpenFile& file, uint64_t index, uint64_t bytes) {
  auto it = file.chunks.find(index);
  if (it == file.chunks.end()) return;
  it->second.served += bytes;
  if (it->second.served >= file.ChunkLength(index)) file.chunks.erase(it);
}

void ObjectFs::Prune(OpenFile& file, uint64_t first, uint64_t last) const {
  // Past the bound, the chunks farthest behind this read go first (a read
  // that arrives late needs the nearest ones), then the farthest ahead. The
  // read-ahead just requested stays: the reader needs it next.
  const uint64_t window = options_.read_ahead_chunks + 1;
  const size_t bound = 2 * window + (last - first + 1);
  while (file.chunks.size() > bound) {
    if (file.chunks.begin()->first < first) {
      file.chunks.erase(file.chunks.begin());
    } else {
      file.chunks.erase(std::prev(file.chunks.end()));
    }
  }
}

Result<RangeBytes> ObjectFs::Chunk(OpenFile& file, uint64_t index) {
  std::shared_future<Result<RangeBytes>> reply;
  {
    std::lock_guard lock(file.mu);
    reply = Request(file, index);
  }
  Result<RangeBytes> chunk = reply.get();
  if (chunk.ok() || !IsRetryable(chunk.status())) return chunk;
  // The server went away with the request: again, with the session's
  // reconnects and backoff.
  const uint64_t offset = index * file.chunk_bytes;
  const uint64_t length = file.ChunkLength(index);
  chunk = session_.Run<RangeBytes>([&](Client& client) {
    return client.ReadRangeAsync(file.ns, file.object, offset, length).get();
  });
  std::lock_guard lock(file.mu);
  file.chunks.erase(index);
  return chunk;
}

int64_t ObjectFs::Read(uint64_t handle, char* into, uint64_t size, uint64_t offset) {
  std::shared_ptr<OpenFile> file = FileOf(handle);
  if (file == nullptr) return -EBADF;
  const uint64_t object_size = file->entry.size;
  if (offset >= object_size || size == 0) return 0;
  const uint64_t end = offset + std::min(size, object_size - offset);
  const uint64_t chunk_bytes = file->chunk_bytes;
  const uint64_t first = offset / chunk_bytes;
  const uint64_t last = (end - 1) / chunk_bytes;
  const uint64_t chunk_count = (object_size + chunk_bytes - 1) / chunk_bytes;
  {
    std::lock_guard lock(file->mu);
    // The kernel's own read-ahead sends several reads at once, and threads
    // may take them out of order: a read within the read-ahead window of
    // the last one counts as sequential.
    const uint64_t window = options_.read_ahead_chunks + 1;
    const bool sequential =
        first + 1 >= file->next_expected && first <= file->next_expected + window;
    for (uint64_t i = first; i <= last; ++i) Request(*file, i);
    if (sequential) {
      for (uint64_t i = last + 1; i <= last + options_.read_ahead_chunks && i < chunk_count; ++i) {
        Request(*file, i);
      }
    }
    Prune(*file, first, last);
    // A jump (seek) starts a new sequence where it landed.
    file->next_expected =
        sequential ? std::max(file->next_expected, end / chunk_bytes) : end / chunk_bytes;
  }
  for (uint64_t i = first; i <= last; ++i) {
    Result<RangeBytes> chunk = Chunk(*file, i);
    if (!chunk.ok()) return -ErrnoOf(chunk.status());
    const uint64_t chunk_start = i * chunk_bytes;
    const uint64_t expected = file->ChunkLength(i);
    if (chunk->object.version != file->entry.version || chunk->length != expected) {
      return -ESTALE;  // the object changed since the open: never mix versions
    }
    const uint64_t from = std::max(offset, chunk_start);
    const uint64_t to = std::min(end, chunk_start + expected);
    std::memcpy(into + (from - offset), chunk->bytes.get() + (from - chunk_start), to - from);
    std::lock_guard lock(file->mu);
    Served(*file, i, to - from);
  }
  return static_cast<int64_t>(end - offset);
}

}  // namespace kvtier::client
