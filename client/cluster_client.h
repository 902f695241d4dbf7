#pragma once

// A client of several kvtier servers (the servers of one rack). Each key
// belongs to the server with the highest rendezvous score,
//   score(server, key) = XXH3-64(server name || 0x00 || key),
// so every client with the same server list agrees on owners without talking
// to each other, and adding or removing a server moves only the keys that
// server gains or loses (about 1/N of them). Server names are "host:port" as
// given, or as resolved from a DNS name (a Kubernetes headless Service lists
// one address per pod).
//
// Batched operations split their keys by owner, send the parts to the
// servers in parallel, and merge the answers in key order. Thread-safe, as
// Client is.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/client.h"
#include "common/result.h"

namespace kvtier::client {

struct ClusterOptions {
  // "host:port" of each server; or, when empty, every address `dns_name`
  // resolves to, each with `port`.
  std::vector<std::string> servers;
  std::string dns_name;
  uint16_t port = 7400;
  // Options for each connection; host and port are replaced per server.
  ClientOptions client;
};

// The owner of `key` among `servers` (indexes into it); servers must not be
// empty. Exposed so that tools and tests can check placement.
size_t RendezvousOwner(std::span<const std::string> servers, std::string_view key);

class ClusterClient {
 public:
  // Resolves the server list and connects to every server. Errors: the
  // first server that cannot be reached (kUnavailable), or an empty list.
  static Result<std::unique_ptr<ClusterClient>> Connect(const ClusterOptions& options);

  const std::vector<std::string>& servers() const { return names_; }
  size_t OwnerOf(std::string_view key) const { return RendezvousOwner(names_, key); }
  Client& server(size_t index) { return *clients_[index]; }

  Result<KeyStatuses> Put(std::string_view ns, std::span<const std::string> keys,
                          std::span<const std::span<const std::byte>> values,
                          const PutOptions& options = {});
  // The values of every part stay alive as long as the result.
  Result<GetResult> Get(std::string_view ns, std::span<const std::string> keys);
  Result<ExistsResult> Exists(std::string_view ns, std::span<const std::string> keys);
  Result<KeyStatuses> Delete(std::string_view ns, std::span<const std::string> keys);
  // The longest run of leading keys present, whichever servers hold them:
  // one Exists per server, in parallel (no leases across servers).
  Result<MatchResult> MatchPrefix(std::string_view ns, std::span<const std::string> keys);

 private:
  ClusterClient(std::vector<std::string> names, std::vector<std::unique_ptr<Client>> clients)
      : names_(std::move(names)), clients_(std::move(clients)) {}

  // Key indexes per server.
  std::vector<std::vector<size_t>> Split(std::span<const std::string> keys) const;
  // Sends each server its share of `keys` (submit(server, client, part keys,
  // their indexes) returns the future), waits for every answer and hands each
  // successful one to merge(server, indexes, answer). Returns the first
  // failure, naming its server.
  template <typename T, typename Submit, typename Merge>
  Status Scatter(std::span<const std::string> keys, Submit submit, Merge merge);

  std::vector<std::string> names_;
  std::vector<std::unique_ptr<Client>> clients_;
};

}  // namespace kvtier::client
