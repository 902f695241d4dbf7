#pragma once

// A real Azurite Blob service for tests: started through
// scripts/start-azurite.sh on a port it picks itself, with its data in a
// temporary directory; stopped (SIGKILL) and removed with the object.

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "common/result.h"

namespace kvtier::testing {

// The emulator's fixed, public development account.
inline constexpr const char* kAzuriteAccount = "devstoreaccount1";
inline constexpr const char* kAzuriteKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

class AzuriteProcess {
 public:
  // With `tls`, Azurite serves https with a self-signed certificate for
  // 127.0.0.1 made at Start(); ca_file() names it for clients to trust.
  explicit AzuriteProcess(bool tls = false);
  ~AzuriteProcess();
  AzuriteProcess(const AzuriteProcess&) = delete;
  AzuriteProcess& operator=(const AzuriteProcess&) = delete;

  // Starts Azurite and waits until it listens (up to 60 s).
  Status Start();
  // SIGKILL: the service is gone at once (for outage tests). Start() again
  // brings it back on a new port with the same data.
  void Kill();
  uint16_t port() const { return port_; }
  // Path-style endpoint: http(s)://127.0.0.1:PORT/devstoreaccount1
  std::string endpoint() const;
  std::string ca_file() const { return (dir_ / "cert.pem").string(); }
  std::string log() const;

 private:
  const bool tls_;
  std::filesystem::path dir_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace kvtier::testing
