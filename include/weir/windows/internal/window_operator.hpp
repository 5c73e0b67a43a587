#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// The keyed window operator: assigns elements to windows, keeps per key and window either an
/// accumulator (reduce / aggregate: O(keys × open windows) state, no copies of elements) or the
/// elements (process, evictors), and fires as its trigger says. Semantics follow Flink's
/// WindowOperator: late elements (window end + allowed lateness at or below the watermark) are
/// dropped or sent to the late-data side output; a window's state is cleared at its cleanup time
/// (end + allowed lateness); results carry the window's max timestamp; session windows merge
/// with their state and trigger state.
#include <algorithm>
#include <array>
#include <exception>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <absl/container/inlined_vector.h>

#include "weir/api/functions.hpp"
#include "weir/api/internal/keyed_process_operator.hpp"
#include "weir/windows/windows.hpp"

namespace weir::detail {

/// Folds elements with a reduce function: the accumulator is the first element.
template <class IN, class F>
struct ReduceAgg {
  using acc_type = IN;
  using result_type = IN;
  F f;
  IN first(const IN& v) const { return v; }
  IN add(const IN& v, IN acc) const { return f(static_cast<const IN&>(acc), v); }
  const IN& result(const IN& acc) const { return acc; }
  IN merge(IN a, IN b) const { return f(static_cast<const IN&>(a), static_cast<const IN&>(b)); }
};

/// Folds elements with a Flink-style AggregateFunction (create_accumulator, add, get_result,
/// merge).
template <class IN, class A>
struct AggregateAgg {
  using acc_type = std::decay_t<decltype(std::declval<A&>().create_accumulator())>;
  using result_type = std::decay_t<decltype(std::declval<A&>().get_result(std::declval<const acc_type&>()))>;
  mutable A a;
  acc_type first(const IN& v) const { return a.add(v, a.create_accumulator()); }
  acc_type add(const IN& v, acc_type acc) const { return a.add(v, std::move(acc)); }
  result_type result(const acc_type& acc) const { return a.get_result(acc); }
  acc_type merge(acc_type x, acc_type y) const { return a.merge(std::move(x), std::move(y)); }
};

/// No folding: the window function sees the elements.
struct NoAgg {
  using acc_type = int;  // unused: the contents are the elements
};

/// Emits the folded result as it is.
struct EmitResult {};

/// The context type a window function receives (a stand-in when there is no window function).
template <class W>
class EmptyPwfContext {
 public:
  virtual ~EmptyPwfContext() = default;
  virtual const W& window() const = 0;
  virtual int64_t current_processing_time() const = 0;
  virtual int64_t current_watermark() const = 0;

 protected:
  virtual const runtime::StreamOperator& op() const = 0;
};
template <class P, class W>
struct PwfContextOf {
  using type = typename P::Context;
};
template <class W>
struct PwfContextOf<EmitResult, W> {
  using type = EmptyPwfContext<W>;
};

/// The context a window operator hands its window function: the window being fired, time.
template <class PWF, class W>
class PwfContextImpl final : public PwfContextOf<PWF, W>::type {
 public:
  explicit PwfContextImpl(const runtime::StreamOperator* op) : op_(op) {}
  const W& window() const override { return *current; }
  int64_t current_processing_time() const override { return op_->processing_time_service().now(); }
  int64_t current_watermark() const override { return op_->current_watermark(); }
  const W* current = nullptr;

 protected:
  const runtime::StreamOperator& op() const override { return *op_; }

 private:
  const runtime::StreamOperator* op_;
};

/// One open window of a key and what it holds.
template <class W, class C>
struct WindowEntry {
  W window;
  C contents;
};

/// A trigger counter of one window (its namespace in the counter table).
template <class W>
struct WindowCounter {
  W window;
  uint64_t id;  ///< stable hash of the counter's name
  bool operator==(const WindowCounter&) const = default;
  template <class H>
  friend H AbslHashValue(H h, const WindowCounter& c) {
    return H::combine(std::move(h), c.window, c.id);
  }
};

template <class K, class IN, class OUT, class A, class Agg, class PWF, bool kList>
class WindowOperator final : public runtime::OneInputOperator<IN> {
 public:
  using W = typename A::window_type;
  static constexpr bool kHasAgg = !std::is_same_v<Agg, NoAgg>;
  static constexpr bool kHasPwf = !std::is_same_v<PWF, EmitResult>;
  using Contents = std::conditional_t<kList, std::vector<TimestampedValue<IN>>, typename Agg::acc_type>;

