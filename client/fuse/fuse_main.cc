// kvtier-fuse: a kvtierd's object namespaces as files.
//
//   kvtier-fuse --server HOST:PORT [--token-file FILE] [--read-ahead N]
//               [--metadata-ttl-ms MS] [--retry-ms MS]
//               [--direct-io | --page-cache | --direct-io-from SIZE]
//               MOUNTPOINT [FUSE options]
//
// One directory per namespace that holds objects: dataset namespaces
// read-only, checkpoint namespaces writable (client/fuse/object_fs.h says
// how). FUSE options pass through (-f: stay in the foreground, -d:
// debug, -o allow_other, ...). The token comes from --token-file or the
// environment variable KVTIER_TOKEN. Unmount with `fusermount3 -u MOUNTPOINT`.
//
// Dataset files are read one of two ways, chosen per open:
//   - through this node's page cache, which keeps what was read (the files
//     are immutable per version): a second read on the node never leaves
//     it, and small reads are served from the kernel's read-ahead;
//   - direct I/O: every read goes to the server (the rack's cache) straight
//     into the reader's buffer, one copy fewer and no node memory filled
//     with pages a data loader reads once an epoch.
// By default a file of at least --direct-io-from bytes (64 MiB: a shard, not
// a sample) is read direct and smaller ones through the page cache, where
// the kernel lets direct-I/O files be mapped MAP_SHARED (Linux 6.6 and
// later, kernel_init.h; numpy.memmap maps that way); on older kernels every
// file uses the page cache. --direct-io reads every file direct (MAP_SHARED
// maps of them fail on older kernels), --page-cache none.
// docs/training.md shows a training job reading through the mount.

#define FUSE_USE_VERSION 35
#include <fuse3/fuse.h>
#include <fuse3/fuse_lowlevel.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "client/fuse/kernel_init.h"
#include "client/fuse/object_fs.h"
#include "common/byte_size.h"

