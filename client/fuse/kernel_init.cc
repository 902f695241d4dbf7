#include "client/fuse/kernel_init.h"

#include <linux/fuse.h>
#include <sys/uio.h>

#include <cstring>

namespace kvtier::client {
namespace {

// Debian 12's kernel headers (6.1) predate the flag; its value is fixed by
// the kernel's ABI.
constexpr uint64_t kDirectIoAllowMmap = uint64_t{1} << 36;
constexpr uint32_t kInitExt = 1u << 30;  // FUSE_INIT_EXT: flags2 is read

}  // namespace

ssize_t WriteInitReplyAllowingMmap(int fd, const struct iovec* iov, int count) {
  const bool fits = count == 2 && iov[0].iov_len == sizeof(fuse_out_header) &&
                    iov[1].iov_len == sizeof(fuse_init_out);
  if (!fits) return ::writev(fd, iov, count);
  fuse_out_header header;
  std::memcpy(&header, iov[0].iov_base, sizeof(header));
  if (header.error != 0) return ::writev(fd, iov, count);
  fuse_init_out init;
  std::memcpy(&init, iov[1].iov_base, sizeof(init));
  init.flags |= kInitExt;
  init.flags2 |= static_cast<uint32_t>(kDirectIoAllowMmap >> 32);
  const struct iovec patched[2] = {iov[0], {&init, sizeof(init)}};
  return ::writev(fd, patched, 2);
}

}  // namespace kvtier::client
