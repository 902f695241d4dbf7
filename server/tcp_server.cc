#include "server/tcp_server.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>

namespace kvtier::server {

TcpServer::TcpServer(const ListenerConfig& config, Service& service, ServerStats& stats)
    : config_(config), service_(service), stats_(stats) {
  for (uint32_t i = 0; i < config_.io_threads; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    work_.push_back(asio::make_work_guard(*contexts_.back()));
  }
}

TcpServer::~TcpServer() { Stop(std::chrono::milliseconds(0)); }

namespace {

Result<std::unique_ptr<tcp::acceptor>> OpenTcpAcceptor(asio::io_context& context,
                                                       const std::string& option,
                                                       const std::string& host, uint16_t port) {
  const std::string where = host + ":" + std::to_string(port);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return InvalidArgument(option + ": '" + host + "' is not an IP address");
  auto acceptor = std::make_unique<tcp::acceptor>(context);
  const tcp::endpoint endpoint(address, port);
  if (acceptor->open(endpoint.protocol(), ec); ec) {
    return IoError("cannot open a socket for " + where + ": " + ec.message());
  }
  acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (acceptor->bind(endpoint, ec); ec) {
    return IoError("cannot bind " + where + ": " + ec.message());
  }
  if (acceptor->listen(asio::socket_base::max_listen_connections, ec); ec) {
    return IoError("cannot listen on " + where + ": " + ec.message());
  }
  return acceptor;
}

}  // namespace

Status TcpServer::Start() {
  if (!config_.tls.only) {
    KVTIER_ASSIGN_OR_RETURN(
        acceptor_, OpenTcpAcceptor(*contexts_[0], "server.listen", config_.host, config_.port));
    port_ = acceptor_->local_endpoint().port();
  }
  if (config_.tls.enabled) {
    const TlsListenerConfig& tls = config_.tls;
    KVTIER_ASSIGN_OR_RETURN(tls_context_, protocol::MakeServerTlsContext(
                                              {tls.cert_file, tls.key_file, tls.client_ca_file}));
    KVTIER_ASSIGN_OR_RETURN(
        tls_acceptor_, OpenTcpAcceptor(*contexts_[0], "server.tls.listen", tls.host, tls.port));
    tls_port_ = tls_acceptor_->local_endpoint().port();
    spdlog::info("TLS on {}:{}{}", tls.host, tls_port_,
                 tls.client_ca_file.empty() ? "" : ", client certificates required");
  }
  if (!config_.unix_socket.empty()) KVTIER_RETURN_IF_ERROR(StartUnix());
  if (config_.resp.enabled) {
    KVTIER_ASSIGN_OR_RETURN(resp_acceptor_, OpenTcpAcceptor(*contexts_[0], "server.resp_listen",
                                                            config_.resp.host, config_.resp.port));
    resp_port_ = resp_acceptor_->local_endpoint().port();
    resp_namespace_ = config_.resp.namespace_name;
    if (resp_namespace_.empty()) resp_namespace_ = service_.FirstKeyValueNamespace();
    spdlog::info("RESP on {}:{}, namespace '{}'", config_.resp.host, resp_port_, resp_namespace_);
  }
  if (config_.blob.enabled) {
    if (blob_endpoint_ == nullptr) return Internal("server.blob_listen set without its routes");
    KVTIER_ASSIGN_OR_RETURN(blob_acceptor_, OpenTcpAcceptor(*contexts_[0], "server.blob_listen",
                                                            config_.blob.host, config_.blob.port));
    blob_port_ = blob_acceptor_->local_endpoint().port();
    std::string containers;
    for (const std::string& name : blob_endpoint_->routes.Containers()) {
      containers += (containers.empty() ? "" : ", ") + name;
    }
    spdlog::info("Blob-compatible endpoint on http://{}:{}/{} (containers: {})", config_.blob.host,
                 blob_port_, blob_endpoint_->authorizer.account(), containers);
  }
  if (acceptor_) asio::co_spawn(*contexts_[0], AcceptLoop(*acceptor_, nullptr), asio::detached);
  if (tls_acceptor_) {
    asio::co_spawn(*contexts_[0], AcceptLoop(*tls_acceptor_, tls_context_.get()), asio::detached);
  }
  if (unix_acceptor_) asio::co_spawn(*contexts_[0], AcceptUnixLoop(), asio::detached);
  if (resp_acceptor_) {
    asio::co_spawn(*contexts_[0], AcceptLoop(*resp_acceptor_, nullptr, Face::kResp),
                   asio::detached);
  }
  if (blob_acceptor_) {
    asio::co_spawn(*contexts_[0], AcceptLoop(*blob_acceptor_, nullptr, Face::kBlob),
                   asio::detached);
  }
  for (auto& context : contexts_) {
    threads_.emplace_back([ctx = context.get()] { ctx->run(); });
  }
  return Status::Ok();
}

Status TcpServer::StartUnix() {
  const std::string& path = config_.unix_socket;
  std::error_code fs_error;
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent, fs_error);
  if (std::filesystem::is_socket(path, fs_error)) {
    std::filesystem::remove(path, fs_error);  // left by a server that did not stop cleanly
  }
  boost::system::error_code ec;
  unix_acceptor_ = std::make_unique<local_stream::acceptor>(*contexts_[0]);
  const local_stream::endpoint endpoint(path);
  if (unix_acceptor_->open(endpoint.protocol(), ec); ec) {
    return IoError("cannot open a Unix socket for " + path + ": " + ec.message());
  }
  if (unix_acceptor_->bind(endpoint, ec); ec) {
    return IoError("cannot bind Unix socket " + path + ": " + ec.message());
  }
  if (unix_acceptor_->listen(asio::socket_base::max_listen_connections, ec); ec) {
    return IoError("cannot listen on Unix socket " + path + ": " + ec.message());
  }
  return Status::Ok();
}

