#pragma once
/// Pattern<T>, AfterMatchSkipStrategy and the condition context of Weir's complex event
/// processing (Flink CEP's pattern API in snake_case). See docs/cep.md.
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "weir/common/errors.hpp"

namespace weir::cep {

/// A pattern that cannot be built or compiled (Flink's MalformedPatternException).
class MalformedPatternException : public GraphError {
 public:
  using GraphError::GraphError;
};

/// The events a partial match has accepted for one pattern name, in order; iterate with a
/// range-for (`for (const T& e : ctx.get_events_for_pattern("a"))`).
template <class T>
class EventRange {
 public:
  class iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = T;
    using difference_type = std::ptrdiff_t;
    using pointer = const T*;
    using reference = const T&;
    iterator() = default;
    explicit iterator(typename std::vector<const T*>::const_iterator it) : it_(it) {}
    const T& operator*() const { return **it_; }
    const T* operator->() const { return *it_; }
    iterator& operator++() {
      ++it_;
      return *this;
    }
    iterator operator++(int) {
      auto c = *this;
      ++it_;
      return c;
    }
    iterator& operator--() {
      --it_;
      return *this;
    }
    difference_type operator-(const iterator& o) const { return it_ - o.it_; }
    iterator operator+(difference_type n) const { return iterator(it_ + n); }
    bool operator==(const iterator& o) const { return it_ == o.it_; }

   private:
    typename std::vector<const T*>::const_iterator it_;
  };
  EventRange() = default;
  explicit EventRange(std::vector<const T*> events) : events_(std::move(events)) {}
  iterator begin() const { return iterator(events_.begin()); }
  iterator end() const { return iterator(events_.end()); }
  std::size_t size() const { return events_.size(); }
  bool empty() const { return events_.empty(); }
  const T& operator[](std::size_t i) const { return *events_.at(i); }
  const T& front() const { return *events_.at(0); }
  const T& back() const { return *events_.at(events_.size() - 1); }

 private:
  std::vector<const T*> events_;
};

/// What an iterative condition sees besides the event: the events the partial match accepted so
/// far (not the current one), the event's timestamp.
template <class T>
class Context {
 public:
  virtual ~Context() = default;
  virtual EventRange<T> get_events_for_pattern(const std::string& name) const = 0;
  /// The timestamp of the event being evaluated.
  virtual int64_t timestamp() const = 0;
};

/// What happens to the other partial matches after a match is emitted.
class AfterMatchSkipStrategy {
 public:
  enum class Kind : uint8_t { no_skip, skip_to_next, skip_past_last_event, skip_to_first, skip_to_last };
  /// Every match is emitted.
  static AfterMatchSkipStrategy no_skip() { return AfterMatchSkipStrategy(Kind::no_skip, ""); }
  /// Discards the partial matches that started with the match's first event.
  static AfterMatchSkipStrategy skip_to_next() { return AfterMatchSkipStrategy(Kind::skip_to_next, ""); }
  /// Discards the partial matches that started at or before the match's last event.
  static AfterMatchSkipStrategy skip_past_last_event() { return AfterMatchSkipStrategy(Kind::skip_past_last_event, ""); }
  /// Discards the partial matches that started before the first event of `name` in the match.
  static AfterMatchSkipStrategy skip_to_first(std::string name) { return AfterMatchSkipStrategy(Kind::skip_to_first, std::move(name)); }
  /// Discards the partial matches that started before the last event of `name` in the match.
  static AfterMatchSkipStrategy skip_to_last(std::string name) { return AfterMatchSkipStrategy(Kind::skip_to_last, std::move(name)); }
  /// skip_to_first/skip_to_last: fail when the match has no event for the name (default: no
  /// skipping for that match), or when skipping would return to the match's first event.
  AfterMatchSkipStrategy throw_exception_on_miss() const {
    auto c = *this;
    c.throw_on_miss_ = true;
    return c;
  }
  Kind kind() const { return kind_; }
  const std::string& get_pattern_name() const { return name_; }
  bool should_throw_on_miss() const { return throw_on_miss_; }
  bool is_skip_strategy() const { return kind_ != Kind::no_skip; }

 private:
  AfterMatchSkipStrategy(Kind k, std::string name) : kind_(k), name_(std::move(name)) {}
  Kind kind_;
  std::string name_;
  bool throw_on_miss_ = false;
};

