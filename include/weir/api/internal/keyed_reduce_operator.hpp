#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// KeyedStream::reduce.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include <absl/container/flat_hash_map.h>

#include "weir/api/internal/function_operator.hpp"

namespace weir::detail {

/// Keyed reduce, as Flink's KeyedStream#reduce: keeps the running value per key and emits it
/// after every element.
template <class T, class K, class KeyFn, class F>
class KeyedReduceOperator final : public FunctionOperator<runtime::OneInputOperator<T>, F> {
 public:
  KeyedReduceOperator(KeyFn key, F f) : FunctionOperator<runtime::OneInputOperator<T>, F>(std::move(f)), key_(std::move(key)) {}
  void open() override {
    out_ = this->template typed_output<T>();
    this->call_user([&] { this->open_user(*this); });
  }
  void process(const T& v, int64_t ts) override { step(v, ts); }
  void process(T&& v, int64_t ts) override { step(std::move(v), ts); }
  void close() override { detail::close_function(this->f_); }
  std::size_t keyed_state_keys() const override { return state_.size(); }

  void initialize_state(const runtime::StateRestore& r) override {
    FunctionOperator<runtime::OneInputOperator<T>, F>::initialize_state(r);
    if constexpr (SerdeType<T>) {
      for (const auto& [kg, bytes] : r.key_groups()) {
        runtime::for_each_keyed_record(bytes, [&](const runtime::KeyedRecordView& rec) {
          if (rec.kind != runtime::KeyedRecord::kOperator || rec.name != "reduce") {
            throw IncompatibleStateError("operator uid '" + r.operator_uid() + "': the restored state holds '" +
                                         std::string(rec.name) +
                                         "', which a reduce does not keep: the operator with this uid is not the "
                                         "reduce that wrote it; give the reduce a new uid (it starts empty)");
          }
          try {
            state_.insert_or_assign(deserialize<K>(rec.key), deserialize<T>(rec.payload));
          } catch (const SerdeError& e) {
            throw StateError("operator '" + this->name() + "': reduce state does not decode: " + e.what());
          }
        });
      }
    }
  }
  void snapshot_state(runtime::SnapshotContext& ctx) override {
    FunctionOperator<runtime::OneInputOperator<T>, F>::snapshot_state(ctx);
    if (state_.empty()) return;
    if constexpr (SerdeType<T>) {
      std::string key, value;
      for (const auto& [k, v] : state_) {
        key = serialize(k);
        value = serialize(v);
        runtime::write_keyed_record(ctx.key_group(key_group_of(k, this->task_info().max_parallelism)),
                                    runtime::KeyedRecord::kOperator, "reduce", key, value);
      }
    } else {
      no_serde("the running value of reduce '" + this->name() + "'");
    }
  }

 private:
  template <class V>
  void step(V&& v, int64_t ts) {
    K k = this->call_user([&]() -> K { return key_(static_cast<const T&>(v)); });
    auto it = state_.find(k);
    if (it == state_.end()) {
      it = state_.emplace(std::move(k), std::forward<V>(v)).first;
    } else {
      it->second = this->call_user([&]() -> T { return this->f_(std::as_const(it->second), static_cast<const T&>(v)); });
    }
    out_->emit(static_cast<const T&>(it->second), ts);
  }

  KeyFn key_;
  absl::flat_hash_map<K, T, KeyHash<K>> state_;
  runtime::Output<T>* out_ = nullptr;
};

}  // namespace weir::detail
