#pragma once
/// Timers: the user-facing TimerService, and the per-operator store of keyed timers.
#include <cstdint>
#include <functional>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>

#include "weir/common/errors.hpp"
#include "weir/state/snapshot.hpp"
#include "weir/time/processing_time.hpp"
#include "weir/state/internal/keyed_backend.hpp"

namespace weir {

enum class TimeDomain { event_time, processing_time };

/// Time and timers for the current key, as Flink's TimerService. Timers are per key and
/// timestamp (registering the same one twice keeps one), fire in timestamp order, event-time
/// timers when the watermark reaches them, processing-time timers when the clock does.
class TimerService {
 public:
  virtual ~TimerService() = default;
  virtual int64_t current_processing_time() const = 0;
  virtual int64_t current_watermark() const = 0;
  virtual void register_event_time_timer(int64_t time) = 0;
  virtual void register_processing_time_timer(int64_t time) = 0;
  virtual void delete_event_time_timer(int64_t time) = 0;
  virtual void delete_processing_time_timer(int64_t time) = 0;
};

namespace detail {

/// The timers of one keyed operator, per (timestamp, key slot, namespace); each holds its key's
/// slot. Stored in timestamp order; the slot gives the key group for snapshots.
template <class N = VoidNamespace>
class InternalTimers {
 public:
  struct Timer {
    int64_t time;
    uint32_t slot;
    N ns;
    bool operator<(const Timer& o) const { return std::tie(time, slot, ns) < std::tie(o.time, o.slot, o.ns); }
  };

  InternalTimers(KeyedBackendBase* backend, runtime::ProcessingTimeService* pts) : backend_(backend), pts_(pts) {}
  /// What runs when processing-time timers are due (set by the operator).
  void set_processing_time_callback(std::function<void(int64_t)> cb) { on_processing_time_ = std::move(cb); }

  void register_event_time(int64_t time, const N& ns = N{}) { add(event_, Timer{time, backend_->current_slot(), ns}); }
  void delete_event_time(int64_t time, const N& ns = N{}) { remove(event_, Timer{time, backend_->current_slot(), ns}); }
  void register_processing_time(int64_t time, const N& ns = N{}) {
    const bool earliest = processing_.empty() || time < processing_.begin()->time;
    if (add(processing_, Timer{time, backend_->current_slot(), ns}) && earliest) {
      pts_->register_timer(time, [this](int64_t t) { on_processing_time_(t); });
    }
  }
  void delete_processing_time(int64_t time, const N& ns = N{}) {
    remove(processing_, Timer{time, backend_->current_slot(), ns});
  }

  /// Fires, in order, every event-time timer at or below `watermark` (including ones the
  /// callbacks register). `fire(const Timer&)` runs with the timer's slot still held.
  template <class F>
  void advance_watermark(int64_t watermark, F&& fire) {
    drain(event_, watermark, fire);
  }
  template <class F>
  void advance_processing_time(int64_t now, F&& fire) {
    drain(processing_, now, fire);
    if (!processing_.empty()) {
      pts_->register_timer(processing_.begin()->time, [this](int64_t t) { on_processing_time_(t); });
    }
  }
  std::size_t event_time_count() const { return event_.size(); }
  std::size_t processing_time_count() const { return processing_.size(); }
  const std::set<Timer>& event_time_timers() const { return event_; }

  /// Writes every timer into its key group's stream (payload: time, then namespace).
  void snapshot(runtime::SnapshotContext& ctx) {
    if (event_.empty() && processing_.empty()) return;
    if constexpr (SerdeType<N>) {
      std::string payload;
      auto write = [&](const std::set<Timer>& set, runtime::KeyedRecord kind) {
        for (const auto& t : set) {
          payload.clear();
          ByteWriter w(payload);
          w.write_fixed(t.time);
          Serde<N>::write(w, t.ns);
          runtime::write_keyed_record(ctx.key_group(backend_->key_group_of_slot(t.slot)), kind, "",
                                      backend_->key_bytes(t.slot), payload);
        }
      };
      write(event_, runtime::KeyedRecord::kEventTimer);
      write(processing_, runtime::KeyedRecord::kProcessingTimer);
    } else {
      no_serde("a timer's namespace");
    }
  }
  /// Restores one timer record for the current key.
  void restore(runtime::KeyedRecord kind, std::string_view payload) {
    if constexpr (SerdeType<N>) {
      ByteReader r(payload);
      const auto time = r.read_fixed<int64_t>();
      N ns = Serde<N>::read(r);
      if (kind == runtime::KeyedRecord::kEventTimer) {
        register_event_time(time, ns);
      } else {
        register_processing_time(time, ns);
      }
    } else {
      no_serde("a timer's namespace");
    }
  }

 private:
  bool add(std::set<Timer>& set, Timer t) {
    if (!set.insert(t).second) return false;  // deduplicated
    backend_->ref(t.slot);
    return true;
  }
  void remove(std::set<Timer>& set, const Timer& t) {
    if (set.erase(t)) backend_->unref(t.slot);
  }
  template <class F>
  void drain(std::set<Timer>& set, int64_t upto, F& fire) {
    while (!set.empty() && set.begin()->time <= upto) {
      Timer t = *set.begin();
      set.erase(set.begin());
      fire(t);
      backend_->unref(t.slot);
    }
  }

  KeyedBackendBase* backend_;
  runtime::ProcessingTimeService* pts_;
  std::function<void(int64_t)> on_processing_time_;
  std::set<Timer> event_;
  std::set<Timer> processing_;
};

}  // namespace detail
}  // namespace weir
