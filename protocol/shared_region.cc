#include "protocol/shared_region.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

namespace kvtier::protocol {
namespace {

std::string Errno(std::string_view what) { return std::string(what) + ": " + std::strerror(errno); }

Result<std::byte*> Map(int fd, uint64_t bytes) {
  void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (data == MAP_FAILED) return IoError(Errno("mmap of the shared region"));
  return static_cast<std::byte*>(data);
}

}  // namespace

Result<std::unique_ptr<SharedRegion>> SharedRegion::Create(uint64_t bytes) {
  if (bytes == 0) return InvalidArgument("a shared region needs a size");
  const int fd = ::memfd_create("kvtier-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return IoError(Errno("memfd_create"));
  if (::ftruncate(fd, static_cast<off_t>(bytes)) != 0 ||
      ::fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    Status status = IoError(Errno("sizing and sealing the shared region"));
    ::close(fd);
    return status;
  }
  auto data = Map(fd, bytes);
  if (!data.ok()) {
    ::close(fd);
    return data.status();
  }
  return std::unique_ptr<SharedRegion>(new SharedRegion(fd, *data, bytes));
}

Result<std::unique_ptr<SharedRegion>> SharedRegion::Attach(int fd, uint64_t bytes,
                                                           uint64_t max_bytes) {
  auto refuse = [fd](std::string why) {
    ::close(fd);
    return Status(StatusCode::kInvalidArgument, "shared region refused: " + why);
  };
  if (bytes == 0 || bytes > max_bytes) {
    return refuse(std::to_string(bytes) + " bytes; this server maps 1.." +
                  std::to_string(max_bytes));
  }
  const int seals = ::fcntl(fd, F_GET_SEALS);
  if (seals < 0) return refuse("the descriptor is not a sealable memfd");
  if ((seals & F_SEAL_SHRINK) == 0) return refuse("the memfd is not sealed against shrinking");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return refuse("cannot stat the memfd");
  if (static_cast<uint64_t>(st.st_size) != bytes) {
    return refuse("the memfd holds " + std::to_string(st.st_size) + " bytes, Hello says " +
                  std::to_string(bytes));
  }
  auto data = Map(fd, bytes);
  if (!data.ok()) {
    ::close(fd);
    return data.status();
  }
  return std::unique_ptr<SharedRegion>(new SharedRegion(fd, *data, bytes));
}

SharedRegion::~SharedRegion() {
  ::munmap(data_, size_);
  ::close(fd_);
}

SharedMemoryChannel::SharedMemoryChannel(std::unique_ptr<SharedRegion> region)
    : region_(std::move(region)) {
  // One registration: the whole region, addressed by offset.
  (void)registered_.Add(0, region_->size(), 0);
}

Status SharedMemoryChannel::Pull(const BufferRef& from, std::span<std::byte> to) {
  if (from.length != to.size()) {
    return InvalidArgument("buffer of " + std::to_string(from.length) + " bytes for a " +
                           std::to_string(to.size()) + "-byte value");
  }
  KVTIER_RETURN_IF_ERROR(registered_.Check(from));
  if (!to.empty()) std::memcpy(to.data(), region_->data() + from.address, to.size());
  return Status::Ok();
}

Status SharedMemoryChannel::Push(std::span<const std::span<const std::byte>> pieces,
                                 const BufferRef& to) {
  uint64_t total = 0;
  for (const auto& piece : pieces) total += piece.size();
  if (total > to.length) {
    return InvalidArgument(std::to_string(total) + " bytes do not fit a " +
                           std::to_string(to.length) + "-byte area");
  }
  KVTIER_RETURN_IF_ERROR(registered_.Check({to.address, total, to.key}));
  std::byte* out = region_->data() + to.address;
  for (const auto& piece : pieces) {
    if (piece.empty()) continue;
    std::memcpy(out, piece.data(), piece.size());
    out += piece.size();
  }
  return Status::Ok();
}

long SendWithDescriptor(int socket, std::span<const std::byte> bytes, int fd) {
  iovec iov{const_cast<std::byte*>(bytes.data()), bytes.size()};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  cmsghdr* header = CMSG_FIRSTHDR(&message);
  header->cmsg_level = SOL_SOCKET;
  header->cmsg_type = SCM_RIGHTS;
  header->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(header), &fd, sizeof(int));
  return ::sendmsg(socket, &message, MSG_NOSIGNAL);
}

long ReceiveWithDescriptor(int socket, std::span<std::byte> buffer, int* fd) {
  *fd = -1;
  iovec iov{buffer.data(), buffer.size()};
  // Room for a few descriptors so that extra ones are received (and closed
  // below) rather than leaking a truncation.
  alignas(cmsghdr) char control[CMSG_SPACE(4 * sizeof(int))] = {};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  message.msg_control = control;
  message.msg_controllen = sizeof(control);
  const long n = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  if (n < 0) return n;
  for (cmsghdr* h = CMSG_FIRSTHDR(&message); h != nullptr; h = CMSG_NXTHDR(&message, h)) {
    if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int received = -1;
      std::memcpy(&received, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
      if (*fd < 0) {
        *fd = received;
      } else {
        ::close(received);
      }
    }
  }
  return n;
}

}  // namespace kvtier::protocol
