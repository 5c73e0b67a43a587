#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// The NFA of a pattern (states with take / ignore / proceed edges, compiled from the pattern as
/// Flink's NFACompiler does) and its per-key run state: partial matches pointing into a shared
/// buffer of events, so overlapping matches share their events and common prefixes.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "weir/cep/pattern.hpp"
#include "weir/serde/serde.hpp"

namespace weir::cep::detail {

enum class StateType : uint8_t { start, normal, final_, stop, pending };
enum class Action : uint8_t { take, ignore, proceed };

template <class T>
struct Transition {
  Action action;
  int source;
  int target;
  Condition<T> cond;  // empty: true
};

template <class T>
struct NfaState {
  int name = 0;  // index into CompiledNfa::names
  StateType type = StateType::normal;
  bool greedy = false;
  std::vector<Transition<T>> transitions;
};

/// A compiled pattern: states (the first of which is never the start; `start` says which is),
/// the window, the skip strategy and the pattern names.
template <class T>
struct CompiledNfa {
  std::vector<NfaState<T>> states;
  int start = -1;
  int64_t window = 0;
  AfterMatchSkipStrategy skip = AfterMatchSkipStrategy::no_skip();
  std::vector<std::string> names;
};

/// Compiles a pattern into its NFA, walking the steps from the last to the first as Flink's
/// NFACompiler does (same states, edges and conditions).
template <class T>
class NfaCompiler {
 public:
  using Node = PatternNode<T>;
  using Cond = Condition<T>;

  static std::shared_ptr<const CompiledNfa<T>> compile(const Pattern<T>& p) {
    NfaCompiler c;
    c.current_ = p.node().get();
    return c.run(p);
  }

 private:
  std::shared_ptr<const CompiledNfa<T>> run(const Pattern<T>& p) {
    const Node* last = current_;
    check_names(last);
    nfa_->skip = p.get_after_match_skip_strategy();
    if (nfa_->skip.kind() == AfterMatchSkipStrategy::Kind::skip_to_first ||
        nfa_->skip.kind() == AfterMatchSkipStrategy::Kind::skip_to_last) {
      if (!seen_names_.count(nfa_->skip.get_pattern_name())) {
        throw MalformedPatternException("the pattern name '" + nfa_->skip.get_pattern_name() +
                                        "' of the AfterMatchSkipStrategy is not a step of the pattern");
      }
    }
    if (last->consuming == Consuming::not_next) throw MalformedPatternException("a pattern cannot end with not_next");
    if (!last->previous && (last->consuming == Consuming::not_next || last->consuming == Consuming::not_follow)) {
      throw MalformedPatternException("a pattern cannot begin with a not step");
    }
    window_ = p.get_window_ms();
    if (last->consuming == Consuming::not_follow && window_ == 0) {
      throw MalformedPatternException("not_followed_by as the last step needs a window: add within(...)");
    }
    nfa_->window = window_;
    int sink = create_state("$endState$", StateType::final_, false);
    sink = create_middle_states(sink);
    const int start = convert_pattern(sink);
    nfa_->states[static_cast<std::size_t>(start)].type = StateType::start;
    nfa_->start = start;
    return nfa_;
  }

  void check_names(const Node* n) {
    for (; n; n = n->previous.get()) {
      if (n->group) {
        check_names(n->group.get());
      } else if (!seen_names_.insert(n->name).second) {
        throw MalformedPatternException("duplicate pattern name '" + n->name + "': every step needs its own name");
      }
    }
  }

  int name_index(const std::string& name) {
    for (std::size_t i = 0; i < nfa_->names.size(); ++i) {
      if (nfa_->names[i] == name) return static_cast<int>(i);
    }
    nfa_->names.push_back(name);
    return static_cast<int>(nfa_->names.size() - 1);
  }
  int create_state(const std::string& name, StateType type, bool greedy) {
    NfaState<T> s;
    s.name = name_index(name);
    s.type = type;
    s.greedy = greedy;
    nfa_->states.push_back(std::move(s));
    return static_cast<int>(nfa_->states.size() - 1);
  }
  NfaState<T>& st(int i) { return nfa_->states[static_cast<std::size_t>(i)]; }
  void add(int from, Action a, int to, Cond c) { st(from).transitions.push_back(Transition<T>{a, from, to, std::move(c)}); }
  void add_take(int from, int to, Cond c) { add(from, Action::take, to, std::move(c)); }
  void add_take(int self, Cond c) { add(self, Action::take, self, std::move(c)); }
  void add_ignore(int from, int to, Cond c) { add(from, Action::ignore, to, std::move(c)); }
  void add_ignore(int self, Cond c) { add(self, Action::ignore, self, std::move(c)); }
  void add_proceed(int from, int to, Cond c) { add(from, Action::proceed, to, std::move(c)); }

