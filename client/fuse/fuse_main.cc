// kvtier-fuse: a kvtierd's object namespaces as files.
//
//   kvtier-fuse --server HOST:PORT [--token-file FILE] [--read-ahead N]
//               [--metadata-ttl-ms MS] [--retry-ms MS] MOUNTPOINT [FUSE options]
//
// One directory per namespace that holds objects (dataset namespaces),
// read-only. FUSE options pass through (-f: stay in the foreground, -d:
// debug, -o allow_other, ...). The token comes from --token-file or the
// environment variable KVTIER_TOKEN. Unmount with `fusermount3 -u MOUNTPOINT`.
// docs/training.md shows a training job reading through the mount.

#define FUSE_USE_VERSION 35
#include <fuse3/fuse.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "client/fuse/object_fs.h"

namespace kvtier::client {
namespace {

struct Mount {
  SessionOptions session;
  FsOptions fs;
  std::unique_ptr<ServerSession> server;
  std::unique_ptr<ObjectFs> tree;
};

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
  // Objects are immutable per version: the page cache may keep what it read.
  config->kernel_cache = 1;
  config->use_ino = 0;
  conn->max_readahead = 1 << 20;
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
  info->keep_cache = 1;
  return 0;
}

int Read(const char*, char* into, size_t size, off_t offset, struct fuse_file_info* info) {
  if (offset < 0) return -EINVAL;
  return static_cast<int>(Tree().Read(info->fh, into, size, static_cast<uint64_t>(offset)));
}

int Release(const char*, struct fuse_file_info* info) {
  Tree().Release(info->fh);
  return 0;
}

// Dataset namespaces are read-only: every change is EROFS, not ENOSYS, so
// tools say "Read-only file system".
int ReadOnly() { return -EROFS; }
int Create(const char*, mode_t, struct fuse_file_info*) { return ReadOnly(); }
int MakeDirectory(const char*, mode_t) { return ReadOnly(); }
int Remove(const char*) { return ReadOnly(); }
int Rename(const char*, const char*, unsigned int) { return ReadOnly(); }
int Truncate(const char*, off_t, struct fuse_file_info*) { return ReadOnly(); }
int Write(const char*, const char*, size_t, off_t, struct fuse_file_info*) { return ReadOnly(); }

int Usage(const std::string& what) {
  std::cerr << "kvtier-fuse: " << what
            << "\nusage: kvtier-fuse --server HOST:PORT [--token-file FILE] [--read-ahead N]\n"
               "                   [--metadata-ttl-ms MS] [--retry-ms MS] MOUNTPOINT [FUSE "
               "options]\n";
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
  operations.mkdir = MakeDirectory;
  operations.unlink = Remove;
  operations.rmdir = Remove;
  operations.rename = Rename;
  operations.truncate = Truncate;
  operations.write = Write;
  return fuse_main(static_cast<int>(fuse_args.size()), fuse_args.data(), &operations, &mount);
}

}  // namespace
}  // namespace kvtier::client

int main(int argc, char** argv) { return kvtier::client::Run(argc, argv); }