  struct Config {
    std::function<K(const IN&)> key;
    A assigner;
    std::function<std::unique_ptr<Trigger<IN, W>>()> trigger;
    std::function<std::unique_ptr<Evictor<IN, W>>()> evictor;  // empty: none
    int64_t allowed_lateness = 0;
    std::string late_tag;  // empty: drop late elements
    bool default_event_time_trigger = false;
  };

  WindowOperator(Config cfg, Agg agg, PWF pwf) : cfg_(std::move(cfg)), agg_(std::move(agg)), pwf_(std::move(pwf)) {}

  void open() override {
    core_.init(*this);
    out_ = this->template typed_output<OUT>();
    collector_.set(out_, kNoTimestamp);
    trigger_ = cfg_.trigger();
    if (cfg_.evictor) evictor_ = cfg_.evictor();
    tctx_ = std::make_unique<TriggerCtx>(this);
    pctx_ = std::make_unique<PwfCtx>(this);
    core_.timers().set_processing_time_callback([this](int64_t) {
      core_.timers().advance_processing_time(this->processing_time_service().now(),
                                             [this](const auto& t) { on_timer(t, false); });
    });
    if (core_.backend().store()) {
      // RocksDB: the open windows live in the store, one entry per key.
      if constexpr (SerdeType<W> && SerdeType<Contents>) {
        rocks_table_ = keyed_table<Entries>(&core_.backend(), StateDescriptor("__windows"));
        core_.backend().mark_operator_table("__windows", "windows");
      } else {
        no_serde("the contents of window operator '" + this->name() + "' (the RocksDB backend stores them)");
      }
    }
    core_.restore([this](std::string_view name, std::string_view payload) { restore_windows(name, payload); });
    if constexpr (kHasPwf) {
      RuntimeContext rc(this->task_info(), this->name(), &core_.backend(), &this->metric_group());
      this->call_user([&] { pwf_.open(rc); });
    }
  }
  void close() override {
    if constexpr (kHasPwf) pwf_.close();
  }

  void process(const IN& v, int64_t ts) override { process_keyed(v, ts, this->call_user([&]() -> K { return cfg_.key(v); })); }

  /// A run of a batch with look-ahead: the key of record i + kAhead is computed (once: it is
  /// kept for its turn; a key selector that throws fails at that record's turn, as without
  /// look-ahead) and its key-map entry prefetched, and at i + kAhead / 2 its window entries,
  /// so the state of a record is in cache when its turn comes (keys spread over more state
  /// than the cache holds would otherwise miss once or twice per record).
  std::size_t process_run(IN* values, const int64_t* timestamps, std::size_t from, std::size_t n,
                          const bool* stop) override {
    if (rocks_table_ != nullptr || n - from < kAhead * 2) {
      return runtime::OneInputOperator<IN>::process_run(values, timestamps, from, n, stop);
    }
    auto& backend = core_.backend();
    const auto look_ahead = [&](std::size_t j) {
      Ahead& a = ahead_[j % kAhead];
      try {
        a.key.emplace(this->call_user([&]() -> K { return cfg_.key(values[j]); }));
        backend.prefetch_key(*a.key);
      } catch (...) {
        a.key.reset();
        a.error = std::current_exception();
      }
    };
    for (std::size_t j = from; j < std::min(n, from + kAhead); ++j) look_ahead(j);
    for (std::size_t i = from; i < n;) {
      const std::size_t mid = i + kAhead / 2;
      if (mid < n) {
        Ahead& m = ahead_[mid % kAhead];
        if (m.key) {
          m.slot = backend.find_slot(*m.key);
          if (m.slot != KeyedBackendBase::kNoSlot && m.slot < per_slot_.size()) __builtin_prefetch(&per_slot_[m.slot]);
        }
      }
      Ahead& cur = ahead_[i % kAhead];
      if (!cur.key) {
        auto e = std::move(cur.error);
        cur.error = nullptr;
        std::rethrow_exception(e);
      }
      K key = std::move(*cur.key);
      cur.key.reset();
      // The slot found at mid-distance, unless the key has lost it since (a slot is released
      // only when its key holds nothing, and may then be reused for another key).
      const uint32_t slot = cur.slot;
      cur.slot = KeyedBackendBase::kNoSlot;
      if (i + kAhead < n) look_ahead(i + kAhead);
      if (slot != KeyedBackendBase::kNoSlot && backend.slot_holds(slot, key)) {
        process_keyed(values[i], timestamps[i], std::move(key), slot);
      } else {
        process_keyed(values[i], timestamps[i], std::move(key));
      }
      ++i;
      if (stop != nullptr && *stop) {
        for (auto& a : ahead_) {
          a.key.reset();
          a.error = nullptr;
          a.slot = KeyedBackendBase::kNoSlot;
        }
        return i;
      }
    }
    return n;
  }

