#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// The operators behind KeyedStream::process and KeyedConnectedStreams::process: keyed state
/// and timers around a user function.
#include <cstdint>
#include <cctype>
#include <filesystem>
#include <memory>
#include <optional>
#include <utility>


#include "weir/api/keyed_process.hpp"
#include "weir/runtime/internal/operator.hpp"
#include "weir/state/internal/keyed_backend.hpp"
#include "weir/time/timer_service.hpp"

namespace weir::detail {

/// Keyed state, timers and the current key for a keyed operator; held by the operators that
/// run after key_by (process functions, keyed broadcast, windows, interval joins; keyed reduce
/// keeps its own map).
template <class K, class N = VoidNamespace>
class KeyedOperatorCore {
 public:
  KeyedOperatorCore() = default;
  void init(runtime::StreamOperator& op) {
    backend_ = std::make_unique<HeapKeyedBackend<K>>(op.task_info().max_parallelism);
    const auto& info = op.task_info();
    if (!info.rocksdb_dir.empty()) {
      kv_options_.dir = info.rocksdb_dir + "/" + sanitize(op.uid()) + "-" + std::to_string(info.subtask);
      kv_options_.memory_budget_bytes = info.rocksdb_memory;
      backend_->set_cache_entries(info.rocksdb_cache_entries);
      backend_->attach_store(open_rocksdb_store(kv_options_));
      op.set_state_store_source([this] { return backend_->store(); });
    }
    timers_ = std::make_unique<InternalTimers<N>>(backend_.get(), &op.processing_time_service());
    pts_ = &op.processing_time_service();
    backend_->set_time_source([pts = pts_] { return pts->now(); });
    backend_->set_sweep_scheduler([this] { schedule_sweep(); });
  }
  HeapKeyedBackend<K>& backend() { return *backend_; }
  InternalTimers<N>& timers() { return *timers_; }
  std::size_t live_keys() const { return backend_ ? backend_->live_keys() : 0; }

  /// Keeps the state to restore; `restore()` applies it once the backend exists.
  void set_restore(const runtime::StateRestore& r) { restore_ = r; }
  /// Applies the kept state: keyed state and timers, and the operator's own records through
  /// `on_operator(name, payload)` with the record's key current. Call after `init()`.
  void restore(const std::function<void(std::string_view, std::string_view)>& on_operator = {}) {
    if (!restore_.is_restored()) return;
    backend_->begin_restore(restore_);
    restore_store();
    for (const auto& [kg, bytes] : restore_.key_groups()) {
      runtime::for_each_keyed_record(bytes, [&](const runtime::KeyedRecordView& rec) {
        backend_->set_current_key_bytes(rec.key);
        switch (rec.kind) {
          case runtime::KeyedRecord::kState:
            backend_->restore_state_record(rec.name, rec.payload);
            break;
          case runtime::KeyedRecord::kEventTimer:
          case runtime::KeyedRecord::kProcessingTimer:
            timers_->restore(rec.kind, rec.payload);
            break;
          case runtime::KeyedRecord::kOperator:
            if (!on_operator) throw StateError("restoring keyed state: unexpected operator record '" + std::string(rec.name) + "'");
            on_operator(rec.name, rec.payload);
            break;
        }
      });
    }
    restore_ = runtime::StateRestore{};  // release the bytes
  }
  /// Writes keyed state and timers.
  void snapshot(runtime::SnapshotContext& ctx) {
    if (!backend_) return;
    backend_->snapshot_tables(ctx);
    timers_->snapshot(ctx);
  }
  /// Writes an operator's own per-key-slot state as `name` records: `encode(entry, writer)`
  /// for each slot whose entry `live(entry)` says holds state.
  template <class PerSlot, class Live, class Encode>
  void snapshot_slots(runtime::SnapshotContext& ctx, const std::vector<PerSlot>& per_slot, std::string_view name,
                      Live&& live, Encode&& encode) {
    std::string payload;
    for (std::size_t s = 0; s < per_slot.size(); ++s) {
      if (!live(per_slot[s])) continue;
      payload.clear();
      ByteWriter w(payload);
      encode(per_slot[s], w);
      const auto slot = static_cast<uint32_t>(s);
      runtime::write_keyed_record(ctx.key_group(backend_->key_group_of_slot(slot)), runtime::KeyedRecord::kOperator, name,
                                  backend_->key_bytes(slot), payload);
    }
  }

