// The `kvtier` Python module: the C++ client (client/client.h) and the key
// helpers (common/keys.h, common/engine_keys.h) for Python engines and their
// connectors. Values go in and out through the buffer protocol: puts read
// any contiguous buffer where it lies, and get_into / get_prefix_into fill
// caller memory (numpy arrays, bytearrays, memoryviews). The GIL is released
// while a call waits on the server. A failed request raises kvtier.Error,
// whose `code` is the server's status code (kvtier.StatusCode).

#include <pybind11/eval.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/cluster_client.h"
#include "client/python/fsspec_source.h"
#include "client/python/py_cluster_client.h"
#include "client/python/py_support.h"
#include "common/engine_keys.h"
#include "common/keys.h"
#include "common/status.h"

namespace py = pybind11;

namespace kvtier::python {
namespace {

using client::Client;
using client::ClientOptions;

class PyClient {
 public:
  explicit PyClient(const ClientOptions& options) {
    Result<std::unique_ptr<Client>> connected = InvalidArgument("not connected");
    {
      py::gil_scoped_release unlocked;
      connected = Client::Connect(options);
    }
    client_ = Unwrap(std::move(connected));
  }

  py::dict ServerInfo() const {
    const client::ServerInfo& info = Live()->server_info();
    py::dict limits;
    limits["max_keys_per_request"] = info.limits.max_keys_per_request;
    limits["max_key_bytes"] = info.limits.max_key_bytes;
    limits["max_value_bytes"] = info.limits.max_value_bytes;
    limits["max_payload_bytes"] = info.limits.max_payload_bytes;
    py::dict out;
    out["version"] = info.version;
    out["server_name"] = info.server_name;
    out["namespaces"] = info.namespaces;
    out["namespace_kinds"] = info.namespace_kinds;
    out["namespace_writable"] = info.namespace_writable;
    out["transports"] = info.transports;
    out["limits"] = limits;
    return out;
  }

  // Closes the connection; later calls raise. Idempotent. A call in flight
  // on another thread finishes first (it holds the client).
  void Close() {
    std::shared_ptr<Client> closing = std::move(client_);
    py::gil_scoped_release unlocked;
    closing.reset();
  }
  bool closed() const { return client_ == nullptr; }

  bool uses_shared_memory() const { return Live()->uses_shared_memory(); }
  bool uses_rdma() const { return Live()->uses_rdma(); }
  std::string rdma_fallback() const { return Live()->rdma_fallback(); }

  std::vector<int> Put(const std::string& ns, const py::sequence& keys, const py::sequence& values,
                       const std::vector<uint32_t>& ttls_ms, const std::vector<uint8_t>& pins,
                       const py::object& parent, bool partial_tail) {
    const std::vector<std::string> key_list = ToKeys(keys);
    if (values.size() != key_list.size()) throw py::value_error("one value per key is needed");
    std::vector<Buffer> held;
    held.reserve(values.size());
    std::vector<std::span<const std::byte>> spans;
    for (const py::handle value : values) {
      held.push_back(ToBuffer(value, /*writable=*/false));
      spans.push_back(held.back().bytes());
    }
    client::PutOptions options;
    options.ttls_ms = ttls_ms;
    for (uint8_t pin : pins) options.pins.push_back(static_cast<protocol::Pin>(pin));
    if (!parent.is_none()) options.parent = ToKeys(py::make_tuple(parent)).front();
    options.partial_tail = partial_tail;
    Result<client::KeyStatuses> put = InvalidArgument("not run");
    {
      const std::shared_ptr<Client> live = Live();  // with the GIL held
      py::gil_scoped_release unlocked;              // `held` keeps the buffers alive and in place
      put = live->Put(ns, key_list, spans, options);
    }
    std::vector<int> codes;
    for (const Status& status : Unwrap(std::move(put)).statuses) {
      codes.push_back(static_cast<int>(status.code()));
    }
    return codes;
  }

  std::vector<std::optional<py::bytes>> Get(const std::string& ns, const py::sequence& keys,
                                            uint64_t lease_id) {
    const client::GetResult result = Fetch(ns, ToKeys(keys), lease_id);
    return ValuesAsBytes(result);
  }