  /// `slot`: the key's slot when the caller already found it.
  void process_keyed(const IN& v, int64_t ts, K key, uint32_t slot = KeyedBackendBase::kNoSlot) {
    if (cfg_.assigner.is_event_time() && ts == kNoTimestamp) {
      throw OperatorFailure(this->name(),
                            "an event-time window got a record without a timestamp; call "
                            "assign_timestamps_and_watermarks() (or from_source with a WatermarkStrategy) "
                            "before the window, or use a processing-time window");
    }
    if (slot != KeyedBackendBase::kNoSlot) {
      core_.backend().set_current_slot(slot);
    } else {
      core_.backend().set_current_key(key);
    }
    windows_.clear();
    // Processing time is read only for processing-time assigners (a clock read per record costs).
    const int64_t now = cfg_.assigner.is_event_time() ? 0 : this->processing_time_service().now();
    this->call_user([&] { cfg_.assigner.assign_windows(v, ts, now, windows_); });
    bool skipped = true;
    if constexpr (A::kMerging) {
      skipped = !add_merging(v, ts, windows_.front());
    } else {
      for (const W& w : windows_) {
        if (is_window_late(w)) continue;
        skipped = false;
        add_to_window(v, ts, w);
      }
    }
    if (skipped && is_element_late(ts)) {
      ++late_dropped_;
      if (!cfg_.late_tag.empty()) {
        if (auto* o = this->side_output(cfg_.late_tag, typeid(IN))) static_cast<runtime::Output<IN>*>(o)->emit(v, ts);
      }
    }
  }

  std::size_t keyed_state_keys() const override { return core_.live_keys(); }
  std::size_t keyed_state_entries() const override {
    std::size_t n = 0;
    for (const auto& es : per_slot_) n += es.size();
    return n;
  }

  void initialize_state(const runtime::StateRestore& r) override { core_.set_restore(r); }
  void snapshot_state(runtime::SnapshotContext& ctx) override {
    core_.snapshot(ctx);
    if constexpr (SerdeType<W> && SerdeType<Contents>) {
      core_.snapshot_slots(ctx, per_slot_, "windows", [](const Entries& es) { return !es.empty(); },
                           [](const Entries& es, ByteWriter& w) {
                             w.write_varint(es.size());
                             for (const auto& e : es) {
                               Serde<W>::write(w, e.window);
                               Serde<Contents>::write(w, e.contents);
                             }
                           });
    } else {
      for (const auto& es : per_slot_) {
        if (!es.empty()) no_serde("the contents of window operator '" + this->name() + "'");
      }
    }
  }
  void notify_checkpoint_complete(int64_t id) override {
    if constexpr (kHasPwf) notify_complete(pwf_, id);
  }

  /// Elements dropped (or sent to the late side output) because they came too late.
  uint64_t late_records_dropped() const { return late_dropped_; }

 protected:
  void on_watermark(int64_t wm) override {
    core_.timers().advance_watermark(wm, [this](const auto& t) { on_timer(t, true); });
    this->output_->emit_watermark(wm);
  }

