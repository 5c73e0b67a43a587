// Weir binary serialisation: the wire format every record, key, and state value uses.
//
// Wire format (see src/serde/README.md): fixed-width little-endian for every arithmetic type,
// unsigned LEB128 varints for lengths and counts, fields and elements concatenated in order with
// no tags or padding. Encoding is canonical: equal values encode to the same bytes (unordered
// containers write their elements sorted by encoded bytes), so keys can be hashed through their
// bytes; floating-point values are the exception (-0.0 == 0.0), which is why keys refuse them.
// Decoding accepts exactly one encoding per value, so decode-then-encode reproduces the input
// bytes (except for unordered containers, which decode from any element order).
//
// Untrusted bytes: every read is bounds-checked, every length prefix is checked against the bytes
// that remain before anything is allocated, and every malformed input is reported by throwing
// SerdeError. Decoding never reads out of bounds and never has undefined behaviour.
#ifndef WEIR_SERDE_SERDE_HPP_
#define WEIR_SERDE_SERDE_HPP_

#include <algorithm>
#include <array>
#include <bit>
#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

namespace weir {

static_assert(std::endian::native == std::endian::little || std::endian::native == std::endian::big,
              "weir serde supports little- and big-endian hosts only");

/// Thrown for every malformed or truncated input found while decoding (and for the few encode-time
/// limits). The message names what was wrong and the byte offset where it was found.
class SerdeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Appends encoded bytes to a std::string it does not own; the string must outlive the writer.
/// Writing only ever appends, so one buffer can collect several values back to back. Not
/// thread-safe: one writer per buffer at a time.
class ByteWriter {
 public:
  explicit ByteWriter(std::string& out) : out_(&out) {}

  /// Appends `n` raw bytes.
  void write_bytes(const void* data, std::size_t n) {
    if (n != 0) out_->append(static_cast<const char*>(data), n);
  }

  void write_u8(uint8_t v) { out_->push_back(static_cast<char>(v)); }

  /// Unsigned LEB128: 7 bits per byte, low bits first, high bit set on all but the last byte.
  /// Always the shortest encoding (1 to 10 bytes).
  void write_varint(uint64_t v) {
    char buf[10];
    std::size_t n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<char>(static_cast<uint8_t>(v) | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    out_->append(buf, n);
  }

  /// Appends `sizeof(T)` bytes, little-endian. `bool` is one byte, 0 or 1. `long double` is
  /// rejected at compile time: its size and padding are not portable.
  template <class T>
    requires std::is_arithmetic_v<T>
  void write_fixed(T v) {
    static_assert(!std::is_same_v<T, long double>, "long double has no portable wire encoding");
    char buf[sizeof(T)];
    std::memcpy(buf, &v, sizeof(T));
    if constexpr (std::endian::native == std::endian::big) std::reverse(buf, buf + sizeof(T));
    out_->append(buf, sizeof(T));
  }

  std::string& buffer() { return *out_; }

 private:
  std::string* out_;
};

/// Reads encoded bytes from a range it does not own; the bytes must outlive the reader. Every
/// read is bounds-checked and throws SerdeError instead of reading past the end. After a
/// SerdeError the reader's position is unspecified; discard it. Not thread-safe.
class ByteReader {
 public:
  /// `data` may be null only when `size` is 0.
  ByteReader(const void* data, std::size_t size)
      : data_(static_cast<const unsigned char*>(data)), size_(size) {
    if (data_ == nullptr && size_ != 0) throw SerdeError("ByteReader: null data with non-zero size");
  }
  explicit ByteReader(std::string_view bytes) : ByteReader(bytes.data(), bytes.size()) {}
  /// A temporary string would dangle as soon as the constructor returns.
  explicit ByteReader(std::string&&) = delete;

  /// Copies the next `n` bytes to `out`.
  void read_bytes(void* out, std::size_t n) {
    require(n);
    if (n != 0) std::memcpy(out, data_ + pos_, n);
    pos_ += n;
  }

  /// Returns a view of the next `n` bytes, valid as long as the underlying bytes are.
  std::string_view read_view(std::size_t n) {
    require(n);
    std::string_view view(reinterpret_cast<const char*>(data_) + pos_, n);
    pos_ += n;
    return view;
  }

  uint8_t read_u8() {
    require(1);
    return data_[pos_++];
  }

  /// Reads an unsigned LEB128 varint. Rejects encodings longer than 10 bytes, values that
  /// overflow 64 bits, and non-shortest encodings (a redundant trailing 0x00 group).
  uint64_t read_varint() {
    const std::size_t start = pos_;
    uint64_t result = 0;
    for (unsigned i = 0; i < 10; ++i) {
      if (pos_ >= size_) fail_varint("unterminated varint", start);
      const uint8_t byte = data_[pos_++];
      if (i == 9 && byte > 1) fail_varint("varint overflows 64 bits", start);
      result |= static_cast<uint64_t>(byte & 0x7f) << (7 * i);
      if ((byte & 0x80) == 0) {
        if (byte == 0 && i != 0) fail_varint("non-canonical varint (redundant trailing zero group)", start);
        return result;
      }
    }
    fail_varint("varint longer than 10 bytes", start);
  }

