#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// Sliding event-time windows with an incremental function, computed from shared slices: each
/// key keeps one accumulator per slice of gcd(size, slide) milliseconds, an element updates one
/// slice (not size/slide windows), and a window's result merges its slices when it fires. Same
/// results as the WindowOperator with the default trigger (late firings within the allowed
/// lateness, late-data side output, results at the window's max timestamp).
#include <cstdint>
#include <map>
#include <numeric>
#include <vector>

#include "weir/windows/internal/window_operator.hpp"

namespace weir::detail {

template <class K, class IN, class OUT, class Agg, class PWF>
class SliceWindowOperator final : public runtime::OneInputOperator<IN> {
 public:
  using W = TimeWindow;
  using Acc = typename Agg::acc_type;
  static constexpr bool kHasPwf = !std::is_same_v<PWF, EmitResult>;

  struct Config {
    std::function<K(const IN&)> key;
    int64_t size;
    int64_t slide;
    int64_t offset;
    int64_t allowed_lateness;
    std::string late_tag;
  };

  SliceWindowOperator(Config cfg, Agg agg, PWF pwf)
      : cfg_(std::move(cfg)), agg_(std::move(agg)), pwf_(std::move(pwf)), slice_(std::gcd(cfg_.size, cfg_.slide)) {}

  void initialize_state(const runtime::StateRestore& r) override { core_.set_restore(r); }
  void snapshot_state(runtime::SnapshotContext& ctx) override {
    core_.snapshot(ctx);
    using Slices = std::map<int64_t, Acc>;
    if constexpr (SerdeType<Slices>) {
      core_.snapshot_slots(ctx, per_slot_, "slices", [](const Slices& m) { return !m.empty(); },
                           [](const Slices& m, ByteWriter& w) { Serde<Slices>::write(w, m); });
    } else {
      for (const auto& m : per_slot_) {
        if (!m.empty()) no_serde("the accumulators of window operator '" + this->name() + "'");
      }
    }
  }

  void open() override {
    core_.init(*this);
    out_ = this->template typed_output<OUT>();
    collector_.set(out_, kNoTimestamp);
    pctx_ = std::make_unique<PwfCtx>(this);
    core_.restore([this](std::string_view name, std::string_view payload) {
      using Slices = std::map<int64_t, Acc>;
      if constexpr (SerdeType<Slices>) {
        auto restored = deserialize<Slices>(payload);
        auto& slices = this->slices();
        if (slices.empty() && !restored.empty()) core_.backend().ref(core_.backend().current_slot());
        for (auto& [start, acc] : restored) slices.insert_or_assign(start, std::move(acc));
      } else {
        no_serde("the accumulators of window operator '" + this->name() + "'");
      }
    });
    if constexpr (kHasPwf) {
      RuntimeContext rc(this->task_info(), this->name(), &core_.backend(), &this->metric_group());
      this->call_user([&] { pwf_.open(rc); });
    }
  }
  void close() override {
    if constexpr (kHasPwf) pwf_.close();
  }
  std::size_t keyed_state_keys() const override { return core_.live_keys(); }
  std::size_t keyed_state_entries() const override {
    std::size_t n = 0;
    for (const auto& s : per_slot_) n += s.size();
    return n;
  }