  // The values are read from the connection straight into the buffers.
  std::vector<std::optional<uint64_t>> GetInto(const std::string& ns, const py::sequence& keys,
                                               const py::sequence& buffers, uint64_t lease_id) {
    const std::vector<std::string> key_list = ToKeys(keys);
    const std::vector<Buffer> held = WritableBuffers(buffers, key_list.size());
    const std::vector<std::span<std::byte>> targets = Spans(held);
    Result<client::GetIntoResult> got = InvalidArgument("not run");
    {
      const std::shared_ptr<Client> live = Live();  // with the GIL held
      py::gil_scoped_release unlocked;              // `held` keeps the buffers alive and in place
      got = live->GetInto(ns, key_list, targets, lease_id);
    }
    const client::GetIntoResult result = Unwrap(std::move(got));
    std::vector<std::optional<uint64_t>> lengths(key_list.size());
    for (size_t i = 0; i < key_list.size(); ++i) {
      const Status& status = result.statuses[i];
      if (status.code() == StatusCode::kNotFound) continue;
      if (!status.ok()) Raise(status);
      lengths[i] = result.lengths[i];
    }
    return lengths;
  }

  std::vector<py::bytes> GetPrefix(const std::string& ns, const py::sequence& keys,
                                   uint32_t deadline_ms, uint64_t lease_id) {
    const client::PrefixResult result = FetchPrefix(ns, ToKeys(keys), deadline_ms, lease_id);
    std::vector<py::bytes> out;
    for (const client::GetValue& value : result.values) {
      out.emplace_back(reinterpret_cast<const char*>(value.bytes.data()), value.bytes.size());
    }
    return out;
  }

  std::vector<uint64_t> GetPrefixInto(const std::string& ns, const py::sequence& keys,
                                      const py::sequence& buffers, uint32_t deadline_ms,
                                      uint64_t lease_id) {
    const std::vector<std::string> key_list = ToKeys(keys);
    const std::vector<Buffer> held = WritableBuffers(buffers, key_list.size());
    const std::vector<std::span<std::byte>> targets = Spans(held);
    Result<client::PrefixIntoResult> got = InvalidArgument("not run");
    {
      const std::shared_ptr<Client> live = Live();  // with the GIL held
      py::gil_scoped_release unlocked;
      got = live->GetPrefixInto(ns, key_list, targets, std::chrono::milliseconds(deadline_ms),
                                lease_id);
    }
    const client::PrefixIntoResult result = Unwrap(std::move(got));
    if (result.stop_reason == protocol::PrefixStop::kError &&
        result.stop_code == StatusCode::kInvalidArgument) {
      Raise(InvalidArgument("value " + std::to_string(result.lengths.size()) +
                            " is larger than its buffer"));
    }
    return result.lengths;
  }

  std::vector<std::optional<std::string>> Exists(const std::string& ns, const py::sequence& keys) {
    const std::vector<std::string> key_list = ToKeys(keys);
    Result<client::ExistsResult> exists = InvalidArgument("not run");
    {
      const std::shared_ptr<Client> live = Live();  // with the GIL held
      py::gil_scoped_release unlocked;
      exists = live->Exists(ns, key_list);
    }
    std::vector<std::optional<std::string>> out;
    for (protocol::TierId tier : Unwrap(std::move(exists)).tiers) out.push_back(TierOrNone(tier));
    return out;
  }

  // ---- Objects (dataset namespaces) ----

  static py::dict ObjectDict(const client::ObjectEntry& object) {
    py::dict out;
    out["path"] = object.path;
    out["size"] = object.size;
    out["version"] = object.version;
    out["modified_ms"] = object.modified_ms;
    out["block_bytes"] = object.block_bytes;
    out["in_blob"] = object.in_blob;
    return out;
  }

  // ---- Writing objects (checkpoint namespaces) ----

  // Releases the GIL around `call` and raises its error.
  template <typename Call>
  static void Checked(Call call) {
    Status status;
    {
      py::gil_scoped_release unlocked;
      status = call();
    }
    if (!status.ok()) Raise(status);
  }

  py::dict Write(const std::string& ns, const std::string& path, const py::handle data) {
    const Buffer held = ToBuffer(data, /*writable=*/false);
    Result<client::ObjectEntry> written = InvalidArgument("not run");
    {
      const std::shared_ptr<Client> live = Live();  // with the GIL held
      py::gil_scoped_release unlocked;
      written = live->WriteObject(ns, path, held.bytes());
    }
    return ObjectDict(Unwrap(std::move(written)));
  }