  /// Reads `sizeof(T)` little-endian bytes. A `bool` byte other than 0 or 1 is rejected.
  template <class T>
    requires std::is_arithmetic_v<T>
  T read_fixed() {
    static_assert(!std::is_same_v<T, long double>, "long double has no portable wire encoding");
    if constexpr (std::is_same_v<T, bool>) {
      const std::size_t at = pos_;
      const uint8_t b = read_u8();
      if (b > 1) fail_invalid("bool byte " + std::to_string(b) + " is neither 0 nor 1", at);
      return b == 1;
    } else {
      require(sizeof(T));
      char buf[sizeof(T)];
      std::memcpy(buf, data_ + pos_, sizeof(T));
      if constexpr (std::endian::native == std::endian::big) std::reverse(buf, buf + sizeof(T));
      pos_ += sizeof(T);
      T v;
      std::memcpy(&v, buf, sizeof(T));
      return v;
    }
  }

  std::size_t remaining() const { return size_ - pos_; }
  std::size_t offset() const { return pos_; }
  bool at_end() const { return pos_ == size_; }

  /// Reads a length prefix (a varint) for a container whose elements each take at least
  /// `min_element_bytes` bytes (0 is treated as 1) and throws SerdeError if that many elements
  /// cannot fit in the remaining bytes, so a corrupt length never causes a huge allocation.
  std::size_t read_length(std::size_t min_element_bytes = 1) {
    const std::size_t at = pos_;
    const uint64_t n = read_varint();
    const std::size_t per = min_element_bytes == 0 ? 1 : min_element_bytes;
    if (n > remaining() / per) {
      fail_invalid("corrupt length: " + std::to_string(n) + " elements of at least " +
                       std::to_string(per) + " byte(s) each, but only " +
                       std::to_string(remaining()) + " bytes left",
                   at);
    }
    return static_cast<std::size_t>(n);
  }

  /// How deeply WEIR_SERDE structs may nest while decoding. Only recursive types (a struct holding
  /// a vector of itself) can nest without a static bound; the limit keeps hostile input from
  /// exhausting the stack.
  static constexpr std::size_t kMaxNestingDepth = 256;

  /// Marks one level of nesting for as long as it lives; throws SerdeError past kMaxNestingDepth.
  /// Serde<T> for WEIR_SERDE structs uses it; custom specialisations of recursive types should too.
  class NestingScope {
   public:
    explicit NestingScope(ByteReader& r) : r_(r) {
      if (r_.depth_ >= kMaxNestingDepth)
        fail_invalid("nesting deeper than " + std::to_string(kMaxNestingDepth) + " levels", r_.pos_);
      ++r_.depth_;
    }
    ~NestingScope() { --r_.depth_; }
    NestingScope(const NestingScope&) = delete;
    NestingScope& operator=(const NestingScope&) = delete;

   private:
    ByteReader& r_;
  };

  /// Throws SerdeError("<what> at offset <offset>"). For Serde specialisations that validate.
  [[noreturn, gnu::cold, gnu::noinline]] static void fail_invalid(const std::string& what,
                                                                  std::size_t offset) {
    throw SerdeError(what + " at offset " + std::to_string(offset));
  }

 private:
  void require(std::size_t n) const {
    if (n > size_ - pos_) fail_truncated(n);
  }
  [[noreturn, gnu::cold, gnu::noinline]] void fail_truncated(std::size_t n) const {
    throw SerdeError("truncated input: need " + std::to_string(n) + (n == 1 ? " byte" : " bytes") +
                     " at offset " + std::to_string(pos_) + ", " + std::to_string(size_ - pos_) +
                     " left");
  }
  [[noreturn, gnu::cold, gnu::noinline]] void fail_varint(const char* what, std::size_t start) const {
    throw SerdeError(std::string(what) + " at offset " + std::to_string(start) + " (" +
                     std::to_string(size_ - start) + " bytes left)");
  }

