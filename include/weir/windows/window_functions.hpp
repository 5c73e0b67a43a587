#pragma once
/// The interfaces of window functions that see a whole window with its metadata.
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
#include "weir/windows/window.hpp"

namespace weir {

/// Processes all elements of a window at once, with the window's metadata, as Flink's
/// ProcessWindowFunction. Copied per subtask.
template <class IN, class OUT, class K, class W>
class ProcessWindowFunction {
 public:
  using input_type = IN;
  using output_type = OUT;
  using key_type = K;
  using window_type = W;

  class Context {
   public:
    virtual ~Context() = default;
    virtual const W& window() const = 0;
    virtual int64_t current_processing_time() const = 0;
    virtual int64_t current_watermark() const = 0;
    template <class U>
    void output(const OutputTag<U>& tag, const std::type_identity_t<U>& value) {
      detail::emit_side_output(op(), tag, value, window().max_timestamp());
    }

   protected:
    virtual const runtime::StreamOperator& op() const = 0;
  };

  virtual ~ProcessWindowFunction() = default;
  virtual void open(RuntimeContext&) {}
  virtual void close() {}
  virtual void process(const K& key, Context& ctx, const std::vector<IN>& elements, Collector<OUT>& out) = 0;
  /// Called when the window's state is cleared.
  virtual void clear(Context&) {}
};

/// ProcessWindowFunction for non-keyed windows (`window_all`).
template <class IN, class OUT, class W>
class ProcessAllWindowFunction {
 public:
  using input_type = IN;
  using output_type = OUT;
  using window_type = W;
  class Context {
   public:
    virtual ~Context() = default;
    virtual const W& window() const = 0;
    virtual int64_t current_processing_time() const = 0;
    virtual int64_t current_watermark() const = 0;
  };
  virtual ~ProcessAllWindowFunction() = default;
  virtual void open(RuntimeContext&) {}
  virtual void close() {}
  virtual void process(Context& ctx, const std::vector<IN>& elements, Collector<OUT>& out) = 0;
};

}  // namespace weir