 private:
  using Entry = WindowEntry<W, Contents>;
  using Timer = typename InternalTimers<W>::Timer;

  void restore_windows(std::string_view name, std::string_view payload) {
    if (name != "windows") throw StateError("window operator '" + this->name() + "': unknown state record '" + std::string(name) + "'");
    if constexpr (SerdeType<W> && SerdeType<Contents>) {
      ByteReader r(payload);
      auto& es = entries();
      for (uint64_t n = r.read_varint(); n > 0; --n) {
        W w = Serde<W>::read(r);
        Contents c = Serde<Contents>::read(r);
        es.push_back(Entry{std::move(w), std::move(c)});
        hold_slot();
      }
    } else {
      no_serde("the contents of window operator '" + this->name() + "'");
    }
  }

  // ---- state per key slot ---------------------------------------------------------------------
  // On the heap each open window holds its key's slot; in RocksDB the windows live in the
  // store and only timers hold slots.
  void hold_slot() {
    if (!rocks_table_) core_.backend().ref(core_.backend().current_slot());
  }
  void release_slot() {
    if (!rocks_table_) core_.backend().unref(core_.backend().current_slot());
  }
  // Per key slot, its open windows inline (one, two while a window waits for the watermark of
  // the slowest input to fire): one memory access per record.
  static constexpr std::size_t kInlineWindows = 2;
  using Entries = absl::InlinedVector<Entry, kInlineWindows>;
  Entries& entries() {
    if (rocks_table_) return rocks_table_->get_or_create();  // RocksDB: the current key's entry
    const uint32_t s = core_.backend().current_slot();
    if (per_slot_.size() <= s) per_slot_.resize(s + 1);
    return per_slot_[s];
  }
  Entry* find(Entries& es, const W& w) {
    for (auto& e : es) {
      if (e.window == w) return &e;
    }
    return nullptr;
  }
  void remove(Entries& es, const W& w) {
    for (std::size_t i = 0; i < es.size(); ++i) {
      if (es[i].window == w) {
        if (i + 1 != es.size()) es[i] = std::move(es.back());
        es.pop_back();
        // Back to the inline storage once the key has no window open (more windows than fit
        // inline, when one input runs far ahead of another, would else keep a heap block and
        // a second cache miss per record for good).
        if (es.empty() && es.capacity() > kInlineWindows) es.shrink_to_fit();
        release_slot();
        if (es.empty() && rocks_table_) rocks_table_->erase();
        return;
      }
    }
  }
  Contents first_contents(const IN& v, int64_t ts) {
    if constexpr (kList) {
      return Contents{TimestampedValue<IN>{v, ts}};
    } else {
      return this->call_user([&] { return agg_.first(v); });
    }
  }
  void add_contents(Contents& c, const IN& v, int64_t ts) {
    if constexpr (kList) {
      c.push_back(TimestampedValue<IN>{v, ts});
    } else {
      c = this->call_user([&] { return agg_.add(v, std::move(c)); });
    }
  }
  Contents merge_contents(Contents a, Contents b) {
    if constexpr (kList) {
      a.insert(a.end(), std::make_move_iterator(b.begin()), std::make_move_iterator(b.end()));
      return a;
    } else {
      return this->call_user([&] { return agg_.merge(std::move(a), std::move(b)); });
    }
  }

  // ---- time ----------------------------------------------------------------------------------
  int64_t cleanup_time(const W& w) const {
    if (cfg_.assigner.is_event_time()) return saturating_add(w.max_timestamp(), cfg_.allowed_lateness);
    return w.max_timestamp();
  }
  bool is_window_late(const W& w) const {
    return cfg_.assigner.is_event_time() && cleanup_time(w) <= this->current_watermark();
  }
  bool is_element_late(int64_t ts) const {
    return cfg_.assigner.is_event_time() && saturating_add(ts, cfg_.allowed_lateness) <= this->current_watermark();
  }
  void register_cleanup_timer(const W& w) {
    const int64_t t = cleanup_time(w);
    if (t == std::numeric_limits<int64_t>::max()) return;  // GlobalWindow: never cleaned up
    if (cfg_.assigner.is_event_time()) {
      core_.timers().register_event_time(t, w);
    } else {
      core_.timers().register_processing_time(t, w);
    }
  }
  void delete_cleanup_timer(const W& w) {
    const int64_t t = cleanup_time(w);
    if (t == std::numeric_limits<int64_t>::max()) return;
    if (cfg_.assigner.is_event_time()) {
      core_.timers().delete_event_time(t, w);
    } else {
      core_.timers().delete_processing_time(t, w);
    }
  }

