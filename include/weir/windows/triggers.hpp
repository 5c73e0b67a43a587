#pragma once
/// Triggers decide when a window fires and purges, as Flink's Trigger.
#include <algorithm>
#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "weir/api/functions.hpp"
#include "weir/state/internal/keyed_backend.hpp"
#include "weir/windows/window.hpp"

namespace weir {

/// What a trigger decides for a window.
enum class TriggerResult { CONTINUE, FIRE, PURGE, FIRE_AND_PURGE };
inline bool is_fire(TriggerResult r) { return r == TriggerResult::FIRE || r == TriggerResult::FIRE_AND_PURGE; }
inline bool is_purge(TriggerResult r) { return r == TriggerResult::PURGE || r == TriggerResult::FIRE_AND_PURGE; }

/// What a trigger may do for the current key and window: timers, time, per-window state.
template <class W>
class TriggerContext {
 public:
  virtual ~TriggerContext() = default;
  virtual int64_t get_current_processing_time() const = 0;
  virtual int64_t get_current_watermark() const = 0;
  virtual void register_event_time_timer(int64_t time) = 0;
  virtual void register_processing_time_timer(int64_t time) = 0;
  virtual void delete_event_time_timer(int64_t time) = 0;
  virtual void delete_processing_time_timer(int64_t time) = 0;
  /// A counter per key and window (what count-based triggers keep); `merge_counter` adds the
  /// counters of merged windows (session windows) into the current one.
  virtual int64_t get_counter(const std::string& name) = 0;
  virtual void set_counter(const std::string& name, int64_t value) = 0;
  virtual void clear_counter(const std::string& name) = 0;
  virtual void merge_counter(const std::string& name, const std::vector<W>& merged) = 0;
};

/// Decides when a window fires and purges, as Flink's Trigger. Subclass for a user trigger.
template <class T, class W>
class Trigger {
 public:
  virtual ~Trigger() = default;
  virtual TriggerResult on_element(const T& element, int64_t timestamp, const W& window, TriggerContext<W>& ctx) = 0;
  virtual TriggerResult on_event_time(int64_t time, const W& window, TriggerContext<W>& ctx) = 0;
  virtual TriggerResult on_processing_time(int64_t time, const W& window, TriggerContext<W>& ctx) = 0;
  virtual bool can_merge() const { return false; }
  /// The windows in `merged` were merged into `window`.
  virtual void on_merge(const W& window, const std::vector<W>& merged, TriggerContext<W>& ctx) {}
  /// The window is gone: delete its timers and state.
  virtual void clear(const W& window, TriggerContext<W>& ctx) = 0;
};

/// Fires once the watermark passes the window's end (and again for each late element within
/// the allowed lateness). Default of event-time assigners.
class EventTimeTrigger {
 public:
  static EventTimeTrigger create() { return {}; }
  template <class T, class W>
  class For final : public Trigger<T, W> {
   public:
    TriggerResult on_element(const T&, int64_t, const W& w, TriggerContext<W>& ctx) override {
      if (w.max_timestamp() <= ctx.get_current_watermark()) return TriggerResult::FIRE;  // late, within lateness
      ctx.register_event_time_timer(w.max_timestamp());
      return TriggerResult::CONTINUE;
    }
    TriggerResult on_event_time(int64_t time, const W& w, TriggerContext<W>&) override {
      return time == w.max_timestamp() ? TriggerResult::FIRE : TriggerResult::CONTINUE;
    }
    TriggerResult on_processing_time(int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::CONTINUE; }
    bool can_merge() const override { return true; }
    void on_merge(const W& w, const std::vector<W>&, TriggerContext<W>& ctx) override {
      if (w.max_timestamp() > ctx.get_current_watermark()) ctx.register_event_time_timer(w.max_timestamp());
    }
    void clear(const W& w, TriggerContext<W>& ctx) override { ctx.delete_event_time_timer(w.max_timestamp()); }
  };
  template <class T, class W>
  std::unique_ptr<Trigger<T, W>> make() const {
    return std::make_unique<For<T, W>>();
  }
};

/// Fires when processing time passes the window's end. Default of processing-time assigners.
class ProcessingTimeTrigger {
 public:
  static ProcessingTimeTrigger create() { return {}; }
  template <class T, class W>
  class For final : public Trigger<T, W> {
   public:
    TriggerResult on_element(const T&, int64_t, const W& w, TriggerContext<W>& ctx) override {
      ctx.register_processing_time_timer(w.max_timestamp());
      return TriggerResult::CONTINUE;
    }
    TriggerResult on_event_time(int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::CONTINUE; }
    TriggerResult on_processing_time(int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::FIRE; }
    bool can_merge() const override { return true; }
    void on_merge(const W& w, const std::vector<W>&, TriggerContext<W>& ctx) override {
      if (w.max_timestamp() > ctx.get_current_processing_time()) ctx.register_processing_time_timer(w.max_timestamp());
    }
    void clear(const W& w, TriggerContext<W>& ctx) override { ctx.delete_processing_time_timer(w.max_timestamp()); }
  };
  template <class T, class W>
  std::unique_ptr<Trigger<T, W>> make() const {
    return std::make_unique<For<T, W>>();
  }
};

/// Never fires (the default of GlobalWindows).
class NeverTrigger {
 public:
  static NeverTrigger create() { return {}; }
  template <class T, class W>
  class For final : public Trigger<T, W> {
   public:
    TriggerResult on_element(const T&, int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::CONTINUE; }
    TriggerResult on_event_time(int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::CONTINUE; }
    TriggerResult on_processing_time(int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::CONTINUE; }
    bool can_merge() const override { return true; }
    void clear(const W&, TriggerContext<W>&) override {}
  };
  template <class T, class W>
  std::unique_ptr<Trigger<T, W>> make() const {
    return std::make_unique<For<T, W>>();
  }
};

/// Fires when a window holds `count` elements (then counts again from zero).
class CountTrigger {
 public:
  static CountTrigger of(int64_t count) {
    if (count < 1) throw GraphError("CountTrigger::of: the count must be at least 1");
    return CountTrigger(count);
  }
  template <class T, class W>
  class For final : public Trigger<T, W> {
   public:
    explicit For(int64_t n) : n_(n) {}
    TriggerResult on_element(const T&, int64_t, const W&, TriggerContext<W>& ctx) override {
      const int64_t c = ctx.get_counter("count") + 1;
      if (c >= n_) {
        ctx.clear_counter("count");
        return TriggerResult::FIRE;
      }
      ctx.set_counter("count", c);
      return TriggerResult::CONTINUE;
    }
    TriggerResult on_event_time(int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::CONTINUE; }
    TriggerResult on_processing_time(int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::CONTINUE; }
    bool can_merge() const override { return true; }
    void on_merge(const W&, const std::vector<W>& merged, TriggerContext<W>& ctx) override { ctx.merge_counter("count", merged); }
    void clear(const W&, TriggerContext<W>& ctx) override { ctx.clear_counter("count"); }