  static Cond not_(Cond c) {
    return [c = std::move(c)](const T& e, const Context<T>& x) { return !c(e, x); };
  }
  static Cond and_(Cond a, Cond b) {
    return [a = std::move(a), b = std::move(b)](const T& e, const Context<T>& x) { return a(e, x) && b(e, x); };
  }
  static Cond or_(Cond a, Cond b) {
    return [a = std::move(a), b = std::move(b)](const T& e, const Context<T>& x) { return a(e, x) || b(e, x); };
  }
  static Cond true_fn() {
    return [](const T&, const Context<T>&) { return true; };
  }

  int create_middle_states(int sink) {
    int last_sink = sink;
    while (current_->previous) {
      if (current_->consuming == Consuming::not_follow) {
        if (window_ > 0 && st(last_sink).type == StateType::final_) {
          // not_followed_by at the end: a pending state that becomes a match when the window ends
          const int pending = create_state(current_->name, StateType::pending, false);
          Cond nc = take_condition(current_);
          const int stop = create_stop_state(nc, current_->name);
          add_proceed(pending, stop, nc);
          add_ignore(pending, not_(nc));
          last_sink = pending;
        }
      } else if (current_->consuming == Consuming::not_next) {
        const int not_next = create_state(current_->name, StateType::normal, false);
        Cond nc = take_condition(current_);
        const int stop = create_stop_state(nc, current_->name);
        if (st(last_sink).type == StateType::final_) {
          add_ignore(not_next, last_sink, not_(nc));
        } else {
          add_proceed(not_next, last_sink, not_(nc));
        }
        add_proceed(not_next, stop, nc);
        last_sink = not_next;
      } else {
        last_sink = convert_pattern(last_sink);
      }
      following_ = current_;
      current_ = current_->previous.get();
    }
    return last_sink;
  }

  int convert_pattern(int sink) {
    int last_sink;
    if (current_->looping) {
      set_first_of_loop(false);
      const int s = copy_without_transitive_nots(sink);
      const int looping = create_looping(s);
      set_first_of_loop(true);
      last_sink = create_times_state(looping, sink, current_->from, current_->to);
    } else if (current_->times) {
      last_sink = create_times_state(sink, sink, current_->from, current_->to);
    } else {
      last_sink = create_singleton_state(sink);
    }
    add_stop_states(last_sink);
    return last_sink;
  }

  int create_stop_state(const Cond& nc, const std::string& name) {
    auto it = stop_states_.find(name);
    if (it != stop_states_.end()) return it->second;
    const int s = create_state(name, StateType::stop, false);
    add_take(s, nc);
    stop_states_.emplace(name, s);
    return s;
  }

  std::vector<std::pair<Cond, std::string>> current_not_conditions() {
    std::vector<std::pair<Cond, std::string>> out;
    const Node* p = current_;
    while (p->previous && (p->previous->optional || p->previous->consuming == Consuming::not_follow)) {
      p = p->previous.get();
      if (p->consuming == Consuming::not_follow) out.emplace_back(take_condition(p), p->name);
    }
    return out;
  }

  int copy_without_transitive_nots(int sink) {
    auto nots = current_not_conditions();
    if (nots.empty() || !current_->optional) return sink;
    const int copy = create_state(nfa_->names[static_cast<std::size_t>(st(sink).name)], st(sink).type, st(sink).greedy);
    const auto transitions = st(sink).transitions;  // copy: st() references move as states grow
    for (const auto& t : transitions) {
      if (t.action == Action::proceed) {
        int target = t.target;
        bool remove = false;
        if (st(target).type == StateType::stop) {
          for (const auto& n : nots) {
            if (nfa_->names[static_cast<std::size_t>(st(target).name)] == n.second) remove = true;
          }
        } else {
          target = copy_without_transitive_nots(t.target);
        }
        if (!remove) add(copy, t.action, target, t.cond);
      } else {
        add(copy, t.action, t.target == t.source ? copy : t.target, t.cond);
      }
    }
    return copy;
  }

  void add_stop_states(int state) {
    for (auto& [c, name] : current_not_conditions()) {
      const int stop = create_stop_state(c, name);
      add_proceed(state, stop, c);
    }
  }
  void add_stop_state_to_looping(int state) {
    if (following_ && following_->consuming == Consuming::not_follow) {
      Cond nc = take_condition(following_);
      const int stop = create_stop_state(nc, following_->name);
      add_proceed(state, stop, nc);
    }
  }