  // ---- elements --------------------------------------------------------------------------------
  TriggerResult trigger_on_element(const IN& v, int64_t ts, const W& w, bool created) {
    if (cfg_.default_event_time_trigger) {
      // EventTimeTrigger, without re-registering the same timer for every element.
      if (w.max_timestamp() <= this->current_watermark()) return TriggerResult::FIRE;
      if (created) core_.timers().register_event_time(w.max_timestamp(), w);
      return TriggerResult::CONTINUE;
    }
    tctx_->window = &w;
    return this->call_user([&] { return trigger_->on_element(v, ts, w, *tctx_); });
  }

  void add_to_window(const IN& v, int64_t ts, const W& w) {
    auto& es = entries();
    Entry* e = find(es, w);
    const bool created = e == nullptr;
    if (created) {
      es.push_back(Entry{w, first_contents(v, ts)});
      hold_slot();
      e = &es.back();
      register_cleanup_timer(w);
    } else {
      add_contents(e->contents, v, ts);
    }
    const TriggerResult r = trigger_on_element(v, ts, w, created);
    after_trigger(r, w);
  }

  /// Session windows: merges the new window with every window of the key it touches.
  bool add_merging(const IN& v, int64_t ts, const W& w) {
    auto& es = entries();
    W merged = w;
    bool grew = true;
    while (grew) {
      grew = false;
      for (auto& e : es) {
        if (e.window.intersects(merged) && !(merged.start() <= e.window.start() && e.window.end() <= merged.end())) {
          merged = merged.cover(e.window);
          grew = true;
        }
      }
    }
    if (is_window_late(merged)) return false;
    std::vector<W> olds;
    std::optional<Contents> combined;
    for (auto& e : es) {
      if (!e.window.intersects(merged)) continue;
      olds.push_back(e.window);
      combined = combined ? merge_contents(std::move(*combined), std::move(e.contents)) : std::move(e.contents);
    }
    bool created = false;
    if (olds.empty()) {
      es.push_back(Entry{merged, first_contents(v, ts)});
      hold_slot();
      created = true;
    } else {
      for (const W& o : olds) remove(es, o);
      add_contents(*combined, v, ts);
      es.push_back(Entry{merged, std::move(*combined)});
      hold_slot();
      std::vector<W> replaced;
      for (const W& o : olds) {
        if (!(o == merged)) replaced.push_back(o);
      }
      if (!replaced.empty()) {
        created = true;
        tctx_->window = &merged;
        if (!cfg_.default_event_time_trigger) this->call_user([&] { trigger_->on_merge(merged, replaced, *tctx_); });
        for (const W& o : replaced) {
          clear_trigger(o);
          delete_cleanup_timer(o);
        }
      }
    }
    if (created) register_cleanup_timer(merged);
    const TriggerResult r = trigger_on_element(v, ts, merged, created);
    after_trigger(r, merged);
    return true;
  }

  void after_trigger(TriggerResult r, const W& w) {
    if (is_fire(r)) {
      if (Entry* e = find(entries(), w)) emit(*e);
    }
    if (is_purge(r)) remove(entries(), w);
  }

  void clear_trigger(const W& w) {
    if (cfg_.default_event_time_trigger) {
      core_.timers().delete_event_time(w.max_timestamp(), w);
      return;
    }
    tctx_->window = &w;
    this->call_user([&] { trigger_->clear(w, *tctx_); });
  }

