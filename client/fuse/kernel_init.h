#pragma once

// What kvtier-fuse asks of the kernel at FUSE INIT beyond what Debian's
// libfuse (3.14) knows how to ask for.
//
// FUSE_DIRECT_IO_ALLOW_MMAP (kernel 6.6, protocol 7.39): files opened with
// direct I/O may still be mapped MAP_SHARED (numpy.memmap, Arrow,
// safetensors); without it the kernel refuses such a mapping with ENODEV.
// libfuse 3.14 builds its INIT reply from the capabilities it knows, so
// kvtier-fuse sets this flag in the reply on its way to the kernel
// (libfuse's custom I/O hook, installed from the init callback, before the
// reply is sent).

#include <sys/uio.h>

#include <cstdint>

namespace kvtier::client {

// The kernel's FUSE protocol minor version from which it reads
// FUSE_DIRECT_IO_ALLOW_MMAP in an INIT reply.
inline constexpr unsigned kAllowMmapMinor = 39;

// Sends the INIT reply `iov` (the header, then the kernel's fuse_init_out)
// to the FUSE device `fd` as writev would, with FUSE_DIRECT_IO_ALLOW_MMAP
// added. The caller knows `iov` is the INIT reply (the first reply of a
// session): a read reply can have the same shape. A reply that does not
// fit (an error, another size) goes out unchanged. Returns what writev
// returns, errno as writev sets it.
ssize_t WriteInitReplyAllowingMmap(int fd, const struct iovec* iov, int count);

}  // namespace kvtier::client
