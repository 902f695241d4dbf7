#pragma once

// The file tree kvtier-fuse shows, without libfuse: one directory per
// namespace that holds objects (those that answer List), below it the
// namespace's objects with "/" as the directory separator. Dataset
// namespaces are read-only (EROFS); checkpoint namespaces are writable
// (object_writes.cc). Each method returns 0 (or a byte count) or a negated
// errno, as FUSE callbacks do.
//
// Writes: a file created (or opened with O_TRUNC) in a checkpoint
// namespace is a write session. Bytes are written in order (a write may
// rewrite the block not yet sent, or leave a hole that reads as zeros; one
// behind it is EINVAL); each full block is put while the writer goes on,
// at most `write_window_blocks` in flight. Flush (close) and fsync put the
// last block, wait for every put and commit: they return once the object
// is durable on the server's NVMe and visible at its path, or the error
// (ENOSPC: NVMe or the namespace's quota full; EACCES: the token may not
// write). A flush before any write (a descriptor closed early, as dd and
// shells do) commits nothing; a file closed without a write becomes an
// empty object at release. Nothing is visible at the path before that; a
// writer that dies leaves nothing (its session expires). A write after the
// commit is EIO.
// rename moves objects (a directory: each object below it, one by one),
// unlink deletes one, mkdir makes a directory this mount shows until
// something is written below it or rmdir removes it. The extended
// attribute user.kvtier.in_blob is "1" once an object is in Blob.
//
// Metadata: a readdir lists one level (List with delimiter "/") and keeps
// what it saw for `metadata_ttl`, so the getattr calls that follow (ls -l)
// cost no request; a getattr of a path not seen asks Stat, then List for a
// directory. Data: an open file is pinned to the version it was opened
// at; reads go out in chunks (the object's block size, at most the
// server's max_payload_bytes), and a sequential reader gets the next
// `read_ahead_chunks` chunks requested before it asks. A chunk is held
// until all its bytes were read, or it falls out of a bounded window
// around the reader (reads that FUSE's threads take out of order still
// find their chunk). A read that finds
// the object changed underneath fails with ESTALE, never mixing versions.
//
// Thread safety: every method may be called concurrently (FUSE's
// multithreaded loop).

#include <sys/stat.h>

#include <cerrno>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <deque>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "client/fuse/server_session.h"

namespace kvtier::client {

struct FsOptions {
  std::chrono::milliseconds metadata_ttl{60'000};
  uint32_t read_ahead_chunks = 4;
  uint32_t write_window_blocks = 8;
};

struct DirEntry {
  std::string name;
  bool is_dir = false;
  uint64_t size = 0;
  uint64_t modified_ms = 0;
};

// Whether process `pid` is exiting because a signal killed it (from
// /proc/PID/stat: PF_EXITING and a signal in exit_code). False when it
// cannot tell (pid 0: the writer is in another pid namespace).
bool KilledBySignal(pid_t pid);

// The errno a program understands for a kvtier status.
int ErrnoOf(const Status& status);
// The same for a write: out of room is ENOSPC.
int WriteErrnoOf(const Status& status);

inline constexpr char kInBlobAttribute[] = "user.kvtier.in_blob";

class ObjectFs {
 public:
  ObjectFs(ServerSession& session, FsOptions options);

  int GetAttr(const std::string& path, struct stat* out);
  int ReadDir(const std::string& path, std::vector<DirEntry>* out);
  // A write open (O_WRONLY with O_TRUNC) starts a write session in a
  // checkpoint namespace; elsewhere it is EROFS.
  int Open(const std::string& path, int flags, uint64_t* handle);
  int Create(const std::string& path, uint64_t* handle);
  // The size of the version a read handle was opened at (0 for others).
  uint64_t OpenedSize(uint64_t handle);
  // Bytes read (0 at the end), or -errno.
  int64_t Read(uint64_t handle, char* into, uint64_t size, uint64_t offset);
  // Bytes taken, or -errno.
  int64_t Write(uint64_t handle, const char* data, uint64_t size, uint64_t offset);
  // Commits a written file (flush and fsync both do); 0 for read handles.
  // `pid` is the process closing it: when it is being killed by a signal
  // (the kernel closes a dying process's files), the object is not
  // committed and the close fails, so a writer killed halfway leaves
  // nothing at the path.
  int Flush(uint64_t handle, pid_t pid = 0);
  // Ends a handle; a write session not committed is aborted.
  void Release(uint64_t handle);
  // Truncation to 0 bytes only (an empty object).
  int Truncate(const std::string& path, uint64_t size);
  int Rename(const std::string& from, const std::string& to);
  int Unlink(const std::string& path);
  int MakeDirectory(const std::string& path);
  int RemoveDirectory(const std::string& path);
  // Whether `path` ("/ns/...") is in a read-only (dataset) namespace.
  bool IsReadOnly(const std::string& path) { return CheckWritable(Split(path).first) == -EROFS; }
  // user.kvtier.in_blob: "1" or "0" into `value` (the size when empty).
  int GetXattr(const std::string& path, const std::string& name, std::string* value);

