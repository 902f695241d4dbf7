#include "client/cluster_client.h"

#include <xxhash.h>

#include <future>

#include "protocol/asio.h"

namespace kvtier::client {
namespace {

uint64_t Score(std::string_view server, std::string_view key) {
  std::string input;
  input.reserve(server.size() + 1 + key.size());
  input.append(server).push_back('\0');
  input.append(key);
  return XXH3_64bits(input.data(), input.size());
}

Result<std::pair<std::string, uint16_t>> SplitHostPort(const std::string& server) {
  const size_t colon = server.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    return InvalidArgument("server '" + server + "' is not host:port");
  }
  try {
    const int port = std::stoi(server.substr(colon + 1));
    if (port <= 0 || port > 65535) throw std::out_of_range("port");
    return std::make_pair(server.substr(0, colon), static_cast<uint16_t>(port));
  } catch (const std::exception&) {
    return InvalidArgument("server '" + server + "' has a bad port");
  }
}

Result<std::vector<std::string>> ResolveAll(const std::string& name, uint16_t port) {
  asio::io_context io;
  tcp::resolver resolver(io);
  boost::system::error_code ec;
  const auto results = resolver.resolve(name, std::to_string(port), ec);
  if (ec) return Unavailable("cannot resolve '" + name + "': " + ec.message());
  std::vector<std::string> servers;
  for (const auto& entry : results) {
    const auto address = entry.endpoint().address();
    std::string host = address.to_string();
    if (address.is_v6()) host = "[" + host + "]";
    servers.push_back(host + ":" + std::to_string(port));
  }
  std::sort(servers.begin(), servers.end());
  servers.erase(std::unique(servers.begin(), servers.end()), servers.end());
  if (servers.empty()) return Unavailable("'" + name + "' resolves to no address");
  return servers;
}

template <typename T>
std::vector<T> Pick(std::span<const T> all, const std::vector<size_t>& indexes) {
  std::vector<T> out;
  out.reserve(indexes.size());
  for (size_t i : indexes) out.push_back(all[i]);
  return out;
}

}  // namespace

size_t RendezvousOwner(std::span<const std::string> servers, std::string_view key) {
  size_t best = 0;
  uint64_t best_score = 0;
  for (size_t i = 0; i < servers.size(); ++i) {
    const uint64_t score = Score(servers[i], key);
    // Ties (vanishingly rare) go to the lower name, the same in every client.
    if (i == 0 || score > best_score || (score == best_score && servers[i] < servers[best])) {
      best = i;
      best_score = score;
    }
  }
  return best;
}

Result<std::unique_ptr<ClusterClient>> ClusterClient::Connect(const ClusterOptions& options) {
  std::vector<std::string> names = options.servers;
  if (names.empty() && !options.dns_name.empty()) {
    KVTIER_ASSIGN_OR_RETURN(names, ResolveAll(options.dns_name, options.port));
  }
  if (names.empty()) return InvalidArgument("a cluster needs servers or a DNS name");
  std::vector<std::unique_ptr<Client>> clients;
  for (const std::string& name : names) {
    KVTIER_ASSIGN_OR_RETURN(auto host_port, SplitHostPort(name));
    ClientOptions client_options = options.client;
    client_options.host = host_port.first;
    if (client_options.host.size() > 2 && client_options.host.front() == '[') {
      client_options.host = client_options.host.substr(1, client_options.host.size() - 2);
    }
    client_options.port = host_port.second;
    auto client = Client::Connect(client_options);
    if (!client.ok()) {
      return Status(client.status().code(), name + ": " + client.status().message());
    }
    clients.push_back(std::move(*client));
  }
  return std::unique_ptr<ClusterClient>(new ClusterClient(std::move(names), std::move(clients)));
}

std::vector<std::vector<size_t>> ClusterClient::Split(std::span<const std::string> keys) const {
  std::vector<std::vector<size_t>> parts(names_.size());
  for (size_t i = 0; i < keys.size(); ++i) parts[OwnerOf(keys[i])].push_back(i);
  return parts;
}

template <typename T, typename Submit, typename Merge>
Status ClusterClient::Scatter(std::span<const std::string> keys, Submit submit, Merge merge) {
  const auto parts = Split(keys);
  // Each part's keys must outlive its request.
  std::vector<std::vector<std::string>> part_keys(parts.size());
  std::vector<std::future<Result<T>>> futures(parts.size());
  for (size_t s = 0; s < parts.size(); ++s) {
    if (parts[s].empty()) continue;
    part_keys[s] = Pick(keys, parts[s]);
    futures[s] = submit(s, *clients_[s], part_keys[s], parts[s]);
  }
  Status failed;
  for (size_t s = 0; s < parts.size(); ++s) {
    if (parts[s].empty()) continue;
    Result<T> part = futures[s].get();  // every future is waited for, failed or not
    if (!part.ok()) {
      if (failed.ok())
        failed = Status(part.status().code(), names_[s] + ": " + part.status().message());
      continue;
    }
    merge(s, parts[s], std::move(*part));
  }
  return failed;
}