namespace detail {

template <class T>
using Condition = std::function<bool(const T&, const Context<T>&)>;

enum class Consuming : uint8_t { strict, skip_till_next, skip_till_any, not_next, not_follow };

/// One step of a pattern, immutable once built (a Pattern copies it to change it).
template <class T>
struct PatternNode {
  std::string name;
  Consuming consuming = Consuming::skip_till_next;
  Consuming inner = Consuming::skip_till_next;  // between the events of a looping/times step
  bool looping = false;
  bool times = false;
  bool optional = false;
  bool greedy = false;
  int from = 1, to = 1;
  Condition<T> condition;  // empty: every event
  Condition<T> until;
  int64_t window_ms = 0;  // 0: none
  std::shared_ptr<const PatternNode<T>> previous;
  std::shared_ptr<const PatternNode<T>> group;  // a group step: the last step of its pattern
  AfterMatchSkipStrategy skip = AfterMatchSkipStrategy::no_skip();
};

template <class T, class F>
Condition<T> make_condition(F f) {
  if constexpr (std::is_invocable_r_v<bool, const F&, const T&, const Context<T>&>) {
    return [f = std::move(f)](const T& e, const Context<T>& c) { return static_cast<bool>(f(e, c)); };
  } else {
    static_assert(std::is_invocable_r_v<bool, const F&, const T&>,
                  "a CEP condition must be callable as bool(const T&) or bool(const T&, const weir::cep::Context<T>&)");
    return [f = std::move(f)](const T& e, const Context<T>&) { return static_cast<bool>(f(e)); };
  }
}

}  // namespace detail

/// A pattern of events (Flink CEP's Pattern). A copyable value: every method returns the extended
/// pattern and leaves `*this` as it was, so patterns can be built in steps on variables.
template <class T>
class Pattern {
 public:
  using Node = detail::PatternNode<T>;

  /// The first step, named `name`; `skip` says what to do after a match.
  static Pattern begin(std::string name, AfterMatchSkipStrategy skip = AfterMatchSkipStrategy::no_skip()) {
    auto n = std::make_shared<Node>();
    n->name = check_name(std::move(name));
    n->skip = std::move(skip);
    return Pattern(std::move(n));
  }
  /// A group pattern as the first step.
  static Pattern begin(const Pattern& group, AfterMatchSkipStrategy skip = AfterMatchSkipStrategy::no_skip()) {
    auto n = std::make_shared<Node>();
    n->name = "GroupPattern";
    n->group = group.node_;
    n->skip = std::move(skip);
    return Pattern(std::move(n));
  }

  // ---- contiguity -------------------------------------------------------------------------
  /// Strict contiguity: the next event must match.
  Pattern next(std::string name) const { return append(std::move(name), detail::Consuming::strict); }
  /// Relaxed contiguity: non-matching events in between are skipped.
  Pattern followed_by(std::string name) const { return append(std::move(name), detail::Consuming::skip_till_next); }
  /// Non-deterministic relaxed contiguity: matching events may be skipped too.
  Pattern followed_by_any(std::string name) const { return append(std::move(name), detail::Consuming::skip_till_any); }
  /// The next event must not match.
  Pattern not_next(std::string name) const {
    check_not_after_optional("not_next");
    return append(std::move(name), detail::Consuming::not_next);
  }
  /// No matching event may occur between the previous and the following step.
  Pattern not_followed_by(std::string name) const {
    check_not_after_optional("not_followed_by");
    return append(std::move(name), detail::Consuming::not_follow);
  }
  Pattern next(const Pattern& group) const { return append_group(group, detail::Consuming::strict); }
  Pattern followed_by(const Pattern& group) const { return append_group(group, detail::Consuming::skip_till_next); }
  Pattern followed_by_any(const Pattern& group) const { return append_group(group, detail::Consuming::skip_till_any); }

  // ---- conditions -------------------------------------------------------------------------
  /// Adds a condition (AND with the ones before): `bool(const T&)` or
  /// `bool(const T&, const Context<T>&)`.
  template <class F>
  Pattern where(F f) const {
    check_not_group("where");
    auto c = detail::make_condition<T>(std::move(f));
    return edit([&](Node& n) {
      if (n.condition) {
        n.condition = [a = n.condition, b = std::move(c)](const T& e, const Context<T>& ctx) { return a(e, ctx) && b(e, ctx); };
      } else {
        n.condition = std::move(c);
      }
    });
  }
  /// Adds an alternative condition (OR with the ones before).
  template <class F>
  Pattern or_(F f) const {
    check_not_group("or_");
    auto c = detail::make_condition<T>(std::move(f));
    return edit([&](Node& n) {
      if (n.condition) {
        n.condition = [a = n.condition, b = std::move(c)](const T& e, const Context<T>& ctx) { return a(e, ctx) || b(e, ctx); };
      } else {
        n.condition = std::move(c);
      }
    });
  }
  /// Stop condition of a looping step: an event that matches it ends the loop (and is not taken).
  template <class F>
  Pattern until(F f) const {
    if (!node_->looping) throw MalformedPatternException("until: the until condition is only applicable to looping steps (one_or_more, times_or_more)");
    if (node_->until) throw MalformedPatternException("until: only one until condition can be applied");
    auto c = detail::make_condition<T>(std::move(f));
    return edit([&](Node& n) { n.until = std::move(c); });
  }

