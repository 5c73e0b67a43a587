// The jobs bench/cluster/run.py measures embedded and on a local cluster (2 workers):
//   window: window_bench's job (bids, 1 s tumbling event-time windows per auction, count and sum)
//   reduce: numbers keyed by x % 10000, a running sum per key (keyed reduce)
// Both shuffle every record across subtasks (so across processes on a cluster). Each sink
// subtask appends the number of records it accounted for to OUT/counts; the driver checks they
// add up to N.
//   cluster_bench_job window|reduce N P OUT
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "../window_job.h"
#include "weir/weir.hpp"

namespace {

/// Appends how many records it accounted for when its input ends.
struct Counted {
  std::string path;
  int64_t local = 0;
  void finish() { std::ofstream(path, std::ios::app) << local << "\n"; }
};
struct WindowSink : Counted {
  void operator()(const bench::Acc& a) { local += a.count; }
};
struct ReduceSink : Counted {
  void operator()(const int64_t&) { ++local; }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: cluster_bench_job window|reduce N P OUT\n");
    return 2;
  }
  const std::string mode = argv[1];
  const int64_t n = std::atoll(argv[2]);
  const int p = std::atoi(argv[3]);
  const std::string counts = std::string(argv[4]) + "/counts";
  auto env = weir::StreamExecutionEnvironment::get_execution_environment();
  // Embedded: one thread per subtask. In a worker's process (one slot): one thread.
  env.set_parallelism(p).set_worker_threads(std::getenv("WEIR_TASK_DEPLOYMENT") ? 1 : p);
  const int64_t per_subtask = (n + p - 1) / p;
  if (mode == "window") {
    env.from_generator(n, [per_subtask](int64_t i) { return bench::make_bid(i, per_subtask); })
        .assign_timestamps_and_watermarks(weir::WatermarkStrategy<bench::Bid>::for_monotonous_timestamps().with_timestamp_assigner(
            [](const bench::Bid& b, int64_t) { return b.ts; }))
        .key_by([](const bench::Bid& b) { return b.auction; })
        .window(weir::TumblingEventTimeWindows::of(std::chrono::seconds(1)))
        .aggregate(bench::CountSum{})
        .add_sink(WindowSink{{counts}});
  } else {
    env.from_sequence(0, n - 1)
        .key_by([](const int64_t& v) { return v % 10000; })
        .reduce([](const int64_t& a, const int64_t& b) { return a + b; })
        .add_sink(ReduceSink{{counts}});
  }
  try {
    env.execute("cluster bench " + mode);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  return 0;
}
