#pragma once
/// Compile-time checks and deductions for user functions, so a wrong lambda fails with one
/// readable line.
#include <array>
#include <chrono>
#include <concepts>
#include <map>
#include <optional>
#include <set>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "weir/api/functions.hpp"
#include "weir/serde/serde.hpp"

namespace weir {

namespace detail {

template <class...>
inline constexpr bool always_false = false;

template <class T>
struct contains_floating_point_impl;

template <class T>
inline constexpr bool contains_floating_point = contains_floating_point_impl<std::remove_cv_t<T>>::value;

template <class T>
constexpr bool struct_fields_contain_floating_point() {
  using Fields = decltype(describe<T>().fields);
  return []<class... Fs>(std::type_identity<std::tuple<Fs...>>) {
    return (false || ... || contains_floating_point<typename Fs::member_type>);
  }(std::type_identity<Fields>{});
}

/// True when a value of T holds a float or double anywhere the serde can see: itself, the
/// elements of standard containers, pairs, tuples, optionals, durations and the fields of
/// WEIR_SERDE structs. (A custom Serde specialisation is opaque: it counts as no.)
template <class T>
struct contains_floating_point_impl {
  static constexpr bool value = [] {
    if constexpr (std::is_floating_point_v<T>) {
      return true;
    } else if constexpr (has_serde_fields<T>) {
      return struct_fields_contain_floating_point<T>();
    } else {
      return false;
    }
  }();
};
template <class A, class B>
struct contains_floating_point_impl<std::pair<A, B>> {
  static constexpr bool value = contains_floating_point<A> || contains_floating_point<B>;
};
template <class... Ts>
struct contains_floating_point_impl<std::tuple<Ts...>> {
  static constexpr bool value = (false || ... || contains_floating_point<Ts>);
};
template <class T>
struct contains_floating_point_impl<std::optional<T>> : contains_floating_point_impl<std::remove_cv_t<T>> {};
template <class T, std::size_t N>
struct contains_floating_point_impl<std::array<T, N>> : contains_floating_point_impl<std::remove_cv_t<T>> {};
template <class T, class A>
struct contains_floating_point_impl<std::vector<T, A>> : contains_floating_point_impl<std::remove_cv_t<T>> {};
template <class T, class C, class A>
struct contains_floating_point_impl<std::set<T, C, A>> : contains_floating_point_impl<std::remove_cv_t<T>> {};
template <class T, class H, class E, class A>
struct contains_floating_point_impl<std::unordered_set<T, H, E, A>> : contains_floating_point_impl<std::remove_cv_t<T>> {};
template <class K, class V, class C, class A>
struct contains_floating_point_impl<std::map<K, V, C, A>> {
  static constexpr bool value = contains_floating_point<K> || contains_floating_point<V>;
};
template <class K, class V, class H, class E, class A>
struct contains_floating_point_impl<std::unordered_map<K, V, H, E, A>> {
  static constexpr bool value = contains_floating_point<K> || contains_floating_point<V>;
};
template <class Rep, class Period>
struct contains_floating_point_impl<std::chrono::duration<Rep, Period>> : contains_floating_point_impl<Rep> {};

}  // namespace detail

/// A key selector: callable as `K(const T&)`, where K has a `weir::Serde` (keys are hashed
/// through their serialised form), `==`, and no floating-point value inside (see
/// `check_key_selector`).
template <class F, class T>
concept KeySelectorFor =
    std::invocable<const F&, const T&> &&
    SerdeType<std::decay_t<std::invoke_result_t<const F&, const T&>>> &&
    std::equality_comparable<std::decay_t<std::invoke_result_t<const F&, const T&>>> &&
    !detail::contains_floating_point<std::decay_t<std::invoke_result_t<const F&, const T&>>>;

template <class F, class T>
using key_type_t = std::decay_t<std::invoke_result_t<const F&, const T&>>;

namespace detail {

/// Checks a key selector for records of type T with one readable message per problem (instead
/// of a page of unsatisfied constraints). Returns whether F is a KeySelectorFor<F, T>; callers
/// build nothing when it is false, so the static_assert is the only error.
///
/// Floating-point keys are refused: `==` on them is no equivalence (NaN != NaN, so a NaN key
/// could never find its state) and -0.0 == 0.0 although their bytes differ, so equal keys would
/// hash to different subtasks. Key by an integer instead (a fixed-point value, or
/// std::bit_cast<uint64_t>(x) for bit identity) or by a string.
template <class F, class T>
constexpr bool check_key_selector() {
  if constexpr (!std::is_invocable_v<const F&, const T&>) {
    static_assert(always_false<F>, "key selector: must be callable as K(const T&) with T the stream's record type (and const)");
    return false;
  } else {
    using K = key_type_t<F, T>;
    if constexpr (std::is_void_v<K>) {
      static_assert(always_false<F>, "key selector: must return the key, not void");
      return false;
    } else if constexpr (!SerdeType<K>) {
      static_assert(always_false<K>,
                    "key selector: the key type has no weir::Serde (keys are hashed through their bytes). For a "
                    "struct, add WEIR_SERDE(Type, field1, field2, ...) after it at namespace scope; or key by a "
                    "std::string, an integer or a std::tuple of them");
      return false;
    } else if constexpr (!std::equality_comparable<K>) {
      static_assert(always_false<K>,
                    "key selector: the key type needs operator== (e.g. bool operator==(const Key&) const = default;)");
      return false;
    } else if constexpr (contains_floating_point<K>) {
      static_assert(always_false<K>,
                    "key selector: floating-point keys are refused (-0.0 == 0.0 but their bytes differ, and NaN != "
                    "NaN, so equal keys would be split); key by an integer (a fixed-point value, or "
                    "std::bit_cast<uint64_t>(x)) or a string");
      return false;
    } else {
      return true;
    }
  }
}

}  // namespace detail

namespace detail {

template <class F>
struct callable_args : callable_args<decltype(&F::operator())> {};
template <class R, class... A>
struct callable_args<R (*)(A...)> {
  using type = std::tuple<A...>;
};
template <class R, class... A>
struct callable_args<R(A...)> {
  using type = std::tuple<A...>;
};
template <class C, class R, class... A>
struct callable_args<R (C::*)(A...)> {
  using type = std::tuple<A...>;
};
template <class C, class R, class... A>
struct callable_args<R (C::*)(A...) const> {
  using type = std::tuple<A...>;
};
template <class C, class R, class... A>
struct callable_args<R (C::*)(A...) noexcept> {
  using type = std::tuple<A...>;
};
template <class C, class R, class... A>
struct callable_args<R (C::*)(A...) const noexcept> {
  using type = std::tuple<A...>;
};

template <class C>
struct collector_value {
  using type = void;
};
template <class U>
struct collector_value<Collector<U>&> {
  using type = U;
};

/// The U of the last parameter `Collector<U>&` of a callable with `Arity` parameters, or void
/// when it cannot be deduced (generic lambdas, another arity).
template <class F, std::size_t Arity, class = void>
struct collector_output {
  using type = void;
};
template <class F, std::size_t Arity>
struct collector_output<F, Arity, std::void_t<typename callable_args<F>::type>> {
  using args = typename callable_args<F>::type;
  using type = std::conditional_t<std::tuple_size_v<args> == Arity,
                                  typename collector_value<std::tuple_element_t<std::tuple_size_v<args> - 1, args>>::type,
                                  void>;
};

/// The U of `f(const T&, Collector<U>&)`.
template <class F>
using flat_map_output_t = typename collector_output<std::decay_t<F>, 2>::type;
/// The OUT of `g(a, b, Collector<OUT>&)` (co-group).
template <class F>
using flat_map_output_t_3 = typename collector_output<std::decay_t<F>, 3>::type;

}  // namespace detail
}  // namespace weir