namespace kvtier::client {
namespace {

enum class CacheMode {
  kBySize,     // direct I/O from `direct_io_from` bytes, where shared maps allow
  kDirect,     // --direct-io
  kPageCache,  // --page-cache
};

struct Mount {
  SessionOptions session;
  FsOptions fs;
  CacheMode cache_mode = CacheMode::kBySize;
  uint64_t direct_io_from = uint64_t{64} << 20;
  bool direct_io_maps_shared = false;  // the kernel agreed at INIT
  std::unique_ptr<ServerSession> server;
  std::unique_ptr<ObjectFs> tree;
};

// The session's I/O with the FUSE device: libfuse's own, but for the one
// INIT reply (kernel_init.h).
std::atomic<bool> init_reply_pending{false};

ssize_t WriteReply(int fd, struct iovec* iov, int count, void*) {
  if (init_reply_pending.exchange(false)) return WriteInitReplyAllowingMmap(fd, iov, count);
  return ::writev(fd, iov, count);
}

ssize_t ReadRequest(int fd, void* buffer, size_t size, void*) { return ::read(fd, buffer, size); }

// Asks the kernel to let direct-I/O files be mapped MAP_SHARED, where it
// can (kernel 6.6 and later); whether it will. Called from the init
// callback: the INIT reply is the next thing the session sends.
bool AllowSharedMmapOfDirectIoFiles(const struct fuse_conn_info& conn) {
  if (conn.proto_major != 7 || conn.proto_minor < kAllowMmapMinor) {
    std::cerr << "kvtier-fuse: the kernel's FUSE " << conn.proto_major << "." << conn.proto_minor
              << " cannot map direct-I/O files shared (7." << kAllowMmapMinor
              << ", Linux 6.6, can)\n";
    return false;
  }
  struct fuse_session* session = fuse_get_session(fuse_get_context()->fuse);
  static const struct fuse_custom_io io = {WriteReply, ReadRequest, nullptr, nullptr};
  init_reply_pending = true;
  if (fuse_session_custom_io(session, &io, fuse_session_fd(session)) != 0) {
    init_reply_pending = false;
    std::cerr << "kvtier-fuse: cannot set the session's I/O: direct-I/O files cannot be mapped "
                 "shared\n";
    return false;
  }
  return true;
}

ObjectFs& Tree() { return *static_cast<Mount*>(fuse_get_context()->private_data)->tree; }

void* Init(struct fuse_conn_info* conn, struct fuse_config* config) {
  auto* mount = static_cast<Mount*>(fuse_get_context()->private_data);
  // Created here, after fuse_main has daemonized: the client's I/O thread
  // must live in the process that serves the mount.
  mount->server = std::make_unique<ServerSession>(mount->session);
  mount->tree = std::make_unique<ObjectFs>(*mount->server, mount->fs);
  const double ttl_seconds = static_cast<double>(mount->fs.metadata_ttl.count()) / 1000.0;
  config->entry_timeout = ttl_seconds;
  config->attr_timeout = ttl_seconds;
  config->negative_timeout = 1.0;
  // Whether the page cache may keep what it read is decided per open (Open).
  config->kernel_cache = 0;
  config->use_ino = 0;
  conn->max_readahead = 1 << 20;
  conn->max_write = 1 << 20;  // checkpoint writes in large pieces
  // An open with O_TRUNC comes as such, not as a truncate() before it.
  if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC) conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
  if (mount->cache_mode != CacheMode::kPageCache) {
    mount->direct_io_maps_shared = AllowSharedMmapOfDirectIoFiles(*conn);
    if (!mount->direct_io_maps_shared && mount->cache_mode == CacheMode::kBySize) {
      std::cerr << "kvtier-fuse: every dataset file is read through the page cache\n";
    }
  }
  return mount;
}

int GetAttr(const char* path, struct stat* out, struct fuse_file_info*) {
  return Tree().GetAttr(path, out);
}

int ReadDir(const char* path, void* buffer, fuse_fill_dir_t fill, off_t, struct fuse_file_info*,
            enum fuse_readdir_flags) {
  std::vector<DirEntry> entries;
  if (int rc = Tree().ReadDir(path, &entries); rc != 0) return rc;
  fill(buffer, ".", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  fill(buffer, "..", nullptr, 0, static_cast<fuse_fill_dir_flags>(0));
  for (const DirEntry& entry : entries) {
    struct stat attributes {};
    attributes.st_mode = entry.is_dir ? (S_IFDIR | 0555) : (S_IFREG | 0444);
    attributes.st_size = static_cast<off_t>(entry.size);
    if (fill(buffer, entry.name.c_str(), &attributes, 0, static_cast<fuse_fill_dir_flags>(0))) {
      break;  // the kernel's buffer is full
    }
  }
  return 0;
}

int Open(const char* path, struct fuse_file_info* info) {
  uint64_t handle = 0;
  if (int rc = Tree().Open(path, info->flags, &handle); rc != 0) return rc;
  info->fh = handle;
  // Dataset objects are immutable per version: the page cache may keep
  // what it read, or is not used for them (the header says which).
  // Checkpoints are rewritten in place: read them afresh.
  const auto& mount = *static_cast<Mount*>(fuse_get_context()->private_data);
  const bool read_only = Tree().IsReadOnly(path);
  bool direct_io = false;
  switch (mount.cache_mode) {
    case CacheMode::kDirect:
      direct_io = true;
      break;
    case CacheMode::kPageCache:
      direct_io = false;
      break;
    case CacheMode::kBySize:
      direct_io = mount.direct_io_maps_shared && Tree().OpenedSize(handle) >= mount.direct_io_from;
      break;
  }
  info->keep_cache = read_only && !direct_io ? 1 : 0;
  info->direct_io = read_only && direct_io ? 1 : 0;
  return 0;
}

int Create(const char* path, mode_t, struct fuse_file_info* info) {
  uint64_t handle = 0;
  if (int rc = Tree().Create(path, &handle); rc != 0) return rc;
  info->fh = handle;
  return 0;
}

int Write(const char*, const char* data, size_t size, off_t offset, struct fuse_file_info* info) {
  if (offset < 0) return -EINVAL;
  return static_cast<int>(Tree().Write(info->fh, data, size, static_cast<uint64_t>(offset)));
}

// close() returns what flush returns: the commit's outcome.
int Flush(const char*, struct fuse_file_info* info) {
  return Tree().Flush(info->fh, fuse_get_context()->pid);
}
int Fsync(const char*, int, struct fuse_file_info* info) { return Tree().Flush(info->fh); }
int Truncate(const char* path, off_t size, struct fuse_file_info*) {
  if (size < 0) return -EINVAL;
  return Tree().Truncate(path, static_cast<uint64_t>(size));
}
int Rename(const char* from, const char* to, unsigned int flags) {
  if (flags != 0) return -EINVAL;  // RENAME_NOREPLACE / EXCHANGE: not offered
  return Tree().Rename(from, to);
}
int Unlink(const char* path) { return Tree().Unlink(path); }
// Objects keep no owner, mode or times of their own (the server sets the
// modification time at commit): accepted and ignored, so cp -p, touch and
// shutil.copy2 work, as on BlobFuse.
int SetTimes(const char*, const struct timespec*, struct fuse_file_info*) { return 0; }
int ChangeMode(const char*, mode_t, struct fuse_file_info*) { return 0; }
int ChangeOwner(const char*, uid_t, gid_t, struct fuse_file_info*) { return 0; }
int MakeDirectory(const char* path, mode_t) { return Tree().MakeDirectory(path); }
int RemoveDirectory(const char* path) { return Tree().RemoveDirectory(path); }

int GetXattr(const char* path, const char* name, char* value, size_t size) {
  std::string text;
  if (int rc = Tree().GetXattr(path, name, &text); rc != 0) return rc;
  if (size == 0) return static_cast<int>(text.size());
  if (size < text.size()) return -ERANGE;
  std::memcpy(value, text.data(), text.size());
  return static_cast<int>(text.size());
}

int ListXattr(const char*, char* list, size_t size) {
  const size_t needed = sizeof(kInBlobAttribute);  // with its NUL
  if (size == 0) return static_cast<int>(needed);
  if (size < needed) return -ERANGE;
  std::memcpy(list, kInBlobAttribute, needed);
  return static_cast<int>(needed);
}

int Read(const char*, char* into, size_t size, off_t offset, struct fuse_file_info* info) {
  if (offset < 0) return -EINVAL;
  return static_cast<int>(Tree().Read(info->fh, into, size, static_cast<uint64_t>(offset)));
}

int Release(const char*, struct fuse_file_info* info) {
  Tree().Release(info->fh);
  return 0;
}

int Usage(const std::string& what) {
  std::cerr << "kvtier-fuse: " << what
            << "\nusage: kvtier-fuse --server HOST:PORT [--token-file FILE] [--read-ahead N]\n"
               "                   [--metadata-ttl-ms MS] [--retry-ms MS]\n"
               "                   [--direct-io | --page-cache | --direct-io-from SIZE]\n"
               "                   MOUNTPOINT [FUSE options]\n";
  return 2;
}

int Run(int argc, char** argv) {
  Mount mount;
  std::vector<char*> fuse_args = {argv[0]};
  bool have_server = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    try {
      if (arg == "--server" && has_value) {
        const std::string value = argv[++i];
        const size_t colon = value.rfind(':');
        if (colon == std::string::npos) return Usage("--server needs HOST:PORT");
        mount.session.client.host = value.substr(0, colon);
        mount.session.client.port = static_cast<uint16_t>(std::stoul(value.substr(colon + 1)));
        have_server = true;
      } else if (arg == "--token-file" && has_value) {
        std::ifstream file(argv[++i]);
        if (!std::getline(file, mount.session.client.token)) {
          return Usage("cannot read a token from " + std::string(argv[i]));
        }
      } else if (arg == "--read-ahead" && has_value) {
        mount.fs.read_ahead_chunks = static_cast<uint32_t>(std::stoul(argv[++i]));
      } else if (arg == "--metadata-ttl-ms" && has_value) {
        mount.fs.metadata_ttl = std::chrono::milliseconds(std::stoull(argv[++i]));
      } else if (arg == "--direct-io") {
        mount.cache_mode = CacheMode::kDirect;
      } else if (arg == "--page-cache") {
        mount.cache_mode = CacheMode::kPageCache;
      } else if (arg == "--direct-io-from" && has_value) {
        auto size = ParseByteSize(argv[++i]);
        if (!size.ok()) return Usage("bad value for " + arg + ": " + size.status().ToString());
        mount.cache_mode = CacheMode::kBySize;
        mount.direct_io_from = *size;
      } else if (arg == "--retry-ms" && has_value) {
        mount.session.retry_for = std::chrono::milliseconds(std::stoull(argv[++i]));
      } else {
        fuse_args.push_back(argv[i]);
      }
    } catch (const std::exception&) {
      return Usage("bad value for " + arg);
    }
  }
  if (!have_server) return Usage("--server is required");
  if (mount.session.client.token.empty()) {
    if (const char* token = std::getenv("KVTIER_TOKEN")) mount.session.client.token = token;
  }
  mount.session.client.client_name = "kvtier-fuse";
  mount.session.client.bulk = true;  // dataset reads: the bulk class

  struct fuse_operations operations {};
  operations.init = Init;
  operations.getattr = GetAttr;
  operations.readdir = ReadDir;
  operations.open = Open;
  operations.read = Read;
  operations.release = Release;
  operations.create = Create;
  operations.write = Write;
  operations.flush = Flush;
  operations.fsync = Fsync;
  operations.mkdir = MakeDirectory;
  operations.unlink = Unlink;
  operations.rmdir = RemoveDirectory;
  operations.rename = Rename;
  operations.truncate = Truncate;
  operations.utimens = SetTimes;
  operations.chmod = ChangeMode;
  operations.chown = ChangeOwner;
  operations.getxattr = GetXattr;
  operations.listxattr = ListXattr;
  return fuse_main(static_cast<int>(fuse_args.size()), fuse_args.data(), &operations, &mount);
}

}  // namespace
}  // namespace kvtier::client

int main(int argc, char** argv) { return kvtier::client::Run(argc, argv); }