  void process(const IN& v, int64_t ts) override {
    if (ts == kNoTimestamp) {
      throw OperatorFailure(this->name(),
                            "an event-time window got a record without a timestamp; call "
                            "assign_timestamps_and_watermarks() before the window, or use a processing-time window");
    }
    core_.backend().set_current_key(this->call_user([&]() -> K { return cfg_.key(v); }));
    const int64_t wm = this->current_watermark();
    // The windows of the element: starts in (ts - size, last_start], every slide.
    const int64_t last_start = TimeWindow::get_window_start_with_offset(ts, cfg_.offset, cfg_.slide);
    bool any_live = false;
    for (int64_t start = last_start; start > ts - cfg_.size; start -= cfg_.slide) {
      if (saturating_add(start + cfg_.size - 1, cfg_.allowed_lateness) > wm) any_live = true;
    }
    if (!any_live) {
      if (saturating_add(ts, cfg_.allowed_lateness) <= wm && !cfg_.late_tag.empty()) {
        if (auto* o = this->side_output(cfg_.late_tag, typeid(IN))) static_cast<runtime::Output<IN>*>(o)->emit(v, ts);
      }
      return;
    }
    auto& slices = this->slices();
    const int64_t s = TimeWindow::get_window_start_with_offset(ts, cfg_.offset, slice_);
    auto it = slices.find(s);
    const bool created = it == slices.end();
    if (created) {
      if (slices.empty()) core_.backend().ref(core_.backend().current_slot());
      slices.emplace(s, this->call_user([&] { return agg_.first(v); }));
    } else {
      it->second = this->call_user([&] { return agg_.add(v, std::move(it->second)); });
    }
    for (int64_t start = last_start; start > ts - cfg_.size; start -= cfg_.slide) {
      const TimeWindow w(start, start + cfg_.size);
      if (saturating_add(w.max_timestamp(), cfg_.allowed_lateness) <= wm) continue;  // cleaned up
      if (w.max_timestamp() <= wm) {
        fire(w);  // late firing within the allowed lateness
      } else if (created) {
        core_.timers().register_event_time(w.max_timestamp(), 0);
        if (cfg_.allowed_lateness > 0) core_.timers().register_event_time(saturating_add(w.max_timestamp(), cfg_.allowed_lateness), 1);
      }
    }
  }

 protected:
  void on_watermark(int64_t wm) override {
    core_.timers().advance_watermark(wm, [this](const auto& t) {
      core_.backend().set_current_slot(t.slot);
      if (t.ns == 0) {
        const TimeWindow w(t.time + 1 - cfg_.size, t.time + 1);
        fire(w);
        if (cfg_.allowed_lateness == 0) cleanup(w);
      } else {
        const int64_t max_ts = t.time - cfg_.allowed_lateness;
        cleanup(TimeWindow(max_ts + 1 - cfg_.size, max_ts + 1));
      }
    });
    this->output_->emit_watermark(wm);
  }

 private:
  std::map<int64_t, Acc>& slices() {
    const uint32_t s = core_.backend().current_slot();
    if (per_slot_.size() <= s) per_slot_.resize(s + 1);
    return per_slot_[s];
  }

  void fire(const TimeWindow& w) {
    auto& slices = this->slices();
    auto it = slices.lower_bound(w.start());
    std::optional<Acc> acc;
    for (; it != slices.end() && it->first < w.end(); ++it) {
      acc = acc ? this->call_user([&] { return agg_.merge(std::move(*acc), it->second); }) : it->second;
    }
    if (!acc) return;
    collector_.set_timestamp(w.max_timestamp());
    if constexpr (kHasPwf) {
      using PIN = typename PWF::input_type;
      std::vector<PIN> one{PIN(agg_.result(*acc))};
      pctx_->current = &w;
      this->call_user([&] { pwf_.process(core_.backend().current_key(), *pctx_, one, collector_); });
    } else {
      out_->emit(OUT(agg_.result(*acc)), w.max_timestamp());
    }
  }

  /// Window `w` is gone: drop the slices no later window needs (those starting before the
  /// next window's start).
  void cleanup(const TimeWindow& w) {
    auto& slices = this->slices();
    if (slices.empty()) return;
    slices.erase(slices.begin(), slices.lower_bound(w.start() + cfg_.slide));
    if (slices.empty()) core_.backend().unref(core_.backend().current_slot());
  }

  Config cfg_;
  Agg agg_;
  PWF pwf_;
  int64_t slice_;
  KeyedOperatorCore<K, int> core_;
  runtime::Output<OUT>* out_ = nullptr;
  TimestampedCollector<OUT> collector_;
  using PwfCtx = PwfContextImpl<PWF, W>;
  std::unique_ptr<PwfCtx> pctx_;
  std::vector<std::map<int64_t, Acc>> per_slot_;
};

}  // namespace weir::detail
