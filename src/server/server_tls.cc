#include "server/server_tls.h"

#include <fmt/format.h>

namespace jg::server {

namespace ssl = boost::asio::ssl;

Result<std::shared_ptr<ssl::context>> makeServerTls(const std::string& cert_file,
                                                    const std::string& key_file) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                   ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                   ssl::context::single_dh_use);
  // Idle sessions give their TLS read/write buffers back.
  SSL_CTX_set_mode(ctx->native_handle(), SSL_MODE_RELEASE_BUFFERS);
  boost::system::error_code ec;
  ctx->use_certificate_chain_file(cert_file, ec);
  if (ec) {
    return invalidArgument(
        fmt::format("cannot load TLS certificate {}: {}", cert_file, ec.message()));
  }
  ctx->use_private_key_file(key_file, ssl::context::pem, ec);
  if (ec) {
    return invalidArgument(fmt::format("cannot load TLS key {}: {}", key_file, ec.message()));
  }
  return ctx;
}

}  // namespace jg::server