  int create_times_state(int sink, int proceed, int from, int to) {
    int last_sink = sink;
    set_first_of_loop(false);
    Cond until = current_->until;
    Cond inner_ignore = extend_with_until(inner_ignore_condition(current_), until, false);
    Cond take = extend_with_until(take_condition(current_), until, true);
    for (int i = from; i < to; ++i) {
      last_sink = create_singleton_state(last_sink, proceed, take, inner_ignore, true);
      add_stop_state_to_looping(last_sink);
    }
    for (int i = 0; i < from - 1; ++i) {
      last_sink = create_singleton_state(last_sink, -1, take, inner_ignore, false);
      add_stop_state_to_looping(last_sink);
    }
    set_first_of_loop(true);
    return create_singleton_state(last_sink, proceed, take, ignore_condition(current_), current_->optional);
  }

  void set_first_of_loop(bool first) {
    if (current_->group) first_of_loop_[current_] = first;
  }
  bool current_group_first_of_loop() const {
    auto it = first_of_loop_.find(current_group_);
    return it == first_of_loop_.end() ? true : it->second;
  }
  bool head_of_group(const Node* p) const { return current_group_ != nullptr && !p->previous; }
  bool is_pattern_optional(const Node* p) const {
    if (head_of_group(p)) return current_group_first_of_loop() && current_group_->optional;
    return p->optional;
  }

  int create_singleton_state(int sink) {
    return create_singleton_state(sink, sink, take_condition(current_), ignore_condition(current_), is_pattern_optional(current_));
  }

  int create_singleton_state(int sink, int proceed, Cond take, Cond ignore, bool optional) {
    if (current_->group) return create_group_pattern_state(current_, sink, proceed, optional);
    const bool greedy = current_->greedy;
    const int singleton = create_state(current_->name, StateType::normal, greedy);
    const int s = copy_without_transitive_nots(sink);
    add_take(singleton, s, take);
    Cond proceed_cond = true_fn();
    if (optional && !head_of_group(current_)) {
      if (greedy) proceed_cond = greedy_condition(proceed_cond, take, ignore, following_take_);
      add_proceed(singleton, proceed, proceed_cond);
    }
    if (ignore) {
      int ignore_state;
      if (optional) {
        ignore_state = create_state(current_->name, StateType::normal, greedy);
        add_take(ignore_state, s, take);
        add_ignore(ignore_state, ignore);
        add_stop_states(ignore_state);
        if (greedy) add_proceed(ignore_state, proceed, proceed_cond);
      } else {
        ignore_state = singleton;
      }
      add_ignore(singleton, ignore_state, ignore);
    }
    following_take_ = following_take(following_take_, take, optional);
    return singleton;
  }

  int create_group_pattern_state(const Node* group, int sink, int proceed, bool optional) {
    Cond proceed_cond = true_fn();
    const Node* old_current = current_;
    const Node* old_following = following_;
    const Node* old_group = current_group_;
    Cond old_following_take = following_take_;
    current_group_ = group;
    current_ = group->group.get();
    following_take_ = nullptr;
    int last_sink = create_middle_states(sink);
    last_sink = convert_pattern(last_sink);
    if (optional) add_proceed(last_sink, proceed, proceed_cond);
    current_ = old_current;
    following_ = old_following;
    current_group_ = old_group;
    following_take_ = following_take(old_following_take, following_take_, optional);
    return last_sink;
  }

  int create_looping_group_pattern_state(const Node* group, int sink) {
    Cond proceed_cond = true_fn();
    const Node* old_current = current_;
    const Node* old_following = following_;
    const Node* old_group = current_group_;
    Cond old_following_take = following_take_;
    const int dummy = create_state(current_->name, StateType::normal, current_->greedy);
    current_group_ = group;
    current_ = group->group.get();
    following_take_ = nullptr;
    int last_sink = create_middle_states(dummy);
    last_sink = convert_pattern(last_sink);
    add_proceed(last_sink, sink, proceed_cond);
    add_proceed(dummy, last_sink, proceed_cond);
    current_ = old_current;
    following_ = old_following;
    current_group_ = old_group;
    following_take_ = following_take(old_following_take, following_take_, true);
    return last_sink;
  }

  int create_looping(int sink) {
    if (current_->group) return create_looping_group_pattern_state(current_, sink);
    Cond until = current_->until;
    Cond ignore = extend_with_until(inner_ignore_condition(current_), until, false);
    Cond take = extend_with_until(take_condition(current_), until, true);
    Cond proceed_cond = true_fn();
    const bool greedy = current_->greedy;
    if (greedy) proceed_cond = greedy_condition(proceed_cond, take, ignore, following_take_);
    const int looping = create_state(current_->name, StateType::normal, greedy);
    add_proceed(looping, sink, proceed_cond);
    add_take(looping, take);
    add_stop_state_to_looping(looping);
    if (ignore) {
      const int ignore_state = create_state(current_->name, StateType::normal, greedy);
      add_take(ignore_state, looping, take);
      add_ignore(ignore_state, ignore);
      add_ignore(looping, ignore_state, ignore);
      if (greedy) add_proceed(ignore_state, sink, proceed_cond);
      add_stop_state_to_looping(ignore_state);
    }
    following_take_ = following_take(following_take_, take, true);
    return looping;
  }