  py::dict CreateObject(const std::string& ns, const std::string& path) {
    Result<client::ObjectWriter> writer = InvalidArgument("not run");
    {
      const std::shared_ptr<Client> live = Live();  // with the GIL held
      py::gil_scoped_release unlocked;
      writer = live->CreateObject(ns, path);
    }
    const client::ObjectWriter opened = Unwrap(std::move(writer));
    py::dict out;
    out["ns"] = opened.ns;
    out["path"] = opened.path;
    out["session"] = opened.session;
    out["block_bytes"] = opened.block_bytes;
    return out;
  }

  static client::ObjectWriter WriterOf(const py::dict& session) {
    return {session["ns"].cast<std::string>(), session["path"].cast<std::string>(),
            session["session"].cast<std::string>(), session["block_bytes"].cast<uint64_t>()};
  }

  void PutObjectBlock(const py::dict& session, uint64_t index, const py::handle data) {
    const client::ObjectWriter writer = WriterOf(session);
    const Buffer held = ToBuffer(data, /*writable=*/false);
    const std::span<const std::byte> block = held.bytes();
    Checked(
        [&, live = Live()] { return live->PutObjectBlocks(writer, index, std::span(&block, 1)); });
  }

  py::dict CommitObject(const py::dict& session, uint64_t size) {
    const client::ObjectWriter writer = WriterOf(session);
    Result<client::ObjectEntry> committed = InvalidArgument("not run");
    {
      const std::shared_ptr<Client> live = Live();  // with the GIL held
      py::gil_scoped_release unlocked;
      committed = live->CommitObject(writer, size);
    }
    return ObjectDict(Unwrap(std::move(committed)));
  }

  void AbortObject(const py::dict& session) {
    const client::ObjectWriter writer = WriterOf(session);
    Checked([&, live = Live()] { return live->AbortObject(writer); });
  }

  void Rename(const std::string& ns, const std::string& from, const std::string& to) {
    Checked([&, live = Live()] { return live->RenameObject(ns, from, to); });
  }

  void DeleteObject(const std::string& ns, const std::string& path) {
    Checked([&, live = Live()] { return live->DeleteObject(ns, path); });
  }

  py::dict List(const std::string& ns, const std::string& prefix, const std::string& delimiter,
                const std::string& page_token, uint32_t max_results) {
    Result<client::ObjectPage> page = InvalidArgument("not run");
    {
      const std::shared_ptr<Client> live = Live();  // with the GIL held
      py::gil_scoped_release unlocked;
      page = live->List(ns, prefix, delimiter, page_token, max_results);
    }
    const client::ObjectPage listing = Unwrap(std::move(page));
    py::list objects;
    for (const client::ObjectEntry& object : listing.objects) objects.append(ObjectDict(object));
    py::dict out;
    out["objects"] = objects;
    out["prefixes"] = listing.prefixes;
    out["next_page_token"] = listing.next_page_token;
    return out;
  }

  py::dict Stat(const std::string& ns, const std::string& path) {
    Result<client::ObjectEntry> object = InvalidArgument("not run");
    {
      const std::shared_ptr<Client> live = Live();  // with the GIL held
      py::gil_scoped_release unlocked;
      object = live->Stat(ns, path);
    }
    return ObjectDict(Unwrap(std::move(object)));
  }

  // Reads into the caller's buffer; returns how many bytes were read (0 at
  // the end). With `version`, an object that is no longer at it raises.
  uint64_t ReadRange(const std::string& ns, const std::string& path, uint64_t offset,
                     const py::handle buffer, const std::string& version) {
    const Buffer held = ToBuffer(buffer, /*writable=*/true);
    Result<client::RangeResult> read = InvalidArgument("not run");
    {
      const std::shared_ptr<Client> live = Live();  // with the GIL held
      py::gil_scoped_release unlocked;
      read = live->ReadRange(ns, path, offset, held.bytes());
    }
    const client::RangeResult result = Unwrap(std::move(read));
    if (!version.empty() && result.object.version != version) {
      Raise(Unavailable("object " + path + " changed since version " + version));
    }
    return result.length;
  }

