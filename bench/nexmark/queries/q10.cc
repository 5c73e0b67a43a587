// q10, log to file system: every bid with its date and hour:minute, written to files
// partitioned by them.
//   INSERT INTO nexmark_q10 (filesystem, csv, PARTITIONED BY (dt, hm))
//   SELECT auction, bidder, price, dateTime, extra,
//          DATE_FORMAT(dateTime, 'yyyy-MM-dd'), DATE_FORMAT(dateTime, 'HH:mm') FROM bid;
// In Weir: one chained flat_map from the events makes the rows (dates in UTC); a sink writes
// them as CSV lines (auction,bidder,price,dateTime as 'yyyy-MM-dd HH:mm:ss.SSS',extra) into
// <folder>/dt=<dt>/hm=<hm>/part-<subtask>.csv, one open file per subtask and partition, and
// the result sink checks the rows. The folder is made under the temporary directory for the
// run and removed with the job (the benchmark measures the writing; Flink's partition commit
// policy, a _SUCCESS file per partition, is not reproduced).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>

#include "qa_util.h"

namespace nexmark {
namespace {

struct Q10Row {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  int64_t date_time = 0;
  std::string extra;
  std::string dt;  // yyyy-MM-dd
  std::string hm;  // HH:mm
};
WEIR_SERDE(Q10Row, auction, bidder, price, date_time, extra, dt, hm)

/// UTC calendar fields of a time in ms since the epoch (days to civil date: H. Hinnant's
/// algorithm).
struct Civil {
  int64_t year;
  int month, day, hour, minute, second, milli;
};
Civil civil_of(int64_t ms) {
  int64_t days = ms >= 0 ? ms / 86'400'000 : -((-ms + 86'399'999) / 86'400'000);
  int64_t in_day = ms - days * 86'400'000;
  days += 719'468;
  const int64_t era = (days >= 0 ? days : days - 146'096) / 146'097;
  const int64_t doe = days - era * 146'097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  Civil c{yoe + era * 400 + (m <= 2), m, d, 0, 0, 0, 0};
  c.hour = static_cast<int>(in_day / 3'600'000);
  c.minute = static_cast<int>(in_day / 60'000 % 60);
  c.second = static_cast<int>(in_day / 1000 % 60);
  c.milli = static_cast<int>(in_day % 1000);
  return c;
}

/// DATE_FORMAT of the partition columns, remembered for the last minute seen (bids come in
/// time order: one formatting per minute of event time, not per bid).
class PartitionColumns final : public weir::ProcessFunction<Event, Q10Row> {
 public:
  void process_element(const Event& e, Context&, weir::Collector<Q10Row>& out) override {
    const Bid* b = e.bid();
    if (!b) return;
    const int64_t minute = qa::window_start(b->date_time, 60'000);
    if (minute != minute_) {
      const Civil c = civil_of(b->date_time);
      char dt[32], hm[16];
      std::snprintf(dt, sizeof dt, "%04lld-%02d-%02d", static_cast<long long>(c.year), c.month, c.day);
      std::snprintf(hm, sizeof hm, "%02d:%02d", c.hour, c.minute);
      dt_ = dt;
      hm_ = hm;
      minute_ = minute;
    }
    out.collect(Q10Row{b->auction, b->bidder, b->price, b->date_time, b->extra, dt_, hm_});
  }

 private:
  int64_t minute_ = INT64_MIN;
  std::string dt_, hm_;
};

std::string q10_row(const Q10Row& r) { return row(r.auction, r.bidder, r.price, r.date_time, r.extra, r.dt, r.hm); }

/// The folder of one run's files, removed when the last sink copy is gone.
struct OutputFolder {
  std::filesystem::path path;
  OutputFolder() {
    path = std::filesystem::temp_directory_path() /
           ("weir-nexmark-q10-" + std::to_string(getpid()) + "-" + std::to_string(std::random_device{}()));
    std::filesystem::create_directories(path);
  }
  ~OutputFolder() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

/// Writes each row as a CSV line into its partition's file (one per subtask and partition).
class PartitionedCsvSink {
 public:
  explicit PartitionedCsvSink(std::shared_ptr<OutputFolder> folder) : folder_(std::move(folder)) {}
  PartitionedCsvSink(const PartitionedCsvSink& o) : folder_(o.folder_) {}  // open files are not copied
  PartitionedCsvSink& operator=(const PartitionedCsvSink&) = delete;
  ~PartitionedCsvSink() { close_all(); }

  void open(weir::RuntimeContext& rc) { subtask_ = rc.get_index_of_this_subtask(); }
  void operator()(const Q10Row& r) {
    std::FILE* f = file(r.dt, r.hm);
    if (r.date_time != ts_ms_) {  // formatted once per millisecond
      const Civil c = civil_of(r.date_time);
      std::snprintf(ts_, sizeof ts_, "%04lld-%02d-%02d %02d:%02d:%02d.%03d", static_cast<long long>(c.year), c.month,
                    c.day, c.hour, c.minute, c.second, c.milli);
      ts_ms_ = r.date_time;
    }
    line_.clear();
    line_ += std::to_string(r.auction);
    line_.push_back(',');
    line_ += std::to_string(r.bidder);
    line_.push_back(',');
    line_ += std::to_string(r.price);
    line_.push_back(',');
    line_ += ts_;
    line_.push_back(',');
    line_ += r.extra;
    line_.push_back('\n');
    if (std::fwrite(line_.data(), 1, line_.size(), f) != line_.size()) fail("writing", current_path_);
  }
  void finish() {
    cur_file_ = nullptr;
    for (auto& [key, f] : files_) {
      if (std::fclose(f.second) != 0) {
        f.second = nullptr;
        fail("closing", f.first);
      }
      f.second = nullptr;
    }
    files_.clear();
  }
  void close() { close_all(); }

 private:
  std::FILE* file(const std::string& dt, const std::string& hm) {
    if (cur_file_ && dt == cur_dt_ && hm == cur_hm_) return cur_file_;
    cur_file_ = open_file(dt, hm);
    cur_dt_ = dt;
    cur_hm_ = hm;
    return cur_file_;
  }
  std::FILE* open_file(const std::string& dt, const std::string& hm) {
    key_ = dt;
    key_.push_back('/');
    key_ += hm;
    auto it = files_.find(key_);
    if (it != files_.end()) {
      current_path_ = it->second.first;
      return it->second.second;
    }
    // Time moves forward: a new partition closes the others (their files are complete).
    finish();
    const std::filesystem::path dir = folder_->path / ("dt=" + dt) / ("hm=" + hm);
    std::filesystem::create_directories(dir);
    const std::string path = (dir / ("part-" + std::to_string(subtask_) + ".csv")).string();
    std::FILE* f = std::fopen(path.c_str(), "ab");
    if (!f) fail("opening", path);
    std::setvbuf(f, nullptr, _IOFBF, 1 << 16);
    files_.emplace(key_, std::make_pair(path, f));
    current_path_ = path;
    return f;
  }
  [[noreturn]] static void fail(const char* what, const std::string& path) {
    throw std::runtime_error(std::string("q10: ") + what + " " + path + " failed: " + std::strerror(errno));
  }
  void close_all() {
    cur_file_ = nullptr;
    for (auto& [key, f] : files_)
      if (f.second) std::fclose(f.second);
    files_.clear();
  }

  std::shared_ptr<OutputFolder> folder_;
  int subtask_ = 0;
  std::map<std::string, std::pair<std::string, std::FILE*>> files_;  // "dt/hm" -> (path, file)
  std::string key_, line_, current_path_;
  int64_t ts_ms_ = INT64_MIN;
  std::FILE* cur_file_ = nullptr;
  std::string cur_dt_, cur_hm_;
  char ts_[40] = {};
};

NEXMARK_QUERY(QueryDef{
    "q10", "log to file system: bids with date and minute, CSV files partitioned by them",
    [](QueryContext& ctx) {
      auto rows = ctx.events.process(PartitionColumns{}).name("q10-partition-columns");
      rows.add_sink(PartitionedCsvSink(std::make_shared<OutputFolder>())).name("q10-files");
      ctx.sink(rows, q10_row, [](const Q10Row& r) { return r.date_time; });
    },
    [](const std::vector<Event>& events, const Config&) {
      std::vector<std::string> out;
      for (const Event& e : events) {
        const Bid* b = e.bid();
        if (!b) continue;
        // Independent of civil_of: the C library's UTC calendar.
        const std::time_t secs = static_cast<std::time_t>(b->date_time >= 0 ? b->date_time / 1000 : (b->date_time - 999) / 1000);
        std::tm tm{};
        gmtime_r(&secs, &tm);
        char dt[16], hm[8];
        std::strftime(dt, sizeof dt, "%Y-%m-%d", &tm);
        std::strftime(hm, sizeof hm, "%H:%M", &tm);
        out.push_back(row(b->auction, b->bidder, b->price, b->date_time, b->extra, std::string(dt), std::string(hm)));
      }
      return sorted_rows(out);
    }});

}  // namespace
}  // namespace nexmark
