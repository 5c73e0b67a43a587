// Human-readable rendering of records, as used by print() and write_as_text(). Follows Flink's
// (Java's) toString conventions where they exist, so output reads the same as Flink's.
#ifndef WEIR_SERDE_TEXT_HPP_
#define WEIR_SERDE_TEXT_HPP_

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <limits>
#include <optional>
#include <ostream>
#include <sstream>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>

#include "weir/serde/serde.hpp"

namespace weir {

namespace detail::text {

template <class T>
inline constexpr bool always_false = false;

template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};

template <class T>
struct is_pair_or_tuple : std::false_type {};
template <class A, class B>
struct is_pair_or_tuple<std::pair<A, B>> : std::true_type {};
template <class... Ts>
struct is_pair_or_tuple<std::tuple<Ts...>> : std::true_type {};

template <class T>
struct is_duration : std::false_type {};
template <class Rep, class Period>
struct is_duration<std::chrono::duration<Rep, Period>> : std::true_type {};

template <class T>
struct is_sys_time : std::false_type {};
template <class D>
struct is_sys_time<std::chrono::time_point<std::chrono::system_clock, D>> : std::true_type {};

template <class T>
struct is_string : std::false_type {};
template <class C, class Tr, class A>
struct is_string<std::basic_string<C, Tr, A>> : std::true_type {};
template <class C, class Tr>
struct is_string<std::basic_string_view<C, Tr>> : std::true_type {};

template <class C>
inline constexpr bool is_char = std::is_same_v<C, char> || std::is_same_v<C, char8_t> ||
                                std::is_same_v<C, char16_t> || std::is_same_v<C, char32_t> ||
                                std::is_same_v<C, wchar_t>;

// Unscoped enums convert to integers implicitly, so `os << e` always compiles for them (and prints
// a character when the underlying type is char-sized). This deleted overload is an exact match and
// so beats those built-in conversions, while a user's non-template operator<< for the enum still
// beats it; `ostreamable` is therefore true for an enum only when the user wrote an operator<<.
template <class E>
  requires std::is_enum_v<E>
void operator<<(std::ostream&, const E&) = delete;

template <class T>
concept ostreamable = requires(std::ostream& os, const T& v) { os << v; };

// Streams from this namespace so that lookup agrees with `ostreamable`.
template <class T>
void append_streamed(std::string& out, const T& v) {
  std::ostringstream os;
  os << v;
  out += std::move(os).str();
}

template <class T>
concept iterable = requires(const T& v) {
  std::begin(v);
  std::end(v);
};

template <class T>
concept map_like = iterable<T> && requires {
  typename T::key_type;
  typename T::mapped_type;
};

inline void append_utf8(std::string& out, char32_t cp) {
  if ((cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) cp = 0xFFFD;  // not a scalar value
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

/// Appends a string of any character type: char/char8_t bytes as they are, UTF-16 and UTF-32
/// transcoded to UTF-8 (unpaired surrogates become U+FFFD).
template <class C>
void append_chars(std::string& out, const C* s, std::size_t n) {
  if constexpr (sizeof(C) == 1) {
    out.append(reinterpret_cast<const char*>(s), n);
  } else if constexpr (sizeof(C) == 2) {
    for (std::size_t i = 0; i < n; ++i) {
      char32_t u = static_cast<char16_t>(s[i]);
      if (u >= 0xD800 && u <= 0xDBFF && i + 1 < n) {
        const char32_t lo = static_cast<char16_t>(s[i + 1]);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
          u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
          ++i;
        }
      }
      append_utf8(out, u);
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) append_utf8(out, static_cast<char32_t>(s[i]));
  }
}

template <class I>
void append_integer(std::string& out, I v) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  out.append(buf, res.ptr);
}

template <class F>
void append_floating(std::string& out, F v) {
  if (std::isnan(v)) {
    out += "NaN";
  } else if (std::isinf(v)) {
    out += v < 0 ? "-Infinity" : "Infinity";
  } else {
    char buf[64];
    const auto res = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round-trip form
    out.append(buf, res.ptr);
  }
}

template <class Period>
void append_duration_suffix(std::string& out) {
  using P = typename Period::type;
  if constexpr (std::is_same_v<P, std::nano>) out += "ns";
  else if constexpr (std::is_same_v<P, std::micro>) out += "us";
  else if constexpr (std::is_same_v<P, std::milli>) out += "ms";
  else if constexpr (std::is_same_v<P, std::ratio<1>>) out += "s";
  else if constexpr (std::is_same_v<P, std::ratio<60>>) out += "min";
  else if constexpr (std::is_same_v<P, std::ratio<3600>>) out += "h";
  else if constexpr (std::is_same_v<P, std::ratio<86400>>) out += "d";
  else {
    out += '[';
    append_integer(out, static_cast<std::intmax_t>(P::num));
    if constexpr (P::den != 1) {
      out += '/';
      append_integer(out, static_cast<std::intmax_t>(P::den));
    }
    out += "]s";
  }
}

inline void append_padded(std::string& out, int64_t v, int width) {
  char buf[24];
  const auto res = std::to_chars(buf, buf + sizeof(buf), v);
  for (int n = static_cast<int>(res.ptr - buf); n < width; ++n) out += '0';
  out.append(buf, res.ptr);
}

/// Splits `count` ticks of Period since the epoch into whole seconds (floored) and nanoseconds
/// in [0, 1e9), without overflow. False when the value does not fit in int64 seconds, or for
/// periods that are neither a whole number of seconds nor 1/N second.
template <class Rep, class Period>
bool split_epoch(Rep count, int64_t& secs, int64_t& nanos) {
  constexpr std::intmax_t num = Period::num;
  constexpr std::intmax_t den = Period::den;
  constexpr std::intmax_t giga = 1000000000;
  if constexpr (std::is_floating_point_v<Rep>) {
    const long double s = static_cast<long double>(count) * num / den;
    if (!std::isfinite(s) || std::fabs(s) >= 9.0e15L) return false;
    const long double whole = std::floor(s);
    secs = static_cast<int64_t>(whole);
    nanos = std::min<int64_t>(static_cast<int64_t>((s - whole) * 1.0e9L), giga - 1);
    return true;
  } else if constexpr (den == 1) {
    constexpr std::intmax_t max_count = std::numeric_limits<int64_t>::max() / num;
    if constexpr (std::is_signed_v<Rep>) {
      if (count > max_count || count < -max_count) return false;
    } else {
      if (count > static_cast<std::uintmax_t>(max_count)) return false;
    }
    secs = static_cast<int64_t>(count) * num;
    nanos = 0;
    return true;
  } else if constexpr (num == 1 && (den <= giga || den % giga == 0)) {
    auto whole = count / den;  // at most 2^64 / 2, so it fits int64 even for unsigned Rep
    auto ticks = count % den;
    if constexpr (std::is_signed_v<Rep>) {
      if (ticks < 0) {
        ticks += den;
        --whole;
      }
    }
    secs = static_cast<int64_t>(whole);
    if constexpr (den <= giga) nanos = static_cast<int64_t>(ticks) * giga / den;
    else nanos = static_cast<int64_t>(ticks / (den / giga));
    return true;
  } else {
    return false;
  }
}

/// ISO-8601 UTC like java.time.Instant: 2024-03-01T12:00:00Z, with .SSS / .SSSSSS / .SSSSSSSSS
/// when the time has a fractional second.
inline void append_instant(std::string& out, int64_t secs, int64_t nanos) {
  int64_t days = secs / 86400;
  int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    --days;
  }
  // Civil date from days since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm).
  const int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t day = doy - (153 * mp + 2) / 5 + 1;
  const int64_t month = mp < 10 ? mp + 3 : mp - 9;
  const int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);

  if (year > 9999) {
    out += '+';
    append_integer(out, year);
  } else if (year < 0) {
    out += '-';
    append_padded(out, -year, 4);
  } else {
    append_padded(out, year, 4);
  }
  out += '-';
  append_padded(out, month, 2);
  out += '-';
  append_padded(out, day, 2);
  out += 'T';
  append_padded(out, sod / 3600, 2);
  out += ':';
  append_padded(out, sod / 60 % 60, 2);
  out += ':';
  append_padded(out, sod % 60, 2);
  if (nanos != 0) {
    out += '.';
    if (nanos % 1000000 == 0) append_padded(out, nanos / 1000000, 3);
    else if (nanos % 1000 == 0) append_padded(out, nanos / 1000, 6);
    else append_padded(out, nanos, 9);
  }
  out += 'Z';
}

}  // namespace detail::text