  // Bytes [offset, offset + length) (length < 0: to the end) as bytes.
  py::bytes Read(const std::string& ns, const std::string& path, uint64_t offset, int64_t length,
                 const std::string& version) {
    uint64_t want = static_cast<uint64_t>(length);
    if (length < 0) {
      const py::dict object = Stat(ns, path);
      const uint64_t size = object["size"].cast<uint64_t>();
      want = offset >= size ? 0 : size - offset;
    }
    std::string bytes(want, '\0');
    Result<client::RangeResult> read = InvalidArgument("not run");
    {
      const std::shared_ptr<Client> live = Live();  // with the GIL held
      py::gil_scoped_release unlocked;
      read = live->ReadRange(ns, path, offset,
                             std::as_writable_bytes(std::span(bytes.data(), bytes.size())));
    }
    const client::RangeResult result = Unwrap(std::move(read));
    if (!version.empty() && result.object.version != version) {
      Raise(Unavailable("object " + path + " changed since version " + version));
    }
    bytes.resize(result.length);
    return py::bytes(bytes);
  }

  std::vector<int> Delete(const std::string& ns, const py::sequence& keys) {
    const std::vector<std::string> key_list = ToKeys(keys);
    Result<client::KeyStatuses> deleted = InvalidArgument("not run");
    {
      const std::shared_ptr<Client> live = Live();  // with the GIL held
      py::gil_scoped_release unlocked;
      deleted = live->Delete(ns, key_list);
    }
    std::vector<int> codes;
    for (const Status& status : Unwrap(std::move(deleted)).statuses) {
      codes.push_back(static_cast<int>(status.code()));
    }
    return codes;
  }

  MatchResult Match(const std::string& ns, const py::sequence& keys, uint32_t lease_ms) {
    const std::vector<std::string> key_list = ToKeys(keys);
    Result<client::MatchResult> match = InvalidArgument("not run");
    {
      const std::shared_ptr<Client> live = Live();  // with the GIL held
      py::gil_scoped_release unlocked;
      match = live->MatchPrefix(ns, key_list, lease_ms);
    }
    const client::MatchResult m = Unwrap(std::move(match));
    MatchResult out{m.matched, {}, m.lease_id, m.lease_ms};
    for (protocol::TierId tier : m.tiers)
      out.tiers.push_back(std::string(protocol::TierName(tier)));
    return out;
  }

  bool Release(uint64_t lease_id) {
    Result<bool> released = InvalidArgument("not run");
    {
      const std::shared_ptr<Client> live = Live();  // with the GIL held
      py::gil_scoped_release unlocked;
      released = live->Release(lease_id);
    }
    return Unwrap(std::move(released));
  }

  void Flush(const std::string& ns, const py::sequence& keys) {
    const std::vector<std::string> key_list = ToKeys(keys);
    Status flushed;
    {
      const std::shared_ptr<Client> live = Live();  // with the GIL held
      py::gil_scoped_release unlocked;
      flushed = live->Flush(ns, key_list);
    }
    if (!flushed.ok()) Raise(flushed);
  }

  py::dict Stats() {
    Result<client::StatsResult> stats = InvalidArgument("not run");
    {
      const std::shared_ptr<Client> live = Live();  // with the GIL held
      py::gil_scoped_release unlocked;
      stats = live->Stats();
    }
    const client::StatsResult s = Unwrap(std::move(stats));
    auto counters = [](const std::vector<protocol::NamedCounter>& list) {
      py::dict out;
      for (const auto& c : list) out[py::str(c.name)] = c.value;
      return out;
    };
    py::dict tiers;
    for (const auto& tier : s.tiers) {
      py::dict t = counters(tier.counters);
      t["capacity_bytes"] = tier.capacity_bytes;
      t["used_bytes"] = tier.used_bytes;
      t["items"] = tier.items;
      tiers[py::str(tier.name)] = t;
    }
    py::dict namespaces;
    for (const auto& ns : s.namespaces) {
      py::dict n = counters(ns.counters);
      n["kind"] = ns.kind;
      namespaces[py::str(ns.name)] = n;
    }
    py::dict out;
    out["server_name"] = s.server_name;
    out["uptime_seconds"] = s.uptime_seconds;
    out["counters"] = counters(s.counters);
    out["tiers"] = tiers;
    out["namespaces"] = namespaces;
    return out;
  }