  const unsigned char* data_;
  std::size_t size_;
  std::size_t pos_ = 0;
  std::size_t depth_ = 0;
};

/// The encoding of one type. The primary template is deliberately undefined; each specialisation
/// provides
///   static void write(ByteWriter&, const T&);
///   static T read(ByteReader&);               // throws SerdeError on malformed input
/// and may declare `static constexpr std::size_t min_encoded_size` (the fewest bytes any value
/// encodes to; assumed 1 when absent), which bounds container lengths read from untrusted input.
/// A specialisation that can encode a value in 0 bytes must declare it as 0.
template <class T, class Enable = void>
struct Serde;

/// A type with a usable Serde specialisation.
template <class T>
concept SerdeType = requires(ByteWriter& w, ByteReader& r, const T& v) {
  Serde<T>::write(w, v);
  { Serde<T>::read(r) } -> std::same_as<T>;
};

// ---------------------------------------------------------------------------------------------
// WEIR_SERDE struct descriptions
// ---------------------------------------------------------------------------------------------

namespace detail {

/// One field of a WEIR_SERDE struct: its name and a pointer to it.
template <class T, class M>
struct FieldDesc {
  using member_type = M;
  std::string_view name;
  M T::*ptr;
};

/// What WEIR_SERDE records about a struct: its name as written and its fields in order.
template <class T, class... Fields>
struct StructDesc {
  using type = T;
  std::string_view name;
  std::tuple<Fields...> fields;
};

template <class T, class C, class M>
constexpr FieldDesc<T, M> make_field_desc(std::string_view name, M C::*ptr) {
  static_assert(std::is_base_of_v<C, T>, "WEIR_SERDE: field is not a member of the type");
  return FieldDesc<T, M>{name, static_cast<M T::*>(ptr)};
}

template <class T, class... Fields>
constexpr StructDesc<T, Fields...> make_struct_desc(std::string_view name, Fields... fields) {
  return StructDesc<T, Fields...>{name, std::tuple<Fields...>{fields...}};
}

template <class T, class... Fields>
constexpr bool field_names_unique(const StructDesc<T, Fields...>& desc) {
  std::array<std::string_view, sizeof...(Fields)> names{};
  std::size_t i = 0;
  std::apply([&](const auto&... f) { ((names[i++] = f.name), ...); }, desc.fields);
  for (std::size_t a = 0; a < names.size(); ++a)
    for (std::size_t b = a + 1; b < names.size(); ++b)
      if (names[a] == names[b]) return false;
  return true;
}

// weir_serde_describe is found by argument-dependent lookup in the namespace of the described
// type (std::type_identity<T> makes T's namespace an associated namespace). Requiring the
// described type to be exactly T keeps a derived type from silently using its base's fields.
template <class T>
concept described_struct = requires {
  { weir_serde_describe(std::type_identity<T>{}) };
  requires std::same_as<typename decltype(weir_serde_describe(std::type_identity<T>{}))::type, T>;
};

template <class T>
constexpr auto describe() {
  return weir_serde_describe(std::type_identity<T>{});
}

}  // namespace detail

/// True for types described with WEIR_SERDE (cv-qualifiers ignored).
template <class T>
concept has_serde_fields = detail::described_struct<std::remove_cv_t<T>>;

/// Calls `f(std::string_view name, const auto& value)` for each field of a WEIR_SERDE struct, in
/// the order the macro lists them.
template <class T, class F>
  requires has_serde_fields<T>
constexpr void for_each_field(const T& v, F&& f) {
  constexpr auto desc = detail::describe<std::remove_cv_t<T>>();
  std::apply([&](const auto&... field) { (f(field.name, v.*(field.ptr)), ...); }, desc.fields);
}

/// As above, but `f(std::string_view name, auto& value)` gets mutable references.
template <class T, class F>
  requires has_serde_fields<T>
constexpr void for_each_field(T& v, F&& f) {
  constexpr auto desc = detail::describe<std::remove_cv_t<T>>();
  std::apply([&](const auto&... field) { (f(field.name, v.*(field.ptr)), ...); }, desc.fields);
}

/// The type's name exactly as written in its WEIR_SERDE macro.
template <class T>
  requires has_serde_fields<T>
constexpr std::string_view serde_type_name() {
  return detail::describe<std::remove_cv_t<T>>().name;
}

/// The names of a WEIR_SERDE struct's fields, in order.
template <class T>
  requires has_serde_fields<T>
constexpr auto serde_field_names() {
  constexpr auto desc = detail::describe<std::remove_cv_t<T>>();
  return std::apply(
      [](const auto&... field) { return std::array<std::string_view, sizeof...(field)>{field.name...}; },
      desc.fields);
}

// ---------------------------------------------------------------------------------------------
// Minimum encoded sizes (bounds container lengths read from untrusted input)
// ---------------------------------------------------------------------------------------------

namespace detail {

template <class T>
constexpr std::size_t compute_min_encoded_size();

template <class T>
constexpr std::size_t struct_min_encoded_size() {
  using Fields = decltype(describe<T>().fields);
  return []<class... Fs>(std::type_identity<std::tuple<Fs...>>) {
    return (std::size_t{0} + ... + compute_min_encoded_size<typename Fs::member_type>());
  }(std::type_identity<Fields>{});
}

template <class T>
constexpr std::size_t compute_min_encoded_size() {
  if constexpr (requires { Serde<T>::min_encoded_size; })
    return Serde<T>::min_encoded_size;
  else if constexpr (has_serde_fields<T>)
    return struct_min_encoded_size<T>();
  else
    return 1;
}

}  // namespace detail

/// The fewest bytes any value of T encodes to. Pass it to ByteReader::read_length when writing a
/// Serde specialisation for a container.
template <class T>
inline constexpr std::size_t serde_min_encoded_size = detail::compute_min_encoded_size<T>();

namespace detail {

/// Containers bound their length by remaining bytes / element size, so elements must take bytes.
template <class T>
constexpr std::size_t container_element_size() {
  constexpr std::size_t n = serde_min_encoded_size<T>;
  static_assert(n >= 1, "weir serde: containers of elements that encode to zero bytes are not supported");
  return n;
}

template <class T>
inline constexpr bool bulk_copyable =
    std::is_arithmetic_v<T> && !std::is_same_v<T, bool> && std::endian::native == std::endian::little;

// An enumeration with a fixed underlying type (every enum class, and `enum E : int`) can hold
// every value of that type; others cannot, so decoding arbitrary bytes into them would be UB.
template <class E>
concept fixed_enum = std::is_enum_v<E> && requires { E{std::underlying_type_t<E>{}}; };

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Built-in specialisations
// ---------------------------------------------------------------------------------------------

/// bool, integers, character types, float, double: fixed width, little-endian.
template <class T>
struct Serde<T, std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, long double>>> {
  static constexpr std::size_t min_encoded_size = sizeof(T);
  static void write(ByteWriter& w, const T& v) { w.write_fixed(v); }
  static T read(ByteReader& r) { return r.read_fixed<T>(); }
};

/// Enumerations with a fixed underlying type, encoded as that type. (Enums without one, e.g.
/// `enum Color { Red }`, are not SerdeTypes: write `enum Color : int { Red }` instead.)
template <class E>
struct Serde<E, std::enable_if_t<detail::fixed_enum<E>>> {
  using U = std::underlying_type_t<E>;
  static constexpr std::size_t min_encoded_size = sizeof(U);
  static void write(ByteWriter& w, const E& v) { w.write_fixed(static_cast<U>(v)); }
  static E read(ByteReader& r) { return static_cast<E>(r.read_fixed<U>()); }
};

/// Strings: varint length in code units, then the code units (little-endian).
template <class C, class Traits, class A>
  requires std::is_arithmetic_v<C>
struct Serde<std::basic_string<C, Traits, A>> {
  using S = std::basic_string<C, Traits, A>;
  static constexpr std::size_t min_encoded_size = 1;
  static void write(ByteWriter& w, const S& s) {
    w.write_varint(s.size());
    if constexpr (detail::bulk_copyable<C>) {
      w.write_bytes(s.data(), s.size() * sizeof(C));
    } else {
      for (C c : s) w.write_fixed(c);
    }
  }
  static S read(ByteReader& r) {
    const std::size_t n = r.read_length(sizeof(C));
    if constexpr (std::is_same_v<C, char>) {
      const std::string_view v = r.read_view(n);
      return S(v.data(), v.size());
    } else {
      S s(n, C{});
      if constexpr (detail::bulk_copyable<C>) {
        r.read_bytes(s.data(), n * sizeof(C));
      } else {
        for (auto& c : s) c = r.read_fixed<C>();
      }
      return s;
    }
  }
};

/// Vectors: varint count, then the elements (one bulk copy for arithmetic elements other than
/// bool on little-endian hosts).
template <SerdeType T, class A>
struct Serde<std::vector<T, A>> {
  static constexpr std::size_t min_encoded_size = 1;
  static void write(ByteWriter& w, const std::vector<T, A>& v) {
    w.write_varint(v.size());
    if constexpr (detail::bulk_copyable<T>) {
      w.write_bytes(v.data(), v.size() * sizeof(T));
    } else {
      for (const auto& e : v) Serde<T>::write(w, e);
    }
  }
  static std::vector<T, A> read(ByteReader& r) {
    const std::size_t n = r.read_length(detail::container_element_size<T>());
    std::vector<T, A> v;
    if constexpr (detail::bulk_copyable<T>) {
      v.resize(n);
      r.read_bytes(v.data(), n * sizeof(T));
    } else {
      v.reserve(n);
      for (std::size_t i = 0; i < n; ++i) v.push_back(Serde<T>::read(r));
    }
    return v;
  }
};

/// Fixed-size arrays: the N elements, no length prefix.
template <SerdeType T, std::size_t N>
  requires std::is_default_constructible_v<T>
struct Serde<std::array<T, N>> {
  static constexpr std::size_t min_encoded_size = N * serde_min_encoded_size<T>;
  static void write(ByteWriter& w, const std::array<T, N>& a) {
    if constexpr (detail::bulk_copyable<T>) {
      w.write_bytes(a.data(), N * sizeof(T));
    } else {
      for (const auto& e : a) Serde<T>::write(w, e);
    }
  }
  static std::array<T, N> read(ByteReader& r) {
    std::array<T, N> a{};
    if constexpr (detail::bulk_copyable<T>) {
      r.read_bytes(a.data(), N * sizeof(T));
    } else {
      for (auto& e : a) e = Serde<T>::read(r);
    }
    return a;
  }
};

/// Pairs: first, then second.
template <SerdeType A, SerdeType B>
struct Serde<std::pair<A, B>> {
  static constexpr std::size_t min_encoded_size = serde_min_encoded_size<A> + serde_min_encoded_size<B>;
  static void write(ByteWriter& w, const std::pair<A, B>& p) {
    Serde<A>::write(w, p.first);
    Serde<B>::write(w, p.second);
  }
  static std::pair<A, B> read(ByteReader& r) {
    A a = Serde<A>::read(r);
    B b = Serde<B>::read(r);
    return std::pair<A, B>(std::move(a), std::move(b));
  }
};

/// Tuples: the elements in order.
template <SerdeType... Ts>
struct Serde<std::tuple<Ts...>> {
  static constexpr std::size_t min_encoded_size = (std::size_t{0} + ... + serde_min_encoded_size<Ts>);
  static void write(ByteWriter& w, const std::tuple<Ts...>& t) {
    std::apply([&](const auto&... e) { (Serde<Ts>::write(w, e), ...); }, t);
  }
  static std::tuple<Ts...> read(ByteReader& r) {
    // Elements of a braced initialiser list are evaluated left to right.
    return std::tuple<Ts...>{Serde<Ts>::read(r)...};
  }
};

/// Variants: the alternative's index (varint), then its value. Decoding rejects an index out of range.
template <SerdeType... Ts>
struct Serde<std::variant<Ts...>> {
  static constexpr std::size_t min_encoded_size = 1;
  static void write(ByteWriter& w, const std::variant<Ts...>& v) {
    w.write_varint(v.index());
    std::visit([&](const auto& x) { Serde<std::decay_t<decltype(x)>>::write(w, x); }, v);
  }
  static std::variant<Ts...> read(ByteReader& r) {
    const std::size_t at = r.offset();
    const uint64_t index = r.read_varint();
    if (index >= sizeof...(Ts)) {
      ByteReader::fail_invalid("variant index " + std::to_string(index) + " is not below " + std::to_string(sizeof...(Ts)), at);
    }
    return read_alternative(r, index, std::index_sequence_for<Ts...>{});
  }