  static Cond extend_with_until(Cond c, Cond until, bool is_take) {
    if (until && c) return and_(not_(until), c);
    if (until && is_take) return not_(until);
    return c;
  }
  static Cond greedy_condition(Cond c, Cond take, Cond ignore, Cond following_take) {
    Cond g = and_(c, not_(take));
    if (following_take) g = and_(g, following_take);
    if (ignore) return or_(g, not_(or_(take, ignore)));
    return or_(g, not_(take));
  }
  static Cond following_take(Cond following, Cond current, bool optional) {
    if (optional && following) return or_(current, following);
    return current;
  }
  Cond strategy_ignore(Consuming c, const Node* p) {
    switch (c) {
      case Consuming::strict:
        return nullptr;
      case Consuming::skip_till_next:
        return not_(raw_condition(p));
      case Consuming::skip_till_any:
        return true_fn();
      default:
        return nullptr;
    }
  }
  Cond inner_ignore_condition(const Node* p) {
    Consuming c = p->inner;
    if (head_of_group(p)) c = current_group_->inner;
    Cond ic = strategy_ignore(c, p);
    if (current_group_ && current_group_->until) ic = extend_with_until(ic, current_group_->until, false);
    return ic;
  }
  Cond ignore_condition(const Node* p) {
    Consuming c = p->consuming;
    if (head_of_group(p)) c = current_group_first_of_loop() ? current_group_->consuming : current_group_->inner;
    Cond ic = strategy_ignore(c, p);
    if (current_group_ && current_group_->until) ic = extend_with_until(ic, current_group_->until, false);
    return ic;
  }
  static Cond raw_condition(const Node* p) { return p->condition ? p->condition : true_fn(); }
  Cond take_condition(const Node* p) {
    Cond c = raw_condition(p);
    if (current_group_ && current_group_->until) c = extend_with_until(c, current_group_->until, true);
    return c;
  }
  Cond true_function() {
    Cond c = true_fn();
    if (current_group_ && current_group_->until) c = extend_with_until(c, current_group_->until, true);
    return c;
  }

  std::shared_ptr<CompiledNfa<T>> nfa_ = std::make_shared<CompiledNfa<T>>();
  const Node* current_ = nullptr;
  const Node* following_ = nullptr;
  const Node* current_group_ = nullptr;
  Cond following_take_;
  int64_t window_ = 0;
  std::map<std::string, int> stop_states_;
  std::map<const Node*, bool> first_of_loop_;
  std::set<std::string> seen_names_;
};

// ---- per-key run state ----------------------------------------------------------------------

/// An event kept in the shared buffer: the value, its timestamp and how many buffer nodes use it.
template <class T>
struct BufferedEvent {
  T value;
  int64_t ts = 0;
  uint32_t refs = 0;
};
/// A node of the shared buffer: an event accepted for a pattern name after its parent node (the
/// earlier part of the match). Nodes form a tree, so matches share common prefixes.
struct BufferNode {
  uint32_t name = 0;
  uint64_t event = 0;
  uint64_t parent = 0;  // 0: none
  uint32_t refs = 0;
};
/// A partial match: the NFA state it is in, its last buffer node, when it started.
struct ComputationState {
  int32_t state = 0;
  uint64_t node = 0;  // 0: nothing accepted yet
  int64_t start_ts = 0;
  int64_t prev_ts = 0;
  uint64_t start_event = 0;  // 0: a start state (no event yet)
  bool operator==(const ComputationState&) const = default;
};

/// A small map from increasing ids to values: a sorted vector (ids are handed out in increasing
/// order, so inserting appends), far cheaper than a node-based map for the few entries a key
/// holds.
template <class V>
class IdMap {
 public:
  using Entry = std::pair<uint64_t, V>;
  using iterator = typename std::vector<Entry>::iterator;
  using const_iterator = typename std::vector<Entry>::const_iterator;
  iterator begin() { return v_.begin(); }
  iterator end() { return v_.end(); }
  const_iterator begin() const { return v_.begin(); }
  const_iterator end() const { return v_.end(); }
  bool empty() const { return v_.empty(); }
  std::size_t size() const { return v_.size(); }
  iterator find(uint64_t id) {
    auto it = lower(id);
    return it != v_.end() && it->first == id ? it : v_.end();
  }
  const_iterator find(uint64_t id) const {
    auto it = std::lower_bound(v_.begin(), v_.end(), id, [](const Entry& e, uint64_t x) { return e.first < x; });
    return it != v_.end() && it->first == id ? it : v_.end();
  }
  V& at(uint64_t id) {
    auto it = find(id);
    if (it == v_.end()) throw std::out_of_range("cep: no buffer entry " + std::to_string(id));
    return it->second;
  }
  const V& at(uint64_t id) const {
    auto it = find(id);
    if (it == v_.end()) throw std::out_of_range("cep: no buffer entry " + std::to_string(id));
    return it->second;
  }
  std::pair<iterator, bool> emplace(uint64_t id, V v) {
    if (v_.empty() || v_.back().first < id) {
      v_.emplace_back(id, std::move(v));
      return {v_.end() - 1, true};
    }
    auto it = lower(id);
    if (it != v_.end() && it->first == id) return {it, false};
    return {v_.insert(it, Entry(id, std::move(v))), true};
  }
  void erase(iterator it) { v_.erase(it); }
  const std::vector<Entry>& entries() const { return v_; }
  std::vector<Entry>& entries() { return v_; }

