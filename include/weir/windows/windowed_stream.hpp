#pragma once
/// WindowedStream: `keyed.window(assigner)` (and `stream.window_all(assigner)`), configured
/// with `trigger`, `evictor`, `allowed_lateness`, `side_output_late_data`, and finished by a
/// window function: `reduce`, `aggregate`, `process`, or an incremental function with a
/// ProcessWindowFunction for the window's metadata.
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>

#include "weir/api/datastream.hpp"
#include "weir/windows/internal/slice_operator.hpp"
#include "weir/windows/internal/window_operator.hpp"
#include "weir/windows/windows.hpp"

namespace weir {

namespace detail {
template <class P, class W, class = void>
struct is_all_window_function : std::false_type {};
template <class P, class W>
struct is_all_window_function<P, W, std::void_t<typename P::input_type, typename P::output_type>>
    : std::bool_constant<std::is_base_of_v<ProcessAllWindowFunction<typename P::input_type, typename P::output_type, W>, P>> {};

/// Runs a ProcessAllWindowFunction as a keyed window function of the single key of window_all.
template <class P>
class AllWindowAdapter final
    : public ProcessWindowFunction<typename P::input_type, typename P::output_type, uint8_t, typename P::window_type> {
 public:
  using IN = typename P::input_type;
  using OUT = typename P::output_type;
  using W = typename P::window_type;
  using Base = ProcessWindowFunction<IN, OUT, uint8_t, W>;
  explicit AllWindowAdapter(P p) : p_(std::move(p)) {}
  void open(RuntimeContext& rc) override { p_.open(rc); }
  void close() override { p_.close(); }
  void process(const uint8_t&, typename Base::Context& ctx, const std::vector<IN>& elements, Collector<OUT>& out) override {
    struct Ctx final : P::Context {
      typename Base::Context* c;
      const W& window() const override { return c->window(); }
      int64_t current_processing_time() const override { return c->current_processing_time(); }
      int64_t current_watermark() const override { return c->current_watermark(); }
    } all;
    all.c = &ctx;
    p_.process(all, elements, out);
  }

 private:
  P p_;
};
}  // namespace detail

template <class T, class K, class A>
class WindowedStream {
 public:
  using W = typename A::window_type;

  WindowedStream(KeyedStream<T, K> input, A assigner, bool all = false)
      : input_(std::move(input)), assigner_(std::move(assigner)), all_(all) {
    auto def = assigner_.default_trigger();
    default_event_time_trigger_ = std::is_same_v<decltype(def), EventTimeTrigger>;
    trigger_ = [def] { return detail::make_trigger<T, W>(def); };
  }

  /// Replaces the assigner's default trigger: a built-in (`CountTrigger::of(n)`, ...) or a
  /// `weir::Trigger<T, W>` subclass.
  template <class TR>
  WindowedStream& trigger(TR t) {
    if constexpr (std::is_base_of_v<Trigger<T, W>, TR>) {
      trigger_ = [t] { return std::unique_ptr<Trigger<T, W>>(std::make_unique<TR>(t)); };
    } else {
      trigger_ = [t] { return t.template make<T, W>(); };
    }
    default_event_time_trigger_ = false;
    return *this;
  }
  /// Removes elements before/after the window function (`CountEvictor::of(n)`,
  /// `TimeEvictor::of(d)`, or a `weir::Evictor<T, W>` subclass). Windows then keep their elements.
  template <class E>
  WindowedStream& evictor(E e) {
    if constexpr (std::is_base_of_v<Evictor<T, W>, E>) {
      evictor_ = [e] { return std::unique_ptr<Evictor<T, W>>(std::make_unique<E>(e)); };
    } else {
      evictor_ = [e] { return e.template make<T, W>(); };
    }
    return *this;
  }
  /// Keeps windows for `lateness` after their end: late elements update (and re-fire) them.
  WindowedStream& allowed_lateness(std::chrono::milliseconds lateness) {
    if (lateness.count() < 0) throw GraphError("allowed_lateness: the lateness must not be negative");
    if (!assigner_.is_event_time() && lateness.count() > 0) {
      throw GraphError("allowed_lateness: only event-time windows have lateness");
    }
    lateness_ = lateness.count();
    return *this;
  }
  /// Sends elements that arrive after their windows' cleanup to this side output instead of
  /// dropping them.
  WindowedStream& side_output_late_data(const OutputTag<T>& tag) {
    late_tag_ = tag.id();
    return *this;
  }