 private:
  template <std::size_t... I>
  static std::variant<Ts...> read_alternative(ByteReader& r, uint64_t index, std::index_sequence<I...>) {
    std::variant<Ts...> out;
    // Exactly one alternative matches the index; its Serde reads the value in place.
    (void)((index == I ? (out.template emplace<I>(Serde<std::variant_alternative_t<I, std::variant<Ts...>>>::read(r)), true)
                       : false) ||
           ...);
    return out;
  }
};

/// Optionals: one tag byte (0 = empty, 1 = present), then the value if present.
template <SerdeType T>
struct Serde<std::optional<T>> {
  static constexpr std::size_t min_encoded_size = 1;
  static void write(ByteWriter& w, const std::optional<T>& o) {
    w.write_u8(o.has_value() ? 1 : 0);
    if (o) Serde<T>::write(w, *o);
  }
  static std::optional<T> read(ByteReader& r) {
    const std::size_t at = r.offset();
    const uint8_t tag = r.read_u8();
    if (tag == 0) return std::nullopt;
    if (tag != 1) ByteReader::fail_invalid("optional tag " + std::to_string(tag) + " is neither 0 nor 1", at);
    return std::optional<T>(Serde<T>::read(r));
  }
};

/// Ordered maps: varint count, then key, value pairs in the map's order. Decoding rejects keys
/// that are not strictly increasing (duplicates or out of order), keeping the encoding canonical.
template <SerdeType K, SerdeType V, class C, class A>
struct Serde<std::map<K, V, C, A>> {
  using M = std::map<K, V, C, A>;
  static constexpr std::size_t min_encoded_size = 1;
  static void write(ByteWriter& w, const M& m) {
    w.write_varint(m.size());
    for (const auto& [k, v] : m) {
      Serde<K>::write(w, k);
      Serde<V>::write(w, v);
    }
  }
  static M read(ByteReader& r) {
    const std::size_t n = r.read_length(detail::container_element_size<std::pair<K, V>>());
    M m;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t at = r.offset();
      K k = Serde<K>::read(r);
      if (!m.empty() && !m.key_comp()(std::prev(m.end())->first, k))
        ByteReader::fail_invalid("map keys are not strictly increasing", at);
      V v = Serde<V>::read(r);
      m.emplace_hint(m.end(), std::move(k), std::move(v));
    }
    return m;
  }
};

/// Ordered sets: varint count, then the elements in order; decoding rejects elements that are
/// not strictly increasing.
template <SerdeType T, class C, class A>
struct Serde<std::set<T, C, A>> {
  using S = std::set<T, C, A>;
  static constexpr std::size_t min_encoded_size = 1;
  static void write(ByteWriter& w, const S& s) {
    w.write_varint(s.size());
    for (const auto& e : s) Serde<T>::write(w, e);
  }
  static S read(ByteReader& r) {
    const std::size_t n = r.read_length(detail::container_element_size<T>());
    S s;
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t at = r.offset();
      T e = Serde<T>::read(r);
      if (!s.empty() && !s.key_comp()(*std::prev(s.end()), e))
        ByteReader::fail_invalid("set elements are not strictly increasing", at);
      s.emplace_hint(s.end(), std::move(e));
    }
    return s;
  }
};

namespace detail {

/// Writes the `n` elements of an unordered container canonically: each element's encoding
/// (`write_one(ByteWriter&, element)`) in ascending order of its bytes, so two equal containers
/// encode alike whatever their iteration order (keys are hashed from their bytes).
template <class Container, class WriteOne>
void write_sorted_by_bytes(ByteWriter& w, const Container& c, WriteOne write_one) {
  w.write_varint(c.size());
  if (c.size() < 2) {
    for (const auto& e : c) write_one(w, e);
    return;
  }
  std::string scratch;
  std::vector<std::pair<std::size_t, std::size_t>> spans;  // (offset, length) in scratch
  spans.reserve(c.size());
  ByteWriter sw(scratch);
  for (const auto& e : c) {
    const std::size_t at = scratch.size();
    write_one(sw, e);
    spans.emplace_back(at, scratch.size() - at);
  }
  const std::string_view all(scratch);
  std::sort(spans.begin(), spans.end(), [all](const auto& a, const auto& b) {
    return all.substr(a.first, a.second) < all.substr(b.first, b.second);
  });
  for (const auto& [at, n] : spans) w.write_bytes(all.data() + at, n);
}

}  // namespace detail

/// Unordered maps: varint count, then key, value pairs in ascending order of their encoded
/// bytes, so equal maps encode alike (and hash alike as keys). Decoding accepts any order and
/// rejects duplicate keys.
template <SerdeType K, SerdeType V, class H, class E, class A>
struct Serde<std::unordered_map<K, V, H, E, A>> {
  using M = std::unordered_map<K, V, H, E, A>;
  static constexpr std::size_t min_encoded_size = 1;
  static void write(ByteWriter& w, const M& m) {
    detail::write_sorted_by_bytes(w, m, [](ByteWriter& out, const typename M::value_type& kv) {
      Serde<K>::write(out, kv.first);
      Serde<V>::write(out, kv.second);
    });
  }
  static M read(ByteReader& r) {
    const std::size_t n = r.read_length(detail::container_element_size<std::pair<K, V>>());
    M m;
    m.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t at = r.offset();
      K k = Serde<K>::read(r);
      V v = Serde<V>::read(r);
      if (!m.emplace(std::move(k), std::move(v)).second) ByteReader::fail_invalid("duplicate map key", at);
    }
    return m;
  }
};

