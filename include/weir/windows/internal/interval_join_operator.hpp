#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// The operator behind KeyedStream::interval_join: both sides buffered in keyed state until the
/// watermark passes their bounds.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "weir/api/internal/keyed_process_operator.hpp"
#include "weir/windows/process_join_function.hpp"
#include "weir/windows/window.hpp"

namespace weir::detail {

struct IntervalJoinConfig {
  int64_t lower = 0;  // inclusive after adjusting for exclusivity
  int64_t upper = 0;
  std::string left_late_tag;
  std::string right_late_tag;
};

/// Buffers both sides per key and timestamp; each new element joins the other side's buffered
/// elements within the bounds; buffers are dropped once the watermark passes their bound.
template <class K, class L, class R, class OUT, class KL, class KR, class PJF>
class IntervalJoinOperator final : public runtime::TwoInputOperator<L, R> {
 public:
  IntervalJoinOperator(KL kl, KR kr, PJF f, IntervalJoinConfig cfg)
      : kl_(std::move(kl)), kr_(std::move(kr)), f_(std::move(f)), cfg_(std::move(cfg)), ctx_(this) {}

  void initialize_state(const runtime::StateRestore& r) override { core_.set_restore(r); }
  void snapshot_state(runtime::SnapshotContext& ctx) override {
    core_.snapshot(ctx);
    using LM = std::map<int64_t, std::vector<L>>;
    using RM = std::map<int64_t, std::vector<R>>;
    if constexpr (SerdeType<LM> && SerdeType<RM>) {
      core_.snapshot_slots(ctx, per_slot_, "buffers", [](const Buffers& b) { return !b.left.empty() || !b.right.empty(); },
                           [](const Buffers& b, ByteWriter& w) {
                             Serde<LM>::write(w, b.left);
                             Serde<RM>::write(w, b.right);
                           });
    } else {
      for (const auto& b : per_slot_) {
        if (!b.left.empty() || !b.right.empty()) no_serde("the buffers of interval join '" + this->name() + "'");
      }
    }
  }

  void open() override {
    core_.init(*this);
    collector_.set(this->template typed_output<OUT>(), kNoTimestamp);
    core_.restore([this](std::string_view, std::string_view payload) {
      using LM = std::map<int64_t, std::vector<L>>;
      using RM = std::map<int64_t, std::vector<R>>;
      if constexpr (SerdeType<LM> && SerdeType<RM>) {
        ByteReader r(payload);
        LM left = Serde<LM>::read(r);
        RM right = Serde<RM>::read(r);
        auto& b = buffers();
        for (auto& [ts, vs] : left) {
          if (b.left.emplace(ts, std::move(vs)).second) core_.backend().ref(core_.backend().current_slot());
        }
        for (auto& [ts, vs] : right) {
          if (b.right.emplace(ts, std::move(vs)).second) core_.backend().ref(core_.backend().current_slot());
        }
      } else {
        no_serde("the buffers of interval join '" + this->name() + "'");
      }
    });
    RuntimeContext rc(this->task_info(), this->name(), &core_.backend(), &this->metric_group());
    this->call_user([&] { f_.open(rc); });
  }
  void close() override { f_.close(); }

  void process1(const L& v, int64_t ts) override {
    check_ts(ts);
    core_.backend().set_current_key(this->call_user([&]() -> K { return kl_(v); }));
    if (is_late(ts)) return late(cfg_.left_late_tag, v, ts);
    auto& b = buffers();
    add(b.left, v, ts);
    for (auto it = b.right.lower_bound(saturating_add(ts, cfg_.lower)); it != b.right.end() && it->first <= saturating_add(ts, cfg_.upper); ++it) {
      for (const R& r : it->second) emit(v, ts, r, it->first);
    }
    const int64_t cleanup = cfg_.upper > 0 ? saturating_add(ts, cfg_.upper) : ts;
    core_.timers().register_event_time(cleanup, 0);
  }
  void process2(const R& v, int64_t ts) override {
    check_ts(ts);
    core_.backend().set_current_key(this->call_user([&]() -> K { return kr_(v); }));
    if (is_late(ts)) return late(cfg_.right_late_tag, v, ts);
    auto& b = buffers();
    add(b.right, v, ts);
    for (auto it = b.left.lower_bound(saturating_add(ts, -cfg_.upper)); it != b.left.end() && it->first <= saturating_add(ts, -cfg_.lower); ++it) {
      for (const L& l : it->second) emit(l, it->first, v, ts);
    }
    const int64_t cleanup = -cfg_.lower > 0 ? saturating_add(ts, -cfg_.lower) : ts;
    core_.timers().register_event_time(cleanup, 1);
  }