  // ---- timers --------------------------------------------------------------------------------
  void on_timer(const Timer& t, bool event_time) {
    core_.backend().set_current_slot(t.slot);
    const W& w = t.ns;
    auto& es = entries();
    const bool present = find(es, w) != nullptr;
    if (present || !A::kMerging) {
      TriggerResult r;
      if (cfg_.default_event_time_trigger) {
        r = event_time && t.time == w.max_timestamp() ? TriggerResult::FIRE : TriggerResult::CONTINUE;
      } else {
        tctx_->window = &w;
        r = this->call_user([&] {
          return event_time ? trigger_->on_event_time(t.time, w, *tctx_) : trigger_->on_processing_time(t.time, w, *tctx_);
        });
      }
      after_trigger(r, w);
    }
    if (event_time == cfg_.assigner.is_event_time() && t.time == cleanup_time(w)) clear_all(w);
  }

  void clear_all(const W& w) {
    remove(entries(), w);
    clear_trigger(w);
    if constexpr (kHasPwf) {
      pctx_->current = &w;
      this->call_user([&] { pwf_.clear(*pctx_); });
    }
  }

  // ---- output ------------------------------------------------------------------------------
  void emit(Entry& e) {
    const W& w = e.window;
    collector_.set_timestamp(w.max_timestamp());
    if constexpr (kList) {
      auto& elements = e.contents;
      if (evictor_) this->call_user([&] { evictor_->evict_before(elements, w); });
      if constexpr (kHasAgg) {
        if (!elements.empty()) {
          auto acc = this->call_user([&] { return agg_.first(elements.front().value); });
          for (std::size_t i = 1; i < elements.size(); ++i) acc = this->call_user([&] { return agg_.add(elements[i].value, std::move(acc)); });
          emit_result(w, agg_.result(acc));
        }
      } else {
        values_.clear();
        for (auto& tv : elements) values_.push_back(tv.value);
        call_pwf(w, values_);
      }
      if (evictor_) this->call_user([&] { evictor_->evict_after(elements, w); });
    } else {
      emit_result(w, agg_.result(e.contents));
    }
  }
  template <class R>
  void emit_result(const W& w, R&& result) {
    if constexpr (kHasPwf) {
      using PIN = typename PWF::input_type;
      std::vector<PIN> one{PIN(std::forward<R>(result))};
      call_pwf(w, one);
    } else {
      out_->emit(OUT(std::forward<R>(result)), w.max_timestamp());
    }
  }
  template <class V>
  void call_pwf(const W& w, const std::vector<V>& values) {
    if constexpr (kHasPwf) {
      pctx_->current = &w;
      this->call_user([&] { pwf_.process(core_.backend().current_key(), *pctx_, values, collector_); });
    }
  }

  // ---- contexts ------------------------------------------------------------------------------
  class TriggerCtx final : public TriggerContext<W> {
   public:
    explicit TriggerCtx(WindowOperator* op) : op_(op) {}
    int64_t get_current_processing_time() const override { return op_->processing_time_service().now(); }
    int64_t get_current_watermark() const override { return op_->current_watermark(); }
    void register_event_time_timer(int64_t t) override { op_->core_.timers().register_event_time(t, *window); }
    void register_processing_time_timer(int64_t t) override { op_->core_.timers().register_processing_time(t, *window); }
    void delete_event_time_timer(int64_t t) override { op_->core_.timers().delete_event_time(t, *window); }
    void delete_processing_time_timer(int64_t t) override { op_->core_.timers().delete_processing_time(t, *window); }
    int64_t get_counter(const std::string& name) override {
      const int64_t* v = op_->counters()->get(CounterNs{*window, op_->counter_id(name)});
      return v ? *v : 0;
    }
    void set_counter(const std::string& name, int64_t value) override {
      op_->counters()->put(value, CounterNs{*window, op_->counter_id(name)});
    }
    void clear_counter(const std::string& name) override { op_->counters()->erase(CounterNs{*window, op_->counter_id(name)}); }
    void merge_counter(const std::string& name, const std::vector<W>& merged) override {
      const uint64_t id = op_->counter_id(name);
      int64_t sum = 0;
      bool any = false;
      for (const W& m : merged) {
        if (const int64_t* v = op_->counters()->get(CounterNs{m, id})) {
          sum += *v;
          any = true;
        }
      }
      if (const int64_t* v = op_->counters()->get(CounterNs{*window, id})) {
        sum += *v;
        any = true;
      }
      if (any) op_->counters()->put(sum, CounterNs{*window, id});
    }
    const W* window = nullptr;

