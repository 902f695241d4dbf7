#pragma once

// Small helpers shared by the integration tests that talk to a kvtierd
// through the client library.

#include <gtest/gtest.h>

#include <cstddef>
#include <memory>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "client/client.h"
#include "tests/support/server_process.h"

namespace kvtier::testing {

// `size` pseudo-random bytes; the same seed gives the same bytes.
inline std::vector<std::byte> RandomBytes(size_t size, uint32_t seed) {
  std::vector<std::byte> out(size);
  std::mt19937 random(seed);
  for (auto& b : out) b = static_cast<std::byte>(random());
  return out;
}

// How a test client reaches its server.
enum class Transport { kTcp, kSharedMemory, kTls, kRdma };

inline std::string TransportName(const ::testing::TestParamInfo<Transport>& info) {
  switch (info.param) {
    case Transport::kTcp:
      return "Tcp";
    case Transport::kSharedMemory:
      return "SharedMemory";
    case Transport::kTls:
      return "Tls";
    case Transport::kRdma:
      return "Rdma";
  }
  return "Unknown";
}

// The RDMA provider tests use: "" (the first device) where ibv_devices
// lists one, else the software provider (protocol/rdma/soft_provider.h),
// so that everything above the verbs runs either way.
std::string RdmaProviderForTests();

// Client options for `server` over `transport` (shared memory: the server's
// Unix socket and a 64 MiB region; TLS: its TLS listener, trusting the CA
// of ServerProcess::EnableTls; RDMA: TCP asking for RDMA with a 64 MiB
// registered region on RdmaProviderForTests(), which the server must use
// too: "--rdma-device" with it).
inline client::ClientOptions OptionsFor(const ServerProcess& server,
                                        Transport transport = Transport::kTcp) {
  client::ClientOptions options;
  options.port = server.port();
  if (transport == Transport::kSharedMemory) {
    options.unix_socket = server.unix_socket();
    options.shm_region_bytes = 64ull << 20;
  } else if (transport == Transport::kTls) {
    options.port = server.tls_port();
    options.tls.enabled = true;
    options.tls.ca_file = (server.tls_dir() / "ca.crt").string();
  } else if (transport == Transport::kRdma) {
    options.rdma = true;
    options.rdma_region_bytes = 64ull << 20;
    options.rdma_device = RdmaProviderForTests();
  }
  return options;
}

// A client of `server`; nullptr (and a test failure) when it cannot connect.
inline std::unique_ptr<client::Client> ConnectTo(const ServerProcess& server,
                                                 Transport transport = Transport::kTcp) {
  const client::ClientOptions options = OptionsFor(server, transport);
  auto client = client::Client::Connect(options);
  EXPECT_TRUE(client.ok()) << client.status().ToString();
  return client.ok() ? std::move(*client) : nullptr;
}

// Puts one value; the request's status, else the key's.
inline Status PutOne(client::Client& client, const std::string& ns, const std::string& key,
                     std::span<const std::byte> value, const client::PutOptions& options = {}) {
  const std::vector<std::string> keys = {key};
  const std::vector<std::span<const std::byte>> values = {value};
  auto put = client.Put(ns, keys, values, options);
  if (!put.ok()) return put.status();
  return put->statuses[0];
}

// The server-wide counter `name` from Stats (0, and a test failure, when the
// server does not report it).
inline uint64_t ServerCounter(client::Client& client, const std::string& name) {
  auto stats = client.Stats();
  EXPECT_TRUE(stats.ok()) << stats.status().ToString();
  if (!stats.ok()) return 0;
  for (const auto& counter : stats->counters) {
    if (counter.name == name) return counter.value;
  }
  ADD_FAILURE() << "no server counter " << name;
  return 0;
}

// The whole object at `path` of namespace `ns`, read with ReadRange (empty,
// and a test failure, when it cannot be read).
inline std::vector<std::byte> ReadObject(client::Client& client, const std::string& ns,
                                         const std::string& path) {
  auto object = client.Stat(ns, path);
  EXPECT_TRUE(object.ok()) << path << ": " << object.status().ToString();
  if (!object.ok()) return {};
  std::vector<std::byte> bytes(object->size);
  auto read = client.ReadRange(ns, path, 0, bytes);
  EXPECT_TRUE(read.ok()) << path << ": " << read.status().ToString();
  if (!read.ok()) return {};
  EXPECT_EQ(read->length, object->size);
  return bytes;
}

// Whether `got` holds exactly `expected`.
inline bool SameBytes(std::span<const std::byte> got, std::span<const std::byte> expected) {
  return std::equal(got.begin(), got.end(), expected.begin(), expected.end());
}

}  // namespace kvtier::testing
