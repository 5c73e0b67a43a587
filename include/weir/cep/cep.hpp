#pragma once
/// Complex event processing: Flink CEP's pattern API in C++ (namespace weir::cep).
///
///   auto p = Pattern<Login>::begin("fails").where([](const Login& e) { return !e.ok; }).times(3).consecutive()
///                .next("success").where([](const Login& e) { return e.ok; })
///                .within(std::chrono::minutes(1));
///   auto alerts = CEP::pattern(logins.key_by(&Login::user), p)
///                     .select([](const std::map<std::string, std::vector<Login>>& m) { return m.at("success")[0].user; });
///
/// The matcher of each key keeps its NFA run state (partial matches and a shared buffer of
/// their events) and the elements waiting for the watermark in keyed state with timers, so
/// checkpoints, savepoints and rescaling cover it on every state backend. See docs/cep.md.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "weir/api/datastream.hpp"
#include "weir/api/keyed_process.hpp"
#include "weir/cep/internal/nfa.hpp"
#include "weir/cep/pattern.hpp"

namespace weir::cep {

/// A match: each pattern name with the events it accepted, in order. A name that accepted no
/// event (an optional step) is absent.
template <class T>
using MatchMap = std::map<std::string, std::vector<T>>;

/// What a PatternProcessFunction may ask: the match's timestamp, the processing time, side outputs.
class PatternContext {
 public:
  virtual ~PatternContext() = default;
  /// The timestamp of the match (event time: the event that completed it, or the timeout).
  virtual int64_t timestamp() const = 0;
  virtual int64_t current_processing_time() const = 0;
  template <class U>
  void output(const OutputTag<U>& tag, const std::type_identity_t<U>& value) const {
    weir::detail::emit_side_output(op(), tag, value, timestamp());
  }

 protected:
  virtual const runtime::StreamOperator& op() const = 0;
};

namespace detail {

/// Reaches the operator behind a KeyedContext (protected there) for side outputs.
template <class K>
struct KeyedContextOp : KeyedContext<K> {
  static const runtime::StreamOperator& of(const KeyedContext<K>& c) {
    using Fn = const runtime::StreamOperator& (KeyedContext<K>::*)() const;
    Fn fn = &KeyedContextOp::op;
    return (c.*fn)();
  }
};

template <class K>
class PatternContextImpl final : public PatternContext {
 public:
  PatternContextImpl(const KeyedContext<K>& ctx, int64_t ts, int64_t now) : ctx_(ctx), ts_(ts), now_(now) {}
  int64_t timestamp() const override { return ts_; }
  int64_t current_processing_time() const override { return now_; }

 protected:
  const runtime::StreamOperator& op() const override { return KeyedContextOp<K>::of(ctx_); }

 private:
  const KeyedContext<K>& ctx_;
  int64_t ts_;
  int64_t now_;
};

/// What the CEP function does with matches and timeouts: `on_match(map, ctx, out)`,
/// `on_timeout(map, timeout_ts, ctx)` (may be empty).
template <class T, class OUT>
struct MatchHandlers {
  std::function<void(const MatchMap<T>&, PatternContext&, Collector<OUT>&)> on_match;
  std::function<void(const MatchMap<T>&, int64_t, PatternContext&)> on_timeout;
};

/// The per-key matcher: a KeyedProcessFunction that buffers elements until the watermark passes
/// them (event time), runs the NFA over them in timestamp order and times out partial matches.
template <class K, class T, class OUT>
class CepFunction final : public KeyedProcessFunction<K, T, OUT> {
 public:
  using Base = KeyedProcessFunction<K, T, OUT>;
  CepFunction(std::shared_ptr<const CompiledNfa<T>> nfa, MatchHandlers<T, OUT> h, bool processing_time,
              std::optional<OutputTag<T>> late_tag)
      : runner_(std::move(nfa)), handlers_(std::move(h)), processing_time_(processing_time), late_tag_(std::move(late_tag)) {}

  void open(RuntimeContext& rc) override {
    // The tables behind the states, so that the run state is changed in place (no copy of it
    // per element); RocksDB writes back what get_or_create() handed out.
    nfa_table_ = StateAccess::template table<Stamped<KeyNfa<T>>>(rc, ValueStateDescriptor<KeyNfa<T>>("cep-nfa"));
    buffer_ = rc.get_list_state(ListStateDescriptor<std::pair<int64_t, T>>("cep-elements"));
    buffer_table_ = StateAccess::template table<std::vector<Stamped<std::pair<int64_t, T>>>>(
        rc, ListStateDescriptor<std::pair<int64_t, T>>("cep-elements"));
    late_dropped_ = &rc.get_metric_group().counter("num_late_records_dropped");
  }

