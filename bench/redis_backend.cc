// The comparison backend: redis-server over RESP, with the same pipelining
// as the kvtier backend (every submitted operation is written at once, and
// replies are read in order at WaitAll).
//
//   put   -> SET k v        (batch of n: MSET k1 v1 ... kn vn)
//   get   -> GET k          (batch of n: MGET k1 ... kn)
//   match -> EXISTS k1, ..., EXISTS kn pipelined in one round trip; the
//            leading run of 1s is the matched prefix

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <climits>
#include <cstring>
#include <deque>

#include "bench/backend.h"

namespace kvtier::bench {
namespace {

class RedisBackend final : public Backend {
 public:
  explicit RedisBackend(int fd) : fd_(fd) { buffer_.resize(1 << 20); }
  ~RedisBackend() override { close(fd_); }

  std::string name() const override { return "redis"; }

  void SubmitPut(const std::vector<std::string>& keys,
                 const std::vector<std::span<const std::byte>>& values,
                 const ChainHints& /*chain*/) override {
    std::vector<std::span<const std::byte>> args;
    args.push_back(Text(keys.size() == 1 ? "SET" : "MSET"));
    for (size_t i = 0; i < keys.size(); ++i) {
      args.push_back(std::as_bytes(std::span(keys[i])));
      args.push_back(values[i]);
    }
    Command(args);
    pending_.push_back({OpKind::kPut, keys.size(), 1});
  }

  void SubmitGet(const std::vector<std::string>& keys) override {
    std::vector<std::span<const std::byte>> args;
    args.push_back(Text(keys.size() == 1 ? "GET" : "MGET"));
    for (const auto& key : keys) args.push_back(std::as_bytes(std::span(key)));
    Command(args);
    pending_.push_back({OpKind::kGet, keys.size(), 1});
  }

  void SubmitMatch(const std::vector<std::string>& keys) override {
    for (const auto& key : keys) Command({Text("EXISTS"), std::as_bytes(std::span(key))});
    pending_.push_back({OpKind::kMatch, keys.size(), keys.size()});
  }

  Result<uint64_t> CapacityBytes() override {
    Command({Text("CONFIG"), Text("GET"), Text("maxmemory")});
    KVTIER_RETURN_IF_ERROR(Flush());
    std::string line;
    KVTIER_RETURN_IF_ERROR(Line(line));  // *2
    for (int i = 0; i < 2; ++i) {
      KVTIER_RETURN_IF_ERROR(Line(line));  // $len
      KVTIER_RETURN_IF_ERROR(Line(line));  // the name, then the value
    }
    try {
      return static_cast<uint64_t>(std::stoull(line));
    } catch (const std::exception&) {
      return ReplyError(line);
    }
  }

  Status WaitAll(const std::function<void(OpResult&)>& on_done) override {
    Status sent = Flush();
    if (!sent.ok()) {
      pending_.clear();
      return sent;
    }
    while (!pending_.empty()) {
      const Op op = pending_.front();
      pending_.pop_front();
      OpResult result;
      result.kind = op.kind;
      Status status = ReadOp(op, result);
      result.done = Clock::now();
      if (!status.ok()) {
        pending_.clear();
        return status;
      }
      on_done(result);
    }
    return Status::Ok();
  }

 private:
  struct Op {
    OpKind kind;
    size_t keys;
    size_t replies;
  };

  static std::span<const std::byte> Text(const char* s) {
    return std::as_bytes(std::span(s, std::strlen(s)));
  }

  // Queues one command: the small framing strings are kept in headers_, the
  // argument bytes are referenced in place and written with writev.
  void Command(const std::vector<std::span<const std::byte>>& args) {
    headers_.push_back("*" + std::to_string(args.size()) + "\r\n");
    Piece(headers_.back());
    for (const auto& arg : args) {
      headers_.push_back("$" + std::to_string(arg.size()) + "\r\n");
      Piece(headers_.back());
      iov_.push_back({const_cast<std::byte*>(arg.data()), arg.size()});
      Piece(kCrlf);
    }
  }
  void Piece(const std::string& s) { iov_.push_back({const_cast<char*>(s.data()), s.size()}); }

  Status Flush() {
    size_t index = 0;
    while (index < iov_.size()) {
      const int count = static_cast<int>(std::min<size_t>(iov_.size() - index, IOV_MAX));
      const ssize_t n = writev(fd_, &iov_[index], count);
      if (n < 0) return Unavailable(std::string("redis write: ") + std::strerror(errno));
      size_t left = static_cast<size_t>(n);
      while (left > 0 && left >= iov_[index].iov_len) left -= iov_[index++].iov_len;
      if (left > 0) {
        iov_[index].iov_base = static_cast<char*>(iov_[index].iov_base) + left;
        iov_[index].iov_len -= left;
      }
    }
    iov_.clear();
    headers_.clear();
    return Status::Ok();
  }