 private:
  /// TTL cleanup: sweep expired state every interval of processing time.
  void schedule_sweep() {
    pts_->register_timer(pts_->now() + backend_->sweep_interval(), [this](int64_t) {
      backend_->sweep_expired();
      schedule_sweep();
    });
  }
  /// RocksDB files of an incremental checkpoint: opened directly when one old store covered
  /// exactly this subtask's key groups, else the overlapping key groups are copied out of each.
  void restore_store() {
    const auto& sources = restore_.kv_sources();
    if (sources.empty()) return;
    if (!backend_->store()) {
      throw StateError("this checkpoint holds RocksDB state files; restore it with the RocksDB state backend, or "
                       "take a savepoint (canonical, readable by every backend) and restore that");
    }
    const int first = restore_.first_key_group(), last = restore_.last_key_group();
    if (sources.size() == 1 && sources[0].first_key_group == first && sources[0].last_key_group == last) {
      backend_->store_ptr().reset();
      backend_->attach_store(restore_rocksdb_store(kv_options_, restore_.kv_shared_dir(), sources[0].files));
      return;
    }
    const std::string begin = KeyedBackendBase::key_group_start(first);
    const std::string end = KeyedBackendBase::key_group_start(last + 1);
    for (std::size_t i = 0; i < sources.size(); ++i) {
      KvStoreOptions tmp = kv_options_;
      tmp.dir = kv_options_.dir + ".restore-" + std::to_string(i);
      tmp.memory_budget_bytes = std::max<std::size_t>(kv_options_.memory_budget_bytes / 4, 1 << 20);
      auto old = restore_rocksdb_store(tmp, restore_.kv_shared_dir(), sources[i].files);
      old->scan(begin, last + 1 > 0xffff ? std::string_view{} : std::string_view(end),
                [&](std::string_view k, std::string_view v) {
                  backend_->store()->put(k, v);
                  return true;
                });
      old.reset();
      std::error_code ec;
      std::filesystem::remove_all(tmp.dir, ec);
    }
  }
  static std::string sanitize(const std::string& s) {
    std::string out;
    for (char c : s) out.push_back(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_');
    return out.substr(0, 80);
  }

  runtime::ProcessingTimeService* pts_ = nullptr;
  KvStoreOptions kv_options_;
  runtime::StateRestore restore_;
  std::unique_ptr<HeapKeyedBackend<K>> backend_;
  std::unique_ptr<InternalTimers<N>> timers_;
};

/// The TimerService of the current key, over an operator's internal timers.
template <class K>
class KeyedTimerService final : public TimerService {
 public:
  KeyedTimerService(const runtime::StreamOperator* op, InternalTimers<VoidNamespace>* timers) : op_(op), timers_(timers) {}
  int64_t current_processing_time() const override { return op_->processing_time_service().now(); }
  int64_t current_watermark() const override { return op_->current_watermark(); }
  void register_event_time_timer(int64_t t) override { timers_->register_event_time(t); }
  void register_processing_time_timer(int64_t t) override { timers_->register_processing_time(t); }
  void delete_event_time_timer(int64_t t) override { timers_->delete_event_time(t); }
  void delete_processing_time_timer(int64_t t) override { timers_->delete_processing_time(t); }

 private:
  const runtime::StreamOperator* op_;
  InternalTimers<VoidNamespace>* timers_;
};

/// The context object both process functions receive: the current record's or timer's
/// timestamp, the key, timers, side outputs.
template <class K, class Base>
class KeyedContextImpl final : public Base {
 public:
  KeyedContextImpl(const runtime::StreamOperator* op, HeapKeyedBackend<K>* backend, TimerService* timers)
      : op_(op), backend_(backend), timers_(timers) {}
  std::optional<int64_t> timestamp() const override {
    return ts == kNoTimestamp ? std::nullopt : std::optional<int64_t>(ts);
  }
  TimerService& timer_service() override { return *timers_; }
  const K& get_current_key() const override { return backend_->current_key(); }
  TimeDomain time_domain() const override { return domain; }

  int64_t ts = kNoTimestamp;
  TimeDomain domain = TimeDomain::event_time;

 protected:
  const runtime::StreamOperator& op() const override { return *op_; }