   private:
    WindowOperator* op_;
  };

  using CounterNs = WindowCounter<W>;
  ValueTable<int64_t, CounterNs>* counters() {
    if (!counters_) {
      auto* backend = &core_.backend();
      counters_ = static_cast<ValueTable<int64_t, CounterNs>*>(backend->table(
          "__window_trigger_counters", typeid(ValueTable<int64_t, CounterNs>),
          [backend] { return std::make_unique<ValueTable<int64_t, CounterNs>>(backend, "__window_trigger_counters"); }));
    }
    return counters_;
  }
  /// A counter's id: a stable hash of its name, the same in every run (checkpoints hold it).
  uint64_t counter_id(const std::string& name) {
    for (const auto& [n, id] : counter_ids_) {
      if (n == name) return id;
    }
    const uint64_t id = stable_hash(name.data(), name.size());
    counter_ids_.emplace_back(name, id);
    return id;
  }

  Config cfg_;
  Agg agg_;
  PWF pwf_;
  KeyedOperatorCore<K, W> core_;
  runtime::Output<OUT>* out_ = nullptr;
  TimestampedCollector<OUT> collector_;
  std::unique_ptr<Trigger<IN, W>> trigger_;
  std::unique_ptr<Evictor<IN, W>> evictor_;
  std::unique_ptr<TriggerCtx> tctx_;
  using PwfCtx = PwfContextImpl<PWF, W>;
  std::unique_ptr<PwfCtx> pctx_;
  std::vector<Entries> per_slot_;
  KeyedTable<Entries>* rocks_table_ = nullptr;
  std::vector<W> windows_;
  std::vector<IN> values_;
  static constexpr std::size_t kAhead = 8;
  struct Ahead {
    std::optional<K> key;
    std::exception_ptr error;  ///< what the key selector threw, when `key` is empty
    uint32_t slot = KeyedBackendBase::kNoSlot;  ///< the key's slot, looked up at mid-distance
  };
  std::array<Ahead, kAhead> ahead_{};  ///< process_run: the records ahead
  ValueTable<int64_t, CounterNs>* counters_ = nullptr;
  std::vector<std::pair<std::string, uint64_t>> counter_ids_;
  uint64_t late_dropped_ = 0;
};

}  // namespace weir::detail

namespace weir {
template <SerdeType W, SerdeType C>
struct Serde<detail::WindowEntry<W, C>> {
  static void write(ByteWriter& w, const detail::WindowEntry<W, C>& e) {
    Serde<W>::write(w, e.window);
    Serde<C>::write(w, e.contents);
  }
  static detail::WindowEntry<W, C> read(ByteReader& r) {
    W win = Serde<W>::read(r);
    C c = Serde<C>::read(r);
    return detail::WindowEntry<W, C>{std::move(win), std::move(c)};
  }
};
/// A count, then the elements (the same bytes as a std::vector's).
template <SerdeType T, std::size_t N>
struct Serde<absl::InlinedVector<T, N>> {
  static void write(ByteWriter& w, const absl::InlinedVector<T, N>& v) {
    w.write_varint(v.size());
    for (const auto& x : v) Serde<T>::write(w, x);
  }
  static absl::InlinedVector<T, N> read(ByteReader& r) {
    absl::InlinedVector<T, N> v;
    for (uint64_t n = r.read_varint(); n > 0; --n) v.push_back(Serde<T>::read(r));
    return v;
  }
};
template <SerdeType W>
struct Serde<detail::WindowCounter<W>> {
  static void write(ByteWriter& w, const detail::WindowCounter<W>& c) {
    Serde<W>::write(w, c.window);
    w.write_fixed(c.id);
  }
  static detail::WindowCounter<W> read(ByteReader& r) {
    W win = Serde<W>::read(r);
    return detail::WindowCounter<W>{std::move(win), r.read_fixed<uint64_t>()};
  }
};
}  // namespace weir

