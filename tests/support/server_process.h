#pragma once

// Runs a real kvtierd as a child process on an ephemeral loopback port, for
// integration tests. The server writes its bound port to a file once it
// listens; Start() waits for that file.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/result.h"

namespace kvtier::testing {

class ServerProcess {
 public:
  // `extra_args` are appended to the kvtierd command line; `config_yaml`,
  // when non-empty, is written to a file and passed with --config.
  explicit ServerProcess(std::vector<std::string> extra_args = {}, std::string config_yaml = "");
  ~ServerProcess();  // SIGKILLs the server if still running

  // Runs kvtierd through `launcher` (a command found on PATH, then its
  // arguments; kvtierd's command line follows them), e.g. to start it in a
  // mount namespace of its own. The launcher must exec kvtierd in the same
  // process so that Stop and Kill reach the server.
  void set_launcher(std::vector<std::string> launcher) { launcher_ = std::move(launcher); }

  // Before Start: writes a CA and certificates (MakeTestCertificates) to
  // tls_dir() and adds a TLS listener on a free loopback port with them.
  Status EnableTls();
  // ca.crt, server.crt/.key and client.crt/.key (scripts/tls-certs.sh).
  std::filesystem::path tls_dir() const { return dir_ / "tls"; }

  Status Start();
  pid_t pid() const { return pid_; }
  uint16_t port() const { return port_; }  // 0 with server.tls.only
  // The TLS listener's port (0 when the config has no server.tls).
  uint16_t tls_port() const { return tls_port_; }
  // The /metrics, /healthz and /readyz port (0 when the server has none).
  uint16_t metrics_port() const { return metrics_port_; }
  // The RESP listener's port (0 when it is off).
  uint16_t resp_port() const { return resp_port_; }
  bool running();
  // Sends SIGTERM and waits; returns the exit status (or 128 + signal).
  int Stop();
  // SIGKILL, as a crash: nothing is flushed or drained.
  void Kill();
  // A directory that lives as long as this object (for data to share
  // between servers, pass it to the next one).
  const std::filesystem::path& dir() const { return dir_; }
  // The server's Unix socket (shared-memory transport), in dir().
  std::string unix_socket() const { return (dir_ / "kvtierd.sock").string(); }
  std::string log() const;  // the server's stdout and stderr so far

 private:
  std::vector<std::string> args_;
  std::string config_yaml_;
  std::vector<std::string> launcher_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  uint16_t metrics_port_ = 0;
  uint16_t tls_port_ = 0;
  uint16_t resp_port_ = 0;
};

// Runs scripts/tls-certs.sh: a new CA in `dir`, with a server certificate
// for localhost and 127.0.0.1 and a client certificate that it signed.
Status MakeTestCertificates(const std::filesystem::path& dir);

// A path to a binary built by this project (KVTIER_BIN_DIR/name).
std::string BinaryPath(const std::string& name);

// Runs `command` through the shell; its stdout (and stderr with 2>&1) and
// exit code (-1 when it did not exit).
struct ShellRun {
  int exit_code = -1;
  std::string out;
};
ShellRun RunShell(const std::string& command);

// The whole content of a file ("" when it cannot be read).
std::string ReadFileText(const std::filesystem::path& path);

// A blocking TCP socket connected to 127.0.0.1:port, or -1.
int ConnectLoopback(uint16_t port);

// A loopback TCP listener whose connections complete (in its backlog) and
// are never answered: a peer that hangs, for deadline tests.
class SilentListener {
 public:
  SilentListener();
  ~SilentListener();
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;
  uint16_t port() const { return port_; }
  // A Blob endpoint URL on this listener.
  std::string blob_endpoint() const;

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// A blocking loopback TCP socket for sending raw bytes.
class RawSocket {
 public:
  static Result<RawSocket> Connect(uint16_t port);
  RawSocket(RawSocket&& other) noexcept;
  ~RawSocket();
  bool SendAll(const void* data, size_t size);
  // Reads exactly `size` bytes; false on EOF, error or a 10 s timeout.
  bool RecvAll(void* data, size_t size);
  // True when the peer has closed (EOF or reset) within 10 s.
  bool WaitClosed();
  void ShutdownWrite();

 private:
  explicit RawSocket(int fd) : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace kvtier::testing
