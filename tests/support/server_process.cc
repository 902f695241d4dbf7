#include "tests/support/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace kvtier::testing {

std::string BinaryPath(const std::string& name) { return std::string(KVTIER_BIN_DIR) + "/" + name; }

ShellRun RunShell(const std::string& command) {
  ShellRun run;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return run;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) run.out.append(buffer, n);
  const int status = pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

Status MakeTestCertificates(const std::filesystem::path& dir) {
  const std::string command = "bash '" + std::string(KVTIER_SOURCE_DIR) +
                              "/scripts/tls-certs.sh' '" + dir.string() + "' --days 2 >/dev/null";
  const int status = std::system(command.c_str());
  if (status != 0) {
    return Internal("scripts/tls-certs.sh failed (status " + std::to_string(status) + ")");
  }
  return Status::Ok();
}

Status ServerProcess::EnableTls() {
  KVTIER_RETURN_IF_ERROR(MakeTestCertificates(tls_dir()));
  args_.insert(args_.end(),
               {"--tls-listen", "127.0.0.1:0", "--tls-cert", (tls_dir() / "server.crt").string(),
                "--tls-key", (tls_dir() / "server.key").string()});
  return Status::Ok();
}

ServerProcess::ServerProcess(std::vector<std::string> extra_args, std::string config_yaml)
    : args_(std::move(extra_args)), config_yaml_(std::move(config_yaml)) {
  char pattern[] = "/tmp/kvtier-test-XXXXXX";
  dir_ = mkdtemp(pattern);
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Status ServerProcess::Start() {
  const std::string port_file = (dir_ / "port").string();
  const std::string log_file = (dir_ / "log").string();
  // Every test server also listens on a Unix socket in its directory, so
  // any test can use the shared-memory transport.
  std::vector<std::string> argv = {BinaryPath("kvtierd"), "--port",  "0",
                                   "--port-file",         port_file, "--metrics-listen",
                                   "127.0.0.1:0",         "--unix",  unix_socket()};
  if (!config_yaml_.empty()) {
    const std::string config_file = (dir_ / "config.yaml").string();
    std::ofstream(config_file) << config_yaml_;
    argv.insert(argv.begin() + 1, {"--config", config_file});
  }
  if (config_yaml_.empty()) {
    // The embedded default keeps NVMe under ./var/kvtier: each test server
    // gets a directory of its own instead.
    argv.insert(argv.end(), {"--nvme-dir", (dir_ / "nvme").string()});
  }
  argv.insert(argv.end(), args_.begin(), args_.end());
  argv.insert(argv.begin(), launcher_.begin(), launcher_.end());

  pid_ = fork();
  if (pid_ < 0) return Internal("fork failed");
  if (pid_ == 0) {
    const int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    std::vector<char*> raw;
    for (auto& arg : argv) raw.push_back(arg.data());
    raw.push_back(nullptr);
    execvp(raw[0], raw.data());
    _exit(127);
  }
  // Poll for the port file, which appears once the server listens.
  for (int i = 0; i < 3000; ++i) {
    std::ifstream in(port_file);
    int port = 0;
    int metrics_port = 0;
    int tls_port = 0;
    int resp_port = 0;
    if (in >> port >> metrics_port >> tls_port >> resp_port && (port > 0 || tls_port > 0)) {
      port_ = static_cast<uint16_t>(port);
      metrics_port_ = static_cast<uint16_t>(metrics_port);
      tls_port_ = static_cast<uint16_t>(tls_port);
      resp_port_ = static_cast<uint16_t>(resp_port);
      return Status::Ok();
    }
    if (!running()) return Internal("kvtierd exited during start:\n" + log());
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return DeadlineExceeded("kvtierd did not start listening within 30 s:\n" + log());
}

bool ServerProcess::running() {
  if (pid_ <= 0) return false;
  int status = 0;
  if (waitpid(pid_, &status, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string ReadFileText(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string ServerProcess::log() const { return ReadFileText(dir_ / "log"); }

SilentListener::SilentListener() {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof(address);
  if (bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
      listen(fd_, 256) == 0 &&
      getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
    port_ = ntohs(address.sin_port);
  }
}

SilentListener::~SilentListener() {
  if (fd_ >= 0) close(fd_);
}

std::string SilentListener::blob_endpoint() const {
  return "http://127.0.0.1:" + std::to_string(port_) + "/devstoreaccount1";
}

int ConnectLoopback(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

Result<RawSocket> RawSocket::Connect(uint16_t port) {
  const int fd = ConnectLoopback(port);
  if (fd < 0) return IoError("connect failed");
  timeval timeout{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof(timeout));
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return RawSocket(fd);
}

RawSocket::RawSocket(RawSocket&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

RawSocket::~RawSocket() {
  if (fd_ >= 0) close(fd_);
}

bool RawSocket::SendAll(const void* data, size_t size) {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = send(fd_, p, size, MSG_NOSIGNAL);
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool RawSocket::RecvAll(void* data, size_t size) {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    const ssize_t n = recv(fd_, p, size, 0);
    if (n <= 0) return false;
    p += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool RawSocket::WaitClosed() {
  char buffer[4096];
  for (;;) {
    const ssize_t n = recv(fd_, buffer, sizeof(buffer), 0);
    if (n == 0) return true;
    if (n < 0) return errno == ECONNRESET;
  }
}

void RawSocket::ShutdownWrite() { shutdown(fd_, SHUT_WR); }

}  // namespace kvtier::testing
