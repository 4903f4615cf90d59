#include "proto/http/inflater.h"

#include <zlib.h>

#include <boost/beast/core/string.hpp>

#include "core/text.h"

namespace jg::http {
namespace {

constexpr int kGzipWindow = 15 + 16;  // zlib: a gzip wrapper
constexpr int kZlibWindow = 15;       // zlib: a zlib wrapper
constexpr int kRawWindow = -15;       // zlib: no wrapper
constexpr size_t kChunk = 16 * 1024;

// RFC 1950: CM 8, a window of at most 32 KiB, and a header that is a multiple of 31.
bool looksLikeZlibHeader(unsigned char cmf, unsigned char flg) {
  return (cmf & 0x0F) == 8 && (cmf >> 4) <= 7 && ((cmf << 8) | flg) % 31 == 0;
}

}  // namespace

struct Inflater::Stream {
  z_stream z{};
  bool ready = false;
  ~Stream() {
    if (ready) {
      inflateEnd(&z);
    }
  }
};

std::optional<Inflater::Format> Inflater::formatOf(std::string_view content_encoding) {
  const std::string_view v = trimSpace(content_encoding);
  if (boost::beast::iequals(v, "gzip") || boost::beast::iequals(v, "x-gzip")) {
    return Format::kGzip;
  }
  if (boost::beast::iequals(v, "deflate")) {
    return Format::kDeflate;
  }
  return std::nullopt;
}

bool isIdentityEncoding(std::string_view content_encoding) {
  const std::string_view v = trimSpace(content_encoding);
  return v.empty() || boost::beast::iequals(v, "identity");
}

Inflater::Inflater(Format f, size_t limit) : format_(f), limit_(limit) {}

Inflater::~Inflater() = default;

Status Inflater::fail(Status s) {
  error_ = s;
  return s;
}

Status Inflater::start(std::string_view first_bytes) {
  int window = kGzipWindow;
  if (format_ == Format::kDeflate) {
    const auto cmf = static_cast<unsigned char>(first_bytes[0]);
    const auto flg = static_cast<unsigned char>(first_bytes[1]);
    window = looksLikeZlibHeader(cmf, flg) ? kZlibWindow : kRawWindow;
  }
  stream_ = std::make_unique<Stream>();
  if (inflateInit2(&stream_->z, window) != Z_OK) {
    return fail(internalError("content decoding: zlib could not start"));
  }
  stream_->ready = true;
  return Status::ok();
}

Status Inflater::write(std::string_view in, std::string& out) {
  if (!error_.isOk()) {
    return error_;
  }
  if (in.empty()) {
    return Status::ok();
  }
  if (stream_) {
    return inflateSome(in, out);
  }
  if (format_ == Format::kGzip) {
    if (auto s = start(in); !s) {
      return s;
    }
    return inflateSome(in, out);
  }
  // deflate: the wrapper is known from the first two bytes.
  pending_.append(in);
  if (pending_.size() < 2) {
    return Status::ok();
  }
  const std::string first = std::move(pending_);
  pending_.clear();
  if (auto s = start(first); !s) {
    return s;
  }
  return inflateSome(first, out);
}

Status Inflater::take(std::string_view decoded, std::string& out) {
  if (decoded.size() > limit_ - decoded_) {
    return fail(Status::error(
        Code::kResourceExhausted,
        "content decoding: the decoded body is larger than " + std::to_string(limit_) + " bytes"));
  }
  out.append(decoded);
  decoded_ += decoded.size();
  return Status::ok();
}

Status Inflater::inflateSome(std::string_view in, std::string& out) {
  z_stream& z = stream_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  z.avail_in = static_cast<uInt>(in.size());
  char buf[kChunk];
  while (true) {
    if (ended_) {
      if (z.avail_in == 0) {
        return Status::ok();
      }
      if (format_ != Format::kGzip) {
        return fail(invalidArgument("content decoding: data after the end of the deflate stream"));
      }
      inflateReset(&z);  // the next gzip member
      ended_ = false;
    }
    z.next_out = reinterpret_cast<Bytef*>(buf);
    z.avail_out = sizeof(buf);
    const int rc = inflate(&z, Z_NO_FLUSH);
    if (auto s = take(std::string_view(buf, sizeof(buf) - z.avail_out), out); !s) {
      return s;
    }
    if (rc == Z_STREAM_END) {
      ended_ = true;
      continue;
    }
    if (rc == Z_BUF_ERROR && z.avail_in == 0) {
      return Status::ok();  // no progress possible without more input
    }
    if (rc != Z_OK) {
      const std::string why = z.msg != nullptr ? z.msg : "corrupt data";
      return fail(invalidArgument("content decoding: " + why));
    }
    if (z.avail_in == 0 && z.avail_out != 0) {
      return Status::ok();
    }
  }
}

Status Inflater::finish() {
  if (!error_.isOk()) {
    return error_;
  }
  if (!stream_ && pending_.empty()) {
    return Status::ok();  // an empty body (a 204, a HEAD answer) has nothing to decode
  }
  if (!ended_) {
    return fail(invalidArgument("content decoding: the encoded body is truncated"));
  }
  return Status::ok();
}

}  // namespace jg::http
