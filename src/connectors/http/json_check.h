#pragma once
// Whether a text is one JSON value, without building it: the HTTP source checks every record it
// passes on. RFC 8259: whitespace around the value, strings of valid UTF-8 with valid escapes
// and surrogate pairs, no comments; a UTF-8 byte order mark at the start is skipped. This is
// what nlohmann::json::accept accepts, except that a NUL byte outside a string is refused
// (nlohmann stops reading at it) and numbers beyond a double's range are taken (nlohmann refuses
// them); it is several times faster (no token buffer, no number conversion).
// tests/connectors/http_source_test.cc (JsonCheck.*) compares the two on generated inputs.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

namespace weir::http_detail {

class JsonCheck {
 public:
  static bool is_json(std::string_view text) {
    JsonCheck c(text);
    return c.value_sequence();
  }

 private:
  explicit JsonCheck(std::string_view t)
      : p_(reinterpret_cast<const unsigned char*>(t.data())), end_(p_ + t.size()) {}

  bool value_sequence() {
    if (end_ - p_ >= 3 && p_[0] == 0xEF && p_[1] == 0xBB && p_[2] == 0xBF) p_ += 3;  // BOM
    ws();
    for (;;) {
      // A value starts at p_.
      if (p_ == end_) return false;
      const unsigned char c = *p_;
      if (c == '{' || c == '[') {
        ++p_;
        ws();
        const unsigned char close = c == '{' ? '}' : ']';
        if (p_ < end_ && *p_ == close) {
          ++p_;
        } else {
          push(c);
          if (c == '{' && !key()) return false;
          continue;  // the first member's or element's value
        }
      } else if (c == '"') {
        if (!string()) return false;
      } else if (c == 't') {
        if (!literal("true", 4)) return false;
      } else if (c == 'f') {
        if (!literal("false", 5)) return false;
      } else if (c == 'n') {
        if (!literal("null", 4)) return false;
      } else if (!number()) {
        return false;
      }
      // After a value: close containers, or go on to the next member or element.
      for (;;) {
        ws();
        if (depth_ == 0) return p_ == end_;
        if (p_ == end_) return false;
        const unsigned char top = depth_ <= kSmall ? small_[depth_ - 1] : deep_.back();
        if (*p_ == ',') {
          ++p_;
          ws();
          if (top == '{' && !key()) return false;
          break;
        }
        if (*p_ == (top == '{' ? '}' : ']')) {
          ++p_;
          pop();
          continue;
        }
        return false;
      }
    }
  }

  // The open containers ('{' or '['): the first kSmall in place, deeper ones in deep_.
  static constexpr std::size_t kSmall = 64;
  void push(unsigned char c) {
    if (depth_ < kSmall) small_[depth_] = c;
    else deep_.push_back(c);
    ++depth_;
  }
  void pop() {
    if (depth_ > kSmall) deep_.pop_back();
    --depth_;
  }

  void ws() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  /// A member's name and the ':' after it (p_ at the name), then whitespace.
  bool key() {
    if (p_ == end_ || *p_ != '"' || !string()) return false;
    ws();
    if (p_ == end_ || *p_ != ':') return false;
    ++p_;
    ws();
    return true;
  }

  bool literal(const char* word, std::size_t n) {
    if (static_cast<std::size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return false;
    p_ += n;
    return true;
  }

  static bool digit(unsigned char c) { return c >= '0' && c <= '9'; }

  bool number() {
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ == end_) return false;
    if (*p_ == '0') {
      ++p_;
    } else if (*p_ >= '1' && *p_ <= '9') {
      while (p_ < end_ && digit(*p_)) ++p_;
    } else {
      return false;
    }
    if (p_ < end_ && *p_ == '.') {
      ++p_;
      if (p_ == end_ || !digit(*p_)) return false;
      while (p_ < end_ && digit(*p_)) ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !digit(*p_)) return false;
      while (p_ < end_ && digit(*p_)) ++p_;
    }
    return true;
  }

  /// Four hex digits after "\u" (p_ after the 'u'), as a code unit; -1 if not hex.
  int hex4() {
    if (end_ - p_ < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; ++i) {
      const unsigned char c = p_[i];
      int d;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else return -1;
      v = v * 16 + d;
    }
    p_ += 4;
    return v;
  }

  static bool cont(unsigned char c) { return (c & 0xC0) == 0x80; }

  /// A string (p_ at the opening quote).
  bool string() {
    ++p_;
    for (;;) {
      // Plain ASCII runs first.
      while (p_ < end_ && *p_ >= 0x20 && *p_ < 0x80 && *p_ != '"' && *p_ != '\\') ++p_;
      if (p_ == end_) return false;
      const unsigned char c = *p_;
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        ++p_;
        if (p_ == end_) return false;
        const unsigned char e = *p_++;
        switch (e) {
          case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            break;
          case 'u': {
            const int u = hex4();
            if (u < 0) return false;
            if (u >= 0xD800 && u <= 0xDBFF) {
              if (end_ - p_ < 2 || p_[0] != '\\' || p_[1] != 'u') return false;
              p_ += 2;
              const int low = hex4();
              if (low < 0xDC00 || low > 0xDFFF) return false;
            } else if (u >= 0xDC00 && u <= 0xDFFF) {
              return false;
            }
            break;
          }
          default:
            return false;
        }
        continue;
      }
      // UTF-8 sequences of 2 to 4 bytes (no overlongs, no surrogates, at most U+10FFFF).
      const std::ptrdiff_t left = end_ - p_;
      if (c >= 0xC2 && c <= 0xDF) {
        if (left < 2 || !cont(p_[1])) return false;
        p_ += 2;
      } else if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || !cont(p_[1]) || !cont(p_[2])) return false;
        if (c == 0xE0 && p_[1] < 0xA0) return false;
        if (c == 0xED && p_[1] > 0x9F) return false;
        p_ += 3;
      } else if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || !cont(p_[1]) || !cont(p_[2]) || !cont(p_[3])) return false;
        if (c == 0xF0 && p_[1] < 0x90) return false;
        if (c == 0xF4 && p_[1] > 0x8F) return false;
        p_ += 4;
      } else {
        return false;
      }
    }
  }

  const unsigned char* p_;
  const unsigned char* end_;
  unsigned char small_[kSmall];
  std::vector<unsigned char> deep_;
  std::size_t depth_ = 0;
};

}  // namespace weir::http_detail
