#pragma once

// kvtier.ClusterClient: several servers as one (client/cluster_client.h).

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/cluster_client.h"
#include "client/python/py_support.h"

namespace kvtier::python {

// Several servers as one (client/cluster_client.h): each key goes to its
// rendezvous owner; batched calls are split by owner and sent in parallel.
class PyClusterClient {
 private:
  std::shared_ptr<client::ClusterClient> Live() const {
    if (!cluster_) Raise(Unavailable("the client is closed"));
    return cluster_;
  }
  // Runs `call` on the cluster with the GIL released; its value or a raise.
  template <typename Call>
  auto Run(Call call) {
    const std::shared_ptr<client::ClusterClient> live = Live();  // with the GIL held
    decltype(call(*live)) result = InvalidArgument("not run");
    {
      py::gil_scoped_release unlocked;
      result = call(*live);
    }
    return Unwrap(std::move(result));
  }
  static std::vector<int> Codes(const client::KeyStatuses& statuses) {
    std::vector<int> codes;
    for (const Status& status : statuses.statuses) codes.push_back(static_cast<int>(status.code()));
    return codes;
  }

 public:
  explicit PyClusterClient(const client::ClusterOptions& options) {
    Result<std::unique_ptr<client::ClusterClient>> connected = InvalidArgument("not connected");
    {
      py::gil_scoped_release unlocked;
      connected = client::ClusterClient::Connect(options);
    }
    cluster_ = Unwrap(std::move(connected));
  }

  std::vector<std::string> servers() const { return Live()->servers(); }
  std::string OwnerOf(const py::object& key) const {
    const std::shared_ptr<client::ClusterClient> live = Live();
    return live->servers()[live->OwnerOf(ToKeys(py::make_tuple(key)).front())];
  }

  std::vector<int> Put(const std::string& ns, const py::sequence& keys, const py::sequence& values,
                       const std::vector<uint32_t>& ttls_ms) {
    const std::vector<std::string> key_list = ToKeys(keys);
    if (values.size() != key_list.size()) throw py::value_error("one value per key is needed");
    std::vector<Buffer> held;
    std::vector<std::span<const std::byte>> spans;
    held.reserve(values.size());
    for (const py::handle value : values) {
      held.push_back(ToBuffer(value, /*writable=*/false));
      spans.push_back(held.back().bytes());
    }
    client::PutOptions options;
    options.ttls_ms = ttls_ms;
    return Codes(
        Run([&](client::ClusterClient& c) { return c.Put(ns, key_list, spans, options); }));
  }

  std::vector<std::optional<py::bytes>> Get(const std::string& ns, const py::sequence& keys) {
    const std::vector<std::string> key_list = ToKeys(keys);
    const client::GetResult result =
        Run([&](client::ClusterClient& c) { return c.Get(ns, key_list); });
    return ValuesAsBytes(result);
  }

  std::vector<std::optional<std::string>> Exists(const std::string& ns, const py::sequence& keys) {
    const std::vector<std::string> key_list = ToKeys(keys);
    std::vector<std::optional<std::string>> out;
    for (protocol::TierId tier :
         Run([&](client::ClusterClient& c) { return c.Exists(ns, key_list); }).tiers) {
      out.push_back(TierOrNone(tier));
    }
    return out;
  }

  std::vector<int> Delete(const std::string& ns, const py::sequence& keys) {
    const std::vector<std::string> key_list = ToKeys(keys);
    return Codes(Run([&](client::ClusterClient& c) { return c.Delete(ns, key_list); }));
  }

  MatchResult Match(const std::string& ns, const py::sequence& keys) {
    const std::vector<std::string> key_list = ToKeys(keys);
    const client::MatchResult m =
        Run([&](client::ClusterClient& c) { return c.MatchPrefix(ns, key_list); });
    MatchResult out{m.matched, {}, 0, 0};
    for (protocol::TierId tier : m.tiers)
      out.tiers.push_back(std::string(protocol::TierName(tier)));
    return out;
  }

  void Close() {
    std::shared_ptr<client::ClusterClient> closing = std::move(cluster_);
    py::gil_scoped_release unlocked;
    closing.reset();
  }
  bool closed() const { return cluster_ == nullptr; }

 private:
  std::shared_ptr<client::ClusterClient> cluster_;  // as PyClient::client_
};

}  // namespace kvtier::python