 private:
  iterator lower(uint64_t id) {
    return std::lower_bound(v_.begin(), v_.end(), id, [](const Entry& e, uint64_t x) { return e.first < x; });
  }
  std::vector<Entry> v_;
};

/// The run state of one key: the shared buffer, partial matches and completed matches waiting
/// behind earlier partial matches (skip strategies). Stored in keyed state.
template <class T>
struct KeyNfa {
  uint64_t next_event = 1;
  uint64_t next_node = 1;
  IdMap<BufferedEvent<T>> events;
  IdMap<BufferNode> nodes;
  std::vector<ComputationState> partial;
  std::vector<ComputationState> completed;
};

using Match = std::map<std::string, std::vector<uint64_t>>;

/// Runs a compiled NFA over one key's run state.
template <class T>
class NfaRunner {
 public:
  using MatchMap = std::map<std::string, std::vector<T>>;
  struct Output {
    std::vector<std::pair<MatchMap, int64_t>> matches;   // with the timestamp of the event that completed it
    std::vector<std::pair<MatchMap, int64_t>> timeouts;  // with the timeout timestamp
    void clear() {
      matches.clear();
      timeouts.clear();
    }
  };

  explicit NfaRunner(std::shared_ptr<const CompiledNfa<T>> nfa) : nfa_(std::move(nfa)) {}

  const CompiledNfa<T>& nfa() const { return *nfa_; }

  void init(KeyNfa<T>& k) const {
    k = KeyNfa<T>{};
    k.partial.push_back(ComputationState{nfa_->start, 0, 0, 0, 0});
  }
  /// True when the key holds nothing but the start state (its keyed state can be cleared).
  static bool idle(const KeyNfa<T>& k) { return k.completed.empty() && k.partial.size() <= 1 && k.nodes.empty(); }

  /// Times out partial matches whose window ended at `t`.
  void advance_time(KeyNfa<T>& k, int64_t t, Output& out) const {
    std::vector<ComputationState> keep, potential;
    bool changed = false;
    for (const auto& cs : k.partial) {
      if (!is_start(cs) && nfa_->window > 0 && t - cs.start_ts >= nfa_->window) {
        changed = true;
        if (state(cs).type == StateType::pending) {
          potential.push_back(cs);
          continue;
        }
        out.timeouts.emplace_back(materialize(k, cs.node), cs.start_ts + nfa_->window);
        release(k, cs.node);
      } else {
        keep.push_back(cs);
      }
    }
    if (!changed && k.completed.empty()) return;
    sort_states(keep);
    sort_states(potential);
    process_completed(k, potential, keep, out, t);
    k.partial = std::move(keep);
  }

  /// Processes one event at timestamp `ts` (call advance_time(ts) first).
  void process(KeyNfa<T>& k, const T& event, int64_t ts, Output& out) const {
    Cur cur{&event, ts, k.next_event++};
    std::vector<ComputationState> new_partial, potential;
    for (const auto& cs : k.partial) {
      auto next = compute_next_states(k, cs, cur);
      std::vector<ComputationState> retain;
      bool discard = false;
      for (const auto& n : next) {
        const auto type = state(n).type;
        if (type == StateType::final_) {
          potential.push_back(n);
        } else if (type == StateType::stop) {
          discard = true;
          release(k, n.node);
        } else {
          retain.push_back(n);
        }
      }
      if (discard) {
        for (const auto& r : retain) release(k, r.node);
      } else {
        new_partial.insert(new_partial.end(), retain.begin(), retain.end());
      }
    }
    sort_states(new_partial);
    sort_states(potential);
    if (nfa_->skip.is_skip_strategy()) {
      process_completed(k, potential, new_partial, out, ts);
    } else {
      for (const auto& m : potential) {
        out.matches.emplace_back(materialize(k, m.node), ts);
        release(k, m.node);
      }
    }
    k.partial = std::move(new_partial);
  }

