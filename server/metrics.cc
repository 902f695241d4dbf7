#include "server/metrics.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <set>
#include <sstream>
#include <string_view>

#include "protocol/asio.h"
#include "server/server_stats.h"

// Beast after asio.h (which brings <utility> first).
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kvtier::server {
namespace {

namespace http = boost::beast::http;

// Counters that can go down: exported as gauges, the rest as counters.
bool IsGauge(std::string_view name) {
  static const std::set<std::string_view> kGauges = {"connections_active",
                                                     "worker_queued_jobs",
                                                     "leases_active",
                                                     "leased_bytes",
                                                     "demotion_queue_bytes",
                                                     "marked_for_upload",
                                                     "pending_uploads",
                                                     "spill_queue_bytes",
                                                     "disk_full",
                                                     "dram_bytes",
                                                     "nvme_bytes"};
  return kGauges.count(name) > 0;
}

// Label values are names from our config: escape what the format reserves.
std::string Escape(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out.push_back('\\');
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out.push_back(c);
  }
  return out;
}

// Writes one sample, with its HELP/TYPE header the first time `metric` is seen.
class Writer {
 public:
  void Sample(const std::string& metric, bool gauge, const std::string& labels, uint64_t value) {
    if (typed_.insert(metric).second) {
      out_ << "# TYPE " << metric << (gauge ? " gauge\n" : " counter\n");
    }
    out_ << metric;
    if (!labels.empty()) out_ << "{" << labels << "}";
    out_ << " " << value << "\n";
  }
  // A counter named by its source: kvtier_<prefix><name>[_total].
  void Named(const std::string& prefix, const std::string& name, const std::string& labels,
             uint64_t value) {
    const bool gauge = IsGauge(name);
    Sample("kvtier_" + prefix + name + (gauge ? "" : "_total"), gauge, labels, value);
  }
  // A histogram family; `scale` divides bounds and sum (microseconds to
  // seconds).
  template <typename H>
  void Histogram(const std::string& metric, const std::string& help, const std::string& labels,
                 const H& h, double scale) {
    if (typed_.insert(metric).second) {
      out_ << "# HELP " << metric << " " << help << "\n# TYPE " << metric << " histogram\n";
    }
    for (size_t i = 0; i < H::kBounds.size(); ++i) {
      out_ << metric << "_bucket{" << labels << ",le=\"" << H::kBounds[i] / scale << "\"} "
           << h.CumulativeAt(i) << "\n";
    }
    out_ << metric << "_bucket{" << labels << ",le=\"+Inf\"} " << h.count() << "\n";
    out_ << metric << "_sum{" << labels << "} " << h.sum() / scale << "\n";
    out_ << metric << "_count{" << labels << "} " << h.count() << "\n";
  }
  std::string str() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::set<std::string> typed_;
};

}  // namespace

std::string RenderPrometheus(const protocol::StatsResponse& stats, const ServerStats& server,
                             const std::vector<NamespaceHistograms>& namespaces) {
  Writer w;
  w.Sample("kvtier_uptime_seconds", true, "", stats.uptime_seconds);
  for (const auto& counter : stats.counters) {
    const std::string& name = counter.name;
    if (name.starts_with("requests_")) {
      w.Sample("kvtier_requests_total", false, "op=\"" + Escape(name.substr(9)) + "\"",
               counter.value);
    } else if (name.starts_with("bad_input_")) {
      w.Sample("kvtier_bad_input_total", false, "kind=\"" + Escape(name.substr(10)) + "\"",
               counter.value);
    } else {
      w.Named("", name, "", counter.value);
    }
  }
  for (const auto& tier : stats.tiers) {
    const std::string labels = "tier=\"" + Escape(tier.name) + "\"";
    w.Sample("kvtier_tier_capacity_bytes", true, labels, tier.capacity_bytes);
    w.Sample("kvtier_tier_used_bytes", true, labels, tier.used_bytes);
    w.Sample("kvtier_tier_items", true, labels, tier.items);
    for (const auto& counter : tier.counters) w.Named("tier_", counter.name, labels, counter.value);
  }
  for (const auto& ns : stats.namespaces) {
    const std::string labels = "namespace=\"" + Escape(ns.name) + "\"";
    for (const auto& counter : ns.counters) {
      w.Named("namespace_", counter.name, labels, counter.value);
    }
  }
  for (uint8_t op = 1; op < server.service_latency.size(); ++op) {
    if (!protocol::IsKnownOpcode(op)) continue;
    const std::string name(protocol::OpcodeName(static_cast<protocol::Opcode>(op)));
    const std::string help =
        "request latency: service (received to reply queued) and transfer (reply write)";
    w.Histogram("kvtier_request_seconds", help, "op=\"" + name + "\",phase=\"service\"",
                server.service_latency[op], 1e6);
    w.Histogram("kvtier_request_seconds", help, "op=\"" + name + "\",phase=\"transfer\"",
                server.transfer_latency[op], 1e6);
  }
  for (const NamespaceHistograms& ns : namespaces) {
    if (ns.match_depth == nullptr) continue;
    w.Histogram("kvtier_match_depth_blocks", "leading blocks MatchPrefix found",
                "namespace=\"" + Escape(ns.name) + "\"", *ns.match_depth, 1.0);
  }
  return w.str();
}