/// Unordered sets: varint count, then the elements in ascending order of their encoded bytes,
/// so equal sets encode alike. Decoding accepts any order and rejects duplicates.
template <SerdeType T, class H, class E, class A>
struct Serde<std::unordered_set<T, H, E, A>> {
  using S = std::unordered_set<T, H, E, A>;
  static constexpr std::size_t min_encoded_size = 1;
  static void write(ByteWriter& w, const S& s) {
    detail::write_sorted_by_bytes(w, s, [](ByteWriter& out, const T& e) { Serde<T>::write(out, e); });
  }
  static S read(ByteReader& r) {
    const std::size_t n = r.read_length(detail::container_element_size<T>());
    S s;
    s.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t at = r.offset();
      if (!s.insert(Serde<T>::read(r)).second) ByteReader::fail_invalid("duplicate set element", at);
    }
    return s;
  }
};

/// Durations: the tick count, encoded as Rep. The period is part of the type, not the bytes.
template <SerdeType Rep, class Period>
struct Serde<std::chrono::duration<Rep, Period>> {
  using D = std::chrono::duration<Rep, Period>;
  static constexpr std::size_t min_encoded_size = serde_min_encoded_size<Rep>;
  static void write(ByteWriter& w, const D& d) { Serde<Rep>::write(w, d.count()); }
  static D read(ByteReader& r) { return D(Serde<Rep>::read(r)); }
};