asio::io_context& TcpServer::NextContext() {
  return *contexts_[next_context_++ % contexts_.size()];
}

asio::awaitable<void> TcpServer::AcceptUnixLoop() {
  while (unix_acceptor_->is_open()) {
    boost::system::error_code ec;
    local_stream::socket socket = co_await unix_acceptor_->async_accept(
        NextContext(), asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !unix_acceptor_->is_open()) break;
      spdlog::warn("accept on the Unix socket failed: {}", ec.message());
      asio::steady_timer pause(unix_acceptor_->get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    // The peer's process id, for logs.
    ucred credentials{};
    socklen_t length = sizeof(credentials);
    std::string peer = "unix";
    if (::getsockopt(socket.native_handle(), SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0) {
      peer = "unix:pid" + std::to_string(credentials.pid);
    }
    Admit(stream_socket(std::move(socket)), /*local=*/true, std::move(peer));
  }
}

asio::awaitable<void> TcpServer::AcceptLoop(tcp::acceptor& acceptor, protocol::TlsContext* tls,
                                            Face face) {
  while (acceptor.is_open()) {
    asio::io_context& target = NextContext();
    boost::system::error_code ec;
    tcp::socket socket =
        co_await acceptor.async_accept(target, asio::redirect_error(asio::use_awaitable, ec));
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor.is_open()) break;
      // Out of file descriptors and the like: back off briefly, keep serving.
      spdlog::warn("accept failed: {}", ec.message());
      asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::redirect_error(asio::use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    const auto remote = socket.remote_endpoint(ec);
    std::string peer =
        ec ? "unknown-peer" : remote.address().to_string() + ":" + std::to_string(remote.port());
    if (face == Face::kResp) {
      AdmitResp(stream_socket(std::move(socket)), std::move(peer));
    } else if (face == Face::kBlob) {
      AdmitBlob(stream_socket(std::move(socket)), std::move(peer));
    } else {
      Admit(stream_socket(std::move(socket)), /*local=*/false, std::move(peer), tls);
    }
  }
}

void TcpServer::AdmitResp(stream_socket socket, std::string peer) {
  if (stats_.connections_active.load(std::memory_order_relaxed) >= config_.max_connections) {
    stats_.connections_refused.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("refusing a RESP connection: connection limit of {} reached",
                 config_.max_connections);
    // Redis's own answer at maxclients, then close.
    RefuseWith(std::move(socket), "-ERR max number of clients reached\r\n");
    return;
  }
  stats_.connections_accepted.fetch_add(1, std::memory_order_relaxed);
  auto connection = std::make_shared<resp::RespConnection>(
      std::move(socket), std::move(peer), service_, stats_, log_, config_, resp_namespace_,
      next_resp_id_.fetch_add(1), [this](Session* closed) {
        std::lock_guard lock(connections_mu_);
        connections_.erase(closed);
      });
  Register(connection);
  connection->Start();
}

void TcpServer::AdmitBlob(stream_socket socket, std::string peer) {
  if (stats_.connections_active.load(std::memory_order_relaxed) >= config_.max_connections) {
    stats_.connections_refused.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("refusing a Blob endpoint connection: connection limit of {} reached",
                 config_.max_connections);
    // Azure's answer when busy (clients retry it), then close.
    RefuseWith(std::move(socket),
               "HTTP/1.1 503 Service Unavailable\r\nServer: kvtier\r\n"
               "x-ms-error-code: ServerBusy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    return;
  }
  stats_.connections_accepted.fetch_add(1, std::memory_order_relaxed);
  auto connection = std::make_shared<blob_endpoint::BlobConnection>(
      std::move(socket), std::move(peer), service_, stats_, log_, config_, *blob_endpoint_,
      [this](Session* closed) {
        std::lock_guard lock(connections_mu_);
        connections_.erase(closed);
      });
  Register(connection);
  connection->Start();
}

void TcpServer::Register(const std::shared_ptr<Session>& session) {
  std::lock_guard lock(connections_mu_);
  connections_.emplace(session.get(), session);
}

void TcpServer::Admit(stream_socket socket, bool local, std::string peer,
                      protocol::TlsContext* tls) {
  if (stats_.connections_active.load(std::memory_order_relaxed) >= config_.max_connections) {
    stats_.connections_refused.fetch_add(1, std::memory_order_relaxed);
    if (tls != nullptr) {
      // A plaintext error frame means nothing to a TLS client, and a
      // handshake would spend what the limit protects: just close.
      spdlog::warn("refusing a TLS connection: connection limit of {} reached",
                   config_.max_connections);
      boost::system::error_code ec;
      socket.close(ec);
      return;
    }
    const auto executor = socket.get_executor();
    asio::co_spawn(executor, Refuse(std::move(socket)), asio::detached);
    return;
  }
  stats_.connections_accepted.fetch_add(1, std::memory_order_relaxed);
  auto connection =
      std::make_shared<Connection>(std::move(socket), local, std::move(peer), service_, stats_,
                                   log_, config_, tls, rdma_host_, [this](Session* closed) {
                                     std::lock_guard lock(connections_mu_);
                                     connections_.erase(closed);
                                   });
  Register(connection);
  connection->Start();
}

void TcpServer::RefuseWith(stream_socket socket, std::string_view answer) {
  // Written asynchronously, as the network thread never blocks.
  const auto executor = socket.get_executor();
  asio::co_spawn(
      executor,
      [](stream_socket refused, std::string_view text) -> asio::awaitable<void> {
        boost::system::error_code ec;
        co_await asio::async_write(refused, asio::buffer(text),
                                   asio::redirect_error(asio::use_awaitable, ec));
        refused.shutdown(asio::socket_base::shutdown_both, ec);
        refused.close(ec);
      }(std::move(socket), answer),
      asio::detached);
}

asio::awaitable<void> TcpServer::Refuse(stream_socket socket) {
  const Status status =
      ResourceExhausted("connection limit of " + std::to_string(config_.max_connections) +
                        " reached; try again later");
  spdlog::warn("refusing a connection: {}", status.message());
  const protocol::Metadata metadata = protocol::EncodeErrorReply(status);
  protocol::FrameHeader header;
  header.flags = protocol::frame_flags::kResponse | protocol::frame_flags::kError;
  header.metadata_length = static_cast<uint32_t>(metadata.bytes().size());
  const auto header_bytes = protocol::EncodeFrameHeader(header);
  std::array<asio::const_buffer, 2> buffers = {
      asio::buffer(header_bytes), asio::buffer(metadata.bytes().data(), metadata.bytes().size())};
  boost::system::error_code ec;
  co_await asio::async_write(socket, buffers, asio::redirect_error(asio::use_awaitable, ec));
  socket.shutdown(asio::socket_base::shutdown_both, ec);
  socket.close(ec);
}

void TcpServer::Stop(std::chrono::milliseconds drain_timeout) {
  if (stopped_ || contexts_.empty()) return;
  stopped_ = true;
  asio::post(*contexts_[0], [this] {
    boost::system::error_code ec;
    if (acceptor_) acceptor_->close(ec);
    if (tls_acceptor_) tls_acceptor_->close(ec);
    if (unix_acceptor_) unix_acceptor_->close(ec);
    if (resp_acceptor_) resp_acceptor_->close(ec);
    if (blob_acceptor_) blob_acceptor_->close(ec);
  });
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(connections_mu_);
    for (auto& [raw, weak] : connections_) {
      if (auto connection = weak.lock()) live.push_back(std::move(connection));
    }
  }
  // Outside the lock: dropping the last reference runs ~Connection, which
  // takes connections_mu_ to unregister.
  for (auto& connection : live) connection->Drain();
  live.clear();
  const auto deadline = std::chrono::steady_clock::now() + drain_timeout;
  while (stats_.connections_active.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (stats_.connections_active.load() > 0) {
    spdlog::warn("{} connections still busy after the drain timeout; cutting them",
                 stats_.connections_active.load());
  }
  // Worker jobs still queued finish now and post their replies while the
  // event loops run; after this nothing posts to them.
  service_.StopWorkers();
  work_.clear();
  for (auto& context : contexts_) context->stop();
  for (auto& thread : threads_) thread.join();
  threads_.clear();
  acceptor_.reset();
  tls_acceptor_.reset();
  resp_acceptor_.reset();
  blob_acceptor_.reset();
  if (unix_acceptor_) {
    unix_acceptor_.reset();
    ::unlink(config_.unix_socket.c_str());
  }
  // Destroying the contexts destroys any coroutine still suspended, which
  // releases its connection and the block pins it held.
  contexts_.clear();
}

}  // namespace kvtier::server
