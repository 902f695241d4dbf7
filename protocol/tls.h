#pragma once

// TLS for TCP connections, on Asio SSL (OpenSSL): the contexts the server's
// TLS listener and the client build from certificate files, and ByteStream,
// the byte stream a connection reads and writes (the socket itself, or TLS
// over it). TLS 1.2 is the lowest version either side speaks.

// Before any Asio header: it brings <utility> first.
#include "protocol/asio.h"

#include <boost/asio/ssl.hpp>
#include <memory>
#include <optional>
#include <string>

#include "common/result.h"

namespace kvtier::protocol {

using TlsContext = asio::ssl::context;

// The server's certificate chain and key (PEM). With `client_ca_file` set,
// every client must present a certificate that CA signed (mutual TLS).
struct TlsServerFiles {
  std::string cert_file;
  std::string key_file;
  std::string client_ca_file;
};

// Errors: kInvalidArgument naming the file and OpenSSL's reason (missing,
// unreadable, not PEM, key not matching the certificate).
Result<std::unique_ptr<TlsContext>> MakeServerTlsContext(const TlsServerFiles& files);

// What a client trusts and, for mutual TLS, presents. An empty `ca_file`
// trusts the system's CA store.
struct TlsClientFiles {
  std::string ca_file;
  std::string cert_file;  // both or neither
  std::string key_file;
};

// Errors as MakeServerTlsContext.
Result<std::unique_ptr<TlsContext>> MakeClientTlsContext(const TlsClientFiles& files);

// OpenSSL's reason for the last failure on this thread, or `ec`'s message.
std::string TlsErrorText(const boost::system::error_code& ec);

// A connection's byte stream: its socket, or TLS over that socket once
// UseTls is called (before any byte moves). It meets Asio's AsyncReadStream
// and AsyncWriteStream, so asio::async_read and async_write work on it. One
// read and one write may be in flight at once, from the socket's thread
// only. The socket stays the owner's, for shutdown, close and descriptor
// passing.
class ByteStream {
 public:
  using executor_type = stream_socket::executor_type;

  explicit ByteStream(stream_socket& socket) : socket_(socket) {}

  void UseTls(TlsContext& context) { tls_.emplace(socket_, context); }
  bool tls() const { return tls_.has_value(); }
  // The TLS layer, for the handshake and peer checks; null without TLS.
  asio::ssl::stream<stream_socket&>* tls_stream() { return tls_ ? &*tls_ : nullptr; }

  executor_type get_executor() { return socket_.get_executor(); }

  template <typename MutableBuffers, typename Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler, const MutableBuffers& buffers) {
          if (tls_) {
            tls_->async_read_some(buffers, std::move(handler));
          } else {
            socket_.async_read_some(buffers, std::move(handler));
          }
        },
        token, buffers);
  }

  template <typename ConstBuffers, typename Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return asio::async_initiate<Token, void(boost::system::error_code, size_t)>(
        [this](auto handler, const ConstBuffers& buffers) {
          if (tls_) {
            tls_->async_write_some(buffers, std::move(handler));
          } else {
            socket_.async_write_some(buffers, std::move(handler));
          }
        },
        token, buffers);
  }

 private:
  stream_socket& socket_;
  std::optional<asio::ssl::stream<stream_socket&>> tls_;
};

// Why the handshake on `tls` failed: TlsErrorText, with the certificate
// check's own reason when that failed ("hostname mismatch", ...).
std::string TlsHandshakeErrorText(asio::ssl::stream<stream_socket&>& tls,
                                  const boost::system::error_code& ec);

// Whether `ec`, from a read, is the peer's TLS alert refusing this side's
// certificate (or its absence). Over TLS 1.3 a server checks the client's
// certificate after the client's handshake is done, so a client learns of
// the refusal on its first read.
bool IsCertificateRefusal(const boost::system::error_code& ec);

// Client side, before the handshake: sends `server_name` as SNI and makes
// the handshake fail unless the server's certificate names it (a DNS name,
// or an IP address when it parses as one).
Status ExpectServerName(asio::ssl::stream<stream_socket&>& tls, const std::string& server_name);

}  // namespace kvtier::protocol
