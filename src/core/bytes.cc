#include "core/bytes.h"

#include <cstring>
#include <limits>

namespace jg {

bool ByteReader::readU8(uint8_t& out) {
  if (remaining() < 1) {
    return false;
  }
  out = static_cast<uint8_t>(data_[pos_++]);
  return true;
}

bool ByteReader::readU16(uint16_t& out) {
  if (remaining() < 2) {
    return false;
  }
  out = loadU16(data_.data() + pos_);
  pos_ += 2;
  return true;
}

bool ByteReader::readI16(int16_t& out) {
  uint16_t v;
  if (!readU16(v)) {
    return false;
  }
  out = static_cast<int16_t>(v);
  return true;
}

bool ByteReader::readU32(uint32_t& out) {
  if (remaining() < 4) {
    return false;
  }
  out = loadU32(data_.data() + pos_);
  pos_ += 4;
  return true;
}

bool ByteReader::readI32(int32_t& out) {
  uint32_t v;
  if (!readU32(v)) {
    return false;
  }
  out = static_cast<int32_t>(v);
  return true;
}

bool ByteReader::readCString(std::string_view& out) {
  const void* nul = std::memchr(data_.data() + pos_, '\0', remaining());
  if (nul == nullptr) {
    return false;
  }
  size_t len = static_cast<const char*>(nul) - (data_.data() + pos_);
  out = data_.substr(pos_, len);
  pos_ += len + 1;
  return true;
}

bool ByteReader::readBytes(size_t n, std::string_view& out) {
  if (remaining() < n) {
    return false;
  }
  out = data_.substr(pos_, n);
  pos_ += n;
  return true;
}

bool ByteReader::skip(size_t n) {
  if (remaining() < n) {
    return false;
  }
  pos_ += n;
  return true;
}

void ByteWriter::u8(uint8_t v) {
  if (ok_) {
    out_.push_back(static_cast<char>(v));
  }
}

void ByteWriter::i16(int16_t v) {
  if (ok_) {
    auto u = static_cast<uint16_t>(v);
    out_.push_back(static_cast<char>(u >> 8));
    out_.push_back(static_cast<char>(u));
  }
}

void ByteWriter::i32(int32_t v) {
  if (ok_) {
    char b[4];
    storeU32(b, static_cast<uint32_t>(v));
    out_.append(b, 4);
  }
}

void ByteWriter::cstring(std::string_view s) {
  if (!ok_) {
    return;
  }
  if (s.find('\0') != std::string_view::npos) {
    ok_ = false;
    return;
  }
  out_.append(s);
  out_.push_back('\0');
}

void ByteWriter::bytes(std::string_view s) {
  if (ok_) {
    out_.append(s);
  }
}

void ByteWriter::patchI32(size_t at, int32_t v) {
  if (!ok_ || at + 4 > out_.size()) {
    ok_ = false;
    return;
  }
  storeU32(out_.data() + at, static_cast<uint32_t>(v));
}

}  // namespace jg