  /// `T f(const T&, const T&)`: one result per window, kept incrementally.
  template <class F>
  DataStream<T> reduce(F f) {
    static_assert(std::is_invocable_r_v<T, const F&, const T&, const T&>, "reduce: the function must be callable as T(const T&, const T&)");
    return build<T>("Window Reduce", detail::ReduceAgg<T, F>{f}, detail::EmitResult{});
  }
  /// Reduce incrementally, then hand the result to a ProcessWindowFunction with the window.
  template <class F, class PWF>
  auto reduce(F f, PWF pwf) {
    check_pwf<PWF, T>();
    return build<typename PWF::output_type>("Window Reduce", detail::ReduceAgg<T, F>{f}, std::move(pwf));
  }
  /// An AggregateFunction: `create_accumulator()`, `add(const T&, ACC) -> ACC`,
  /// `get_result(const ACC&)`, `merge(ACC, ACC)`.
  template <class AG>
  auto aggregate(AG agg) {
    using Agg = detail::AggregateAgg<T, AG>;
    return build<typename Agg::result_type>("Window Aggregate", Agg{std::move(agg)}, detail::EmitResult{});
  }
  template <class AG, class PWF>
  auto aggregate(AG agg, PWF pwf) {
    using Agg = detail::AggregateAgg<T, AG>;
    check_pwf<PWF, typename Agg::result_type>();
    return build<typename PWF::output_type>("Window Aggregate", Agg{std::move(agg)}, std::move(pwf));
  }
  /// A ProcessWindowFunction<T, OUT, K, W> (or, for window_all, a ProcessAllWindowFunction)
  /// over all the elements of each window.
  template <class PWF>
  auto process(PWF pwf) {
    if constexpr (detail::is_all_window_function<PWF, W>::value) {
      return process(detail::AllWindowAdapter<PWF>(std::move(pwf)));
    } else {
      check_pwf<PWF, T>();
      return build<typename PWF::output_type>("Window Process", detail::NoAgg{}, std::move(pwf));
    }
  }

 private:
  template <class PWF, class IN>
  static void check_pwf() {
    static_assert(std::is_base_of_v<ProcessWindowFunction<IN, typename PWF::output_type, K, W>, PWF> ||
                      std::is_base_of_v<ProcessAllWindowFunction<IN, typename PWF::output_type, W>, PWF>,
                  "the window function must derive from weir::ProcessWindowFunction<IN, OUT, K, W> with IN the "
                  "elements' (or the incremental result's) type, K the key type and W the window type");
  }