 private:
  const runtime::StreamOperator* op_;
  HeapKeyedBackend<K>* backend_;
  TimerService* timers_;
};

/// What both keyed process operators share: the operator lifecycle, keyed state, timers, the
/// context and timer firing. `OpBase` is the one- or two-input operator base.
template <class K, class OUT, class PF, class OpBase>
class KeyedProcessBase : public OpBase {
 public:
  void open() override {
    core_.init(*this);
    collector_.set(this->template typed_output<OUT>(), kNoTimestamp);
    timer_service_ = std::make_unique<KeyedTimerService<K>>(this, &core_.timers());
    ctx_ = std::make_unique<Ctx>(this, &core_.backend(), timer_service_.get());
    core_.timers().set_processing_time_callback([this](int64_t) {
      core_.timers().advance_processing_time(this->processing_time_service().now(),
                                             [this](const auto& t) { fire(t, TimeDomain::processing_time); });
    });
    core_.restore();
    RuntimeContext rc(this->task_info(), this->name(), &core_.backend(), &this->metric_group());
    this->call_user([&] { f_.open(rc); });
  }
  void close() override { f_.close(); }
  std::size_t keyed_state_keys() const override { return core_.live_keys(); }
  void initialize_state(const runtime::StateRestore& r) override {
    core_.set_restore(r);
    this->call_user([&] { fstate_.initialize(f_, r); });
  }
  void snapshot_state(runtime::SnapshotContext& ctx) override {
    core_.snapshot(ctx);
    this->call_user([&] { fstate_.snapshot(f_, ctx); });
  }
  void notify_checkpoint_complete(int64_t id) override { notify_complete(f_, id); }
  void notify_checkpoint_aborted(int64_t id) override { notify_aborted(f_, id); }

 protected:
  explicit KeyedProcessBase(PF f) : f_(std::move(f)) {}

  /// Makes `key` current and the element's timestamp the context's, then calls `process`.
  template <class Fn>
  void on_element(const K& key, int64_t ts, Fn&& process) {
    core_.backend().set_current_key(key);
    ctx_->ts = ts;
    ctx_->domain = TimeDomain::event_time;
    collector_.set_timestamp(ts);
    this->call_user(std::forward<Fn>(process));
  }
  void on_watermark(int64_t wm) override {
    core_.timers().advance_watermark(wm, [this](const auto& t) { fire(t, TimeDomain::event_time); });
    this->output_->emit_watermark(wm);
  }
  template <class Timer>
  void fire(const Timer& t, TimeDomain domain) {
    core_.backend().set_current_slot(t.slot);
    ctx_->ts = t.time;
    ctx_->domain = domain;
    collector_.set_timestamp(domain == TimeDomain::event_time ? t.time : kNoTimestamp);
    this->call_user([&] { f_.on_timer(t.time, *ctx_, collector_); });
  }

  using Ctx = KeyedContextImpl<K, typename PF::OnTimerContext>;
  PF f_;
  FunctionState<PF> fstate_;
  KeyedOperatorCore<K> core_;
  TimestampedCollector<OUT> collector_;
  std::unique_ptr<KeyedTimerService<K>> timer_service_;
  std::unique_ptr<Ctx> ctx_;
};

template <class K, class IN, class OUT, class KeyFn, class PF>
class KeyedProcessOperator final : public KeyedProcessBase<K, OUT, PF, runtime::OneInputOperator<IN>> {
 public:
  KeyedProcessOperator(KeyFn key, PF f)
      : KeyedProcessBase<K, OUT, PF, runtime::OneInputOperator<IN>>(std::move(f)), key_(std::move(key)) {}
  void process(const IN& v, int64_t ts) override {
    this->on_element(this->call_user([&]() -> K { return key_(v); }), ts,
                     [&] { this->f_.process_element(v, *this->ctx_, this->collector_); });
  }

 private:
  KeyFn key_;
};

template <class K, class IN1, class IN2, class OUT, class KF1, class KF2, class PF>
class KeyedCoProcessOperator final : public KeyedProcessBase<K, OUT, PF, runtime::TwoInputOperator<IN1, IN2>> {
 public:
  KeyedCoProcessOperator(KF1 k1, KF2 k2, PF f)
      : KeyedProcessBase<K, OUT, PF, runtime::TwoInputOperator<IN1, IN2>>(std::move(f)), k1_(std::move(k1)), k2_(std::move(k2)) {}
  void process1(const IN1& v, int64_t ts) override {
    this->on_element(this->call_user([&]() -> K { return k1_(v); }), ts,
                     [&] { this->f_.process_element1(v, *this->ctx_, this->collector_); });
  }
  void process2(const IN2& v, int64_t ts) override {
    this->on_element(this->call_user([&]() -> K { return k2_(v); }), ts,
                     [&] { this->f_.process_element2(v, *this->ctx_, this->collector_); });
  }

 private:
  KF1 k1_;
  KF2 k2_;
};

}  // namespace weir::detail
