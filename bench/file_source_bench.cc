// Throughput of the FileSource (not a timed test): text lines, CSV rows and JSON lines read
// from files into a counting sink.
// Usage: file_source_bench [--records N] [--files F] [--parallelism P] [--runs R] [--only text|csv|json]
// Prints each run (records/s, and records per CPU-second of the whole process: getrusage
// RUSAGE_SELF user+sys) and the medians. The files are written once to a temporary folder
// (not timed) and removed at the end.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "weir/connectors/file.hpp"
#include "weir/weir.hpp"

namespace {

struct Options {
  int64_t records = 5'000'000;
  int files = 8;
  int parallelism = 2;
  int runs = 5;
  std::string only;
};

double cpu_seconds() {
  rusage u{};
  ::getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct CountingSink {
  std::shared_ptr<std::atomic<int64_t>> total = std::make_shared<std::atomic<int64_t>>(0);
  int64_t local = 0;
  template <class T>
  void operator()(const T&) { ++local; }
  void finish() { total->fetch_add(local); }
};

void write_files(const std::string& dir, const Options& o, const std::string& kind) {
  std::filesystem::create_directories(dir);
  for (int f = 0; f < o.files; ++f) {
    std::ofstream out(dir + "/part-" + std::to_string(f), std::ios::binary);
    std::string buf;
    for (int64_t i = o.records * f / o.files; i < o.records * (f + 1) / o.files; ++i) {
      if (kind == "text") buf += "event " + std::to_string(i) + " user-" + std::to_string(i % 1000) + " clicked\n";
      if (kind == "csv") buf += std::to_string(i) + ",\"user, " + std::to_string(i % 1000) + "\",clicked,3.25\n";
      if (kind == "json") buf += "{\"id\":" + std::to_string(i) + ",\"user\":\"u" + std::to_string(i % 1000) + "\",\"what\":\"clicked\"}\n";
      if (buf.size() > (1 << 20)) {
        out << buf;
        buf.clear();
      }
    }
    out << buf;
  }
}

template <class Format>
std::pair<double, double> run(const Options& o, const std::string& dir, Format format) {
  using T = typename Format::value_type;
  auto env = weir::StreamExecutionEnvironment::create();
  env.set_parallelism(o.parallelism).set_worker_threads(o.parallelism);
  CountingSink sink;
  env.from_source(weir::FileSource<T>::for_record_stream_format(format, {dir}).build(), weir::WatermarkStrategy<T>::no_watermarks(),
                  "files")
      .add_sink(sink);
  const double cpu0 = cpu_seconds();
  const auto t0 = std::chrono::steady_clock::now();
  env.execute("file source bench");
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const double cpu = cpu_seconds() - cpu0;
  if (sink.total->load() != o.records) {
    std::fprintf(stderr, "read %lld records, expected %lld\n", static_cast<long long>(sink.total->load()),
                 static_cast<long long>(o.records));
    std::abort();
  }
  return {o.records / secs, o.records / cpu};
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    if (k == "--records") o.records = std::atoll(argv[i + 1]);
    else if (k == "--files") o.files = std::atoi(argv[i + 1]);
    else if (k == "--parallelism") o.parallelism = std::atoi(argv[i + 1]);
    else if (k == "--runs") o.runs = std::atoi(argv[i + 1]);
    else if (k == "--only") o.only = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", k.c_str());
      return 2;
    }
  }
  const std::string root = (std::filesystem::temp_directory_path() / ("weir-file-bench-" + std::to_string(::getpid()))).string();
  std::printf("file_source_bench --records %lld --files %d --parallelism %d --runs %d\n", static_cast<long long>(o.records),
              o.files, o.parallelism, o.runs);
  for (const std::string kind : {"text", "csv", "json"}) {
    if (!o.only.empty() && o.only != kind) continue;
    const std::string dir = root + "/" + kind;
    write_files(dir, o, kind);
    std::vector<double> rate, per_cpu;
    for (int r = 0; r < o.runs; ++r) {
      std::pair<double, double> res;
      if (kind == "text") res = run(o, dir, weir::TextLineFormat{});
      if (kind == "csv") res = run(o, dir, weir::CsvFormat{});
      if (kind == "json") res = run(o, dir, weir::JsonLinesFormat{});
      rate.push_back(res.first);
      per_cpu.push_back(res.second);
      std::printf("  %-4s run %d: %.0f records/s, %.0f records per CPU-second\n", kind.c_str(), r + 1, res.first, res.second);
    }
    std::printf("%-4s median: %.0f records/s, %.0f records per CPU-second\n", kind.c_str(), median(rate), median(per_cpu));
    std::filesystem::remove_all(dir);
  }
  std::filesystem::remove_all(root);
}