/// Wall-clock time points: the duration since the Unix epoch. (Other clocks have no meaning
/// outside the process that read them, so they are not serialisable.)
template <class D>
  requires SerdeType<D>
struct Serde<std::chrono::time_point<std::chrono::system_clock, D>> {
  using TP = std::chrono::time_point<std::chrono::system_clock, D>;
  static constexpr std::size_t min_encoded_size = serde_min_encoded_size<D>;
  static void write(ByteWriter& w, const TP& t) { Serde<D>::write(w, t.time_since_epoch()); }
  static TP read(ByteReader& r) { return TP(Serde<D>::read(r)); }
};

/// WEIR_SERDE structs: the fields in macro order, no names or tags on the wire. Decoding
/// value-initialises the struct and then assigns each field, so it must be default-constructible
/// and its listed fields non-const. Structs nested more than ByteReader::kMaxNestingDepth deep
/// (possible only for recursive types) are rejected when decoding.
template <class T>
struct Serde<T, std::enable_if_t<has_serde_fields<T>>> {
  static void write(ByteWriter& w, const T& v) {
    for_each_field(v, [&](std::string_view, const auto& field) {
      using F = std::remove_cvref_t<decltype(field)>;
      static_assert(SerdeType<F>, "WEIR_SERDE: a field's type has no weir::Serde specialisation");
      Serde<F>::write(w, field);
    });
  }
  static T read(ByteReader& r) {
    static_assert(std::is_default_constructible_v<T>, "WEIR_SERDE: decoding needs a default-constructible type");
    ByteReader::NestingScope nesting(r);
    T v{};
    for_each_field(v, [&](std::string_view, auto& field) {
      using F = std::remove_cvref_t<decltype(field)>;
      static_assert(SerdeType<F>, "WEIR_SERDE: a field's type has no weir::Serde specialisation");
      static_assert(!std::is_const_v<std::remove_reference_t<decltype(field)>>,
                    "WEIR_SERDE: const fields cannot be decoded");
      field = Serde<F>::read(r);
    });
    return v;
  }
};

// ---------------------------------------------------------------------------------------------
// Entry points
// ---------------------------------------------------------------------------------------------

/// Appends the encoding of `v` to `out`.
template <SerdeType T>
void serialize_into(std::string& out, const T& v) {
  ByteWriter w(out);
  Serde<T>::write(w, v);
}

/// Returns the encoding of `v`.
template <SerdeType T>
std::string serialize(const T& v) {
  std::string out;
  serialize_into(out, v);
  return out;
}

/// Decodes exactly one T from `bytes`. Throws SerdeError on malformed or truncated input and on
/// trailing bytes after the value.
template <SerdeType T>
T deserialize(std::string_view bytes) {
  ByteReader r(bytes);
  T v = Serde<T>::read(r);
  if (!r.at_end()) {
    throw SerdeError("trailing bytes: " + std::to_string(r.remaining()) + " bytes left after the value at offset " +
                     std::to_string(r.offset()));
  }
  return v;
}

// ---------------------------------------------------------------------------------------------
// Type identity: what a snapshot records about the serializer of each state
// ---------------------------------------------------------------------------------------------
//
// Built-in types are named by what they encode: "int64", "double", "string", "vector<int64>",
// "map<string,int64>", "optional<Trade>"; WEIR_SERDE structs by their name and fields in wire
// order ("Trade{id:int64,price:double}"). A Serde specialisation may declare
//   static constexpr std::string_view type_name = "...";  // its identity (default: the C++ name)
//   static constexpr uint32_t version = N;                 // raise it when the encoding changes
// A restore compares identity and version of each state and refuses a change.

