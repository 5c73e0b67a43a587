#pragma once
/// Joins, as Flink's "Joining" page: interval joins of two keyed streams, window joins and
/// co-groups.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "weir/api/datastream.hpp"
#include "weir/api/internal/keyed_process_operator.hpp"
#include "weir/windows/internal/interval_join_operator.hpp"
#include "weir/windows/process_join_function.hpp"
#include "weir/windows/windowed_stream.hpp"

namespace weir {

/// `a.key_by(ka).interval_join(b.key_by(kb)).between(lower, upper).process(f)`.
template <class L, class R, class K>
class IntervalJoin {
 public:
  IntervalJoin(KeyedStream<L, K> left, KeyedStream<R, K> right) : left_(std::move(left)), right_(std::move(right)) {}

  /// Joins right elements with timestamps in [left + lower, left + upper] (inclusive).
  IntervalJoin& between(std::chrono::milliseconds lower, std::chrono::milliseconds upper) {
    if (lower > upper) throw GraphError("interval_join between(): the lower bound must not be above the upper bound");
    lower_ = lower.count();
    upper_ = upper.count();
    return *this;
  }
  IntervalJoin& lower_bound_exclusive() {
    lower_exclusive_ = true;
    return *this;
  }
  IntervalJoin& upper_bound_exclusive() {
    upper_exclusive_ = true;
    return *this;
  }
  IntervalJoin& side_output_left_late_data(const OutputTag<L>& tag) {
    left_late_ = tag.id();
    return *this;
  }
  IntervalJoin& side_output_right_late_data(const OutputTag<R>& tag) {
    right_late_ = tag.id();
    return *this;
  }

  template <class PJF>
  auto process(PJF f) {
    using OUT = typename PJF::output_type;
    static_assert(std::is_base_of_v<ProcessJoinFunction<L, R, OUT>, PJF>,
                  "process: the function must derive from weir::ProcessJoinFunction<L, R, OUT>");
    detail::IntervalJoinConfig cfg{lower_ + (lower_exclusive_ ? 1 : 0), upper_ - (upper_exclusive_ ? 1 : 0), left_late_, right_late_};
    if (cfg.lower > cfg.upper) throw GraphError("interval_join: the bounds leave an empty interval");
    auto kl = left_.get_key_selector();
    auto kr = right_.get_key_selector();
    using Op = detail::IntervalJoinOperator<K, L, R, OUT, std::function<K(const L&)>, std::function<K(const R&)>, PJF>;
    auto s = ConnectedStreams<L, R>(left_, right_).template add_public<OUT>("Interval Join", [kl, kr, f, cfg] {
      return std::make_unique<Op>(kl, kr, f, cfg);
    });
    auto& n = left_.get_execution_environment_state().graph.at(s.get_id());
    n.side_outputs_allowed = true;
    if (!left_late_.empty()) n.side_output_types.emplace(left_late_, std::type_index(typeid(L)));
    if (!right_late_.empty()) n.side_output_types.emplace(right_late_, std::type_index(typeid(R)));
    return s;
  }

 private:
  KeyedStream<L, K> left_;
  KeyedStream<R, K> right_;
  int64_t lower_ = 0;
  int64_t upper_ = 0;
  bool lower_exclusive_ = false;
  bool upper_exclusive_ = false;
  std::string left_late_;
  std::string right_late_;
};

template <class T, class K>
template <class U>
IntervalJoin<T, U, K> KeyedStream<T, K>::interval_join(const KeyedStream<U, K>& other) const {
  this->check_same_env(other);
  return IntervalJoin<T, U, K>(*this, other);
}

// ---- window join and co-group ------------------------------------------------------------------

namespace detail {

/// Gives an operator the parallelism of its (single) input, so the edge between them is forward.
template <class S>
void run_at_input_parallelism(const S& stream) {
  auto& g = stream.get_execution_environment_state().graph;
  LogicalNode& n = g.at(stream.get_id());
  n.parallelism = declared_parallelism(g, n.inputs.front().node);
}

/// Splits the tagged elements of a window and calls the co-group function.
template <class L, class R, class OUT, class K, class W, class G>
class CoGroupWindowFunction final : public ProcessWindowFunction<std::variant<L, R>, OUT, K, W> {
 public:
  explicit CoGroupWindowFunction(G g) : g_(std::move(g)) {}
  void process(const K&, typename ProcessWindowFunction<std::variant<L, R>, OUT, K, W>::Context&,
               const std::vector<std::variant<L, R>>& elements, Collector<OUT>& out) override {
    left_.clear();
    right_.clear();
    for (const auto& e : elements) {
      if (e.index() == 0) {
        left_.push_back(std::get<0>(e));
      } else {
        right_.push_back(std::get<1>(e));
      }
    }
    g_(static_cast<const std::vector<L>&>(left_), static_cast<const std::vector<R>&>(right_), out);
  }

