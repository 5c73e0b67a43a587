#pragma once
/// Evictors remove elements from a window before and/or after its function runs.
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

#include "weir/common/errors.hpp"
#include "weir/common/timestamps.hpp"
#include "weir/serde/serde.hpp"
#include "weir/windows/window.hpp"

namespace weir {

/// An element of a window with its timestamp (what evictors see).
template <class T>
struct TimestampedValue {
  T value;
  int64_t timestamp;
};

/// Removes elements from a window before and/or after the window function runs.
template <class T, class W>
class Evictor {
 public:
  virtual ~Evictor() = default;
  virtual void evict_before(std::vector<TimestampedValue<T>>& elements, const W& window) = 0;
  virtual void evict_after(std::vector<TimestampedValue<T>>& elements, const W& window) = 0;
};

/// Keeps the last `max_count` elements (before the function, or after it).
class CountEvictor {
 public:
  static CountEvictor of(int64_t max_count, bool do_evict_after = false) {
    if (max_count < 0) throw GraphError("CountEvictor::of: the count must not be negative");
    return CountEvictor(max_count, do_evict_after);
  }
  template <class T, class W>
  class For final : public Evictor<T, W> {
   public:
    For(int64_t n, bool after) : n_(n), after_(after) {}
    void evict_before(std::vector<TimestampedValue<T>>& e, const W&) override {
      if (!after_) evict(e);
    }
    void evict_after(std::vector<TimestampedValue<T>>& e, const W&) override {
      if (after_) evict(e);
    }

   private:
    void evict(std::vector<TimestampedValue<T>>& e) const {
      if (static_cast<int64_t>(e.size()) > n_) e.erase(e.begin(), e.end() - n_);
    }
    int64_t n_;
    bool after_;
  };
  template <class T, class W>
  std::unique_ptr<Evictor<T, W>> make() const {
    return std::make_unique<For<T, W>>(n_, after_);
  }

 private:
  CountEvictor(int64_t n, bool after) : n_(n), after_(after) {}
  int64_t n_;
  bool after_;
};

/// Keeps the elements within `window_size` of the newest element's timestamp.
class TimeEvictor {
 public:
  static TimeEvictor of(std::chrono::milliseconds window_size, bool do_evict_after = false) {
    if (window_size.count() < 0) {
      throw GraphError("TimeEvictor::of(" + std::to_string(window_size.count()) +
                       "ms): the size must not be negative (it keeps the elements within that time of the newest)");
    }
    return TimeEvictor(window_size.count(), do_evict_after);
  }
  template <class T, class W>
  class For final : public Evictor<T, W> {
   public:
    For(int64_t size, bool after) : size_(size), after_(after) {}
    void evict_before(std::vector<TimestampedValue<T>>& e, const W&) override {
      if (!after_) evict(e);
    }
    void evict_after(std::vector<TimestampedValue<T>>& e, const W&) override {
      if (after_) evict(e);
    }

   private:
    void evict(std::vector<TimestampedValue<T>>& e) const {
      if (e.empty() || e.front().timestamp == kNoTimestamp) return;
      int64_t newest = std::numeric_limits<int64_t>::min();
      for (auto& v : e) newest = std::max(newest, v.timestamp);
      const int64_t cut = newest - size_;
      std::erase_if(e, [cut](const TimestampedValue<T>& v) { return v.timestamp <= cut; });
    }
    int64_t size_;
    bool after_;
  };
  template <class T, class W>
  std::unique_ptr<Evictor<T, W>> make() const {
    return std::make_unique<For<T, W>>(size_, after_);
  }

 private:
  TimeEvictor(int64_t s, bool after) : size_(s), after_(after) {}
  int64_t size_;
  bool after_;
};

template <SerdeType T>
struct Serde<TimestampedValue<T>> {
  static void write(ByteWriter& w, const TimestampedValue<T>& v) {
    Serde<T>::write(w, v.value);
    w.write_fixed(v.timestamp);
  }
  static TimestampedValue<T> read(ByteReader& r) {
    T v = Serde<T>::read(r);
    const auto ts = r.read_fixed<int64_t>();
    return TimestampedValue<T>{std::move(v), ts};
  }
};

}  // namespace weir