  void process_element(const T& value, typename Base::Context& ctx, Collector<OUT>& out) override {
    if (processing_time_) {
      const int64_t now = ctx.timer_service().current_processing_time();
      KeyNfa<T>& k = load();
      o_.clear();
      runner_.advance_time(k, now, o_);
      runner_.process(k, value, now, o_);
      store(k, ctx, false);
      emit(o_, ctx, out);
      return;
    }
    const auto ts = ctx.timestamp();
    if (!ts) {
      throw std::runtime_error("CEP in event time needs element timestamps: assign_timestamps_and_watermarks on the input, "
                               "or use in_processing_time()");
    }
    if (*ts <= ctx.timer_service().current_watermark()) {
      if (late_tag_) {
        ctx.output(*late_tag_, value);
      } else {
        late_dropped_->inc();
      }
      return;
    }
    buffer_.add({*ts, value});
    ctx.timer_service().register_event_time_timer(*ts);
  }

  void on_timer(int64_t t, typename Base::OnTimerContext& ctx, Collector<OUT>& out) override {
    KeyNfa<T>& k = load();
    o_.clear();
    if (!processing_time_ && ctx.time_domain() == TimeDomain::event_time) {
      if (buffer_table_->find() != nullptr) {
        auto& v = buffer_table_->get_or_create();
        if (!std::is_sorted(v.begin(), v.end(), by_ts)) std::stable_sort(v.begin(), v.end(), by_ts);
        std::size_t i = 0;
        while (i < v.size() && v[i].value.first <= t) {
          const int64_t ts = v[i].value.first;
          runner_.advance_time(k, ts, o_);
          for (; i < v.size() && v[i].value.first == ts; ++i) runner_.process(k, v[i].value.second, ts, o_);
        }
        if (i == v.size()) {
          buffer_table_->erase();
        } else if (i > 0) {
          v.erase(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(i));
        }
      }
    }
    runner_.advance_time(k, t, o_);
    store(k, ctx, !processing_time_);
    emit(o_, ctx, out);
  }

 private:
  template <class V>
  using Stamped = weir::detail::Stamped<V>;
  /// Reaches RuntimeContext's state tables (protected there).
  struct StateAccess : RuntimeContext {
    template <class E>
    static weir::detail::KeyedTable<E>* table(RuntimeContext& rc, const StateDescriptor& d) {
      using Fn = weir::detail::KeyedBackendBase* (RuntimeContext::*)(const char*) const;
      Fn fn = &StateAccess::keyed;
      return weir::detail::keyed_table<E>((rc.*fn)("CEP"), d);
    }
  };
  static bool by_ts(const Stamped<std::pair<int64_t, T>>& a, const Stamped<std::pair<int64_t, T>>& b) {
    return a.value.first < b.value.first;
  }

  /// The current key's run state, created (with its start state) when the key has none.
  KeyNfa<T>& load() {
    // get_or_create: the entry is written back (RocksDB) after this change
    auto& e = nfa_table_->get_or_create();
    if (e.value.partial.empty()) runner_.init(e.value);  // a live run state always holds its start state
    return e.value;
  }
  /// Keeps the run state (clears it when the key holds nothing) and its timeout timer. The
  /// reference `k` is invalid afterwards.
  void store(KeyNfa<T>& k, typename Base::Context& ctx, bool event_time) {
    if (NfaRunner<T>::idle(k)) {
      nfa_table_->erase();
      return;
    }
    const int64_t next = runner_.next_timeout(k);
    if (next != std::numeric_limits<int64_t>::max()) {
      if (event_time) {
        ctx.timer_service().register_event_time_timer(next);
      } else {
        ctx.timer_service().register_processing_time_timer(next);
      }
    }
  }
  void emit(typename NfaRunner<T>::Output& o, typename Base::Context& ctx, Collector<OUT>& out) {
    if (o.matches.empty() && o.timeouts.empty()) return;
    const int64_t now = ctx.timer_service().current_processing_time();
    auto* tc = dynamic_cast<weir::detail::TimestampedCollector<OUT>*>(&out);
    if (handlers_.on_timeout) {
      for (auto& [m, ts] : o.timeouts) {
        PatternContextImpl<K> pc(ctx, processing_time_ ? now : ts, now);
        handlers_.on_timeout(m, ts, pc);
      }
    }
    for (auto& [m, ts] : o.matches) {
      PatternContextImpl<K> pc(ctx, ts, now);
      if (tc && !processing_time_) tc->set_timestamp(ts);
      handlers_.on_match(m, pc, out);
    }
  }