/// Appends the text form of `v` to `out` (see to_text). Cheaper than to_text when rendering many
/// values into one buffer.
template <class T>
void append_text(std::string& out, const T& v) {
  namespace dt = detail::text;
  using U = std::remove_cv_t<T>;
  if constexpr (dt::is_string<U>::value) {
    dt::append_chars(out, v.data(), v.size());
  } else if constexpr (std::is_array_v<U> && dt::is_char<std::remove_cv_t<std::remove_extent_t<U>>>) {
    using C = std::remove_cv_t<std::remove_extent_t<U>>;
    const std::size_t n = std::extent_v<U>;
    std::size_t len = 0;
    while (len < n && v[len] != C{}) ++len;
    dt::append_chars(out, v, len);
  } else if constexpr (std::is_pointer_v<U> && dt::is_char<std::remove_cv_t<std::remove_pointer_t<U>>>) {
    if (v == nullptr) out += "null";
    else dt::append_chars(out, v, std::char_traits<std::remove_cv_t<std::remove_pointer_t<U>>>::length(v));
  } else if constexpr (std::is_same_v<U, std::nullptr_t>) {
    out += "null";
  } else if constexpr (std::is_same_v<U, bool>) {
    out += v ? "true" : "false";
  } else if constexpr (dt::is_char<U>) {
    dt::append_chars(out, &v, 1);
  } else if constexpr (std::is_integral_v<U>) {
    dt::append_integer(out, v);
  } else if constexpr (std::is_floating_point_v<U>) {
    dt::append_floating(out, v);
  } else if constexpr (dt::is_optional<U>::value) {
    if (v) append_text(out, *v);
    else out += "null";
  } else if constexpr (dt::is_pair_or_tuple<U>::value) {
    // Flink's Tuple.toString: (a,b,c), no spaces.
    out += '(';
    bool first = true;
    const auto element = [&](const auto& e) {
      if (!first) out += ',';
      first = false;
      append_text(out, e);
    };
    std::apply([&](const auto&... e) { (element(e), ...); }, v);
    out += ')';
  } else if constexpr (dt::is_duration<U>::value) {
    append_text(out, v.count());
    dt::append_duration_suffix<typename U::period>(out);
  } else if constexpr (dt::is_sys_time<U>::value) {
    using D = typename U::duration;
    int64_t secs = 0;
    int64_t nanos = 0;
    if (dt::split_epoch<typename D::rep, typename D::period>(v.time_since_epoch().count(), secs, nanos)) {
      dt::append_instant(out, secs, nanos);
    } else {
      append_text(out, v.time_since_epoch());  // beyond any calendar: the raw duration instead
      out += " since epoch";
    }
  } else if constexpr (dt::ostreamable<U>) {
    dt::append_streamed(out, v);
  } else if constexpr (has_serde_fields<U>) {
    out += serde_type_name<U>();
    out += '{';
    bool first = true;
    for_each_field(v, [&](std::string_view name, const auto& field) {
      if (!first) out += ", ";
      first = false;
      out += name;
      out += '=';
      append_text(out, field);
    });
    out += '}';
  } else if constexpr (std::is_enum_v<U>) {
    using I = std::underlying_type_t<U>;
    if constexpr (std::is_signed_v<I>) dt::append_integer(out, static_cast<long long>(v));
    else dt::append_integer(out, static_cast<unsigned long long>(v));
  } else if constexpr (dt::map_like<U>) {
    // java.util.Map.toString: {k=v, k2=v2}
    out += '{';
    bool first = true;
    for (const auto& [key, value] : v) {
      if (!first) out += ", ";
      first = false;
      append_text(out, key);
      out += '=';
      append_text(out, value);
    }
    out += '}';
  } else if constexpr (dt::iterable<U>) {
    // java.util.List.toString: [a, b]
    out += '[';
    bool first = true;
    for (const auto& e : v) {
      if (!first) out += ", ";
      first = false;
      append_text(out, e);
    }
    out += ']';
  } else {
    static_assert(dt::always_false<T>,
                  "weir::to_text: this type has no text form. Declare WEIR_SERDE(Type, fields...) "
                  "next to it, or define std::ostream& operator<<(std::ostream&, const Type&).");
  }
}

/// Renders a value the way print() and write_as_text() show it: strings as they are (never
/// quoted), integers in decimal, bool as true/false, floating point in shortest round-trip form
/// (NaN, Infinity), pair/tuple as (a,b,c), sequences and sets as [a, b], maps as {k=v, k2=v2},
/// optional as the value or null, durations as 250ms, system_clock time points as ISO-8601 UTC
/// (2024-03-01T12:00:00.250Z), WEIR_SERDE structs as Type{a=1, b=x}. A type with an
/// operator<< (declared in the type's namespace, so argument-dependent lookup finds it) is
/// rendered by it, taking precedence over WEIR_SERDE; enums without one render as their
/// underlying integer. Any other type fails to compile with a message saying what to declare.
/// Pure function; safe to call from any thread.
template <class T>
std::string to_text(const T& v) {
  std::string out;
  append_text(out, v);
  return out;
}

}  // namespace weir

#endif  // WEIR_SERDE_TEXT_HPP_
