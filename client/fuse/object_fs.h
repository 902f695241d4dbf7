#pragma once

// The file tree kvtier-fuse shows, without libfuse: one directory per
// namespace that holds objects (those that answer List), below it the
// namespace's objects with "/" as the directory separator. Read-only
// (dataset namespaces). Each method returns 0 (or a byte count) or a
// negated errno, as FUSE callbacks do.
//
// Metadata: a readdir lists one level (List with delimiter "/") and keeps
// what it saw for `metadata_ttl`, so the getattr calls that follow (ls -l)
// cost no request; a getattr of a path not seen asks Stat, then List for a
// directory. Data: an open file is pinned to the version it was opened
// at; reads go out in chunks (the object's block size, at most the
// server's max_payload_bytes), and a sequential reader gets the next
// `read_ahead_chunks` chunks requested before it asks. A read that finds
// the object changed underneath fails with ESTALE, never mixing versions.
//
// Thread safety: every method may be called concurrently (FUSE's
// multithreaded loop).

#include <sys/stat.h>

#include <chrono>
#include <cstdint>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "client/fuse/server_session.h"

namespace kvtier::client {

struct FsOptions {
  std::chrono::milliseconds metadata_ttl{60'000};
  uint32_t read_ahead_chunks = 4;
};

struct DirEntry {
  std::string name;
  bool is_dir = false;
  uint64_t size = 0;
  uint64_t modified_ms = 0;
};

// The errno a program understands for a kvtier status.
int ErrnoOf(const Status& status);

class ObjectFs {
 public:
  ObjectFs(ServerSession& session, FsOptions options);

  int GetAttr(const std::string& path, struct stat* out);
  int ReadDir(const std::string& path, std::vector<DirEntry>* out);
  // Read-only: a write open is EROFS.
  int Open(const std::string& path, int flags, uint64_t* handle);
  // Bytes read (0 at the end), or -errno.
  int64_t Read(uint64_t handle, char* into, uint64_t size, uint64_t offset);
  void Release(uint64_t handle);

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
    std::mutex mu;
    std::map<uint64_t, std::shared_future<Result<RangeBytes>>> chunks;  // by index
    uint64_t next_expected = 0;  // the chunk a sequential reader reads next
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
  std::shared_ptr<OpenFile> FileOf(uint64_t handle);

  ServerSession& session_;
  const FsOptions options_;

  std::mutex namespaces_mu_;
  std::optional<std::vector<std::string>> namespaces_;

  std::mutex attrs_mu_;
  std::unordered_map<std::string, Attr> attrs_;  // by "ns/object"

  std::mutex files_mu_;
  uint64_t next_handle_ = 1;
  std::unordered_map<uint64_t, std::shared_ptr<OpenFile>> files_;
};

}  // namespace kvtier::client