  /// The earliest time at which a partial match of `k` times out (none: INT64_MAX).
  int64_t next_timeout(const KeyNfa<T>& k) const {
    int64_t t = std::numeric_limits<int64_t>::max();
    if (nfa_->window <= 0) return t;
    for (const auto& cs : k.partial) {
      if (!is_start(cs)) t = std::min(t, cs.start_ts + nfa_->window);
    }
    return t;
  }

 private:
  struct Cur {
    const T* event;
    int64_t ts;
    uint64_t id;
  };

  /// The condition context of one partial match: the events its buffer path holds.
  class Ctx final : public Context<T> {
   public:
    Ctx(const NfaRunner* r, const KeyNfa<T>* k, uint64_t node, int64_t ts) : r_(r), k_(k), node_(node), ts_(ts) {}
    EventRange<T> get_events_for_pattern(const std::string& name) const override {
      std::vector<const T*> out;
      for (uint64_t n = node_; n != 0;) {
        const auto& bn = k_->nodes.at(n);
        if (r_->nfa_->names[bn.name] == name) out.push_back(&k_->events.at(bn.event).value);
        n = bn.parent;
      }
      std::reverse(out.begin(), out.end());
      return EventRange<T>(std::move(out));
    }
    int64_t timestamp() const override { return ts_; }

   private:
    const NfaRunner* r_;
    const KeyNfa<T>* k_;
    uint64_t node_;
    int64_t ts_;
  };

  const NfaState<T>& state(const ComputationState& cs) const { return nfa_->states[static_cast<std::size_t>(cs.state)]; }
  bool is_start(const ComputationState& cs) const { return state(cs).type == StateType::start; }

  /// Flink's order of partial matches: by start event (timestamp, then arrival); start states last.
  static void sort_states(std::vector<ComputationState>& v) {
    std::stable_sort(v.begin(), v.end(), [](const ComputationState& a, const ComputationState& b) { return key(a) < key(b); });
  }
  static std::pair<int64_t, uint64_t> key(const ComputationState& cs) {
    if (cs.start_event == 0) return {std::numeric_limits<int64_t>::max(), std::numeric_limits<uint64_t>::max()};
    return {cs.start_ts, cs.start_event};
  }

  static bool check(const Condition<T>& c, const T& e, const Context<T>& ctx) { return !c || c(e, ctx); }

  std::vector<ComputationState> compute_next_states(KeyNfa<T>& k, const ComputationState& cs, Cur& cur) const {
    Ctx ctx(this, &k, cs.node, cur.ts);
    // the decision graph: take and ignore edges reachable through proceed edges
    auto& edges = edges_;
    auto& stack = stack_;
    edges.clear();
    stack.assign(1, cs.state);
    while (!stack.empty()) {
      const int s = stack.back();
      stack.pop_back();
      for (const auto& t : nfa_->states[static_cast<std::size_t>(s)].transitions) {
        if (!check(t.cond, *cur.event, ctx)) continue;
        if (t.action == Action::proceed) {
          stack.push_back(t.target);
        } else {
          edges.push_back(&t);
        }
      }
    }
    std::vector<ComputationState> result;
    for (const auto* e : edges) {
      if (e->action == Action::ignore) {
        if (!is_start(cs)) {
          result.push_back(ComputationState{e->target, cs.node, cs.start_ts, cs.prev_ts, cs.start_event});
          retain(k, cs.node);
        }
      } else {  // take
        const uint64_t node = put(k, nfa_->states[static_cast<std::size_t>(e->source)].name, cur, cs.node);
        const bool start = is_start(cs);
        ComputationState n{e->target, node, start ? cur.ts : cs.start_ts, cur.ts, start ? cur.id : cs.start_event};
        result.push_back(n);
        retain(k, node);
        const int fin = final_after_proceed(e->target, *cur.event, ctx);
        if (fin >= 0) {
          n.state = fin;
          result.push_back(n);
          retain(k, node);
        }
      }
    }
    if (is_start(cs)) result.push_back(ComputationState{cs.state, 0, 0, 0, 0});
    if (cs.node != 0) release(k, cs.node);
    return result;
  }