  Status ReadOp(const Op& op, OpResult& result) {
    values_.clear();
    if (op.kind == OpKind::kMatch) {
      bool prefix = true;
      for (size_t i = 0; i < op.replies; ++i) {
        std::string line;
        KVTIER_RETURN_IF_ERROR(Line(line));
        if (line.empty() || line[0] != ':') return ReplyError(line);
        prefix = prefix && line != ":0";
        result.hits += prefix;
      }
      return Status::Ok();
    }
    if (op.kind == OpKind::kPut) {
      std::string line;
      KVTIER_RETURN_IF_ERROR(Line(line));
      if (line != "+OK") result.status = ReplyError(line);
      return Status::Ok();
    }
    size_t count = 1;
    if (op.keys > 1) {
      std::string line;
      KVTIER_RETURN_IF_ERROR(Line(line));
      if (line.empty() || line[0] != '*') return ReplyError(line);
      count = std::stoul(line.substr(1));
    }
    values_.resize(count);
    for (size_t i = 0; i < count; ++i) {
      std::string line;
      KVTIER_RETURN_IF_ERROR(Line(line));
      if (line.empty() || line[0] != '$') return ReplyError(line);
      const long long length = std::stoll(line.substr(1));
      if (length < 0) {
        result.values.emplace_back();
        continue;
      }
      values_[i].resize(static_cast<size_t>(length) + 2);
      KVTIER_RETURN_IF_ERROR(Read(values_[i].data(), values_[i].size()));
      result.values.emplace_back(values_[i].data(), static_cast<size_t>(length));
      result.bytes += static_cast<uint64_t>(length);
      ++result.hits;
    }
    return Status::Ok();
  }

  static Status ReplyError(const std::string& line) {
    return Internal("unexpected redis reply '" + line.substr(0, 80) + "'");
  }

  Status Fill() {
    if (start_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + start_, end_ - start_);
      end_ -= start_;
      start_ = 0;
    }
    const ssize_t n = recv(fd_, buffer_.data() + end_, buffer_.size() - end_, 0);
    if (n <= 0) return Unavailable("redis connection closed");
    end_ += static_cast<size_t>(n);
    return Status::Ok();
  }

  // Reads one CRLF-terminated reply line (without the CRLF) into `line`.
  Status Line(std::string& line) {
    for (;;) {
      const void* cr = std::memchr(buffer_.data() + start_, '\r', end_ - start_);
      if (cr != nullptr) {
        const size_t at = static_cast<const char*>(cr) - buffer_.data();
        if (at + 1 < end_) {
          line.assign(buffer_.data() + start_, at - start_);
          start_ = at + 2;
          return Status::Ok();
        }
      }
      KVTIER_RETURN_IF_ERROR(Fill());
    }
  }

  Status Read(std::byte* out, size_t size) {
    const size_t buffered = std::min(size, end_ - start_);
    std::memcpy(out, buffer_.data() + start_, buffered);
    start_ += buffered;
    size_t got = buffered;
    while (got < size) {  // large values go straight into their buffer
      const ssize_t n = recv(fd_, out + got, size - got, 0);
      if (n <= 0) return Unavailable("redis connection closed");
      got += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  inline static const std::string kCrlf = "\r\n";
  int fd_;
  std::deque<Op> pending_;
  std::vector<iovec> iov_;
  std::deque<std::string> headers_;  // stable addresses for iov_
  std::vector<char> buffer_;
  size_t start_ = 0;
  size_t end_ = 0;
  std::vector<std::vector<std::byte>> values_;
};

}  // namespace

Result<std::unique_ptr<Backend>> ConnectRedis(const Target& target) {
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(target.host.c_str(), std::to_string(target.port).c_str(), &hints, &found) != 0) {
    return Unavailable("cannot resolve " + target.host);
  }
  const int fd = socket(found->ai_family, SOCK_STREAM, 0);
  const int rc = connect(fd, found->ai_addr, found->ai_addrlen);
  freeaddrinfo(found);
  if (rc != 0) {
    close(fd);
    return Unavailable("cannot connect to redis at " + target.host + ":" +
                       std::to_string(target.port));
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return std::unique_ptr<Backend>(new RedisBackend(fd));
}

Result<std::unique_ptr<Backend>> ConnectKvtier(const Target& target);

Result<std::unique_ptr<Backend>> ConnectBackend(const Target& target) {
  return target.kind == Target::Kind::kRedis ? ConnectRedis(target) : ConnectKvtier(target);
}

}  // namespace kvtier::bench
