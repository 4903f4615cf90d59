// The TLS server context of a listener (the client listeners and the admin listener): TLS 1.2 or
// later, the certificate chain and key from files. Built once per configuration snapshot; a
// context is thread-safe to share between connections once built.
#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>

#include "core/status.h"

namespace jg::server {

// Fails with a message naming the file when the certificate or the key cannot be loaded.
[[nodiscard]] Result<std::shared_ptr<boost::asio::ssl::context>> makeServerTls(
    const std::string& cert_file, const std::string& key_file);

}  // namespace jg::server
