// Big-endian byte reading and writing for wire codecs.
//
// ByteReader walks a borrowed buffer; every read checks bounds first and returns false instead
// of reading past the end, so codecs validate-then-read without exceptions. ByteWriter appends
// to an owned std::string and has a sticky failure bit: once a write fails (a length that does
// not fit, a string with an embedded NUL where a C string is required) every later write is a
// no-op and ok() stays false, so callers check once at the end. Neither type is thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace jg {

class ByteReader {
 public:
  explicit ByteReader(std::string_view data) : data_(data) {}

  size_t remaining() const { return data_.size() - pos_; }
  bool empty() const { return remaining() == 0; }
  size_t position() const { return pos_; }
  std::string_view rest() const { return data_.substr(pos_); }

  [[nodiscard]] bool readU8(uint8_t& out);
  [[nodiscard]] bool readI16(int16_t& out);
  [[nodiscard]] bool readU16(uint16_t& out);
  [[nodiscard]] bool readI32(int32_t& out);
  [[nodiscard]] bool readU32(uint32_t& out);
  // Reads a NUL-terminated string; `out` borrows the buffer and excludes the NUL.
  [[nodiscard]] bool readCString(std::string_view& out);
  [[nodiscard]] bool readBytes(size_t n, std::string_view& out);
  [[nodiscard]] bool skip(size_t n);

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

class ByteWriter {
 public:
  explicit ByteWriter(std::string& out) : out_(out) {}

  bool ok() const { return ok_; }
  void fail() { ok_ = false; }
  std::string& buffer() { return out_; }
  size_t size() const { return out_.size(); }

  void u8(uint8_t v);
  void i16(int16_t v);
  void u16(uint16_t v) { i16(static_cast<int16_t>(v)); }
  void i32(int32_t v);
  void u32(uint32_t v) { i32(static_cast<int32_t>(v)); }
  // Writes s followed by a NUL. Fails if s contains a NUL.
  void cstring(std::string_view s);
  void bytes(std::string_view s);
  // Overwrites 4 bytes at `at` with v (used to patch a length prefix).
  void patchI32(size_t at, int32_t v);

 private:
  std::string& out_;
  bool ok_ = true;
};

inline uint32_t loadU32(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{b[0]} << 24) | (uint32_t{b[1]} << 16) | (uint32_t{b[2]} << 8) | uint32_t{b[3]};
}
inline uint16_t loadU16(const char* p) {
  auto b = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>((b[0] << 8) | b[1]);
}
inline void storeU32(char* p, uint32_t v) {
  p[0] = static_cast<char>(v >> 24);
  p[1] = static_cast<char>(v >> 16);
  p[2] = static_cast<char>(v >> 8);
  p[3] = static_cast<char>(v);
}

}  // namespace jg