Result<KeyStatuses> ClusterClient::Put(std::string_view ns, std::span<const std::string> keys,
                                       std::span<const std::span<const std::byte>> values,
                                       const PutOptions& options) {
  if (values.size() != keys.size()) return InvalidArgument("Put needs one value per key");
  // Each part's values and options must outlive its request.
  std::vector<std::vector<std::span<const std::byte>>> part_values(names_.size());
  std::vector<PutOptions> part_options(names_.size());
  KeyStatuses out;
  out.statuses.resize(keys.size());
  KVTIER_RETURN_IF_ERROR(Scatter<KeyStatuses>(
      keys,
      [&](size_t s, Client& client, std::span<const std::string> part,
          const std::vector<size_t>& indexes) {
        part_values[s] = Pick(values, indexes);
        PutOptions& o = part_options[s];
        if (!options.ttls_ms.empty()) o.ttls_ms = Pick<uint32_t>(options.ttls_ms, indexes);
        if (!options.pins.empty()) o.pins = Pick<protocol::Pin>(options.pins, indexes);
        if (!options.kb.empty()) o.kb = Pick<protocol::KbMetadata>(options.kb, indexes);
        return client.PutAsync(ns, part, part_values[s], o);
      },
      [&](size_t, const std::vector<size_t>& indexes, KeyStatuses part) {
        for (size_t j = 0; j < indexes.size(); ++j) out.statuses[indexes[j]] = part.statuses[j];
      }));
  return out;
}

Result<GetResult> ClusterClient::Get(std::string_view ns, std::span<const std::string> keys) {
  auto held = std::make_shared<std::vector<GetResult>>(names_.size());
  GetResult out;
  out.values.resize(keys.size());
  KVTIER_RETURN_IF_ERROR(Scatter<GetResult>(
      keys,
      [&](size_t, Client& client, std::span<const std::string> part, const std::vector<size_t>&) {
        return client.GetAsync(ns, part);
      },
      [&](size_t s, const std::vector<size_t>& indexes, GetResult part) {
        for (size_t j = 0; j < indexes.size(); ++j) out.values[indexes[j]] = part.values[j];
        (*held)[s] = std::move(part);  // moving keeps the payload buffers, so the spans stay valid
      }));
  // Owns every part's payload; points at nothing itself.
  out.payload = std::shared_ptr<const std::byte[]>(held, nullptr);
  return out;
}

Result<ExistsResult> ClusterClient::Exists(std::string_view ns, std::span<const std::string> keys) {
  ExistsResult out;
  out.tiers.assign(keys.size(), TierId::kNone);
  KVTIER_RETURN_IF_ERROR(Scatter<ExistsResult>(
      keys,
      [&](size_t, Client& client, std::span<const std::string> part, const std::vector<size_t>&) {
        return client.ExistsAsync(ns, part);
      },
      [&](size_t, const std::vector<size_t>& indexes, ExistsResult part) {
        for (size_t j = 0; j < indexes.size(); ++j) out.tiers[indexes[j]] = part.tiers[j];
      }));
  return out;
}

Result<KeyStatuses> ClusterClient::Delete(std::string_view ns, std::span<const std::string> keys) {
  KeyStatuses out;
  out.statuses.resize(keys.size());
  KVTIER_RETURN_IF_ERROR(Scatter<KeyStatuses>(
      keys,
      [&](size_t, Client& client, std::span<const std::string> part, const std::vector<size_t>&) {
        return client.DeleteAsync(ns, part);
      },
      [&](size_t, const std::vector<size_t>& indexes, KeyStatuses part) {
        for (size_t j = 0; j < indexes.size(); ++j) out.statuses[indexes[j]] = part.statuses[j];
      }));
  return out;
}

Result<MatchResult> ClusterClient::MatchPrefix(std::string_view ns,
                                               std::span<const std::string> keys) {
  KVTIER_ASSIGN_OR_RETURN(ExistsResult exists, Exists(ns, keys));
  MatchResult out;
  while (out.matched < exists.tiers.size() && exists.tiers[out.matched] != TierId::kNone) {
    out.tiers.push_back(exists.tiers[out.matched]);
    ++out.matched;
  }
  return out;
}

}  // namespace kvtier::client