   private:
    int64_t n_;
  };
  template <class T, class W>
  std::unique_ptr<Trigger<T, W>> make() const {
    return std::make_unique<For<T, W>>(n_);
  }

 private:
  explicit CountTrigger(int64_t n) : n_(n) {}
  int64_t n_;
};

/// Fires periodically in event time, every `interval` (aligned to the epoch), and at the
/// window's end.
class ContinuousEventTimeTrigger {
 public:
  static ContinuousEventTimeTrigger of(std::chrono::milliseconds interval) {
    if (interval.count() <= 0) throw GraphError("ContinuousEventTimeTrigger::of: the interval must be positive");
    return ContinuousEventTimeTrigger(interval.count());
  }
  template <class T, class W>
  class For final : public Trigger<T, W> {
   public:
    explicit For(int64_t i) : interval_(i) {}
    TriggerResult on_element(const T&, int64_t ts, const W& w, TriggerContext<W>& ctx) override {
      if (w.max_timestamp() <= ctx.get_current_watermark()) return TriggerResult::FIRE;
      ctx.register_event_time_timer(w.max_timestamp());
      if (ctx.get_counter("fire-time") == 0) {
        const int64_t start = ts - (((ts % interval_) + interval_) % interval_);
        const int64_t next = start + interval_;
        ctx.register_event_time_timer(next);
        ctx.set_counter("fire-time", next);
      }
      return TriggerResult::CONTINUE;
    }
    TriggerResult on_event_time(int64_t time, const W& w, TriggerContext<W>& ctx) override {
      if (time == w.max_timestamp()) return TriggerResult::FIRE;
      const int64_t fire = ctx.get_counter("fire-time");
      if (fire == time) {
        ctx.set_counter("fire-time", time + interval_);
        ctx.register_event_time_timer(time + interval_);
        return TriggerResult::FIRE;
      }
      return TriggerResult::CONTINUE;
    }
    TriggerResult on_processing_time(int64_t, const W&, TriggerContext<W>&) override { return TriggerResult::CONTINUE; }
    void clear(const W& w, TriggerContext<W>& ctx) override {
      const int64_t fire = ctx.get_counter("fire-time");
      if (fire != 0) ctx.delete_event_time_timer(fire);
      ctx.clear_counter("fire-time");
    }

