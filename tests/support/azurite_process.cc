#include "tests/support/azurite_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>
#include <vector>

namespace kvtier::testing {

AzuriteProcess::AzuriteProcess() {
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
  pid_ = fork();
  if (pid_ < 0) return Internal("fork failed");
  if (pid_ == 0) {
    const int fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, STDOUT_FILENO);
    dup2(fd, STDERR_FILENO);
    execl("/bin/bash", "bash", script.c_str(), "0", data.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  const std::regex listening(R"(listens on http://127\.0\.0\.1:(\d+))");
  for (int i = 0; i < 6000; ++i) {
    std::smatch match;
    const std::string text = log();
    if (std::regex_search(text, match, listening)) {
      port_ = static_cast<uint16_t>(std::stoi(match[1]));
      return Status::Ok();
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
  return "http://127.0.0.1:" + std::to_string(port_) + "/" + kAzuriteAccount;
}

std::string AzuriteProcess::log() const {
  std::ifstream in(dir_ / "log");
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace kvtier::testing
