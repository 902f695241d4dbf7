#include "protocol/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

namespace kvtier::protocol {
namespace {

// OpenSSL's queued reason for the last failure, drained; "" when none.
std::string TakeOpenSslErrors() {
  std::string text;
  while (const unsigned long code = ERR_get_error()) {
    char buffer[256];
    ERR_error_string_n(code, buffer, sizeof buffer);
    if (!text.empty()) text += "; ";
    text += buffer;
  }
  return text;
}

Status FileError(const std::string& what, const std::string& path,
                 const boost::system::error_code& ec) {
  std::string reason = TakeOpenSslErrors();
  if (reason.empty()) reason = ec.message();
  return InvalidArgument("TLS " + what + " '" + path + "': " + reason);
}

// TLS 1.2 and later only; no compression, no renegotiation.
Status Harden(TlsContext& context) {
  context.set_options(TlsContext::default_workarounds | TlsContext::no_compression |
                      TlsContext::single_dh_use);
  SSL_CTX* native = context.native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    return Internal("TLS: cannot require TLS 1.2: " + TakeOpenSslErrors());
  }
  SSL_CTX_set_options(native, SSL_OP_NO_RENEGOTIATION);
  return Status::Ok();
}

Status LoadChainAndKey(TlsContext& context, const std::string& cert_file,
                       const std::string& key_file) {
  boost::system::error_code ec;
  if (context.use_certificate_chain_file(cert_file, ec); ec) {
    return FileError("certificate", cert_file, ec);
  }
  if (context.use_private_key_file(key_file, TlsContext::pem, ec); ec) {
    return FileError("private key", key_file, ec);
  }
  if (SSL_CTX_check_private_key(context.native_handle()) != 1) {
    return InvalidArgument("TLS private key '" + key_file + "' does not match certificate '" +
                           cert_file + "'");
  }
  return Status::Ok();
}

}  // namespace

std::string TlsErrorText(const boost::system::error_code& ec) {
  std::string text = TakeOpenSslErrors();
  return text.empty() ? ec.message() : text;
}

std::string TlsHandshakeErrorText(asio::ssl::stream<stream_socket&>& tls,
                                  const boost::system::error_code& ec) {
  std::string text = TlsErrorText(ec);
  const long verify = SSL_get_verify_result(tls.native_handle());
  if (verify != X509_V_OK) text += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
  return text;
}

bool IsCertificateRefusal(const boost::system::error_code& ec) {
  if (ec.category() != asio::error::get_ssl_category()) return false;
  if (ERR_GET_LIB(static_cast<unsigned long>(ec.value())) != ERR_LIB_SSL) return false;
  switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
      return true;
    default:
      return false;
  }
}

Result<std::unique_ptr<TlsContext>> MakeServerTlsContext(const TlsServerFiles& files) {
  if (files.cert_file.empty() || files.key_file.empty()) {
    return InvalidArgument("TLS needs both a certificate file and a key file");
  }
  auto context = std::make_unique<TlsContext>(TlsContext::tls_server);
  KVTIER_RETURN_IF_ERROR(Harden(*context));
  KVTIER_RETURN_IF_ERROR(LoadChainAndKey(*context, files.cert_file, files.key_file));
  if (!files.client_ca_file.empty()) {
    boost::system::error_code ec;
    if (context->load_verify_file(files.client_ca_file, ec); ec) {
      return FileError("client CA", files.client_ca_file, ec);
    }
    context->set_verify_mode(asio::ssl::verify_peer | asio::ssl::verify_fail_if_no_peer_cert);
  }
  return context;
}

Result<std::unique_ptr<TlsContext>> MakeClientTlsContext(const TlsClientFiles& files) {
  if (files.cert_file.empty() != files.key_file.empty()) {
    return InvalidArgument("a TLS client certificate needs its key file, and the other way round");
  }
  auto context = std::make_unique<TlsContext>(TlsContext::tls_client);
  KVTIER_RETURN_IF_ERROR(Harden(*context));
  boost::system::error_code ec;
  if (files.ca_file.empty()) {
    if (context->set_default_verify_paths(ec); ec) {
      return InvalidArgument("TLS: the system CA store cannot be read: " + TlsErrorText(ec));
    }
  } else if (context->load_verify_file(files.ca_file, ec); ec) {
    return FileError("CA", files.ca_file, ec);
  }
  context->set_verify_mode(asio::ssl::verify_peer);
  if (!files.cert_file.empty()) {
    KVTIER_RETURN_IF_ERROR(LoadChainAndKey(*context, files.cert_file, files.key_file));
  }
  return context;
}

Status ExpectServerName(asio::ssl::stream<stream_socket&>& tls, const std::string& server_name) {
  SSL* ssl = tls.native_handle();
  boost::system::error_code ec;
  asio::ip::make_address(server_name, ec);
  const bool is_address = !ec;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  const int checked = is_address ? X509_VERIFY_PARAM_set1_ip_asc(param, server_name.c_str())
                                 : X509_VERIFY_PARAM_set1_host(param, server_name.c_str(), 0);
  if (checked != 1) {
    return InvalidArgument("TLS: cannot check the server's name '" + server_name +
                           "': " + TakeOpenSslErrors());
  }
  // SNI carries host names only, never addresses (RFC 6066).
  if (!is_address && SSL_set_tlsext_host_name(ssl, server_name.c_str()) != 1) {
    return InvalidArgument("TLS: cannot send the server name '" + server_name + "'");
  }
  return Status::Ok();
}

}  // namespace kvtier::protocol
