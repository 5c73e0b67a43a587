#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// Records in flight between tasks: typed batches behind a type-erased base, and the control
/// events that travel in order with them.
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "weir/common/timestamps.hpp"

namespace weir {

namespace runtime {

/// Approximate memory a record holds, used to bound channels in bytes. Strings and vectors
/// count their contents; everything else its `sizeof`.
template <class T>
inline std::size_t approx_bytes(const T& v) {
  if constexpr (std::is_same_v<T, std::string>) {
    return sizeof(T) + v.size();
  } else if constexpr (requires { v.size(); typename T::value_type; }) {
    if constexpr (std::is_trivially_copyable_v<typename T::value_type>) {
      return sizeof(T) + v.size() * sizeof(typename T::value_type);
    } else {
      return sizeof(T);
    }
  } else {
    return sizeof(T);
  }
}

/// A batch of records moved between tasks. Owned by exactly one party at a time: the producing
/// writer, then the channel, then the consuming task.
class BatchBase {
 public:
  virtual ~BatchBase() = default;
  virtual std::size_t size() const = 0;
  /// Appends the records' encoding (unaligned checkpoints store in-flight batches). Throws
  /// when the record type has no weir::Serde.
  virtual void encode(std::string& out) const = 0;
  std::size_t bytes() const { return bytes_; }

 protected:
  std::size_t bytes_ = 0;
};

/// Records of one type with their timestamps (`kNoTimestamp` when absent), in order.
template <class T>
class Batch final : public BatchBase {
 public:
  explicit Batch(std::size_t reserve) {
    values.reserve(reserve);
    timestamps.reserve(reserve);
  }
  std::size_t size() const override { return values.size(); }
  template <class V>
  void append(V&& v, int64_t ts) {
    bytes_ += approx_bytes(v) + sizeof(int64_t);
    values.emplace_back(std::forward<V>(v));
    timestamps.push_back(ts);
  }

  void encode(std::string& out) const override;

  std::vector<T> values;
  std::vector<int64_t> timestamps;
};

/// What a channel carries: a batch, or a control event, in the order they were sent.
struct Event {
  enum class Kind : uint8_t { kBatch, kWatermark, kWatermarkStatus, kEndOfInput, kBarrier };
  Kind kind = Kind::kBatch;
  /// The watermark's timestamp; for a status, 1 = idle and 0 = active; for a barrier, the
  /// checkpoint id.
  int64_t value = 0;
  std::unique_ptr<BatchBase> batch;
  int64_t timestamp = 0;  ///< a barrier's checkpoint timestamp
  uint8_t flags = 0;      ///< a barrier's kind: kSavepoint

  std::size_t bytes() const { return batch ? batch->bytes() : sizeof(Event); }
  static Event watermark(int64_t ts) { return Event{Kind::kWatermark, ts, nullptr}; }
  static Event watermark_status(bool idle) { return Event{Kind::kWatermarkStatus, idle ? 1 : 0, nullptr}; }
  static Event end_of_input() { return Event{Kind::kEndOfInput, 0, nullptr}; }
  static constexpr uint8_t kSavepoint = 1;
  static Event barrier(int64_t id, int64_t timestamp, uint8_t flags) {
    return Event{Kind::kBarrier, id, nullptr, timestamp, flags};
  }
};

}  // namespace runtime
}  // namespace weir
