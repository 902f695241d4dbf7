#include "tests/support/azurite_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <vector>

#include "tests/support/server_process.h"

namespace kvtier::testing {

AzuriteProcess::AzuriteProcess(bool tls) : tls_(tls) {
  char pattern[] = "/tmp/kvtier-azurite-XXXXXX";
  dir_ = mkdtemp(pattern);
}

AzuriteProcess::~AzuriteProcess() {
  Kill();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

Status AzuriteProcess::Start() {
  const std::string script = std::string(KVTIER_SOURCE_DIR) + "/scripts/start-azurite.sh";
  const std::string log_file = (dir_ / "log").string();
  const std::string data = (dir_ / "data").string();
  const std::string cert = ca_file();
  const std::string key = (dir_ / "key.pem").string();
  if (tls_ && !std::filesystem::exists(cert)) {
    const std::string command =
        "openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
        "-addext subjectAltName=IP:127.0.0.1 -keyout '" +
        key + "' -out '" + cert + "' >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0) return Internal("openssl could not make a certificate");
  }
  // Emptied before the child starts: a restart must not find the previous
  // run's "listens on" line.
  if (truncate(log_file.c_str(), 0) != 0 && errno != ENOENT)
    return Internal("cannot empty the log");
  pid_ = fork();
  if (pid_ < 0) return Internal("fork failed");
  if (pid_ == 0) {
    const int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    if (tls_) {
      execl("/bin/bash", "bash", script.c_str(), "0", data.c_str(), "--cert", cert.c_str(), "--key",
            key.c_str(), static_cast<char*>(nullptr));
    } else {
      execl("/bin/bash", "bash", script.c_str(), "0", data.c_str(), static_cast<char*>(nullptr));
    }
    _exit(127);
  }
  // "... listens on http://127.0.0.1:PORT" (https with a certificate).
  const std::string marker = "listens on http";
  for (int i = 0; i < 6000; ++i) {
    const std::string text = log();
    if (const size_t at = text.find(marker); at != std::string::npos) {
      const size_t colon = text.find("127.0.0.1:", at);
      const size_t digits = colon == std::string::npos ? colon : colon + 10;
      const size_t end = text.find_first_not_of("0123456789", digits);
      // Only a whole line: the port's digits may still be arriving.
      if (end != std::string::npos && end > digits && (text[end] == '\n' || text[end] == '\r')) {
        port_ = static_cast<uint16_t>(std::atoi(text.c_str() + digits));
        return Status::Ok();
      }
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return Internal("azurite exited during start:\n" + text);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return DeadlineExceeded("azurite did not listen within 60 s:\n" + log());
}

void AzuriteProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

std::string AzuriteProcess::endpoint() const {
  return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + "/" +
         kAzuriteAccount;
}

std::string AzuriteProcess::log() const { return ReadFileText(dir_ / "log"); }

}  // namespace kvtier::testing