  std::size_t keyed_state_keys() const override { return core_.live_keys(); }

  /// Buffered elements (both sides), for tests of the cleanup.
  std::size_t buffered() const {
    std::size_t n = 0;
    for (auto& b : per_slot_) {
      for (auto& [t, v] : b.left) n += v.size();
      for (auto& [t, v] : b.right) n += v.size();
    }
    return n;
  }

 protected:
  void on_watermark(int64_t wm) override {
    core_.timers().advance_watermark(wm, [this](const auto& t) {
      core_.backend().set_current_slot(t.slot);
      auto& b = buffers();
      if (t.ns == 0) {
        const int64_t bucket = cfg_.upper > 0 ? t.time - cfg_.upper : t.time;
        if (b.left.erase(bucket)) core_.backend().unref(t.slot);
      } else {
        const int64_t bucket = -cfg_.lower > 0 ? t.time + cfg_.lower : t.time;
        if (b.right.erase(bucket)) core_.backend().unref(t.slot);
      }
    });
    this->output_->emit_watermark(wm);
  }

 private:
  struct Buffers {
    std::map<int64_t, std::vector<L>> left;
    std::map<int64_t, std::vector<R>> right;
  };
  Buffers& buffers() {
    const uint32_t s = core_.backend().current_slot();
    if (per_slot_.size() <= s) per_slot_.resize(s + 1);
    return per_slot_[s];
  }
  template <class V>
  void add(std::map<int64_t, std::vector<V>>& m, const V& v, int64_t ts) {
    auto [it, inserted] = m.try_emplace(ts);
    if (inserted) core_.backend().ref(core_.backend().current_slot());
    it->second.push_back(v);
  }
  void check_ts(int64_t ts) const {
    if (ts == kNoTimestamp) {
      throw OperatorFailure(this->name(), "interval joins need event timestamps; call assign_timestamps_and_watermarks() on both inputs");
    }
  }
  bool is_late(int64_t ts) const {
    return this->current_watermark() != std::numeric_limits<int64_t>::min() && ts < this->current_watermark();
  }
  template <class V>
  void late(const std::string& tag, const V& v, int64_t ts) {
    if (tag.empty()) return;
    if (auto* o = this->side_output(tag, typeid(V))) static_cast<runtime::Output<V>*>(o)->emit(v, ts);
  }
  void emit(const L& l, int64_t lts, const R& r, int64_t rts) {
    ctx_.lts = lts;
    ctx_.rts = rts;
    collector_.set_timestamp(std::max(lts, rts));
    this->call_user([&] { f_.process_element(l, r, ctx_, collector_); });
  }

  struct Ctx final : PJF::Context {
    explicit Ctx(const runtime::StreamOperator* op) : o(op) {}
    int64_t get_left_timestamp() const override { return lts; }
    int64_t get_right_timestamp() const override { return rts; }
    const runtime::StreamOperator& op() const override { return *o; }
    const runtime::StreamOperator* o;
    int64_t lts = 0;
    int64_t rts = 0;
  };

  KL kl_;
  KR kr_;
  PJF f_;
  IntervalJoinConfig cfg_;
  Ctx ctx_;
  KeyedOperatorCore<K, int> core_;
  TimestampedCollector<OUT> collector_;
  std::vector<Buffers> per_slot_;
};

}  // namespace weir::detail