  int final_after_proceed(int s0, const T& event, const Context<T>& ctx) const {
    auto& stack = stack_;  // free again once the decision graph is built
    stack.assign(1, s0);
    while (!stack.empty()) {
      const int s = stack.back();
      stack.pop_back();
      for (const auto& t : nfa_->states[static_cast<std::size_t>(s)].transitions) {
        if (t.action == Action::proceed && check(t.cond, event, ctx)) {
          if (nfa_->states[static_cast<std::size_t>(t.target)].type == StateType::final_) return t.target;
          stack.push_back(t.target);
        }
      }
    }
    return -1;
  }

  uint64_t put(KeyNfa<T>& k, int name, Cur& cur, uint64_t parent) const {
    // stored on its first take (and again if a discarded path released it meanwhile)
    auto it = k.events.find(cur.id);
    if (it == k.events.end()) it = k.events.emplace(cur.id, BufferedEvent<T>{*cur.event, cur.ts, 0}).first;
    it->second.refs++;
    const uint64_t id = k.next_node++;
    k.nodes.emplace(id, BufferNode{static_cast<uint32_t>(name), cur.id, parent, 0});
    if (parent != 0) k.nodes.at(parent).refs++;
    return id;
  }
  static void retain(KeyNfa<T>& k, uint64_t node) {
    if (node != 0) k.nodes.at(node).refs++;
  }
  static void release(KeyNfa<T>& k, uint64_t node) {
    while (node != 0) {
      auto it = k.nodes.find(node);
      if (it == k.nodes.end() || --it->second.refs > 0) return;
      const uint64_t parent = it->second.parent;
      auto ev = k.events.find(it->second.event);
      if (ev != k.events.end() && --ev->second.refs == 0) k.events.erase(ev);
      k.nodes.erase(it);
      node = parent;
    }
  }

  /// name -> event ids, in order.
  Match extract(const KeyNfa<T>& k, uint64_t node) const {
    std::vector<std::pair<uint32_t, uint64_t>> path;
    for (uint64_t n = node; n != 0;) {
      const auto& bn = k.nodes.at(n);
      path.emplace_back(bn.name, bn.event);
      n = bn.parent;
    }
    Match m;
    for (auto it = path.rbegin(); it != path.rend(); ++it) m[nfa_->names[it->first]].push_back(it->second);
    return m;
  }
  MatchMap materialize(const KeyNfa<T>& k, uint64_t node) const {
    MatchMap out;
    for (const auto& [name, ids] : extract(k, node)) {
      auto& v = out[name];
      for (uint64_t id : ids) v.push_back(k.events.at(id).value);
    }
    return out;
  }

  /// Emits the completed matches that no earlier partial match can precede, pruning as the skip
  /// strategy says (Flink's processMatchesAccordingToSkipStrategy).
  void process_completed(KeyNfa<T>& k, std::vector<ComputationState>& potential, std::vector<ComputationState>& partial,
                         Output& out, int64_t ts) const {
    k.completed.insert(k.completed.end(), potential.begin(), potential.end());
    sort_states(k.completed);
    while (!k.completed.empty() && (partial.empty() || key(k.completed.front()) <= key(partial.front()))) {
      const ComputationState m = k.completed.front();
      k.completed.erase(k.completed.begin());
      const Match ids = extract(k, m.node);
      if (nfa_->skip.is_skip_strategy()) {
        if (auto pid = pruning_id(ids, k)) {
          prune(k, partial, *pid);
          prune(k, k.completed, *pid);
        }
      }
      out.matches.emplace_back(materialize(k, m.node), ts);
      release(k, m.node);
    }
  }

  struct Pruning {
    uint64_t id;
    bool inclusive;  // prune start <= id (else start < id)
  };
  std::optional<Pruning> pruning_id(const Match& m, const KeyNfa<T>& k) const {
    using K = AfterMatchSkipStrategy::Kind;
    const auto& s = nfa_->skip;
    uint64_t first = std::numeric_limits<uint64_t>::max(), last = 0;
    for (const auto& [n, ids] : m) {
      for (uint64_t id : ids) {
        first = std::min(first, id);
        last = std::max(last, id);
      }
    }
    switch (s.kind()) {
      case K::no_skip:
        return std::nullopt;
      case K::skip_to_next:
        return Pruning{first, true};
      case K::skip_past_last_event:
        return Pruning{last, true};
      case K::skip_to_first:
      case K::skip_to_last: {
        auto it = m.find(s.get_pattern_name());
        if (it == m.end() || it->second.empty()) {
          if (s.should_throw_on_miss()) {
            throw std::runtime_error("AfterMatchSkipStrategy: could not skip to '" + s.get_pattern_name() + "': the match has no such event");
          }
          return std::nullopt;
        }
        const uint64_t id = s.kind() == K::skip_to_first ? it->second.front() : it->second.back();
        if (s.should_throw_on_miss() && id == first) {
          throw std::runtime_error("AfterMatchSkipStrategy: could not skip to the first element of a match");
        }
        (void)k;
        return Pruning{id, false};
      }
    }
    return std::nullopt;
  }
  void prune(KeyNfa<T>& k, std::vector<ComputationState>& v, const Pruning& p) const {
    std::vector<ComputationState> keep;
    for (const auto& cs : v) {
      const bool hit = cs.start_event != 0 && (p.inclusive ? cs.start_event <= p.id : cs.start_event < p.id);
      if (hit) {
        release(k, cs.node);
      } else {
        keep.push_back(cs);
      }
    }
    v = std::move(keep);
  }