namespace detail {

/// The C++ name of T as the compiler spells it (GCC and Clang); the identity of types with a
/// custom Serde that declares no `type_name`.
template <class T>
std::string cpp_type_name() {
  const std::string_view f = __PRETTY_FUNCTION__;
  const std::size_t at = f.find("T = ");
  if (at == std::string_view::npos) return std::string(f);
  const std::size_t from = at + 4;
  std::size_t to = f.find(';', from);
  if (to == std::string_view::npos) to = f.rfind(']');
  if (to == std::string_view::npos || to < from) to = f.size();
  return std::string(f.substr(from, to - from));
}

template <class T>
constexpr uint32_t serde_version_of() {
  if constexpr (requires { Serde<T>::version; }) {
    return static_cast<uint32_t>(Serde<T>::version);
  } else {
    return 1;
  }
}

template <class T>
inline constexpr char kSerdeTypeTag = 0;

template <class T>
void append_type_id(std::string& out, std::vector<const void*>& open);

template <class... Ts>
void append_type_ids(std::string& out, std::vector<const void*>& open) {
  std::size_t i = 0;
  ((out += (i++ != 0 ? "," : ""), append_type_id<Ts>(out, open)), ...);
}

template <class T>
std::string arithmetic_type_name() {
  if constexpr (std::is_same_v<T, bool>) {
    return "bool";
  } else if constexpr (std::is_same_v<T, char>) {
    return "char";
  } else if constexpr (std::is_same_v<T, wchar_t>) {
    return "wchar";
  } else if constexpr (std::is_same_v<T, char8_t>) {
    return "char8";
  } else if constexpr (std::is_same_v<T, char16_t>) {
    return "char16";
  } else if constexpr (std::is_same_v<T, char32_t>) {
    return "char32";
  } else if constexpr (std::is_floating_point_v<T>) {
    return sizeof(T) == 4 ? "float" : "double";
  } else {
    return (std::is_signed_v<T> ? "int" : "uint") + std::to_string(sizeof(T) * 8);
  }
}

/// The identity of T without its own version (its parts carry theirs).
template <class T, class = void>
struct SerdeTypeId {
  static void append(std::string& out, std::vector<const void*>& open) {
    if constexpr (has_serde_fields<T>) {
      // A recursive struct names itself inside its own fields.
      if (std::find(open.begin(), open.end(), &kSerdeTypeTag<T>) != open.end()) {
        out += serde_type_name<T>();
        return;
      }
      open.push_back(&kSerdeTypeTag<T>);
      out += serde_type_name<T>();
      out += '{';
      constexpr auto desc = describe<T>();
      std::size_t i = 0;
      std::apply(
          [&](const auto&... field) {
            ((out += (i++ != 0 ? "," : ""), out += field.name, out += ':',
              append_type_id<typename std::remove_cvref_t<decltype(field)>::member_type>(out, open)),
             ...);
          },
          desc.fields);
      out += '}';
      open.pop_back();
    } else if constexpr (std::is_enum_v<T>) {
      out += "enum " + cpp_type_name<T>() + "(" + arithmetic_type_name<std::underlying_type_t<T>>() + ")";
    } else if constexpr (std::is_arithmetic_v<T>) {
      out += arithmetic_type_name<T>();
    } else {
      out += cpp_type_name<T>();
    }
  }
};
template <class C, class Tr, class A>
struct SerdeTypeId<std::basic_string<C, Tr, A>> {
  static void append(std::string& out, std::vector<const void*>&) {
    out += std::is_same_v<C, char> ? std::string("string") : "string<" + arithmetic_type_name<C>() + ">";
  }
};
template <class T, class A>
struct SerdeTypeId<std::vector<T, A>> {
  static void append(std::string& out, std::vector<const void*>& open) {
    out += "vector<";
    append_type_id<T>(out, open);
    out += '>';
  }
};
template <class T, std::size_t N>
struct SerdeTypeId<std::array<T, N>> {
  static void append(std::string& out, std::vector<const void*>& open) {
    out += "array<";
    append_type_id<T>(out, open);
    out += "," + std::to_string(N) + ">";
  }
};
template <class A, class B>
struct SerdeTypeId<std::pair<A, B>> {
  static void append(std::string& out, std::vector<const void*>& open) {
    out += "pair<";
    append_type_ids<A, B>(out, open);
    out += '>';
  }
};
template <class... Ts>
struct SerdeTypeId<std::tuple<Ts...>> {
  static void append(std::string& out, std::vector<const void*>& open) {
    out += "tuple<";
    append_type_ids<Ts...>(out, open);
    out += '>';
  }
};
template <class T>
struct SerdeTypeId<std::optional<T>> {
  static void append(std::string& out, std::vector<const void*>& open) {
    out += "optional<";
    append_type_id<T>(out, open);
    out += '>';
  }
};
template <class K, class V, class C, class A>
struct SerdeTypeId<std::map<K, V, C, A>> {
  static void append(std::string& out, std::vector<const void*>& open) {
    out += "map<";
    append_type_ids<K, V>(out, open);
    out += '>';
  }
};
template <class T, class C, class A>
struct SerdeTypeId<std::set<T, C, A>> {
  static void append(std::string& out, std::vector<const void*>& open) {
    out += "set<";
    append_type_id<T>(out, open);
    out += '>';
  }
};
template <class K, class V, class H, class E, class A>
struct SerdeTypeId<std::unordered_map<K, V, H, E, A>> {
  static void append(std::string& out, std::vector<const void*>& open) {
    out += "unordered_map<";
    append_type_ids<K, V>(out, open);
    out += '>';
  }
};
template <class T, class H, class E, class A>
struct SerdeTypeId<std::unordered_set<T, H, E, A>> {
  static void append(std::string& out, std::vector<const void*>& open) {
    out += "unordered_set<";
    append_type_id<T>(out, open);
    out += '>';
  }
};
template <class Rep, class Period>
struct SerdeTypeId<std::chrono::duration<Rep, Period>> {
  static void append(std::string& out, std::vector<const void*>& open) {
    out += "duration<";
    append_type_id<Rep>(out, open);
    out += "," + std::to_string(Period::num) + "/" + std::to_string(Period::den) + ">";
  }
};
template <class Clock, class D>
struct SerdeTypeId<std::chrono::time_point<Clock, D>> {
  static void append(std::string& out, std::vector<const void*>& open) {
    out += "time_point<";
    append_type_id<D>(out, open);
    out += '>';
  }
};

/// T's identity without its own version.
template <class T>
void append_type_body(std::string& out, std::vector<const void*>& open) {
  if constexpr (requires { Serde<T>::type_name; }) {
    out += std::string_view(Serde<T>::type_name);
  } else {
    SerdeTypeId<T>::append(out, open);
  }
}

/// T's identity as a part of another type: with "@v<N>" when its version is not 1.
template <class T>
void append_type_id(std::string& out, std::vector<const void*>& open) {
  using U = std::remove_cv_t<T>;
  append_type_body<U>(out, open);
  if constexpr (serde_version_of<U>() != 1) out += "@v" + std::to_string(serde_version_of<U>());
}

}  // namespace detail