 private:
  using Clock = std::chrono::steady_clock;
  struct Attr {
    bool is_dir = false;
    uint64_t size = 0;
    uint64_t modified_ms = 0;
    std::string version;
    uint64_t block_bytes = 0;
    Clock::time_point expires;
  };
  struct OpenFile {
    std::string ns;
    std::string object;
    ObjectEntry entry;  // the version it was opened at
    uint64_t chunk_bytes = 0;
    struct Chunk {
      std::shared_future<Result<RangeBytes>> reply;
      uint64_t served = 0;  // bytes copied out of it so far
    };
    std::mutex mu;
    std::map<uint64_t, Chunk> chunks;  // by index
    uint64_t next_expected = 0;        // the chunk a sequential reader reads next
    // Bytes in chunk `index` (the last one may be short).
    uint64_t ChunkLength(uint64_t index) const {
      return std::min(chunk_bytes, entry.size - index * chunk_bytes);
    }
  };
  struct WriteFile {
    std::string ns;
    std::string object;
    ObjectWriter writer;
    std::mutex mu;
    // Block `next_block`, not sent yet: `tail_size` bytes of `tail` hold
    // data. Allocated without zeroing (writes overwrite it); the zeros of a
    // hole are written explicitly (ZeroTailTo).
    std::shared_ptr<std::byte[]> tail;
    uint64_t tail_size = 0;
    uint64_t next_block = 0;
    uint64_t size = 0;  // bytes written (the end of the furthest write)
    struct Put {
      uint64_t index;
      std::shared_ptr<std::byte[]> bytes;
      uint64_t size;
      std::future<Result<KeyStatuses>> reply;
    };
    std::deque<Put> in_flight;
    std::shared_ptr<std::byte[]> spare;  // a settled put's block, for the next tail
    Status failed = Status::Ok();        // the first failure; every later call sees it
    bool wrote = false;                  // a write came since the open
    bool committed = false;
  };
  // "/ns/a/b" -> ("ns", "a/b"); "/ns" -> ("ns", ""); "/" -> ("", "").
  static std::pair<std::string, std::string> Split(const std::string& path);
  // The namespaces that hold objects, learned once.
  Result<std::vector<std::string>> Namespaces();
  bool IsNamespace(const std::string& name);
  void Remember(const std::string& key, Attr attr);
  std::optional<Attr> Recall(const std::string& key);
  Result<Attr> Lookup(const std::string& ns, const std::string& object);
  std::shared_future<Result<RangeBytes>> Request(OpenFile& file, uint64_t index);
  Result<RangeBytes> Chunk(OpenFile& file, uint64_t index);
  // Counts `bytes` served from chunk `index`; a chunk whose every byte was
  // served goes (a reader reads each byte once). file.mu held.
  static void Served(OpenFile& file, uint64_t index, uint64_t bytes);
  // Keeps the chunks a read from `first` to `last` may still need: file.mu
  // held.
  void Prune(OpenFile& file, uint64_t first, uint64_t last) const;
  std::shared_ptr<OpenFile> FileOf(uint64_t handle);
  std::shared_ptr<WriteFile> WriterOf(uint64_t handle);
  // What the server said of namespace `ns` in Hello: its kind and whether
  // the token may write it. Errors: the namespace is not writable (EROFS,
  // EACCES).
  int CheckWritable(const std::string& ns);

  int StartWrite(const std::string& ns, const std::string& object, uint64_t* handle);
  // Grows the tail to `size` bytes, zeros where nothing was written; file.mu
  // held.
  static void ZeroTailTo(WriteFile& file, uint64_t size);
  // Sends block `file.next_block` (the tail); file.mu held.
  Status SendTail(WriteFile& file);
  // Waits for the oldest put; file.mu held.
  Status Settle(WriteFile& file, WriteFile::Put& put);
  // Settles and removes the oldest put, keeping its memory for the next
  // block; file.mu held.
  Status SettleOldest(WriteFile& file);
  Status Commit(WriteFile& file);
  // The open writer of "ns/object", if one.
  std::shared_ptr<WriteFile> WriterAt(const std::string& key);
  void Forget(const std::string& key);

  ServerSession& session_;
  const FsOptions options_;

  std::mutex namespaces_mu_;
  std::optional<std::vector<std::string>> namespaces_;

  std::mutex attrs_mu_;
  std::unordered_map<std::string, Attr> attrs_;  // by "ns/object"

  std::mutex files_mu_;
  uint64_t next_handle_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<OpenFile>> files_;
  std::unordered_map<uint64_t, std::shared_ptr<WriteFile>> writers_;
  std::set<std::string> made_dirs_;  // "ns/dir" made by mkdir here, still empty
};

}  // namespace kvtier::client