   private:
    int64_t interval_;
  };
  template <class T, class W>
  std::unique_ptr<Trigger<T, W>> make() const {
    return std::make_unique<For<T, W>>(interval_);
  }

 private:
  explicit ContinuousEventTimeTrigger(int64_t i) : interval_(i) {}
  int64_t interval_;
};

/// A trigger wrapped by `PurgingTrigger::of`: every FIRE becomes FIRE_AND_PURGE.
template <class Inner>
class PurgingTriggerOf {
 public:
  explicit PurgingTriggerOf(Inner inner) : inner_(std::move(inner)) {}
  template <class T, class W>
  class For final : public Trigger<T, W> {
   public:
    explicit For(std::unique_ptr<Trigger<T, W>> in) : in_(std::move(in)) {}
    TriggerResult on_element(const T& e, int64_t ts, const W& w, TriggerContext<W>& ctx) override {
      return purge(in_->on_element(e, ts, w, ctx));
    }
    TriggerResult on_event_time(int64_t t, const W& w, TriggerContext<W>& ctx) override {
      return purge(in_->on_event_time(t, w, ctx));
    }
    TriggerResult on_processing_time(int64_t t, const W& w, TriggerContext<W>& ctx) override {
      return purge(in_->on_processing_time(t, w, ctx));
    }
    bool can_merge() const override { return in_->can_merge(); }
    void on_merge(const W& w, const std::vector<W>& m, TriggerContext<W>& ctx) override { in_->on_merge(w, m, ctx); }
    void clear(const W& w, TriggerContext<W>& ctx) override { in_->clear(w, ctx); }

   private:
    static TriggerResult purge(TriggerResult r) { return is_fire(r) ? TriggerResult::FIRE_AND_PURGE : r; }
    std::unique_ptr<Trigger<T, W>> in_;
  };
  template <class T, class W>
  std::unique_ptr<Trigger<T, W>> make() const {
    if constexpr (std::is_base_of_v<Trigger<T, W>, Inner>) {
      return std::make_unique<For<T, W>>(std::make_unique<Inner>(inner_));
    } else {
      return std::make_unique<For<T, W>>(inner_.template make<T, W>());
    }
  }

 private:
  Inner inner_;
};

/// Turns every FIRE of the wrapped trigger into FIRE_AND_PURGE: `PurgingTrigger::of(CountTrigger::of(n))`.
class PurgingTrigger {
 public:
  template <class Inner>
  static PurgingTriggerOf<Inner> of(Inner inner) {
    return PurgingTriggerOf<Inner>(std::move(inner));
  }
};

namespace detail {
/// Makes a Trigger<T, W> from a built-in trigger factory, or copies a user Trigger<T, W> subclass.
template <class T, class W, class TR>
std::unique_ptr<Trigger<T, W>> make_trigger(const TR& t) {
  if constexpr (std::is_base_of_v<Trigger<T, W>, TR>) {
    return std::make_unique<TR>(t);
  } else {
    return t.template make<T, W>();
  }
}
}  // namespace detail

}  // namespace weir