/// The identity of T's encoding, e.g. "int64", "vector<string>", "Trade{id:int64,price:double}".
/// Computed once per type; the same in every build of the same type definitions.
template <class T>
const std::string& serde_type_id() {
  static const std::string id = [] {
    std::string s;
    std::vector<const void*> open;
    detail::append_type_body<std::remove_cv_t<T>>(s, open);
    return s;
  }();
  return id;
}

/// The version of T's Serde: its `version` member, or 1.
template <class T>
constexpr uint32_t serde_type_version() {
  return detail::serde_version_of<std::remove_cv_t<T>>();
}

}  // namespace weir

// ---------------------------------------------------------------------------------------------
// WEIR_SERDE(Type, field, ...)
// ---------------------------------------------------------------------------------------------

#define WEIR_SERDE_DETAIL_PARENS ()
#define WEIR_SERDE_DETAIL_EXPAND(...)                                            \
  WEIR_SERDE_DETAIL_EXPAND4(WEIR_SERDE_DETAIL_EXPAND4(WEIR_SERDE_DETAIL_EXPAND4( \
      WEIR_SERDE_DETAIL_EXPAND4(__VA_ARGS__))))
#define WEIR_SERDE_DETAIL_EXPAND4(...)                                           \
  WEIR_SERDE_DETAIL_EXPAND3(WEIR_SERDE_DETAIL_EXPAND3(WEIR_SERDE_DETAIL_EXPAND3( \
      WEIR_SERDE_DETAIL_EXPAND3(__VA_ARGS__))))
#define WEIR_SERDE_DETAIL_EXPAND3(...)                                           \
  WEIR_SERDE_DETAIL_EXPAND2(WEIR_SERDE_DETAIL_EXPAND2(WEIR_SERDE_DETAIL_EXPAND2( \
      WEIR_SERDE_DETAIL_EXPAND2(__VA_ARGS__))))
#define WEIR_SERDE_DETAIL_EXPAND2(...)                                           \
  WEIR_SERDE_DETAIL_EXPAND1(WEIR_SERDE_DETAIL_EXPAND1(WEIR_SERDE_DETAIL_EXPAND1( \
      WEIR_SERDE_DETAIL_EXPAND1(__VA_ARGS__))))
#define WEIR_SERDE_DETAIL_EXPAND1(...) __VA_ARGS__
#define WEIR_SERDE_DETAIL_FOR_EACH(macro, type, ...) \
  __VA_OPT__(WEIR_SERDE_DETAIL_EXPAND(WEIR_SERDE_DETAIL_FOR_EACH_STEP(macro, type, __VA_ARGS__)))
#define WEIR_SERDE_DETAIL_FOR_EACH_STEP(macro, type, first, ...) \
  macro(type, first) __VA_OPT__(WEIR_SERDE_DETAIL_FOR_EACH_AGAIN WEIR_SERDE_DETAIL_PARENS(macro, type, __VA_ARGS__))
#define WEIR_SERDE_DETAIL_FOR_EACH_AGAIN() WEIR_SERDE_DETAIL_FOR_EACH_STEP
#define WEIR_SERDE_DETAIL_FIELD(type, field) , ::weir::detail::make_field_desc<type>(#field, &type::field)

/// Makes a struct serialisable and its fields iterable: `WEIR_SERDE(Trade, id, price, ts);`.
/// Use it at namespace scope in the namespace that declares the type (the global namespace
/// included), after the type's definition. Lists public data members in wire order (up to 256).
/// The type must be default-constructible to be decoded. Defines the ADL hook
/// `weir_serde_describe(std::type_identity<Type>)`, from which weir::Serde<Type>,
/// weir::has_serde_fields, weir::for_each_field and weir::serde_type_name work.
#define WEIR_SERDE(Type, ...)                                                                       \
  [[maybe_unused]] constexpr auto weir_serde_describe(::std::type_identity<Type>) noexcept {        \
    return ::weir::detail::make_struct_desc<Type>(                                                  \
        #Type WEIR_SERDE_DETAIL_FOR_EACH(WEIR_SERDE_DETAIL_FIELD, Type, __VA_ARGS__));              \
  }                                                                                                 \
  static_assert(::weir::detail::field_names_unique(weir_serde_describe(::std::type_identity<Type>{})), \
                "WEIR_SERDE(" #Type ", ...) lists a field twice");

#endif  // WEIR_SERDE_SERDE_HPP_
