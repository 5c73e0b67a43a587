#pragma once
/// The function of an interval join, as Flink's ProcessJoinFunction.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "weir/api/functions.hpp"

namespace weir {

/// Joins one left and one right element of the same key whose timestamps are within the bounds.
template <class L, class R, class OUT>
class ProcessJoinFunction {
 public:
  using left_type = L;
  using right_type = R;
  using output_type = OUT;
  class Context {
   public:
    virtual ~Context() = default;
    virtual int64_t get_left_timestamp() const = 0;
    virtual int64_t get_right_timestamp() const = 0;
    /// The pair's timestamp: the larger of the two.
    int64_t get_timestamp() const { return std::max(get_left_timestamp(), get_right_timestamp()); }
    template <class U>
    void output(const OutputTag<U>& tag, const std::type_identity_t<U>& value) {
      detail::emit_side_output(op(), tag, value, get_timestamp());
    }

   protected:
    virtual const runtime::StreamOperator& op() const = 0;
  };
  virtual ~ProcessJoinFunction() = default;
  virtual void open(RuntimeContext&) {}
  virtual void close() {}
  virtual void process_element(const L& left, const R& right, Context& ctx, Collector<OUT>& out) = 0;
};

}  // namespace weir