  NfaRunner<T> runner_;
  MatchHandlers<T, OUT> handlers_;
  bool processing_time_;
  std::optional<OutputTag<T>> late_tag_;
  weir::detail::KeyedTable<Stamped<KeyNfa<T>>>* nfa_table_ = nullptr;
  ListState<std::pair<int64_t, T>> buffer_;
  weir::detail::KeyedTable<std::vector<Stamped<std::pair<int64_t, T>>>>* buffer_table_ = nullptr;
  typename NfaRunner<T>::Output o_;
  Counter* late_dropped_ = nullptr;
};

}  // namespace detail

/// A pattern applied to a stream: finish it with select, flat_select or process.
template <class T, class K>
class PatternStream {
 public:
  PatternStream(KeyedStream<T, K> stream, Pattern<T> pattern, bool keyed)
      : stream_(std::move(stream)), pattern_(std::move(pattern)), keyed_(keyed) {}

  /// Matches on processing time: elements are matched as they arrive, `within` counts
  /// processing time.
  PatternStream in_processing_time() const {
    auto c = *this;
    c.processing_time_ = true;
    return c;
  }
  /// Matches on event time (the default).
  PatternStream in_event_time() const {
    auto c = *this;
    c.processing_time_ = false;
    return c;
  }
  /// Elements at or below the watermark when they arrive go to `tag` (else they are dropped
  /// and counted in `num_late_records_dropped`).
  PatternStream side_output_late_data(const OutputTag<T>& tag) const {
    auto c = *this;
    c.late_tag_ = tag;
    return c;
  }

  /// One output per match: `OUT f(const std::map<std::string, std::vector<T>>&)`.
  template <class F>
  auto select(F f) const {
    static_assert(std::is_invocable_v<const F&, const MatchMap<T>&>,
                  "select: the function must be callable as OUT(const std::map<std::string, std::vector<T>>&)");
    using OUT = std::decay_t<std::invoke_result_t<const F&, const MatchMap<T>&>>;
    detail::MatchHandlers<T, OUT> h;
    h.on_match = [f](const MatchMap<T>& m, PatternContext&, Collector<OUT>& out) { out.collect(f(m)); };
    return build<OUT>(std::move(h), "CEP select");
  }
  /// Matches and timed-out partial matches: `TO timeout_f(const map&, int64_t timeout_timestamp)`
  /// to the side output `tag` (read with `get_side_output(tag)`), `OUT select_f(const map&)`.
  template <class TO, class FT, class FS>
  auto select(const OutputTag<TO>& tag, FT timeout_f, FS select_f) const {
    static_assert(std::is_invocable_r_v<TO, const FT&, const MatchMap<T>&, int64_t>,
                  "select: the timeout function must be callable as TO(const std::map<std::string, std::vector<T>>&, int64_t)");
    using OUT = std::decay_t<std::invoke_result_t<const FS&, const MatchMap<T>&>>;
    detail::MatchHandlers<T, OUT> h;
    h.on_match = [select_f](const MatchMap<T>& m, PatternContext&, Collector<OUT>& out) { out.collect(select_f(m)); };
    h.on_timeout = [tag, timeout_f](const MatchMap<T>& m, int64_t ts, PatternContext& ctx) { ctx.output(tag, timeout_f(m, ts)); };
    return build<OUT>(std::move(h), "CEP select");
  }
  /// Zero or more outputs per match: `void f(const map&, weir::Collector<OUT>&)`.
  template <class OUT_ = void, class F>
  auto flat_select(F f) const {
    using OUT = std::conditional_t<std::is_void_v<OUT_>, weir::detail::flat_map_output_t<F>, OUT_>;
    static_assert(!std::is_void_v<OUT>, "flat_select: cannot deduce the output type; write the parameter as weir::Collector<OUT>& or call flat_select<OUT>(f)");
    detail::MatchHandlers<T, OUT> h;
    h.on_match = [f](const MatchMap<T>& m, PatternContext&, Collector<OUT>& out) { f(m, out); };
    return build<OUT>(std::move(h), "CEP flat_select");
  }
  /// Flat select with timeouts: `void timeout_f(const map&, int64_t, weir::Collector<TO>&)`.
  template <class TO, class FT, class FS>
  auto flat_select(const OutputTag<TO>& tag, FT timeout_f, FS select_f) const {
    using OUT = weir::detail::flat_map_output_t<FS>;
    static_assert(!std::is_void_v<OUT>, "flat_select: write the select function's parameter as weir::Collector<OUT>&");
    detail::MatchHandlers<T, OUT> h;
    h.on_match = [select_f](const MatchMap<T>& m, PatternContext&, Collector<OUT>& out) { select_f(m, out); };
    h.on_timeout = [tag, timeout_f](const MatchMap<T>& m, int64_t ts, PatternContext& ctx) {
      SideCollector<TO> c{tag, ctx};
      timeout_f(m, ts, c);
    };
    return build<OUT>(std::move(h), "CEP flat_select");
  }
  /// Full control: `void f(const map&, weir::cep::PatternContext&, weir::Collector<OUT>&)`.
  template <class OUT_ = void, class F>
  auto process(F f) const {
    using OUT = std::conditional_t<std::is_void_v<OUT_>, weir::detail::flat_map_output_t_3<F>, OUT_>;
    static_assert(!std::is_void_v<OUT>, "process: cannot deduce the output type; write the parameter as weir::Collector<OUT>& or call process<OUT>(f)");
    detail::MatchHandlers<T, OUT> h;
    h.on_match = [f](const MatchMap<T>& m, PatternContext& ctx, Collector<OUT>& out) { f(m, ctx, out); };
    return build<OUT>(std::move(h), "CEP process");
  }
  /// process, with timed-out partial matches handed to
  /// `void timeout_f(const map&, int64_t timeout_timestamp, PatternContext&)` (emit with ctx.output).
  template <class OUT_ = void, class F, class FT>
  auto process(F f, FT timeout_f) const {
    using OUT = std::conditional_t<std::is_void_v<OUT_>, weir::detail::flat_map_output_t_3<F>, OUT_>;
    detail::MatchHandlers<T, OUT> h;
    h.on_match = [f](const MatchMap<T>& m, PatternContext& ctx, Collector<OUT>& out) { f(m, ctx, out); };
    h.on_timeout = [timeout_f](const MatchMap<T>& m, int64_t ts, PatternContext& ctx) { timeout_f(m, ts, ctx); };
    return build<OUT>(std::move(h), "CEP process");
  }