  std::shared_ptr<const CompiledNfa<T>> nfa_;
  // scratch space of compute_next_states (a runner serves one subtask, one call at a time)
  mutable std::vector<const Transition<T>*> edges_;
  mutable std::vector<int> stack_;
};

}  // namespace weir::cep::detail

namespace weir {

template <class T>
struct Serde<cep::detail::BufferedEvent<T>> {
  static void write(ByteWriter& w, const cep::detail::BufferedEvent<T>& e) {
    Serde<T>::write(w, e.value);
    w.write_fixed(e.ts);
    w.write_varint(e.refs);
  }
  static cep::detail::BufferedEvent<T> read(ByteReader& r) {
    cep::detail::BufferedEvent<T> e{Serde<T>::read(r), 0, 0};
    e.ts = Serde<int64_t>::read(r);
    e.refs = static_cast<uint32_t>(r.read_varint());
    return e;
  }
};
template <>
struct Serde<cep::detail::BufferNode> {
  static void write(ByteWriter& w, const cep::detail::BufferNode& n) {
    w.write_varint(n.name);
    w.write_varint(n.event);
    w.write_varint(n.parent);
    w.write_varint(n.refs);
  }
  static cep::detail::BufferNode read(ByteReader& r) {
    cep::detail::BufferNode n;
    n.name = static_cast<uint32_t>(r.read_varint());
    n.event = r.read_varint();
    n.parent = r.read_varint();
    n.refs = static_cast<uint32_t>(r.read_varint());
    return n;
  }
};
template <>
struct Serde<cep::detail::ComputationState> {
  static void write(ByteWriter& w, const cep::detail::ComputationState& c) {
    w.write_fixed(c.state);
    w.write_varint(c.node);
    w.write_fixed(c.start_ts);
    w.write_fixed(c.prev_ts);
    w.write_varint(c.start_event);
  }
  static cep::detail::ComputationState read(ByteReader& r) {
    cep::detail::ComputationState c;
    c.state = Serde<int32_t>::read(r);
    c.node = r.read_varint();
    c.start_ts = Serde<int64_t>::read(r);
    c.prev_ts = Serde<int64_t>::read(r);
    c.start_event = r.read_varint();
    return c;
  }
};
template <class T>
struct Serde<cep::detail::KeyNfa<T>> {
  static void write(ByteWriter& w, const cep::detail::KeyNfa<T>& k) {
    w.write_varint(k.next_event);
    w.write_varint(k.next_node);
    Serde<std::vector<std::pair<uint64_t, cep::detail::BufferedEvent<T>>>>::write(w, k.events.entries());
    Serde<std::vector<std::pair<uint64_t, cep::detail::BufferNode>>>::write(w, k.nodes.entries());
    Serde<decltype(k.partial)>::write(w, k.partial);
    Serde<decltype(k.completed)>::write(w, k.completed);
  }
  static cep::detail::KeyNfa<T> read(ByteReader& r) {
    cep::detail::KeyNfa<T> k;
    k.next_event = r.read_varint();
    k.next_node = r.read_varint();
    k.events.entries() = Serde<std::vector<std::pair<uint64_t, cep::detail::BufferedEvent<T>>>>::read(r);
    k.nodes.entries() = Serde<std::vector<std::pair<uint64_t, cep::detail::BufferNode>>>::read(r);
    if (!std::is_sorted(k.events.begin(), k.events.end(), [](const auto& a, const auto& b) { return a.first < b.first; }) ||
        !std::is_sorted(k.nodes.begin(), k.nodes.end(), [](const auto& a, const auto& b) { return a.first < b.first; })) {
      throw SerdeError("CEP run state: buffer ids out of order");
    }
    k.partial = Serde<decltype(k.partial)>::read(r);
    k.completed = Serde<decltype(k.completed)>::read(r);
    return k;
  }
};

}  // namespace weir