 private:
  client::GetResult Fetch(const std::string& ns, const std::vector<std::string>& keys,
                          uint64_t lease_id) {
    Result<client::GetResult> got = InvalidArgument("not run");
    {
      const std::shared_ptr<Client> live = Live();  // with the GIL held
      py::gil_scoped_release unlocked;
      got = live->Get(ns, keys, lease_id);
    }
    return Unwrap(std::move(got));
  }

  client::PrefixResult FetchPrefix(const std::string& ns, const std::vector<std::string>& keys,
                                   uint32_t deadline_ms, uint64_t lease_id) {
    Result<client::PrefixResult> got = InvalidArgument("not run");
    {
      const std::shared_ptr<Client> live = Live();  // with the GIL held
      py::gil_scoped_release unlocked;
      got = live->GetPrefix(ns, keys, std::chrono::milliseconds(deadline_ms), lease_id);
    }
    return Unwrap(std::move(got));
  }

  // The open client; raises kvtier.Error (unavailable) once closed. Call
  // with the GIL held.
  std::shared_ptr<Client> Live() const {
    if (!client_) Raise(Unavailable("the client is closed"));
    return client_;
  }

  // Null once closed. Read and reset only with the GIL held; each call
  // holds its own reference while the GIL is released, so close() from
  // another thread never pulls the client from under a call in flight.
  std::shared_ptr<Client> client_;
};

ChainHash ToChainHash(const std::string& name) {
  if (name == "xxh3") return ChainHash::kXxh3_128;
  if (name == "sha256") return ChainHash::kSha256;
  throw py::value_error("hash must be 'xxh3' or 'sha256'");
}

}  // namespace
}  // namespace kvtier::python

namespace kvtier::python {
// The Python source of kvtier.aio (generated from kvtier_aio.py).
std::string_view AioModuleSource();
}  // namespace kvtier::python

