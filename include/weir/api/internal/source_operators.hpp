#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// Sources of elements in memory and of generated elements.
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

/// from_collection / from_elements: emits a copy of the elements, in order (parallelism 1).
template <class T>
class CollectionSource final : public runtime::SourceOperator {
 public:
  explicit CollectionSource(std::shared_ptr<const std::vector<T>> items) : items_(std::move(items)) {}
  void open() override { out_ = typed_output<T>(); }
  void initialize_state(const runtime::StateRestore& r) override {
    for (const auto& e : r.list("position")) pos_ = std::max<std::size_t>(pos_, deserialize<uint64_t>(e));
  }
  void snapshot_state(runtime::SnapshotContext& ctx) override {
    ctx.add_list("position", runtime::Redistribution::union_, {serialize(uint64_t{pos_})});
  }
  Status emit_next(std::size_t max_records, std::size_t& emitted) override {
    const std::size_t end = std::min(items_->size(), pos_ + max_records);
    while (pos_ < end) {
      out_->emit((*items_)[pos_], kNoTimestamp);
      ++pos_;
      ++emitted;
      if (output_full()) break;  // no room downstream: stop between records
    }
    return pos_ < items_->size() ? Status::kMoreAvailable : Status::kEndOfInput;
  }

 private:
  std::shared_ptr<const std::vector<T>> items_;
  std::size_t pos_ = 0;
  runtime::Output<T>* out_ = nullptr;
};

/// The share of [0, n) that subtask `i` of `p` produces: contiguous, sizes differ by at most 1.
inline std::pair<int64_t, int64_t> split_range(int64_t n, int i, int p) {
  const auto lo = static_cast<int64_t>(static_cast<__int128>(n) * i / p);
  const auto hi = static_cast<int64_t>(static_cast<__int128>(n) * (i + 1) / p);
  return {lo, hi};
}

/// from_generator(n, f) and from_sequence(a, b): emits f(i) for the subtask's share of the
/// indices [0, n), in order.
template <class T, class F>
class GeneratorSource final : public FunctionOperator<runtime::SourceOperator, F> {
 public:
  GeneratorSource(int64_t count, F f) : FunctionOperator<runtime::SourceOperator, F>(std::move(f)), count_(count) {}
  void initialize_state(const runtime::StateRestore& r) override {
    FunctionOperator<runtime::SourceOperator, F>::initialize_state(r);
    initialized_ = true;
    if (!r.has_list("ranges")) {
      ranges_.clear();
      auto [lo, hi] = split_range(count_, this->task_info().subtask, this->task_info().parallelism);
      if (lo < hi) ranges_.push_back({lo, hi});
      return;
    }
    // Every old subtask's remaining ranges (a union): this subtask takes every p-th one.
    const auto all = r.list("ranges");
    ranges_.clear();
    for (std::size_t i = 0; i < all.size(); ++i) {
      if (static_cast<int>(i % static_cast<std::size_t>(this->task_info().parallelism)) != this->task_info().subtask) continue;
      auto range = deserialize<std::pair<int64_t, int64_t>>(all[i]);
      if (range.first < range.second) ranges_.push_back(range);
    }
  }
  void snapshot_state(runtime::SnapshotContext& ctx) override {
    FunctionOperator<runtime::SourceOperator, F>::snapshot_state(ctx);
    std::vector<std::string> out;
    for (std::size_t i = next_range_; i < ranges_.size(); ++i) {
      if (ranges_[i].first < ranges_[i].second) out.push_back(serialize(ranges_[i]));
    }
    ctx.add_list("ranges", runtime::Redistribution::union_, std::move(out));
  }
  void open() override {
    out_ = this->template typed_output<T>();
    if (ranges_.empty() && next_range_ == 0 && !initialized_) {
      auto [lo, hi] = split_range(count_, this->task_info().subtask, this->task_info().parallelism);
      if (lo < hi) ranges_.push_back({lo, hi});
    }
    this->call_user([&] { this->open_user(*this); });
  }
  runtime::SourceOperator::Status emit_next(std::size_t max_records, std::size_t& emitted) override {
    while (next_range_ < ranges_.size()) {
      auto& [next, end] = ranges_[next_range_];
      const int64_t stop = next + std::min<int64_t>(end - next, static_cast<int64_t>(max_records));
      const int64_t first = next;
      const bool* full = this->output_full_flag();
      while (next < stop) {
        out_->emit(this->call_user([&]() -> T { return this->f_(next); }), kNoTimestamp);
        ++next;
        if (*full) break;  // no room downstream: stop between records
      }
      emitted += static_cast<std::size_t>(next - first);
      if (next < end) return runtime::SourceOperator::Status::kMoreAvailable;
      ++next_range_;
      return next_range_ < ranges_.size() ? runtime::SourceOperator::Status::kMoreAvailable
                                           : runtime::SourceOperator::Status::kEndOfInput;
    }
    return runtime::SourceOperator::Status::kEndOfInput;
  }
  void close() override { detail::close_function(this->f_); }

 private:
  int64_t count_;
  std::vector<std::pair<int64_t, int64_t>> ranges_;  ///< [next, end) still to emit, in order
  std::size_t next_range_ = 0;
  bool initialized_ = false;
  runtime::Output<T>* out_ = nullptr;
};

}  // namespace weir::detail