  // ---- quantifiers ------------------------------------------------------------------------
  Pattern one_or_more() const { return times_or_more(1); }
  Pattern times_or_more(int n) const {
    check_quantifiable("times_or_more");
    if (n < 1) throw MalformedPatternException("times_or_more(" + std::to_string(n) + "): must be at least 1");
    return edit([&](Node& x) {
      x.looping = true;
      x.from = x.to = n;
    });
  }
  Pattern times(int n) const { return times(n, n); }
  /// `times(0, n)` is `times(1, n).optional()`.
  Pattern times(int from, int to) const {
    check_quantifiable("times");
    if (from < 0 || to < 1 || from > to) {
      throw MalformedPatternException("times(" + std::to_string(from) + ", " + std::to_string(to) +
                                      "): needs 0 <= from <= to and to >= 1");
    }
    if (from == 0 && node_->optional) throw MalformedPatternException("times(0, n): the step is optional already");
    return edit([&](Node& x) {
      x.times = true;
      x.from = from == 0 ? 1 : from;
      x.to = to;
      if (from == 0) x.optional = true;
    });
  }
  Pattern optional() const {
    if (is_not()) throw MalformedPatternException("optional: not applicable to a not_next/not_followed_by step");
    if (node_->optional) throw MalformedPatternException("optional: applied twice");
    return edit([](Node& x) { x.optional = true; });
  }
  /// A looping step takes as many events as it can.
  Pattern greedy() const {
    if (is_not()) throw MalformedPatternException("greedy: not applicable to a not_next/not_followed_by step");
    if (node_->group) throw MalformedPatternException("greedy: not applicable to a group pattern");
    return edit([](Node& x) { x.greedy = true; });
  }
  /// Strict contiguity between the events of a looping or times step.
  Pattern consecutive() const {
    if (!node_->looping && !node_->times) throw MalformedPatternException("consecutive: only applicable to a looping or times step");
    return edit([](Node& x) { x.inner = detail::Consuming::strict; });
  }
  /// Non-deterministic relaxed contiguity between the events of a looping or times step.
  Pattern allow_combinations() const {
    if (!node_->looping && !node_->times) throw MalformedPatternException("allow_combinations: only applicable to a looping or times step");
    return edit([](Node& x) { x.inner = detail::Consuming::skip_till_any; });
  }
  /// The whole match must lie within `d` of its first event (the smallest window of the pattern
  /// applies).
  template <class Rep, class Period>
  Pattern within(std::chrono::duration<Rep, Period> d) const {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
    if (ms <= 0) throw MalformedPatternException("within: the window must be positive");
    return edit([&](Node& x) { x.window_ms = static_cast<int64_t>(ms); });
  }

  const std::string& get_name() const { return node_->name; }
  const AfterMatchSkipStrategy& get_after_match_skip_strategy() const { return first()->skip; }
  /// The smallest `within` of the pattern's steps, in milliseconds (0: none).
  int64_t get_window_ms() const {
    int64_t w = 0;
    for (const Node* n = node_.get(); n; n = n->previous.get()) {
      if (n->window_ms > 0 && (w == 0 || n->window_ms < w)) w = n->window_ms;
    }
    return w;
  }
  /// The last step (for the compiler).
  const std::shared_ptr<const Node>& node() const { return node_; }

 private:
  explicit Pattern(std::shared_ptr<const Node> n) : node_(std::move(n)) {}

  static std::string check_name(std::string name) {
    if (name.empty()) throw MalformedPatternException("a pattern step needs a name");
    if (name.find(':') != std::string::npos) throw MalformedPatternException("pattern name '" + name + "': ':' is not allowed");
    return name;
  }
  const Node* first() const {
    const Node* n = node_.get();
    while (n->previous) n = n->previous.get();
    return n;
  }
  bool is_not() const {
    return node_->consuming == detail::Consuming::not_next || node_->consuming == detail::Consuming::not_follow;
  }
  void check_not_group(const char* what) const {
    if (node_->group) throw MalformedPatternException(std::string(what) + ": a group pattern takes no condition; put it on its steps");
  }
  void check_quantifiable(const char* what) const {
    if (is_not()) throw MalformedPatternException(std::string(what) + ": not applicable to a not_next/not_followed_by step");
    if (node_->looping || node_->times) throw MalformedPatternException(std::string(what) + ": a quantifier is applied already");
  }
  void check_not_after_optional(const char* what) const {
    if (node_->optional) {
      throw MalformedPatternException(std::string(what) + " after an optional step is not supported (as in Flink): write two "
                                      "patterns, one with and one without the optional step");
    }
  }
  template <class Fn>
  Pattern edit(Fn&& fn) const {
    auto n = std::make_shared<Node>(*node_);
    fn(*n);
    return Pattern(std::move(n));
  }
  Pattern append(std::string name, detail::Consuming c) const {
    auto n = std::make_shared<Node>();
    n->name = check_name(std::move(name));
    n->consuming = c;
    n->previous = node_;
    return Pattern(std::move(n));
  }
  Pattern append_group(const Pattern& group, detail::Consuming c) const {
    auto n = std::make_shared<Node>();
    n->name = "GroupPattern";
    n->consuming = c;
    n->previous = node_;
    n->group = group.node_;
    return Pattern(std::move(n));
  }

  std::shared_ptr<const Node> node_;
};

}  // namespace weir::cep