struct MetricsServer::State {
  asio::io_context io;
  tcp::acceptor acceptor{io};
  std::atomic<bool> stopping{false};
};

MetricsServer::MetricsServer(std::function<std::string()> render, std::function<bool()> ready)
    : render_(std::move(render)), ready_(std::move(ready)), state_(std::make_unique<State>()) {}

MetricsServer::~MetricsServer() { Stop(); }

Status MetricsServer::Start(const std::string& host, uint16_t port) {
  const std::string where = host + ":" + std::to_string(port);
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host, ec);
  if (ec) return InvalidArgument("server.metrics_listen: '" + host + "' is not an IP address");
  const tcp::endpoint endpoint(address, port);
  tcp::acceptor& acceptor = state_->acceptor;
  if (acceptor.open(endpoint.protocol(), ec); ec) {
    return IoError("cannot open a socket for metrics on " + where + ": " + ec.message());
  }
  acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (acceptor.bind(endpoint, ec); ec) {
    return IoError("cannot bind metrics on " + where + ": " + ec.message());
  }
  if (acceptor.listen(16, ec); ec) {
    return IoError("cannot listen for metrics on " + where + ": " + ec.message());
  }
  port_ = acceptor.local_endpoint().port();
  thread_ = std::thread([this] { Serve(); });
  return Status::Ok();
}

void MetricsServer::Stop() {
  if (!thread_.joinable()) return;
  state_->stopping = true;
  // Wakes the blocking accept (Linux fails it with EINVAL).
  ::shutdown(state_->acceptor.native_handle(), SHUT_RDWR);
  thread_.join();
  boost::system::error_code ec;
  state_->acceptor.close(ec);
}

void MetricsServer::Serve() {
  while (!state_->stopping.load()) {
    tcp::socket socket(state_->io);
    boost::system::error_code ec;
    state_->acceptor.accept(socket, ec);
    if (ec) {
      if (state_->stopping.load()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));  // e.g. out of descriptors
      continue;
    }
    // Asynchronous operations with a deadline, run to completion here: the
    // stream's timer bounds a peer that sends or reads slowly.
    boost::beast::tcp_stream stream(std::move(socket));
    stream.expires_after(std::chrono::seconds(2));
    boost::beast::flat_buffer buffer(8192);
    http::request_parser<http::empty_body> parser;
    parser.header_limit(8192);
    http::async_read(stream, buffer, parser,
                     [&ec](boost::system::error_code read_ec, size_t) { ec = read_ec; });
    state_->io.restart();
    state_->io.run();
    if (ec) continue;  // bad or slow request: drop it
    const auto& request = parser.get();
    http::response<http::string_body> response;
    response.version(request.version());
    response.keep_alive(false);
    response.set(http::field::content_type, "text/plain; charset=utf-8");
    const std::string_view target(request.target().data(), request.target().size());
    if (request.method() != http::verb::get) {
      response.result(http::status::method_not_allowed);
      response.body() = "GET only\n";
    } else if (target == "/metrics") {
      response.result(http::status::ok);
      response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      response.body() = render_();
    } else if (target == "/healthz") {
      response.result(http::status::ok);
      response.body() = "ok\n";
    } else if (target == "/readyz") {
      const bool ready = ready_();
      response.result(ready ? http::status::ok : http::status::service_unavailable);
      response.body() = ready ? "ready\n" : "not ready\n";
    } else {
      response.result(http::status::not_found);
      response.body() = "not found; try /metrics, /healthz or /readyz\n";
    }
    response.prepare_payload();
    stream.expires_after(std::chrono::seconds(2));
    http::async_write(stream, response,
                      [&ec](boost::system::error_code write_ec, size_t) { ec = write_ec; });
    state_->io.restart();
    state_->io.run();
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  }
}

}  // namespace kvtier::server
