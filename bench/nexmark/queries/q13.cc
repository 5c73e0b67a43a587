// q13, bounded side input join: every bid with the value of its auction mod 10,000 in a side
// table read from a file (10,000 lines "i,i"), a lookup join on processing time.
//   SELECT B.auction, B.bidder, B.price, B.dateTime, S.value
//   FROM (SELECT *, PROCTIME() AS p_time FROM bid) B
//   JOIN side_input FOR SYSTEM_TIME AS OF B.p_time AS S ON mod(B.auction, 10000) = S.key;
// Weir: the file side_input.txt is written into the run's work folder (a temporary folder,
// removed with the job, when the run has none); each subtask of a ProcessFunction loads it in
// open() into a hash map (as Flink's filesystem lookup source caches the whole table) and looks
// every bid up; a bid without a match gives no row (inner join).
#include <sys/types.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include "absl/container/flat_hash_map.h"
#include "../query.h"

namespace nexmark {
namespace {

constexpr int64_t kSideKeys = 10'000;

struct Q13Row {
  int64_t auction = 0;
  int64_t bidder = 0;
  int64_t price = 0;
  int64_t date_time = 0;
  std::string value;
};
WEIR_SERDE(Q13Row, auction, bidder, price, date_time, value)

// A folder made for one run, removed when the last function copy that refers to it goes.
struct OwnedFolder {
  std::filesystem::path path;
  ~OwnedFolder() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// Writes the suite's side input: lines "i,i" for i in [0, 10,000).
void write_side_input(const std::filesystem::path& file) {
  std::ofstream f(file, std::ios::trunc);
  if (!f) throw std::runtime_error("q13: cannot create the side input file " + file.string());
  for (int64_t i = 0; i < kSideKeys; ++i) f << i << ',' << i << '\n';
  f.close();
  if (!f) throw std::runtime_error("q13: cannot write the side input file " + file.string());
}

struct Q13Lookup : weir::ProcessFunction<Event, Q13Row> {
  std::string file;
  std::shared_ptr<OwnedFolder> folder;  // keeps a temporary folder alive while the job runs
  absl::flat_hash_map<int64_t, std::string> table;

  void open(weir::RuntimeContext&) override {
    std::ifstream in(file);
    if (!in) throw std::runtime_error("q13: cannot open the side input file " + file);
    std::string line;
    for (int64_t n = 1; std::getline(in, line); ++n) {
      if (line.empty()) continue;
      const std::size_t comma = line.find(',');
      std::size_t used = 0;
      int64_t key = 0;
      try {
        key = std::stoll(line.substr(0, comma), &used);
      } catch (const std::exception&) {
        used = std::string::npos;
      }
      if (comma == std::string::npos || used != comma) {
        throw std::runtime_error("q13: " + file + " line " + std::to_string(n) + ": expected 'key,value', got '" + line + "'");
      }
      table.insert_or_assign(key, line.substr(comma + 1));
    }
    if (in.bad()) throw std::runtime_error("q13: cannot read the side input file " + file);
  }
  void process_element(const Event& e, Context&, weir::Collector<Q13Row>& out) override {
    const Bid* b = e.bid();
    if (!b) return;
    auto it = table.find(b->auction % kSideKeys);
    if (it == table.end()) return;
    out.collect(Q13Row{b->auction, b->bidder, b->price, b->date_time, it->second});
  }
};

std::string q13_row(const Q13Row& r) { return row(r.auction, r.bidder, r.price, r.date_time, r.value); }

NEXMARK_QUERY(QueryDef{
    "q13", "bids joined with a side table from a file on auction mod 10,000",
    [](QueryContext& ctx) {
      Q13Lookup lookup;
      std::filesystem::path dir = ctx.work_dir;
      if (dir.empty()) {
        dir = std::filesystem::temp_directory_path() /
              ("weir-nexmark-q13-" + std::to_string(getpid()) + "-" + std::to_string(std::random_device{}()));
        lookup.folder = std::make_shared<OwnedFolder>(OwnedFolder{dir});
      }
      std::filesystem::create_directories(dir);
      const std::filesystem::path file = dir / "side_input.txt";
      write_side_input(file);
      lookup.file = file.string();
      auto rows = ctx.events.process(std::move(lookup)).name("q13-lookup-join");
      ctx.sink(rows, q13_row, [](const Q13Row& r) { return r.date_time; });
    },
    [](const std::vector<Event>& events, const Config&) {
      // The side table maps i to the text of i for 0 <= i < 10,000.
      std::vector<std::string> out;
      for (const Event& e : events)
        if (const Bid* b = e.bid()) out.push_back(row(b->auction, b->bidder, b->price, b->date_time, std::to_string(b->auction % 10'000)));
      return sorted_rows(out);
    }});

}  // namespace
}  // namespace nexmark
