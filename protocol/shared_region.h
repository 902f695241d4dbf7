#pragma once

// A shared memory region for one Unix-socket connection: a memfd the client
// creates, seals against shrinking and growing, and passes to the server
// with its Hello (SCM_RIGHTS). Both sides map it; the server copies values
// between its blocks and the region, never trusting the client: the seals
// are checked before mapping (a region that could shrink would fault the
// server on access), and every offset is checked against the size.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "common/result.h"
#include "protocol/transport.h"

namespace kvtier::protocol {

class SharedRegion {
 public:
  // Client side: a new sealed memfd of `bytes`, mapped read-write.
  static Result<std::unique_ptr<SharedRegion>> Create(uint64_t bytes);
  // Server side: takes ownership of `fd` (closed on every path) and maps it
  // after checking it is a memfd sealed against shrinking, exactly `bytes`
  // long and at most `max_bytes`. kInvalidArgument naming the problem.
  static Result<std::unique_ptr<SharedRegion>> Attach(int fd, uint64_t bytes, uint64_t max_bytes);

  ~SharedRegion();
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;

  int fd() const { return fd_; }
  uint64_t size() const { return size_; }
  std::byte* data() const { return data_; }

 private:
  SharedRegion(int fd, std::byte* data, uint64_t size) : fd_(fd), data_(data), size_(size) {}

  int fd_;
  std::byte* data_;
  uint64_t size_;
};

// The server's ValueChannel over a client's region: BufferRef addresses are
// offsets into it, key 0.
class SharedMemoryChannel : public ValueChannel {
 public:
  explicit SharedMemoryChannel(std::unique_ptr<SharedRegion> region);

  TransportKind kind() const override { return TransportKind::kSharedMemory; }
  Status Pull(const BufferRef& from, std::span<std::byte> to) override;
  Status Push(std::span<const std::span<const std::byte>> pieces, const BufferRef& to) override;

  uint64_t region_bytes() const { return region_->size(); }

 private:
  std::unique_ptr<SharedRegion> region_;
  RegisteredRegions registered_;
};

// Sends `bytes` on a connected Unix socket with `fd` attached to them.
// Returns the bytes sent (maybe fewer), or -1 with errno set.
long SendWithDescriptor(int socket, std::span<const std::byte> bytes, int fd);
// Receives up to buffer.size() bytes; a descriptor that came with them is
// stored in *fd (else *fd is -1; extra descriptors are closed). Returns the
// bytes received, 0 at end of stream, or -1 with errno set.
long ReceiveWithDescriptor(int socket, std::span<std::byte> buffer, int* fd);

}  // namespace kvtier::protocol
