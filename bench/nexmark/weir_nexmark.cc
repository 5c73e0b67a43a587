// weir-nexmark: runs one Nexmark query on Weir and reports what it cost.
//
//   weir-nexmark --query qN --events N --parallelism P [--checkpoint-interval MS]
//                [--state heap|rocksdb] [--seed S] [--rate R]
//     prints one line: events per CPU-second (getrusage of the whole process, every thread)
//     and per second, p99 latency (event generated -> sink, see GenerationClock), peak memory.
//   weir-nexmark --query qN --events N --check FILE     the final result table, sorted
//   weir-nexmark --query qN --events N --reference FILE the same, computed sequentially
//   weir-nexmark --events N --json-lines FILE           the events as JSON lines ('-': stdout)
//   weir-nexmark --query gen ...                        the generator alone (a discarding sink)
//   weir-nexmark --list
#include <cstdio>
#include <fstream>
#include <iostream>

#include <CLI/CLI.hpp>

#include "query.h"

namespace {

int write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "weir-nexmark: cannot write %s\n", path.c_str());
    return 1;
  }
  for (const auto& l : lines) f << l << '\n';
  f.close();
  if (!f) {
    std::fprintf(stderr, "weir-nexmark: writing %s failed\n", path.c_str());
    return 1;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Nexmark on Weir"};
  nexmark::RunOptions o;
  o.config.events = 10'000'000;
  std::string check_file, reference_file, json_file;
  bool list = false;
  app.add_option("--query", o.query, "q0..q22, or gen (the generator alone)");
  app.add_option("--events", o.config.events, "number of events")->check(CLI::NonNegativeNumber);
  app.add_option("--parallelism,-p", o.parallelism, "parallelism")->check(CLI::Range(1, 256));
  app.add_option("--checkpoint-interval", o.checkpoint_interval_ms, "checkpoint every MS ms (0: none)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--state", o.state, "state backend")->check(CLI::IsMember({"heap", "rocksdb"}));
  app.add_option("--seed", o.config.seed, "generator seed");
  app.add_option("--rate", o.config.rate, "events per second of event time")->check(CLI::PositiveNumber);
  app.add_option("--work-dir", o.work_dir, "folder for RocksDB and checkpoints (default: a temporary one)");
  app.add_option("--check", check_file, "run the query and write its final result table to FILE");
  app.add_option("--reference", reference_file, "compute the final result table sequentially into FILE");
  app.add_option("--json-lines", json_file, "write the events as JSON lines to FILE ('-': standard output)");
  app.add_flag("--list", list, "list the queries");
  CLI11_PARSE(app, argc, argv);

  try {
    if (list) {
      for (const auto* q : nexmark::all_queries()) std::printf("%-4s %s\n", q->name.c_str(), q->description.c_str());
      return 0;
    }
    if (!json_file.empty()) {
      nexmark::Generator g(o.config);
      std::FILE* f = json_file == "-" ? stdout : std::fopen(json_file.c_str(), "wb");
      if (!f) {
        std::fprintf(stderr, "weir-nexmark: cannot write %s\n", json_file.c_str());
        return 1;
      }
      for (int64_t i = 0; i < o.config.events; ++i) {
        std::string line = nexmark::to_json(g.event(i));
        line.push_back('\n');
        if (std::fwrite(line.data(), 1, line.size(), f) != line.size()) {
          std::fprintf(stderr, "weir-nexmark: writing %s failed\n", json_file.c_str());
          return 1;
        }
      }
      if (f != stdout ? std::fclose(f) != 0 : std::fflush(f) != 0) {
        std::fprintf(stderr, "weir-nexmark: writing %s failed\n", json_file.c_str());
        return 1;
      }
      return 0;
    }
    if (o.query.empty()) {
      std::fprintf(stderr, "weir-nexmark: name a query with --query (see --list)\n");
      return 2;
    }
    if (!reference_file.empty()) {
      const auto* q = nexmark::find_query(o.query);
      if (!q) throw std::invalid_argument("unknown query '" + o.query + "'");
      if (!q->reference) throw std::invalid_argument(o.query + " depends on processing time: it has no reference");
      return write_lines(reference_file, q->reference(nexmark::all_events(o.config), o.config));
    }
    o.check = !check_file.empty();
    const nexmark::RunResult r = nexmark::run(o);
    if (o.check) return write_lines(check_file, r.table);
    std::printf(
        "weir %s events=%lld parallelism=%d seconds=%.3f cpu_seconds=%.3f events_per_second=%.0f "
        "events_per_cpu_second=%.0f p50_latency_ms=%.3f p99_latency_ms=%.3f peak_rss_mb=%.1f rows=%lld state=%s "
        "checkpoint_interval_ms=%lld\n",
        o.query.c_str(), static_cast<long long>(r.events), o.parallelism, r.seconds, r.cpu_seconds,
        static_cast<double>(r.events) / r.seconds, static_cast<double>(r.events) / r.cpu_seconds, r.p50_latency_ms,
        r.p99_latency_ms, static_cast<double>(r.peak_rss_bytes) / (1 << 20), static_cast<long long>(r.rows),
        o.state.c_str(), static_cast<long long>(o.checkpoint_interval_ms));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "weir-nexmark: %s\n", e.what());
    return 1;
  }
}
