#pragma once

// What the service, resp and blob_http fuzz targets run against: a real Service over
// a real DRAM tier, from a config of small limits. Built once per process,
// so state carries over between inputs, as on a long-lived server.

#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/asio.h"
#include "server/config.h"
#include "server/server_stats.h"
#include "server/service.h"
#include "tiers/dram/dram_tier.h"
#include "tiers/tier_stack.h"

namespace kvtier::server {

inline void FuzzCheck(bool condition) {
  if (!condition) std::abort();
}

struct FuzzServer {
  // `sources[i]` serves the config's namespace i (they must outlive this).
  explicit FuzzServer(std::string_view config_yaml,
                      const std::vector<NamespaceSources>& sources = {})
      : config(Load(config_yaml)),
        dram(config.dram),
        stack(dram, nullptr, config.stack),
        service(config, stack, stats, sources) {}
  static ServerConfig Load(std::string_view config_yaml) {
    auto config = ParseConfig(config_yaml);
    FuzzCheck(config.ok() && config->Validate().ok());
    return *config;
  }
  ServerConfig config;
  tiers::DramTier dram;
  tiers::TierStack stack;
  ServerStats stats;
  Service service;
};

// The client side of a stream target: writes `input`, shuts the writing
// side, and reads every answer until the server closes.
inline asio::awaitable<void> WriteThenReadAll(local_stream::socket socket, std::string input) {
  boost::system::error_code ec;
  co_await asio::async_write(socket, asio::buffer(input),
                             asio::redirect_error(asio::use_awaitable, ec));
  socket.shutdown(asio::socket_base::shutdown_send, ec);
  std::string answers(16384, '\0');
  while (!ec) {
    co_await socket.async_read_some(asio::buffer(answers),
                                    asio::redirect_error(asio::use_awaitable, ec));
  }
}

// Serves `input` with the connection `make(socket)` returns (a RESP or Blob
// endpoint connection) over a socket pair, until it closes: a stream that
// makes the connection hang or spin never returns (libFuzzer's timeout).
template <typename MakeConnection>
void ServeOverSocketPair(std::string input, MakeConnection make) {
  asio::io_context context(1);
  local_stream::socket server_end(context);
  local_stream::socket client_end(context);
  asio::local::connect_pair(server_end, client_end);
  auto connection = make(stream_socket(std::move(server_end)));
  connection->Start();
  connection.reset();  // the coroutines hold it until they end
  asio::co_spawn(context, WriteThenReadAll(std::move(client_end), std::move(input)),
                 asio::detached);
  context.run();  // returns once the client read the server's close
}

}  // namespace kvtier::server