  const Pattern<T>& get_pattern() const { return pattern_; }

 private:
  template <class TO>
  struct SideCollector final : Collector<TO> {
    SideCollector(const OutputTag<TO>& t, PatternContext& c) : tag(t), ctx(c) {}
    void collect(const TO& v) override { ctx.output(tag, v); }
    void collect(TO&& v) override { ctx.output(tag, v); }
    const OutputTag<TO>& tag;
    PatternContext& ctx;
  };

  template <class OUT>
  DataStream<OUT> build(detail::MatchHandlers<T, OUT> h, const char* what) const {
    auto nfa = detail::NfaCompiler<T>::compile(pattern_);
    detail::CepFunction<K, T, OUT> fn(nfa, std::move(h), processing_time_, late_tag_);
    auto s = stream_.process(std::move(fn));
    s.name(what);
    if (!keyed_) s.set_parallelism(1);
    return s;
  }

  KeyedStream<T, K> stream_;
  Pattern<T> pattern_;
  bool keyed_;
  bool processing_time_ = false;
  std::optional<OutputTag<T>> late_tag_;
};

/// Applies patterns to streams (Flink's CEP class).
class CEP {
 public:
  /// On a keyed stream: one matcher per key, in parallel.
  template <class T, class K>
  static PatternStream<T, K> pattern(const KeyedStream<T, K>& stream, const Pattern<T>& pattern) {
    detail::NfaCompiler<T>::compile(pattern);  // a malformed pattern fails here, not in the job
    return PatternStream<T, K>(stream, pattern, true);
  }
  /// On a non-keyed stream: one matcher over every element, at parallelism 1 (as in Flink).
  template <class T>
  static PatternStream<T, uint8_t> pattern(const DataStream<T>& stream, const Pattern<T>& pattern) {
    detail::NfaCompiler<T>::compile(pattern);
    auto keyed = stream.key_by([](const T&) { return uint8_t{0}; });
    return PatternStream<T, uint8_t>(keyed, pattern, false);
  }
};

}  // namespace weir::cep
