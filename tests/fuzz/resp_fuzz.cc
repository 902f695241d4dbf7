// Fuzz target: a RESP client's byte stream, served by a real RespConnection
// (server/resp/) over a socket pair, with a real Service over a real DRAM
// tier behind it (state carries over between inputs, as on a long-lived
// server). The input is written to the connection, the writing side shut,
// and every reply read until the server closes. Nothing may crash, leak,
// hang or read out of bounds.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "protocol/asio.h"
#include "server/rate_limited_log.h"
#include "server/resp/resp_connection.h"
#include "tests/fuzz/fuzz_server.h"

namespace kvtier::server {
namespace {

// Small limits keep each input cheap.
constexpr std::string_view kConfig = R"(
server:
  name: fuzz
  resp_listen: 127.0.0.1:0
log:
  level: off
limits:
  max_metadata_bytes: 64KiB
  max_keys_per_request: 8
  max_key_bytes: 64
  max_value_bytes: 16KiB
  max_payload_bytes: 64KiB
tiers:
  dram:
    capacity: 4MiB
    shards: 4
  workers:
    threads: 1
namespaces:
  - name: kv
    kind: kv
  - name: kb
    kind: kb
  - name: data
    kind: dataset
)";

struct Server : FuzzServer {
  Server() : FuzzServer(kConfig) {}
  RateLimitedLog log{0};
};

void Serve(Server& server, std::string input) {
  ServeOverSocketPair(std::move(input), [&server](stream_socket socket) {
    return std::make_shared<resp::RespConnection>(std::move(socket), "fuzz", server.service,
                                                  server.stats, server.log, server.config.listener,
                                                  "kv", 1, nullptr);
  });
}

}  // namespace
}  // namespace kvtier::server

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto* server = new kvtier::server::Server();  // lives for the whole run
  kvtier::server::Serve(*server, std::string(reinterpret_cast<const char*>(data), size));
  return 0;
}
