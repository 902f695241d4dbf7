#pragma once

// Boost 1.74's Asio uses std::exchange in its coroutine headers without
// including <utility>; include it first, always through this header.
#include <utility>

#include <boost/asio.hpp>

namespace kvtier {
namespace asio = boost::asio;
using tcp = boost::asio::ip::tcp;
using local_stream = boost::asio::local::stream_protocol;
// One socket type for TCP and Unix-socket connections.
using stream_socket = boost::asio::generic::stream_protocol::socket;
}  // namespace kvtier