  template <class OUT, class Agg, class PWF>
  DataStream<OUT> build(std::string name, Agg agg, PWF pwf) {
    if constexpr (detail::is_all_window_function<PWF, W>::value) {
      return build<OUT>(std::move(name), std::move(agg), detail::AllWindowAdapter<PWF>(std::move(pwf)));
    } else {
      constexpr bool kNoAgg = std::is_same_v<Agg, detail::NoAgg>;
      const bool list = kNoAgg || static_cast<bool>(evictor_);
      typename detail::WindowOperator<K, T, OUT, A, Agg, PWF, true>::Config cfg{
          input_.get_key_selector(), assigner_, trigger_, evictor_, lateness_, late_tag_, default_event_time_trigger_};
      std::function<std::unique_ptr<runtime::StreamOperator>()> factory;
      if (list) {
        factory = [cfg, agg, pwf]() -> std::unique_ptr<runtime::StreamOperator> {
          return std::make_unique<detail::WindowOperator<K, T, OUT, A, Agg, PWF, true>>(cfg, agg, pwf);
        };
      } else if constexpr (!kNoAgg && std::is_same_v<A, SlidingEventTimeWindows>) {
        if (default_event_time_trigger_ && assigner_.slide() < assigner_.size()) {
          // Overlapping windows share slices: one accumulator update per element.
          using Op = detail::SliceWindowOperator<K, T, OUT, Agg, PWF>;
          typename Op::Config sc{input_.get_key_selector(), assigner_.size(), assigner_.slide(), assigner_.offset(), lateness_, late_tag_};
          factory = [sc, agg, pwf]() -> std::unique_ptr<runtime::StreamOperator> { return std::make_unique<Op>(sc, agg, pwf); };
        } else {
          typename detail::WindowOperator<K, T, OUT, A, Agg, PWF, false>::Config c2{
              cfg.key, cfg.assigner, cfg.trigger, cfg.evictor, cfg.allowed_lateness, cfg.late_tag, cfg.default_event_time_trigger};
          factory = [c2, agg, pwf]() -> std::unique_ptr<runtime::StreamOperator> {
            return std::make_unique<detail::WindowOperator<K, T, OUT, A, Agg, PWF, false>>(c2, agg, pwf);
          };
        }
      } else if constexpr (!kNoAgg) {
        typename detail::WindowOperator<K, T, OUT, A, Agg, PWF, false>::Config c2{
            cfg.key, cfg.assigner, cfg.trigger, cfg.evictor, cfg.allowed_lateness, cfg.late_tag, cfg.default_event_time_trigger};
        factory = [c2, agg, pwf]() -> std::unique_ptr<runtime::StreamOperator> {
          return std::make_unique<detail::WindowOperator<K, T, OUT, A, Agg, PWF, false>>(c2, agg, pwf);
        };
      }
      auto s = input_.template add_one_input<OUT>(std::move(name), std::move(factory));
      auto& n = input_.env_->graph.at(s.get_id());
      n.side_outputs_allowed = true;
      if (!late_tag_.empty()) n.side_output_types.emplace(late_tag_, std::type_index(typeid(T)));
      if (all_) {
        n.parallelism = 1;
        n.non_parallel = true;
      }
      return s;
    }
  }

  KeyedStream<T, K> input_;
  A assigner_;
  bool all_;
  bool default_event_time_trigger_ = false;
  std::function<std::unique_ptr<Trigger<T, W>>()> trigger_;
  std::function<std::unique_ptr<Evictor<T, W>>()> evictor_;
  int64_t lateness_ = 0;
  std::string late_tag_;
};

template <class T, class K>
template <class A>
WindowedStream<T, K, A> KeyedStream<T, K>::window(A assigner) const {
  return WindowedStream<T, K, A>(*this, std::move(assigner));
}

template <class T, class K>
WindowedStream<T, K, GlobalWindows> KeyedStream<T, K>::count_window(int64_t size) const {
  if (size < 1) throw GraphError("count_window: the size must be at least 1");
  WindowedStream<T, K, GlobalWindows> w(*this, GlobalWindows::create());
  w.trigger(PurgingTrigger::of(CountTrigger::of(size)));
  return w;
}

template <class T, class K>
WindowedStream<T, K, GlobalWindows> KeyedStream<T, K>::count_window(int64_t size, int64_t slide) const {
  if (size < 1 || slide < 1) throw GraphError("count_window: size and slide must be at least 1");
  WindowedStream<T, K, GlobalWindows> w(*this, GlobalWindows::create());
  w.evictor(CountEvictor::of(size));
  w.trigger(CountTrigger::of(slide));
  return w;
}

template <class T>
template <class A>
WindowedStream<T, uint8_t, A> DataStream<T>::window_all(A assigner) const {
  auto keyed = key_by([](const T&) { return uint8_t{0}; });
  return WindowedStream<T, uint8_t, A>(keyed, std::move(assigner), true);
}

template <class T>
WindowedStream<T, uint8_t, GlobalWindows> DataStream<T>::count_window_all(int64_t size) const {
  auto keyed = key_by([](const T&) { return uint8_t{0}; });
  WindowedStream<T, uint8_t, GlobalWindows> w(keyed, GlobalWindows::create(), true);
  w.trigger(PurgingTrigger::of(CountTrigger::of(size)));
  return w;
}

}  // namespace weir
