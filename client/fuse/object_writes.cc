// ObjectFs's changes: writes through write sessions, rename, unlink,
// mkdir/rmdir, truncation to empty, and the in_blob attribute
// (object_fs.h says what each promises).

#include <fcntl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <utility>

#include "client/fuse/object_fs.h"

namespace kvtier::client {

bool KilledBySignal(pid_t pid) {
  if (pid <= 0) return false;
  std::ifstream file("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(file, line)) return false;
  // Fields after the command name (in parentheses, which may hold spaces):
  // state is field 3, flags field 9, exit_code field 52.
  const size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(line.substr(close + 1));
  std::string field;
  uint64_t flags = 0;
  int64_t exit_code = 0;
  for (int index = 3; index <= 52 && fields >> field; ++index) {
    if (index == 9) flags = std::stoull(field);
    if (index == 52) exit_code = std::stoll(field);
  }
  constexpr uint64_t kPfExiting = 0x4;
  return (flags & kPfExiting) != 0 && (exit_code & 0x7f) != 0;
}

int ObjectFs::CheckWritable(const std::string& ns) {
  auto client = session_.Current();
  if (!client.ok()) return -ErrnoOf(client.status());
  const protocol::HelloResponse& info = (*client)->server_info();
  for (size_t i = 0; i < info.namespaces.size(); ++i) {
    if (info.namespaces[i] != ns) continue;
    const std::string& kind = i < info.namespace_kinds.size() ? info.namespace_kinds[i] : "";
    if (kind != "checkpoint") return -EROFS;  // datasets are read-only
    const bool writable = i >= info.namespace_writable.size() || info.namespace_writable[i];
    return writable ? 0 : -EACCES;
  }
  return -ENOENT;
}

std::shared_ptr<ObjectFs::WriteFile> ObjectFs::WriterAt(const std::string& key) {
  std::lock_guard lock(files_mu_);
  for (const auto& [handle, writer] : writers_) {
    if (writer->ns + "/" + writer->object == key) return writer;
  }
  return nullptr;
}

void ObjectFs::Forget(const std::string& key) {
  std::lock_guard lock(attrs_mu_);
  attrs_.erase(key);
}

int ObjectFs::Create(const std::string& path, uint64_t* handle) {
  const auto [ns, object] = Split(path);
  if (ns.empty() || object.empty()) return -EISDIR;
  if (!IsNamespace(ns)) return -ENOENT;
  if (int rc = CheckWritable(ns); rc != 0) return rc;
  return StartWrite(ns, object, handle);
}

int ObjectFs::StartWrite(const std::string& ns, const std::string& object, uint64_t* handle) {
  if (Status path = protocol::CheckObjectPath(object); !path.ok()) return -EINVAL;
  auto writer =
      session_.Run<ObjectWriter>([&](Client& client) { return client.CreateObject(ns, object); });
  if (!writer.ok()) return -WriteErrnoOf(writer.status());
  auto file = std::make_shared<WriteFile>();
  file->ns = ns;
  file->object = object;
  file->writer = std::move(*writer);
  std::lock_guard lock(files_mu_);
  *handle = next_handle_++;
  writers_[*handle] = std::move(file);
  return 0;
}

Status ObjectFs::Settle(WriteFile& file, WriteFile::Put& put) {
  Result<KeyStatuses> reply = put.reply.get();
  Status status = reply.ok() ? Status::Ok() : reply.status();
  if (reply.ok()) {
    for (const Status& key : reply->statuses) {
      if (!key.ok()) status = key;
    }
  }
  // Out of room (NVMe or the quota) is the writer's ENOSPC at once, not
  // something to wait out.
  if (status.ok() || !IsRetryable(status) || status.code() == StatusCode::kResourceExhausted) {
    return status;
  }
  // The connection went away with the put: again, with the session's
  // reconnects and backoff (the session lives on the server meanwhile).
  const std::span<const std::byte> block(put.bytes.get(), put.size);
  return session_
      .Run<bool>([&](Client& client) -> Result<bool> {
        KVTIER_RETURN_IF_ERROR(
            client.PutObjectBlocks(file.writer, put.index, std::span(&block, 1)));
        return true;
      })
      .status();
}

Status ObjectFs::SettleOldest(WriteFile& file) {
  WriteFile::Put& put = file.in_flight.front();
  Status status = Settle(file, put);
  // Its memory fills a later block: no fresh pages to fault in per block.
  if (put.bytes.use_count() == 1 && file.spare == nullptr) file.spare = std::move(put.bytes);
  file.in_flight.pop_front();
  return status;
}

Status ObjectFs::SendTail(WriteFile& file) {
  while (file.in_flight.size() >= std::max<uint32_t>(options_.write_window_blocks, 1)) {
    Status settled = SettleOldest(file);
    KVTIER_RETURN_IF_ERROR(settled);
  }
  std::shared_ptr<std::byte[]> bytes = std::move(file.tail);
  const uint64_t size = std::exchange(file.tail_size, 0);
  KVTIER_ASSIGN_OR_RETURN(std::string key, file.writer.BlockKey(file.next_block));
  auto client = session_.Current();
  std::future<Result<KeyStatuses>> reply;
  if (client.ok()) {
    const std::vector<std::string> keys = {std::move(key)};
    const std::vector<std::span<const std::byte>> values = {std::span(bytes.get(), size)};
    reply = (*client)->PutAsync(file.ns, keys, values);
  } else {
    std::promise<Result<KeyStatuses>> failed;
    failed.set_value(client.status());
    reply = failed.get_future();
  }
  file.in_flight.push_back({file.next_block, std::move(bytes), size, std::move(reply)});
  ++file.next_block;
  return Status::Ok();
}

void ObjectFs::ZeroTailTo(WriteFile& file, uint64_t size) {
  if (file.tail == nullptr) {
    file.tail = file.spare != nullptr
                    ? std::move(file.spare)
                    : std::make_shared_for_overwrite<std::byte[]>(file.writer.block_bytes);
  }
  if (file.tail_size >= size) return;
  std::memset(file.tail.get() + file.tail_size, 0, size - file.tail_size);
  file.tail_size = size;
}

int64_t ObjectFs::Write(uint64_t handle, const char* data, uint64_t size, uint64_t offset) {
  std::shared_ptr<WriteFile> file = WriterOf(handle);
  if (file == nullptr) return -EBADF;  // not open, or open for reading
  std::lock_guard lock(file->mu);
  if (!file->failed.ok()) return -WriteErrnoOf(file->failed);
  if (file->committed) return -EIO;  // the object was committed (fsync): it is whole
  const uint64_t block_bytes = file->writer.block_bytes;
  if (offset < file->next_block * block_bytes) return -EINVAL;  // behind what was sent
  uint64_t done = 0;
  while (done < size) {
    const uint64_t at = offset + done;
    const uint64_t block_start = file->next_block * block_bytes;
    if (at >= block_start + block_bytes) {
      // A hole past this block: it reads as zeros.
      ZeroTailTo(*file, block_bytes);
    } else {
      const uint64_t within = at - block_start;
      const uint64_t take = std::min(size - done, block_bytes - within);
      ZeroTailTo(*file, within);
      std::memcpy(file->tail.get() + within, data + done, take);
      file->tail_size = std::max(file->tail_size, within + take);
      done += take;
    }
    if (file->tail_size == block_bytes && (offset + done >= block_start + block_bytes)) {
      if (Status sent = SendTail(*file); !sent.ok()) {
        file->failed = sent;
        return -WriteErrnoOf(sent);
      }
    }
  }
  file->size = std::max(file->size, offset + size);
  file->wrote = true;
  return static_cast<int64_t>(size);
}

Status ObjectFs::Commit(WriteFile& file) {
  const uint64_t block_bytes = file.writer.block_bytes;
  // The last block: what the tail holds, or the zeros of a trailing hole.
  if (file.size > file.next_block * block_bytes) {
    ZeroTailTo(file, file.size - file.next_block * block_bytes);
    KVTIER_RETURN_IF_ERROR(SendTail(file));
  }
  Status status = Status::Ok();
  while (!file.in_flight.empty()) {
    Status settled = SettleOldest(file);
    if (status.ok()) status = settled;
  }
  KVTIER_RETURN_IF_ERROR(status);
  return session_
      .Run<ObjectEntry>([&](Client& client) { return client.CommitObject(file.writer, file.size); })
      .status();
}

int ObjectFs::Flush(uint64_t handle, pid_t pid) {
  std::shared_ptr<WriteFile> file = WriterOf(handle);
  if (file == nullptr) return 0;  // a read handle
  std::lock_guard lock(file->mu);
  if (!file->failed.ok()) return -WriteErrnoOf(file->failed);
  if (file->committed) return 0;  // closed twice (a dup'd descriptor), or fsync then close
  // A descriptor closed before anything was written (dd, shells): the
  // writer is not done. A file that never gets a write is committed empty
  // at release.
  if (!file->wrote) return 0;
  if (KilledBySignal(pid)) {
    file->failed = Unavailable("the writer was killed before it closed the file");
    return -EIO;  // released next: the session is aborted
  }
  if (Status committed = Commit(*file); !committed.ok()) {
    file->failed = committed;
    return -WriteErrnoOf(committed);
  }
  file->committed = true;
  Forget(file->ns + "/" + file->object);
  return 0;
}

void ObjectFs::Release(uint64_t handle) {
  std::shared_ptr<WriteFile> writer;
  {
    std::lock_guard lock(files_mu_);
    files_.erase(handle);
    auto it = writers_.find(handle);
    if (it == writers_.end()) return;
    writer = std::move(it->second);
    writers_.erase(it);
  }
  std::lock_guard lock(writer->mu);
  for (auto& put : writer->in_flight) put.reply.wait();
  if (!writer->committed && !writer->wrote && writer->failed.ok()) {
    // Created and closed without a write (touch): an empty object.
    writer->committed = Commit(*writer).ok();
    Forget(writer->ns + "/" + writer->object);
  }
  if (!writer->committed) {
    // Never committed (a failed write, or a writer that never closed
    // cleanly): nothing appears at the path and the blocks are freed.
    auto client = session_.Current();
    if (client.ok()) (*client)->AbortObject(writer->writer).IgnoreError();
  }
}

int ObjectFs::Truncate(const std::string& path, uint64_t size) {
  const auto [ns, object] = Split(path);
  if (ns.empty() || object.empty()) return -EISDIR;
  if (int rc = CheckWritable(ns); rc != 0) return rc;
  if (WriterAt(ns + "/" + object) != nullptr) {
    return size == 0 ? 0 : -ENOTSUP;  // an open writer starts from zero anyway
  }
  if (size != 0) return -ENOTSUP;  // objects are written whole
  auto written =
      session_.Run<ObjectEntry>([&](Client& client) { return client.WriteObject(ns, object, {}); });
  Forget(ns + "/" + object);
  return written.ok() ? 0 : -WriteErrnoOf(written.status());
}

int ObjectFs::Rename(const std::string& from, const std::string& to) {
  const auto [ns, object] = Split(from);
  const auto [to_ns, to_object] = Split(to);
  if (ns.empty() || object.empty() || to_object.empty()) return -EBUSY;
  if (ns != to_ns) return -EXDEV;  // namespaces are separate stores
  if (int rc = CheckWritable(ns); rc != 0) return rc;
  auto attr = Lookup(ns, object);
  if (!attr.ok()) {
    std::lock_guard lock(files_mu_);
    if (made_dirs_.erase(ns + "/" + object) > 0) {
      made_dirs_.insert(ns + "/" + to_object);
      return 0;
    }
    return -ErrnoOf(attr.status());
  }
  Status renamed = Status::Ok();
  if (!attr->is_dir) {
    renamed = session_
                  .Run<bool>([&](Client& client) -> Result<bool> {
                    KVTIER_RETURN_IF_ERROR(client.RenameObject(ns, object, to_object));
                    return true;
                  })
                  .status();
  } else {
    // A directory: each object below it, one by one (not atomic).
    auto below = session_.Run<std::vector<ObjectEntry>>(
        [&](Client& client) { return client.ListAll(ns, object + "/"); });
    if (!below.ok()) return -ErrnoOf(below.status());
    for (const ObjectEntry& entry : *below) {
      const std::string target = to_object + entry.path.substr(object.size());
      renamed = session_
                    .Run<bool>([&](Client& client) -> Result<bool> {
                      KVTIER_RETURN_IF_ERROR(client.RenameObject(ns, entry.path, target));
                      return true;
                    })
                    .status();
      Forget(ns + "/" + entry.path);
      Forget(ns + "/" + target);
      if (!renamed.ok()) break;
    }
  }
  Forget(ns + "/" + object);
  Forget(ns + "/" + to_object);
  // An object another server wrote is only in Blob: moving it is a copy,
  // which mv and shutil.move do themselves on EXDEV.
  if (renamed.code() == StatusCode::kUnsupported) return -EXDEV;
  return renamed.ok() ? 0 : -ErrnoOf(renamed);
}

int ObjectFs::Unlink(const std::string& path) {
  const auto [ns, object] = Split(path);
  if (ns.empty() || object.empty()) return -EISDIR;
  if (int rc = CheckWritable(ns); rc != 0) return rc;
  auto deleted = session_.Run<bool>([&](Client& client) -> Result<bool> {
    KVTIER_RETURN_IF_ERROR(client.DeleteObject(ns, object));
    return true;
  });
  Forget(ns + "/" + object);
  return deleted.ok() ? 0 : -ErrnoOf(deleted.status());
}

int ObjectFs::MakeDirectory(const std::string& path) {
  const auto [ns, object] = Split(path);
  if (ns.empty() || object.empty()) return -EEXIST;
  if (int rc = CheckWritable(ns); rc != 0) return rc;
  if (Status checked = protocol::CheckObjectPath(object); !checked.ok()) return -EINVAL;
  if (Lookup(ns, object).ok()) return -EEXIST;
  std::lock_guard lock(files_mu_);
  if (!made_dirs_.insert(ns + "/" + object).second) return -EEXIST;
  return 0;
}

int ObjectFs::RemoveDirectory(const std::string& path) {
  const auto [ns, object] = Split(path);
  if (ns.empty() || object.empty()) return -EBUSY;
  if (int rc = CheckWritable(ns); rc != 0) return rc;
  auto below = session_.Run<ObjectPage>(
      [&](Client& client) { return client.List(ns, object + "/", "/", "", 1); });
  if (below.ok() && (!below->objects.empty() || !below->prefixes.empty())) return -ENOTEMPTY;
  std::lock_guard lock(files_mu_);
  for (auto it = made_dirs_.lower_bound(ns + "/" + object + "/");
       it != made_dirs_.end() && it->starts_with(ns + "/" + object + "/"); ++it) {
    return -ENOTEMPTY;
  }
  return made_dirs_.erase(ns + "/" + object) > 0 ? 0 : -ENOENT;
}

int ObjectFs::GetXattr(const std::string& path, const std::string& name, std::string* value) {
  if (name != kInBlobAttribute) return -ENODATA;
  const auto [ns, object] = Split(path);
  if (ns.empty() || object.empty()) return -ENODATA;
  auto entry = session_.Run<ObjectEntry>([&](Client& client) { return client.Stat(ns, object); });
  if (!entry.ok()) return -ErrnoOf(entry.status());
  // Dataset objects come from Blob: they are there by definition.
  *value = entry->in_blob || CheckWritable(ns) == -EROFS ? "1" : "0";
  return 0;
}

}  // namespace kvtier::client
