#pragma once

// The listeners: N io_context threads, a TCP acceptor and, when configured,
// a TLS acceptor (TLS over TCP, beside the plaintext one or instead of it),
// a Unix-socket acceptor (the shared-memory transport) and a RESP acceptor
// (server/resp/) and a Blob-compatible HTTP acceptor (server/blob_endpoint/),
// and the registry of live connections of every kind used
// for the connection limit and for draining on stop.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "protocol/asio.h"
#include "protocol/tls.h"
#include "server/blob_endpoint/blob_connection.h"
#include "server/config.h"
#include "server/connection.h"
#include "server/rate_limited_log.h"
#include "server/rdma_session.h"
#include "server/resp/resp_connection.h"
#include "server/server_stats.h"
#include "server/service.h"

namespace kvtier::server {

class TcpServer {
 public:
  TcpServer(const ListenerConfig& config, Service& service, ServerStats& stats);
  ~TcpServer();
  TcpServer(const TcpServer&) = delete;
  TcpServer& operator=(const TcpServer&) = delete;

  // Binds, listens and starts the I/O threads. Errors: kIoError naming the
  // address (or socket path) when it cannot be bound; kInvalidArgument for
  // TLS files that cannot be loaded. A stale socket file at the Unix path is
  // replaced.
  Status Start();

  // Connections whose Hello asks for RDMA get queue pairs from `host`
  // (outliving this server); without one they hear the Service's refusal.
  // Call before Start.
  void SetRdmaHost(RdmaHost* host) { rdma_host_ = host; }
  // The routes and credentials of the Blob-compatible endpoint (outliving
  // this server); needed when config.blob is enabled. Call before Start.
  void SetBlobEndpoint(const blob_endpoint::BlobEndpoint* endpoint) { blob_endpoint_ = endpoint; }

  // The bound ports (useful with port 0); 0 for a listener not opened.
  // Valid after Start.
  uint16_t port() const { return port_; }
  uint16_t tls_port() const { return tls_port_; }
  uint16_t resp_port() const { return resp_port_; }
  uint16_t blob_port() const { return blob_port_; }

  // Stops accepting, lets every connection finish the requests it has
  // received and send their replies, then stops the threads. Connections
  // still busy after `drain_timeout` are cut. Call from a non-I/O thread.
  void Stop(std::chrono::milliseconds drain_timeout);

 private:
  Status StartUnix();
  // `tls`: the context of a TLS listener, else null.
  enum class Face { kNative, kResp, kBlob };
  asio::awaitable<void> AcceptLoop(tcp::acceptor& acceptor, protocol::TlsContext* tls,
                                   Face face = Face::kNative);
  asio::awaitable<void> AcceptUnixLoop();
  // Registers and starts a connection, or refuses it past the limit.
  void Admit(stream_socket socket, bool local, std::string peer,
             protocol::TlsContext* tls = nullptr);
  void AdmitResp(stream_socket socket, std::string peer);
  void AdmitBlob(stream_socket socket, std::string peer);
  void Register(const std::shared_ptr<Session>& session);
  asio::awaitable<void> Refuse(stream_socket socket);
  // Writes `answer` (static text) to a refused connection, then closes it.
  static void RefuseWith(stream_socket socket, std::string_view answer);
  asio::io_context& NextContext();

  const ListenerConfig config_;
  Service& service_;
  ServerStats& stats_;
  RateLimitedLog log_;
  RdmaHost* rdma_host_ = nullptr;

  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> work_;
  std::vector<std::thread> threads_;
  std::unique_ptr<tcp::acceptor> acceptor_;
  std::unique_ptr<local_stream::acceptor> unix_acceptor_;
  std::unique_ptr<protocol::TlsContext> tls_context_;
  std::unique_ptr<tcp::acceptor> tls_acceptor_;
  uint16_t port_ = 0;
  uint16_t tls_port_ = 0;
  std::unique_ptr<tcp::acceptor> resp_acceptor_;
  uint16_t resp_port_ = 0;
  std::string resp_namespace_;  // what RESP connections address until SELECT
  std::atomic<uint64_t> next_resp_id_{1};
  const blob_endpoint::BlobEndpoint* blob_endpoint_ = nullptr;
  std::unique_ptr<tcp::acceptor> blob_acceptor_;
  uint16_t blob_port_ = 0;
  size_t next_context_ = 0;
  bool stopped_ = false;

  std::mutex connections_mu_;
  std::unordered_map<Session*, std::weak_ptr<Session>> connections_;
};

}  // namespace kvtier::server
