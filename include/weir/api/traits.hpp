#pragma once
/// Compile-time checks and deductions for user functions, so a wrong lambda fails with one
/// readable line.
#include <concepts>
#include <tuple>
#include <type_traits>

#include "weir/api/functions.hpp"
#include "weir/serde/serde.hpp"

namespace weir {

/// A key selector: callable as `K(const T&)`, where K has a `weir::Serde` (keys are hashed
/// through their serialised form) and `==`.
template <class F, class T>
concept KeySelectorFor =
    std::invocable<const F&, const T&> &&
    SerdeType<std::decay_t<std::invoke_result_t<const F&, const T&>>> &&
    std::equality_comparable<std::decay_t<std::invoke_result_t<const F&, const T&>>>;

template <class F, class T>
using key_type_t = std::decay_t<std::invoke_result_t<const F&, const T&>>;

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
