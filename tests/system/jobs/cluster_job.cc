// A job the cluster tests run embedded and on a cluster: numbers 0..COUNT-1 from a parallel,
// checkpointed source, keyed; per key a running count in keyed state ("keyed") or a sum per
// event-time tumbling window ("window"); the results go to an exactly-once FileSink in OUT.
//
//   cluster_job MODE OUT COUNT [--checkpoint MS] [--slow-every N] [--parallelism P]
//
// keyed lines: "key,count,value" — with exactly-once, each (key, c) for c in 1..n(key) once.
// window lines: "key,window_start,sum".
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <thread>

#include "weir/connectors/file_sink.hpp"
#include "weir/weir.hpp"

using namespace weir;

namespace {

constexpr int64_t kKeys = 37;

struct Out {
  int64_t key = 0;
  int64_t count = 0;
  int64_t value = 0;
};
WEIR_SERDE(Out, key, count, value)

struct CountPerKey : KeyedProcessFunction<int64_t, int64_t, Out> {
  ValueState<int64_t> count;
  void open(RuntimeContext& rc) override { count = rc.get_state(ValueStateDescriptor<int64_t>("count")); }
  void process_element(const int64_t& v, Context&, Collector<Out>& out) override {
    const int64_t c = count.value().value_or(0) + 1;
    count.update(c);
    out.collect(Out{v % kKeys, c, v});
  }
};

struct SumPerWindow : ProcessWindowFunction<int64_t, std::string, int64_t, TimeWindow> {
  void process(const int64_t& key, Context& ctx, const std::vector<int64_t>& values, Collector<std::string>& o) override {
    int64_t sum = 0;
    for (auto v : values) sum += v;
    o.collect(std::to_string(key) + "," + std::to_string(ctx.window().get_start()) + "," + std::to_string(sum));
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: cluster_job keyed|window OUT COUNT [--checkpoint MS] [--slow-every N] [--parallelism P]\n");
    return 2;
  }
  const std::string mode = argv[1];
  const std::string out = argv[2];
  const int64_t count = std::atoll(argv[3]);
  int64_t checkpoint = 0;
  int64_t slow_every = 0;
  int parallelism = 0;
  std::string restore;
  for (int i = 4; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--restore") == 0) restore = argv[i + 1];
    if (std::strcmp(argv[i], "--checkpoint") == 0) checkpoint = std::atoll(argv[i + 1]);
    if (std::strcmp(argv[i], "--slow-every") == 0) slow_every = std::atoll(argv[i + 1]);
    if (std::strcmp(argv[i], "--parallelism") == 0) parallelism = std::atoi(argv[i + 1]);
  }
  auto env = StreamExecutionEnvironment::get_execution_environment();
  if (parallelism > 0) env.set_parallelism(parallelism);
  if (checkpoint > 0) {
    env.enable_checkpointing(checkpoint);
    env.set_restart_strategy(RestartStrategy::fixed_delay(20, std::chrono::milliseconds(100)));
  }
  if (!restore.empty()) env.set_savepoint_restore_settings(SavepointRestoreSettings::for_path(restore));
  auto numbers = env.from_sequence(0, count - 1).uid("numbers");
  if (slow_every > 0) {
    // Paces the job so a test can act while it runs (a pause every N records per subtask).
    numbers = numbers.map([slow_every, n = int64_t{0}](const int64_t& v) mutable {
      if (++n % slow_every == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      return v;
    }).uid("pace");
  }
  if (mode == "fail") {
    // A user function that throws; the program does not catch the job's failure: it aborts.
    numbers.map([](const int64_t& v) {
             if (v == 7) throw std::runtime_error("seven is not allowed");
             return v;
           })
        .uid("picky")
        .add_sink([](const int64_t&) {});
    env.execute("cluster-fail");
    return 0;
  }
  try {
    if (mode == "keyed") {
      numbers.key_by([](const int64_t& v) { return v % kKeys; })
          .process(CountPerKey{})
          .uid("count")
          .sink_to(FileSink<Out>::for_row_format(out, [](const Out& o, std::string& line) {
                     line += std::to_string(o.key) + "," + std::to_string(o.count) + "," + std::to_string(o.value) + "\n";
                   }).build())
          .uid("files");
    } else if (mode == "window") {
      numbers
          .assign_timestamps_and_watermarks(WatermarkStrategy<int64_t>::for_monotonous_timestamps().with_timestamp_assigner(
              [](const int64_t& v, int64_t) { return v; }))
          .key_by([](const int64_t& v) { return v % kKeys; })
          .window(TumblingEventTimeWindows::of(std::chrono::milliseconds(1000)))
          .process(SumPerWindow{})
          .uid("windows")
          .sink_to(FileSink<std::string>::for_row_format(out).build())
          .uid("files");
    } else if (mode == "join") {
      // A window join of 0..COUNT-1 with the even numbers below COUNT, on v % 37, in 100 ms
      // event-time windows (timestamp = value): lines "l,r".
      const auto ts = WatermarkStrategy<int64_t>::for_monotonous_timestamps().with_timestamp_assigner(
          [](const int64_t& v, int64_t) { return v; });
      auto left = numbers.assign_timestamps_and_watermarks(ts);
      auto right = env.from_sequence(0, count / 2 - 1)
                       .uid("evens")
                       .map([](const int64_t& v) { return 2 * v; })
                       .uid("double")
                       .assign_timestamps_and_watermarks(ts);
      left.join(right)
          .where([](const int64_t& v) { return v % kKeys; })
          .equal_to([](const int64_t& v) { return v % kKeys; })
          .window(TumblingEventTimeWindows::of(std::chrono::milliseconds(100)))
          .apply([](const int64_t& l, const int64_t& r) { return std::to_string(l) + "," + std::to_string(r); })
          .uid("join")
          .sink_to(FileSink<std::string>::for_row_format(out).build())
          .uid("files");
    } else if (mode == "idle") {
      // The control plane at scale: every subtask paces itself (a millisecond's pause every 10
      // records, so a source step and a barrier's wait stay short) and nothing crosses
      // processes; runs until canceled.
      numbers.map([n = int64_t{0}](const int64_t& v) mutable {
               if (++n % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
               return v;
             })
          .uid("paced")
          .add_sink([](const int64_t&) {})
          .uid("discard");
    } else if (mode == "slow") {
      // Backpressure across processes: 1 KB records, rebalanced to a consumer that takes 1 ms
      // each; unaligned checkpoints. Runs until canceled (COUNT is large).
      env.get_checkpoint_config().enable_unaligned_checkpoints();
      numbers.map([](const int64_t& v) { return std::string(1000, 'x') + std::to_string(v); })
          .uid("payload")
          .rebalance()
          .map([](const std::string& s) {
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            return static_cast<int64_t>(s.size());
          })
          .uid("slow")
          .add_sink([](const int64_t&) {})
          .uid("discard");
    } else {
      std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
      return 2;
    }
    env.execute("cluster-" + mode);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