 private:
  G g_;
  std::vector<L> left_;
  std::vector<R> right_;
};
}  // namespace detail

/// `a.co_group(b).where(ka).equal_to(kb).window(assigner).apply(g)` and `a.join(b)...apply(f)`.
template <class L, class R, bool kJoin>
class CoGroupedStreams {
 public:
  CoGroupedStreams(DataStream<L> left, DataStream<R> right) : left_(std::move(left)), right_(std::move(right)) {}

  template <class KL>
  class Where {
   public:
    Where(CoGroupedStreams s, KL kl) : s_(std::move(s)), kl_(std::move(kl)) {}
    template <class KR>
    class EqualTo {
     public:
      using K = key_type_t<KL, L>;
      EqualTo(CoGroupedStreams s, KL kl, KR kr) : s_(std::move(s)), kl_(std::move(kl)), kr_(std::move(kr)) {}

      template <class A>
      class WithWindow {
       public:
        using W = typename A::window_type;
        WithWindow(CoGroupedStreams s, KL kl, KR kr, A a) : s_(std::move(s)), kl_(std::move(kl)), kr_(std::move(kr)), a_(std::move(a)) {}
        WithWindow& allowed_lateness(std::chrono::milliseconds d) {
          lateness_ = d;
          return *this;
        }
        /// co_group: `g(const std::vector<L>&, const std::vector<R>&, Collector<OUT>&)`, also for
        /// windows where one side is empty. join: `f(const L&, const R&) -> OUT` per pair.
        template <class F>
        auto apply(F f) {
          using E = std::variant<L, R>;
          auto kl = kl_;
          auto kr = kr_;
          // The taggers run at their input's parallelism (as Flink's), so they chain to it over a
          // forward edge and each side's records reach the window in their input order.
          auto tagged_l = s_.left_.map([](const L& l) { return E(std::in_place_index<0>, l); }).name("Join Left");
          auto tagged_r = s_.right_.map([](const R& r) { return E(std::in_place_index<1>, r); }).name("Join Right");
          detail::run_at_input_parallelism(tagged_l);
          detail::run_at_input_parallelism(tagged_r);
          auto keyed = tagged_l.union_(tagged_r).key_by([kl, kr](const E& e) -> K {
            return e.index() == 0 ? kl(std::get<0>(e)) : kr(std::get<1>(e));
          });
          auto windowed = keyed.window(a_);
          if (lateness_.count() > 0) windowed.allowed_lateness(lateness_);
          if constexpr (kJoin) {
            using OUT = std::decay_t<std::invoke_result_t<const F&, const L&, const R&>>;
            auto g = [f](const std::vector<L>& ls, const std::vector<R>& rs, Collector<OUT>& out) {
              for (const auto& l : ls)
                for (const auto& r : rs) out.collect(f(l, r));
            };
            return windowed.process(detail::CoGroupWindowFunction<L, R, OUT, K, W, decltype(g)>(g)).name("Window Join");
          } else {
            using OUT = detail::flat_map_output_t_3<F>;
            static_assert(!std::is_void_v<OUT>, "co_group apply: the function must be callable as void(const std::vector<L>&, const std::vector<R>&, weir::Collector<OUT>&)");
            return windowed.process(detail::CoGroupWindowFunction<L, R, OUT, K, W, F>(f)).name("Window CoGroup");
          }
        }

       private:
        CoGroupedStreams s_;
        KL kl_;
        KR kr_;
        A a_;
        std::chrono::milliseconds lateness_{0};
      };

      template <class A>
      WithWindow<A> window(A assigner) {
        return WithWindow<A>(s_, kl_, kr_, std::move(assigner));
      }

     private:
      CoGroupedStreams s_;
      KL kl_;
      KR kr_;
    };
    template <class KR>
    EqualTo<KR> equal_to(KR kr) {
      if constexpr (detail::check_key_selector<KR, R>()) {
        static_assert(std::is_same_v<key_type_t<KL, L>, key_type_t<KR, R>>, "equal_to: both key selectors must return the same key type");
      }
      return EqualTo<KR>(s_, kl_, std::move(kr));
    }

   private:
    CoGroupedStreams s_;
    KL kl_;
  };

  template <class KL>
  Where<KL> where(KL kl) {
    constexpr bool key_selector_ok = detail::check_key_selector<KL, L>();
    (void)key_selector_ok;
    return Where<KL>(*this, std::move(kl));
  }

 private:
  DataStream<L> left_;
  DataStream<R> right_;
};

template <class T>
template <class U>
CoGroupedStreams<T, U, true> DataStream<T>::join(const DataStream<U>& other) const {
  check_same_env(other);
  return CoGroupedStreams<T, U, true>(*this, other);
}

template <class T>
template <class U>
CoGroupedStreams<T, U, false> DataStream<T>::co_group(const DataStream<U>& other) const {
  check_same_env(other);
  return CoGroupedStreams<T, U, false>(*this, other);
}

}  // namespace weir
