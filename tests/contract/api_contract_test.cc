// The usages the issues state as the API contract, written as they are there, so a rename or a
// reshaped signature fails to compile here first.
#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <thread>

#include <unistd.h>

#include "weir/testing/harness.hpp"
#include "weir/weir.hpp"

namespace {

using namespace std::chrono_literals;

struct Ev {
  int64_t id = 0;
  std::string user;
  int64_t ts = 0;
  bool operator==(const Ev&) const = default;
};

}  // namespace
WEIR_SERDE(Ev, id, user, ts)

namespace {

struct Split : weir::ProcessFunction<int64_t, int64_t> {
  void process_element(const int64_t& x, Context& ctx, weir::Collector<int64_t>& out) override {
    if (x % 2 == 0) {
      out.collect(x);
    } else {
      ctx.output(weir::OutputTag<std::string>("odd"), std::to_string(x));
    }
  }
};

TEST(ApiContract, FoundationUsagesCompileAndRun) {
  auto env = weir::StreamExecutionEnvironment::create();  // embedded, in-process
  env.set_parallelism(4);
  env.set_max_parallelism(128);
  weir::DataStream<std::string> a = env.from_collection(std::vector<std::string>{"x", "y"});
  weir::DataStream<int64_t> b = env.from_sequence(1, 1'000);
  const int64_t n = 10;
  auto c = env.from_generator(n, [](int64_t i) { return Ev{i, "u", i}; });
  auto s = b.map([](const int64_t& x) { return x * 2; })
               .filter([](const int64_t& x) { return x > 0; })
               .flat_map([](const int64_t& x, weir::Collector<std::string>& out) { out.collect(std::to_string(x)); })
               .key_by([](const std::string& s) { return s.substr(0, 1); })
               .reduce([](const std::string& x, const std::string& y) { return x + y; });
  s.rebalance();
  s.shuffle();
  s.broadcast();
  s.forward();
  s.union_(a, a);
  s.set_parallelism(2);
  s.name("parse");
  s.uid("parse-v1");
  a.connect(b).map([](const std::string& x) { return x; }, [](const int64_t& y) { return std::to_string(y); });
  a.connect(b).flat_map([](const std::string& x, weir::Collector<std::string>& out) { out.collect(x); },
                        [](const int64_t& y, weir::Collector<std::string>& out) { out.collect(std::to_string(y)); });
  auto main = b.process(Split{});
  auto side = main.get_side_output(weir::OutputTag<std::string>("odd"));
  auto h = side.collect_async();
  auto h2 = main.collect_async();
  c.add_sink([](const Ev&) {});
  env.execute("job");
  std::vector<std::string> got = h.get();
  EXPECT_EQ(got.size(), 500u);
  EXPECT_EQ(h2.get().size(), 500u);
  std::vector<int64_t> all = env.from_sequence(1, 10).execute_and_collect();
  EXPECT_EQ(all.size(), 10u);
}

struct Gen {
  void on_event(const Ev& e, int64_t ts, weir::WatermarkOutput& out) { out.emit_watermark(weir::Watermark(ts)); }
  void on_periodic_emit(weir::WatermarkOutput&) {}
};

struct KP : weir::KeyedProcessFunction<std::string, Ev, std::string> {
  weir::ValueState<int64_t> count;
  void open(weir::RuntimeContext& rc) override { count = rc.get_state(weir::ValueStateDescriptor<int64_t>("count")); }
  void process_element(const Ev& e, Context& ctx, weir::Collector<std::string>& out) override {
    std::optional<int64_t> ts = ctx.timestamp();
    const std::string& key = ctx.get_current_key();
    count.update(count.value().value_or(0) + 1);
    ctx.timer_service().register_event_time_timer(*ts + 1);
    ctx.timer_service().register_processing_time_timer(ctx.timer_service().current_processing_time() + 1000);
    ctx.timer_service().delete_processing_time_timer(ctx.timer_service().current_processing_time() + 1000);
    ctx.timer_service().delete_event_time_timer(*ts + 100);
    (void)ctx.timer_service().current_watermark();
    ctx.output(weir::OutputTag<std::string>("seen"), key);
    out.collect(key);
  }
  void on_timer(int64_t ts, OnTimerContext& ctx, weir::Collector<std::string>& out) override {
    out.collect(ctx.get_current_key() + "@" + std::to_string(ts));
  }
};

struct PWF : weir::ProcessWindowFunction<Ev, std::string, std::string, weir::TimeWindow> {
  void process(const std::string& key, Context& ctx, const std::vector<Ev>& elements, weir::Collector<std::string>& out) override {
    out.collect(key + std::to_string(ctx.window().start()) + std::to_string(ctx.window().end()) +
                std::to_string(ctx.window().max_timestamp()) + std::to_string(elements.size()));
  }
};

struct Agg {
  int64_t create_accumulator() const { return 0; }
  int64_t add(const Ev&, int64_t acc) const { return acc + 1; }
  int64_t get_result(const int64_t& acc) const { return acc; }
  int64_t merge(int64_t a, int64_t b) const { return a + b; }
};

struct CountPwf : weir::ProcessWindowFunction<int64_t, std::string, std::string, weir::TimeWindow> {
  void process(const std::string& key, Context&, const std::vector<int64_t>& e, weir::Collector<std::string>& out) override {
    out.collect(key + std::to_string(e.at(0)));
  }
};

struct Join : weir::ProcessJoinFunction<Ev, Ev, std::string> {
  void process_element(const Ev& l, const Ev& r, Context&, weir::Collector<std::string>& out) override {
    out.collect(l.user + r.user);
  }
};

struct Co : weir::KeyedCoProcessFunction<std::string, Ev, Ev, std::string> {
  void open(weir::RuntimeContext&) override {}
  void process_element1(const Ev& e, Context& ctx, weir::Collector<std::string>& out) override { out.collect(e.user); }
  void process_element2(const Ev& e, Context& ctx, weir::Collector<std::string>& out) override { out.collect(e.user); }
  void on_timer(int64_t, OnTimerContext&, weir::Collector<std::string>&) override {}
};

TEST(ApiContract, EventTimeUsagesCompileAndRun) {
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(2);
  auto strategy = weir::WatermarkStrategy<Ev>::for_bounded_out_of_orderness(std::chrono::milliseconds(10))
                      .with_timestamp_assigner([](const Ev& e, int64_t record_ts) { return e.ts; })
                      .with_idleness(std::chrono::milliseconds(1000));
  auto mono = weir::WatermarkStrategy<Ev>::for_monotonous_timestamps();
  auto gen = weir::WatermarkStrategy<Ev>::for_generator([] { return std::make_unique<Gen>(); });
  (void)mono;
  (void)gen;
  auto evs = env.from_generator(1000, [](int64_t i) { return Ev{i, "u" + std::to_string(i % 3), i}; })
                 .assign_timestamps_and_watermarks(strategy);
  auto keyed = evs.key_by([](const Ev& e) { return e.user; });
  keyed.process(KP{}).add_sink([](const std::string&) {});
  keyed.window(weir::TumblingEventTimeWindows::of(100ms)).reduce([](const Ev& a, const Ev& b) { return a; }).add_sink([](const Ev&) {});
  keyed.window(weir::TumblingEventTimeWindows::of(100ms, 10ms)).aggregate(Agg{}).add_sink([](const int64_t&) {});
  keyed.window(weir::SlidingEventTimeWindows::of(100ms, 50ms)).aggregate(Agg{}, CountPwf{}).add_sink([](const std::string&) {});
  keyed.window(weir::EventTimeSessionWindows::with_gap(20ms)).process(PWF{}).add_sink([](const std::string&) {});
  keyed.window(weir::EventTimeSessionWindows::with_dynamic_gap([](const Ev&) { return int64_t{5}; })).reduce([](const Ev& a, const Ev&) { return a; }).add_sink([](const Ev&) {});
  keyed.window(weir::TumblingProcessingTimeWindows::of(100ms)).reduce([](const Ev& a, const Ev&) { return a; }, PWF{}).add_sink([](const std::string&) {});
  keyed.window(weir::SlidingProcessingTimeWindows::of(100ms, 50ms)).aggregate(Agg{}).add_sink([](const int64_t&) {});
  keyed.window(weir::ProcessingTimeSessionWindows::with_gap(100ms)).aggregate(Agg{}).add_sink([](const int64_t&) {});
  keyed.window(weir::GlobalWindows::create()).trigger(weir::CountTrigger::of(10)).aggregate(Agg{}).add_sink([](const int64_t&) {});
  keyed.count_window(10).aggregate(Agg{}).add_sink([](const int64_t&) {});
  keyed.count_window(10, 5).aggregate(Agg{}).add_sink([](const int64_t&) {});
  evs.window_all(weir::TumblingEventTimeWindows::of(100ms)).aggregate(Agg{}).add_sink([](const int64_t&) {});
  const weir::OutputTag<Ev> late("late");
  auto w = keyed.window(weir::TumblingEventTimeWindows::of(100ms))
               .trigger(weir::PurgingTrigger::of(weir::CountTrigger::of(5)))
               .evictor(weir::CountEvictor::of(3))
               .allowed_lateness(50ms)
               .side_output_late_data(late)
               .reduce([](const Ev& a, const Ev&) { return a; });
  w.get_side_output(late).add_sink([](const Ev&) {});
  keyed.window(weir::TumblingEventTimeWindows::of(100ms)).trigger(weir::EventTimeTrigger::create()).evictor(weir::TimeEvictor::of(10ms)).aggregate(Agg{}).add_sink([](const int64_t&) {});
  keyed.window(weir::TumblingProcessingTimeWindows::of(100ms)).trigger(weir::ProcessingTimeTrigger::create()).aggregate(Agg{}).add_sink([](const int64_t&) {});
  keyed.window(weir::TumblingEventTimeWindows::of(100ms)).trigger(weir::ContinuousEventTimeTrigger::of(10ms)).aggregate(Agg{}).add_sink([](const int64_t&) {});
  auto other = evs.key_by([](const Ev& e) { return e.user; });
  keyed.interval_join(other)
      .between(-5ms, 5ms)
      .lower_bound_exclusive()
      .upper_bound_exclusive()
      .side_output_left_late_data(weir::OutputTag<Ev>("l"))
      .side_output_right_late_data(weir::OutputTag<Ev>("r"))
      .process(Join{})
      .add_sink([](const std::string&) {});
  evs.join(evs).where([](const Ev& e) { return e.user; }).equal_to([](const Ev& e) { return e.user; })
      .window(weir::TumblingEventTimeWindows::of(100ms))
      .apply([](const Ev& l, const Ev& r) { return l.id + r.id; })
      .add_sink([](const int64_t&) {});
  evs.co_group(evs).where([](const Ev& e) { return e.user; }).equal_to([](const Ev& e) { return e.user; })
      .window(weir::TumblingEventTimeWindows::of(100ms))
      .apply([](const std::vector<Ev>& l, const std::vector<Ev>& r, weir::Collector<int64_t>& out) { out.collect(static_cast<int64_t>(l.size() + r.size())); })
      .add_sink([](const int64_t&) {});
  keyed.connect(other).process(Co{}).add_sink([](const std::string&) {});
  env.from_source(weir::NumberSequenceSource(1, 100), weir::WatermarkStrategy<int64_t>::for_monotonous_timestamps(), "numbers")
      .add_sink([](const int64_t&) {});
  env.set_auto_watermark_interval(std::chrono::milliseconds(50));
  EXPECT_NO_THROW(env.execute("event time contract"));
  weir::GlobalWindow g;
  EXPECT_EQ(g.max_timestamp(), std::numeric_limits<int64_t>::max());
}

// ---- issue 4: state, checkpoints, savepoints, exactly-once sinks ----------------------------

struct AllStates : weir::KeyedProcessFunction<std::string, Ev, int64_t> {
  struct Sum {
    int64_t create_accumulator() const { return 0; }
    int64_t add(const Ev& e, int64_t acc) const { return acc + e.id; }
    int64_t get_result(int64_t acc) const { return acc; }
  };
  weir::ValueState<int64_t> value;
  weir::ListState<int64_t> list;
  weir::MapState<std::string, int64_t> map;
  weir::ReducingState<int64_t> reducing;
  weir::AggregatingState<Ev, int64_t> aggregating;
  void open(weir::RuntimeContext& rc) override {
    weir::ValueStateDescriptor<int64_t> vd("value");
    vd.enable_time_to_live(weir::StateTtlConfig::new_builder(std::chrono::hours(1))
                               .update_ttl_on_create_and_write()
                               .never_return_expired()
                               .cleanup_in_background(std::chrono::minutes(1))
                               .build());
    value = rc.get_state(vd);
    list = rc.get_list_state(weir::ListStateDescriptor<int64_t>("list"));
    map = rc.get_map_state(weir::MapStateDescriptor<std::string, int64_t>("map"));
    reducing = rc.get_reducing_state(weir::ReducingStateDescriptor<int64_t>("reducing", [](const int64_t& a, const int64_t& b) { return a + b; }));
    aggregating = rc.get_aggregating_state(weir::AggregatingStateDescriptor<Ev, int64_t, int64_t>("aggregating", Sum{}));
  }
  void process_element(const Ev& e, Context& ctx, weir::Collector<int64_t>& out) override {
    value.update(value.value().value_or(0) + 1);
    list.add(e.id);
    list.add_all(std::vector<int64_t>{1, 2});
    std::vector<int64_t> l = list.get();
    list.update(l);
    map.put(e.user, e.id);
    map.put_all(std::vector<std::pair<std::string, int64_t>>{{"x", 1}});
    if (map.contains("x")) map.remove("x");
    for (const auto& [k, v] : map.entries()) out.collect(v);
    (void)map.keys();
    (void)map.values();
    (void)map.is_empty();
    (void)map.get(e.user);
    reducing.add(e.id);
    aggregating.add(e);
    out.collect(reducing.get().value_or(0) + aggregating.get().value_or(0) + static_cast<int64_t>(l.size()));
  }
};

struct Positions : weir::CheckpointedFunction, weir::CheckpointListener {
  weir::OperatorListState<int64_t>* seen = nullptr;
  weir::OperatorListState<int64_t>* all = nullptr;
  int64_t count = 0;
  int64_t operator()(const int64_t& x) {
    ++count;
    return x;
  }
  void snapshot_state(const weir::FunctionSnapshotContext& ctx) override {
    seen->update({count});
    (void)ctx.get_checkpoint_id();
  }
  void initialize_state(weir::FunctionInitializationContext& ctx) override {
    seen = &ctx.get_operator_state_store().get_list_state(weir::ListStateDescriptor<int64_t>("count"));
    all = &ctx.get_operator_state_store().get_union_list_state(weir::ListStateDescriptor<int64_t>("all"));
    if (ctx.is_restored()) {
      for (int64_t c : seen->get()) count += c;
    }
  }
  void notify_checkpoint_complete(int64_t) override {}
  void notify_checkpoint_aborted(int64_t) override {}
};

struct TxnSink : weir::TwoPhaseCommitSink<int64_t, std::vector<int64_t>> {
  // Shared by the subtasks' copies, which commit on their own threads.
  std::shared_ptr<std::vector<int64_t>> committed = std::make_shared<std::vector<int64_t>>();
  std::shared_ptr<std::mutex> mu = std::make_shared<std::mutex>();
  std::vector<int64_t> begin_transaction() override { return {}; }
  void invoke(std::vector<int64_t>& txn, const int64_t& v, weir::SinkContext&) override { txn.push_back(v); }
  void pre_commit(std::vector<int64_t>&) override {}
  void commit(std::vector<int64_t>& txn) override {
    std::lock_guard lock(*mu);
    committed->insert(committed->end(), txn.begin(), txn.end());
  }
  void abort(std::vector<int64_t>& txn) override { txn.clear(); }
};

TEST(ApiContract, StateAndCheckpointUsagesCompileAndRun) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("weir-contract-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  auto env = weir::StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  env.set_state_backend(weir::StateBackend::heap());
  env.set_state_backend(weir::StateBackend::rocksdb((dir / "rocksdb").string()));
  env.enable_checkpointing(100, weir::CheckpointingMode::exactly_once);
  env.enable_checkpointing(std::chrono::milliseconds(100));
  env.enable_checkpointing(100, weir::CheckpointingMode::at_least_once);
  env.enable_checkpointing(100);
  auto& cc = env.get_checkpoint_config();
  cc.set_checkpoint_timeout(60000);
  cc.set_min_pause_between_checkpoints(10);
  cc.set_max_concurrent_checkpoints(1);
  cc.set_tolerable_checkpoint_failure_number(2);
  cc.set_max_retained_checkpoints(2);
  cc.enable_unaligned_checkpoints(false);
  env.set_checkpoint_storage("file://" + (dir / "checkpoints").string());
  env.set_restart_strategy(weir::RestartStrategy::fixed_delay(3, std::chrono::milliseconds(10)));
  env.set_restart_strategy(weir::RestartStrategy::no_restart());
  auto evs = env.from_elements(Ev{1, "a", 1}, Ev{2, "b", 2}, Ev{3, "a", 3});
  evs.key_by([](const Ev& e) { return e.user; }).process(AllStates{}).uid("states").add_sink([](const int64_t&) {});
  auto numbers = env.from_sequence(1, 1000).map(Positions{}).uid("positions");
  TxnSink txn;
  numbers.sink_to(txn);
  numbers.sink_to(weir::FileSink<int64_t>::for_row_format((dir / "files").string())
                      .with_rolling_policy(weir::DefaultRollingPolicy::builder()
                                               .with_max_part_size(1 << 20)
                                               .with_rollover_interval(std::chrono::minutes(15))
                                               .with_inactivity_interval(std::chrono::minutes(5))
                                               .build())
                      .build());
  numbers.sink_to(weir::FileSink<int64_t>::for_row_format((dir / "files2").string(), weir::SimpleStringEncoder<int64_t>("UTF-8"))
                      .with_rolling_policy(weir::OnCheckpointRollingPolicy::build())
                      .build());
  weir::JobClient client = env.execute_async("state contract");
  const std::string id = client.get_job_id();
  (void)client.get_job_status();
  std::future<std::string> sp = client.trigger_savepoint((dir / "sp1").string());
  try {
    sp.get();
  } catch (const weir::StateError&) {
    // the bounded job may already have finished parts: allowed
  }
  client.get_job_execution_result().get();
  EXPECT_EQ(client.get_job_status(), weir::JobStatus::finished);
  EXPECT_EQ(txn.committed->size(), 1000u) << "every record committed once (the copies share the vector)";
  std::size_t lines = 0;
  for (const auto& e : fs::directory_iterator(dir / "files")) {
    if (e.path().filename().string()[0] == '.') continue;
    std::ifstream in(e.path());
    for (std::string l; std::getline(in, l);) ++lines;
  }
  EXPECT_EQ(lines, 1000u);

  // stop_with_savepoint and a restore from it.
  auto env2 = weir::StreamExecutionEnvironment::get_execution_environment();
  env2.enable_checkpointing(50);
  auto slow = env2.from_sequence(1, 100000).map([](int64_t x) {
    if (x % 1000 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return x;
  });
  slow.uid("slow").add_sink([](const int64_t&) {}).uid("sink");
  auto client2 = env2.execute_async("stop me");
  std::future<std::string> stopped = client2.stop_with_savepoint((dir / "sp2").string());
  const std::string path = stopped.get();
  client2.wait();
  auto env3 = weir::StreamExecutionEnvironment::get_execution_environment();
  env3.set_savepoint_restore_settings(weir::SavepointRestoreSettings::for_path(path));
  env3.set_savepoint_restore_settings(weir::SavepointRestoreSettings::for_path(path, true));
  env3.from_sequence(1, 100000).uid("slow").add_sink([](const int64_t&) {}).uid("sink");
  EXPECT_NO_THROW(env3.execute("resumed"));
  fs::remove_all(dir);
}

/// A generator derived from weir::WatermarkGenerator<Ev>, for the forms of for_generator.
struct DerivedGen : weir::WatermarkGenerator<Ev> {
  void on_event(const Ev&, int64_t ts, weir::WatermarkOutput& out) override { out.emit_watermark(weir::Watermark(ts)); }
  void on_periodic_emit(weir::WatermarkOutput&) override {}
};

TEST(ApiContract, ForGeneratorFactoryReturnsByValueOrUniquePtr) {
  // "factory() returns an object with on_event ... and on_periodic_emit ...": by value, a
  // unique_ptr to a WatermarkGenerator<T> subclass, a unique_ptr to any type with the members.
  auto by_value = weir::WatermarkStrategy<Ev>::for_generator([] { return Gen{}; });
  auto derived_by_value = weir::WatermarkStrategy<Ev>::for_generator([] { return DerivedGen{}; });
  auto derived_ptr = weir::WatermarkStrategy<Ev>::for_generator([] { return std::make_unique<DerivedGen>(); });
  auto plain_ptr = weir::WatermarkStrategy<Ev>::for_generator([] { return std::make_unique<Gen>(); });
  for (const auto* s : {&by_value, &derived_by_value, &derived_ptr, &plain_ptr}) {
    auto env = weir::StreamExecutionEnvironment::create();
    auto out = env.from_generator(10, [](int64_t i) { return Ev{i, "u", i * 10}; })
                   .assign_timestamps_and_watermarks(s->with_timestamp_assigner([](const Ev& e, int64_t) { return e.ts; }))
                   .execute_and_collect();
    EXPECT_EQ(out.size(), 10u);
  }
}

TEST(ApiContract, BufferTimeoutUsagesCompileAndRun) {
  // env.set_buffer_timeout(ms) as Flink's: 0 flushes after every record, -1 only full batches,
  // a number of milliseconds bounds how long a partly filled batch waits; finer units too.
  auto env = weir::StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  env.set_buffer_timeout(5);
  env.set_buffer_timeout(0);
  env.set_buffer_timeout(-1);
  env.set_buffer_timeout(std::chrono::microseconds(250));
  EXPECT_EQ(env.get_buffer_timeout(), std::chrono::microseconds(250));
  EXPECT_EQ(env.get_config().buffer_timeout, std::chrono::microseconds(250));
  // DataStream::set_buffer_timeout(ms): the timeout of that operator's output.
  auto count = std::make_shared<std::atomic<int64_t>>(0);
  env.from_sequence(1, 1000)
      .set_buffer_timeout(0)
      .map([](const int64_t& x) { return x * 2; })
      .set_buffer_timeout(-1)
      .rebalance()
      .map([](const int64_t& x) { return x + 1; })
      .set_buffer_timeout(1)
      .add_sink([count](const int64_t&) { count->fetch_add(1); });
  env.execute("buffer timeouts");
  EXPECT_EQ(count->load(), 1000);
}

}  // namespace

// ---- sources with their own I/O; split enumerators (FLIP-27) -----------------------------------

namespace {

struct Partition {
  int32_t id = 0;
  int64_t records = 0;
};
WEIR_SERDE(Partition, id, records)

/// A reader fed by its own thread: kNothingAvailable until the thread wakes the task.
class PartitionReader final : public weir::SplitReader<int64_t> {
 public:
  explicit PartitionReader(Partition p) : p_(p) {
    io_ = std::thread([this, wake = wakeup_handle()] {  // the handle: valid from construction, any thread
      ready_.store(true);
      wake.wakeup();
    });
  }
  ~PartitionReader() override { io_.join(); }
  Status read(std::size_t max, weir::SourceOutput<int64_t>& out) override {
    if (!ready_.load()) return Status::kNothingAvailable;
    for (std::size_t i = 0; i < max && next_ < p_.records; ++i) out.collect(p_.id * 1000 + next_++, weir::kNoTimestamp);
    return next_ < p_.records ? Status::kMoreAvailable : Status::kEndOfSplit;
  }
  std::optional<std::string> snapshot_position() const override { return weir::serialize(next_); }
  void restore_position(std::string_view pos) override { next_ = weir::deserialize<int64_t>(pos); }

 private:
  Partition p_;
  int64_t next_ = 0;
  std::atomic<bool> ready_{false};
  std::thread io_;
};

/// Finds partitions periodically (as a Kafka topic growing), assigns each to a subtask, and
/// ends the bounded source once all four exist.
class PartitionEnumerator final : public weir::SplitEnumerator<Partition> {
 public:
  PartitionEnumerator(weir::SplitEnumeratorContext<Partition>& ctx, int32_t assigned) : ctx_(ctx), assigned_(assigned) {}
  void start() override {
    ctx_.call_async([] { return int32_t{4}; },  // list the partitions (off the enumerator's lock)
                    [this](int32_t n, std::exception_ptr error) {
                      if (error) std::rethrow_exception(error);
                      for (; assigned_ < n; ++assigned_) {
                        ctx_.assign_split(assigned_ % ctx_.current_parallelism(), Partition{assigned_, 10});
                      }
                      if (assigned_ == 4 && !signaled_) {
                        signaled_ = true;
                        for (int s = 0; s < ctx_.current_parallelism(); ++s) ctx_.signal_no_more_splits(s);
                      }
                    },
                    std::chrono::milliseconds(0), std::chrono::milliseconds(10));
    ctx_.run_in_enumerator_thread([] {});
  }
  void add_reader(int subtask) override {}
  std::string snapshot_state(int64_t checkpoint_id) override { return weir::serialize(assigned_); }
  void notify_checkpoint_complete(int64_t checkpoint_id) override {}
  void close() override {}

 private:
  weir::SplitEnumeratorContext<Partition>& ctx_;
  int32_t assigned_;
  bool signaled_ = false;
};

class PartitionSource final : public weir::EnumeratedSource<int64_t, Partition> {
 public:
  std::unique_ptr<weir::SplitEnumerator<Partition>> create_enumerator(weir::SplitEnumeratorContext<Partition>& ctx) const override {
    return std::make_unique<PartitionEnumerator>(ctx, 0);
  }
  std::unique_ptr<weir::SplitEnumerator<Partition>> restore_enumerator(weir::SplitEnumeratorContext<Partition>& ctx,
                                                                       std::string_view state) const override {
    return std::make_unique<PartitionEnumerator>(ctx, weir::deserialize<int32_t>(state));
  }
  std::unique_ptr<weir::SplitReader<int64_t>> create_reader(const Partition& p) const override {
    return std::make_unique<PartitionReader>(p);
  }
};

TEST(Contract, EnumeratedSourceAndReaderWakeup) {
  auto env = weir::StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  auto got = env.from_source(PartitionSource{}, weir::WatermarkStrategy<int64_t>::no_watermarks(), "partitions")
                 .execute_and_collect();
  EXPECT_EQ(got.size(), 40u);
  weir::SourceWakeup handle;
  handle.wakeup();  // thread-safe, coalescing, a no-op until the runtime connects it
  handle();
}

}  // namespace
