// Fuzz target: an HTTP client's byte stream to the Blob-compatible endpoint,
// served by a real BlobConnection (server/blob_endpoint/) over a socket
// pair, with a real Service over a real DRAM tier behind it and a dataset
// namespace whose objects and blocks come from memory (state carries over
// between inputs, as on a long-lived server). The input is written, the
// writing side shut, and every answer read until the server closes.
// Nothing may crash, leak, hang or read out of bounds.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

#include "common/checksum.h"
#include "common/keys.h"
#include "protocol/asio.h"
#include "server/blob_endpoint/blob_connection.h"
#include "server/rate_limited_log.h"
#include "tests/fuzz/fuzz_server.h"
#include "tiers/block.h"
#include "tiers/block_source.h"
#include "tiers/object_listing.h"

namespace kvtier::server {
namespace {

constexpr std::string_view kConfig = R"(
server:
  name: fuzz
log:
  level: off
limits:
  max_metadata_bytes: 64KiB
  max_keys_per_request: 8
  max_key_bytes: 256
  max_value_bytes: 4KiB
  max_payload_bytes: 8KiB
tiers:
  dram:
    capacity: 4MiB
    shards: 4
  workers:
    threads: 1
namespaces:
  - name: kv
    kind: kv
  - name: data
    kind: dataset
)";

constexpr uint64_t kBlockBytes = 1024;

// A dataset's objects and blocks, in memory: the bytes of object O at
// offset i are (i * 7 + O's length) mod 251.
struct MemoryOrigin : tiers::ObjectCatalog, tiers::BlockSource {
  MemoryOrigin() {
    for (auto [path, size] : {std::pair<const char*, uint64_t>{"a.bin", 9000},
                              {"dir/b.bin", 100},
                              {"dir/sub/c.bin", 2048},
                              {"empty", 0},
                              {"sub/x", 10}}) {
      objects[path] = tiers::ObjectInfo{path, size, "\"0x1\"", 1'700'000'000'000, kBlockBytes};
    }
  }
  Result<tiers::ObjectListing> List(const tiers::ListQuery& query) override {
    return tiers::ListPage(objects, query);
  }
  Result<tiers::ObjectInfo> Stat(const std::string& path) override {
    auto it = objects.find(path);
    if (it == objects.end()) return NotFound("no object " + path);
    return it->second;
  }
  Result<tiers::BlockHandle> Fetch(const tiers::BlockKey& key) override {
    auto parsed = ParseObjectBlockKey(key.key);
    if (!parsed.ok()) return InvalidArgument("not a block key");
    auto it = objects.find(parsed->first);
    if (it == objects.end()) return NotFound("no object");
    const uint64_t offset = parsed->second * kBlockBytes;
    if (offset >= it->second.size) return NotFound("past the end");
    const uint64_t length = std::min(kBlockBytes, it->second.size - offset);
    tiers::WritableBlock block = tiers::HeapBlockAllocator::Instance().Allocate(length);
    for (uint64_t i = 0; i < length; ++i) {
      block.mutable_bytes()[i] =
          static_cast<std::byte>(((offset + i) * 7 + parsed->first.size()) % 251);
    }
    const uint64_t checksum = BlockChecksum(block.mutable_bytes());
    return std::move(block).Seal(checksum);
  }
  tiers::TierStats Stats() const override { return {}; }
  tiers::ObjectMap objects;
};

struct Origin {
  MemoryOrigin origin;
};

struct Server : Origin, FuzzServer {
  Server()
      : FuzzServer(kConfig, {NamespaceSources{}, NamespaceSources{&origin, &origin}}),
        endpoint{blob_endpoint::BlobRoutes(
                     {{"data", "", "data"}, {"data", "sub/", "data"}, {"keys", "k/", "kv"}}),
                 blob_endpoint::BlobAuthorizer(
                     "devstoreaccount1",
                     "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
                     "K1SZFPTOtr/KBHBeksoGMGw==",
                     service.authenticator()),
                 0} {}
  RateLimitedLog log{0};
  blob_endpoint::BlobEndpoint endpoint;
};

void Serve(Server& server, std::string input) {
  ServeOverSocketPair(std::move(input), [&server](stream_socket socket) {
    return std::make_shared<blob_endpoint::BlobConnection>(
        std::move(socket), "fuzz", server.service, server.stats, server.log, server.config.listener,
        server.endpoint, nullptr);
  });
}

}  // namespace
}  // namespace kvtier::server

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* server = new kvtier::server::Server();  // lives for the whole run
  kvtier::server::Serve(*server, std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