PYBIND11_MODULE(kvtier, m) {
  using namespace kvtier;
  using namespace kvtier::python;
  m.doc() = "kvtier client: a per-rack KV-cache and dataset block cache (docs/python.md)";
  m.attr("__version__") = KVTIER_VERSION;

  // kvtier.Error(code, name, message): `code` is a kvtier.StatusCode value.
  py::dict error_body;
  py::exec(R"(
class Error(Exception):
    """A failed kvtier request: `code` (kvtier.StatusCode), `name`, `message`."""
    def __init__(self, code, name, message):
        super().__init__(f"{name}: {message}")
        self.code = code
        self.name = name
        self.message = message
    @property
    def retryable(self):
        return self.code in (3, 4, 5)
)",
           py::globals(), error_body);
  py::object error = error_body["Error"];
  error.attr("__module__") = "kvtier";
  m.attr("Error") = error;
  SetErrorType(error.ptr());

  py::dict codes;
  for (uint8_t code = 0; code <= kMaxStatusCode; ++code) {
    std::string name(StatusCodeName(static_cast<StatusCode>(code)));
    for (auto& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    codes[py::str(name)] = code;
  }
  m.attr("StatusCode") = py::module_::import("enum").attr("IntEnum")("StatusCode", codes);
  m.attr("PIN_NONE") = 0;
  m.attr("PIN_SOFT") = 1;
  m.attr("PIN_HARD") = 2;

  py::class_<MatchResult>(m, "MatchResult")
      .def_readonly("matched", &MatchResult::matched, "leading keys present")
      .def_readonly("tiers", &MatchResult::tiers, "tier of each matched key")
      .def_readonly("lease_id", &MatchResult::lease_id, "0: no lease taken")
      .def_readonly("lease_ms", &MatchResult::lease_ms)
      .def("__repr__", [](const MatchResult& r) {
        return "MatchResult(matched=" + std::to_string(r.matched) +
               ", lease_id=" + std::to_string(r.lease_id) + ")";
      });

  py::class_<PyClient>(m, "Client", "One connection to a kvtierd; thread-safe.")
      .def(py::init([](const std::string& host, uint16_t port, const std::string& unix_socket,
                       uint64_t shm_region_bytes, uint32_t timeout_ms, uint32_t connect_timeout_ms,
                       const std::string& token, const std::string& client_name, bool bulk,
                       bool tls, const std::string& tls_ca_file, const std::string& tls_server_name,
                       const std::string& tls_cert_file, const std::string& tls_key_file, bool rdma,
                       const std::string& rdma_device, uint64_t rdma_region_bytes) {
             ClientOptions options;
             options.host = host;
             options.port = port;
             options.unix_socket = unix_socket;
             options.shm_region_bytes = shm_region_bytes;
             options.request_timeout = std::chrono::milliseconds(timeout_ms);
             options.connect_timeout = std::chrono::milliseconds(connect_timeout_ms);
             options.token = token;
             options.client_name = client_name;
             options.bulk = bulk;
             // Any TLS setting turns TLS on.
             options.tls.enabled = tls || !tls_ca_file.empty() || !tls_server_name.empty() ||
                                   !tls_cert_file.empty() || !tls_key_file.empty();
             options.tls.ca_file = tls_ca_file;
             options.tls.server_name = tls_server_name;
             options.tls.cert_file = tls_cert_file;
             options.tls.key_file = tls_key_file;
             options.rdma = rdma;
             options.rdma_device = rdma_device;
             options.rdma_region_bytes = rdma_region_bytes;
             return std::make_unique<PyClient>(options);
           }),
           py::arg("host") = "127.0.0.1", py::arg("port") = 7400, py::kw_only(),
           py::arg("unix_socket") = "", py::arg("shm_region_bytes") = 0,
           py::arg("timeout_ms") = 30000, py::arg("connect_timeout_ms") = 5000,
           py::arg("token") = "", py::arg("client_name") = "kvtier-python", py::arg("bulk") = false,
           py::arg("tls") = false, py::arg("tls_ca_file") = "", py::arg("tls_server_name") = "",
           py::arg("tls_cert_file") = "", py::arg("tls_key_file") = "", py::arg("rdma") = false,
           py::arg("rdma_device") = "", py::arg("rdma_region_bytes") = 256ull << 20)
      .def_property_readonly("server_info", &PyClient::ServerInfo)
      .def("close", &PyClient::Close, "Closes the connection; later calls raise kvtier.Error.")
      .def_property_readonly("closed", &PyClient::closed)
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__",
           [](PyClient& self, py::handle, py::handle, py::handle) {
             self.Close();
             return false;
           })
      .def_property_readonly("uses_shared_memory", &PyClient::uses_shared_memory)
      .def_property_readonly("uses_rdma", &PyClient::uses_rdma)
      .def_property_readonly(
          "rdma_fallback", &PyClient::rdma_fallback,
          "Why values do not move by RDMA (\"\" when they do or it was not asked for).")
      .def("put", &PyClient::Put, py::arg("ns"), py::arg("keys"), py::arg("values"),
           py::arg("ttls_ms") = std::vector<uint32_t>{}, py::arg("pins") = std::vector<uint8_t>{},
           py::arg("parent") = py::none(), py::arg("partial_tail") = false,
           "Stores each value (any contiguous buffer) under its key; a StatusCode per key. In a\n"
           "KV namespace the keys are consecutive blocks of one prefix chain: `parent` names\n"
           "the key before the first, `partial_tail` marks the last as a partial block.")
      .def("get", &PyClient::Get, py::arg("ns"), py::arg("keys"), py::arg("lease_id") = 0,
           "The values as bytes, None for a miss.")
      .def("get_into", &PyClient::GetInto, py::arg("ns"), py::arg("keys"), py::arg("buffers"),
           py::arg("lease_id") = 0,
           "Fills one writable buffer per key; the length written, None for a miss.")
      .def("get_prefix", &PyClient::GetPrefix, py::arg("ns"), py::arg("keys"),
           py::arg("deadline_ms") = 0, py::arg("lease_id") = 0,
           "The values of the longest contiguous prefix deliverable by the deadline.")
      .def("get_prefix_into", &PyClient::GetPrefixInto, py::arg("ns"), py::arg("keys"),
           py::arg("buffers"), py::arg("deadline_ms") = 0, py::arg("lease_id") = 0,
           "get_prefix into caller buffers; the lengths of the delivered prefix.")
      .def("exists", &PyClient::Exists, py::arg("ns"), py::arg("keys"),
           "The tier holding each key ('dram', 'nvme', 'blob'), None when absent.")
      .def("delete", &PyClient::Delete, py::arg("ns"), py::arg("keys"))
      .def("match", &PyClient::Match, py::arg("ns"), py::arg("keys"), py::arg("lease_ms") = 0,
           "How many leading keys are cached, in one round trip; with lease_ms, leases them.")
      .def("release", &PyClient::Release, py::arg("lease_id"))
      .def("flush", &PyClient::Flush, py::arg("ns"), py::arg("keys") = std::vector<std::string>{})
      .def("stats", &PyClient::Stats)
      .def("list", &PyClient::List, py::arg("ns"), py::arg("prefix") = "",
           py::arg("delimiter") = "", py::arg("page_token") = "", py::arg("max_results") = 0,
           "One page of a dataset namespace's objects: {objects, prefixes, next_page_token}.")
      .def("stat", &PyClient::Stat, py::arg("ns"), py::arg("path"),
           "An object's {path, size, version, modified_ms, block_bytes}.")
      .def("read_range", &PyClient::ReadRange, py::arg("ns"), py::arg("path"), py::arg("offset"),
           py::arg("buffer"), py::arg("version") = "",
           "Reads object bytes from `offset` into a writable buffer; returns the count.")
      .def("read", &PyClient::Read, py::arg("ns"), py::arg("path"), py::arg("offset") = 0,
           py::arg("length") = -1, py::arg("version") = "",
           "Object bytes [offset, offset + length) (length -1: to the end).")
      .def("write", &PyClient::Write, py::arg("ns"), py::arg("path"), py::arg("data"),
           "Writes a whole object of a checkpoint namespace (a bytes-like); returns its "
           "{path, size, version, ...} once it is durable and visible.")
      .def("create_object", &PyClient::CreateObject, py::arg("ns"), py::arg("path"),
           "Opens a write session: {ns, path, session, block_bytes}.")
      .def("put_object_block", &PyClient::PutObjectBlock, py::arg("session"), py::arg("index"),
           py::arg("data"), "Puts block `index` (block_bytes long but the last) of a session.")
      .def("commit_object", &PyClient::CommitObject, py::arg("session"), py::arg("size"),
           "Makes the session's object of `size` bytes visible at its path.")
      .def("abort_object", &PyClient::AbortObject, py::arg("session"))
      .def("rename", &PyClient::Rename, py::arg("ns"), py::arg("src"), py::arg("dst"))
      .def("delete_object", &PyClient::DeleteObject, py::arg("ns"), py::arg("path"));

  py::class_<PyClusterClient>(
      m, "ClusterClient",
      "Several kvtierd servers as one: each key goes to its rendezvous owner; thread-safe.")
      .def(py::init([](const std::vector<std::string>& servers, const std::string& dns_name,
                       uint16_t port, uint32_t timeout_ms, const std::string& token,
                       const std::string& client_name) {
             client::ClusterOptions options;
             options.servers = servers;
             options.dns_name = dns_name;
             options.port = port;
             options.client.request_timeout = std::chrono::milliseconds(timeout_ms);
             options.client.token = token;
             options.client.client_name = client_name;
             return std::make_unique<PyClusterClient>(options);
           }),
           py::arg("servers") = std::vector<std::string>{}, py::kw_only(), py::arg("dns_name") = "",
           py::arg("port") = 7400, py::arg("timeout_ms") = 30000, py::arg("token") = "",
           py::arg("client_name") = "kvtier-python")
      .def_property_readonly("servers", &PyClusterClient::servers)
      .def("owner_of", &PyClusterClient::OwnerOf, py::arg("key"),
           "The \"host:port\" of the server that holds `key`.")
      .def("put", &PyClusterClient::Put, py::arg("ns"), py::arg("keys"), py::arg("values"),
           py::arg("ttls_ms") = std::vector<uint32_t>{})
      .def("get", &PyClusterClient::Get, py::arg("ns"), py::arg("keys"))
      .def("exists", &PyClusterClient::Exists, py::arg("ns"), py::arg("keys"))
      .def("delete", &PyClusterClient::Delete, py::arg("ns"), py::arg("keys"))
      .def("match", &PyClusterClient::Match, py::arg("ns"), py::arg("keys"))
      .def("close", &PyClusterClient::Close)
      .def_property_readonly("closed", &PyClusterClient::closed)
      .def("__enter__", [](py::object self) { return self; })
      .def("__exit__", [](PyClusterClient& self, py::handle, py::handle, py::handle) {
        self.Close();
        return false;
      });
  m.def(
      "prefix_block_keys",
      [](const std::vector<uint32_t>& tokens, size_t block_tokens, const std::string& seed,
         const std::string& hash) {
        if (block_tokens == 0) throw py::value_error("block_tokens must be > 0");
        std::vector<py::bytes> out;
        for (const std::string& key :
             PrefixBlockKeys(tokens, block_tokens, seed, ToChainHash(hash))) {
          out.emplace_back(key);
        }
        return out;
      },
      py::arg("tokens"), py::arg("block_tokens"), py::arg("seed"), py::arg("hash") = "xxh3",
      "kvtier's chained keys of every full block (docs/keys.md), as the C++ client makes them.");
  m.def(
      "content_key",
      [](const py::handle content) {
        const Buffer buffer = ToBuffer(content, /*writable=*/false);
        return py::bytes(HashKey(ContentHash(buffer.bytes())));
      },
      py::arg("content"), "The 16-byte content key of a KB chunk (XXH3-128 of its bytes).");
  m.def(
      "object_block_key",
      [](const std::string& object, uint64_t block_index, size_t max_key_bytes) {
        return py::bytes(Unwrap(ObjectBlockKey(object, block_index, max_key_bytes)));
      },
      py::arg("object"), py::arg("block_index"), py::arg("max_key_bytes") = 256,
      "The key of block `block_index` of a dataset object (docs/keys.md).");
  m.def(
      "model_seed",
      [](const std::string& model, const std::string& dtype, const std::string& layout,
         uint32_t tp_size, uint32_t tp_rank, const std::string& cache_salt) {
        return ModelIdentity{model, dtype, layout, tp_size}.Seed(tp_rank, cache_salt);
      },
      py::arg("model"), py::arg("dtype"), py::arg("layout"), py::arg("tp_size") = 1,
      py::arg("tp_rank") = 0, py::arg("cache_salt") = "",
      "The chain seed of a model identity, rank and salt (docs/keys.md).");
  m.def(
      "vllm_block_keys",
      [](const std::vector<uint32_t>& tokens, size_t block_size, const std::string& algo,
         const std::string& python_hash_seed, const std::string& lora_name,
         const std::string& cache_salt) {
        VllmHashOptions options;
        if (algo == "sha256_cbor") {
          options.algo = VllmHashAlgo::kSha256Cbor;
        } else if (algo == "xxhash_cbor") {
          options.algo = VllmHashAlgo::kXxhashCbor;
        } else {
          throw py::value_error("algo must be 'sha256_cbor' or 'xxhash_cbor'");
        }
        options.block_size = block_size;
        options.python_hash_seed = python_hash_seed;
        options.lora_name = lora_name;
        options.cache_salt = cache_salt;
        std::vector<py::bytes> out;
        for (const std::string& key : Unwrap(VllmBlockKeys(tokens, options))) out.emplace_back(key);
        return out;
      },
      py::arg("tokens"), py::arg("block_size") = 16, py::arg("algo") = "sha256_cbor",
      py::arg("python_hash_seed") = "0", py::arg("lora_name") = "", py::arg("cache_salt") = "",
      "vLLM's block hashes (--prefix-caching-hash-algo sha256_cbor or xxhash_cbor).");
  m.def(
      "sglang_page_keys",
      [](const std::vector<uint32_t>& tokens, size_t page_size) {
        return Unwrap(SglangPageKeys(tokens, page_size));
      },
      py::arg("tokens"), py::arg("page_size"), "SGLang HiCache page keys (hex strings).");

  // kvtier.KvtierFileSystem, registered with fsspec as "kvtier" when fsspec
  // is installed.
  py::object module_globals = m.attr("__dict__");
  py::exec(kFsspecSource, module_globals);

  // kvtier.aio (client/python/kvtier_aio.py): `import kvtier.aio` finds it
  // in sys.modules, as the extension is one module, not a package.
  py::module_ aio = m.def_submodule("aio", "kvtier for asyncio event loops");
  aio.attr("_kvtier") = m;
  const std::string_view aio_source = AioModuleSource();
  py::exec(py::str(aio_source.data(), aio_source.size()), aio.attr("__dict__"));
  py::module_::import("sys").attr("modules")["kvtier.aio"] = aio;
}
