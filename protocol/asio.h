#pragma once

// Boost 1.74's Asio uses std::exchange in its coroutine headers without
// including <utility>; include it first, always through this header.
#include <utility>

#include <boost/asio.hpp>

namespace kvtier {
namespace asio = boost::asio;
using tcp = boost::asio::ip::tcp;
}  // namespace kvtier
