// State types across a restore: a snapshot records each state's type, and a restore into
// another type is refused with a message naming the operator uid, the state and both types
// (it used to turn a count of 205 saved as int64 into 1.0 restored as double, or -51 as int8).
#include <atomic>
#include <filesystem>
#include <set>

#include "checkpoint/storage.h"
#include "checkpoint_test_util.h"

namespace weir::cptest {
namespace {

constexpr int64_t kN = 6000;
constexpr int64_t kHeld = 3000;  ///< records in the state when it is saved

/// Keyed state of every kind, with the types of the job that saves it as defaults:
/// a count (ValueState), the sequence numbers seen (ListState), sequence → key (MapState).
/// Emits (key, count) per record and fails when the list or map disagree with the count.
template <class V = int64_t, class L = int64_t, class MK = int64_t, class MV = int64_t>
struct AllKinds : KeyedProcessFunction<int64_t, Ev, std::pair<int64_t, int64_t>> {
  ValueState<V> count;
  ListState<L> seen;
  MapState<MK, MV> by_seq;
  void open(RuntimeContext& rc) override {
    count = rc.get_state(ValueStateDescriptor<V>("count"));
    seen = rc.get_list_state(ListStateDescriptor<L>("seen"));
    by_seq = rc.get_map_state(MapStateDescriptor<MK, MV>("by_seq"));
  }
  void process_element(const Ev& e, Context&, Collector<std::pair<int64_t, int64_t>>& out) override {
    if constexpr (std::is_arithmetic_v<V> && std::is_arithmetic_v<L> && std::is_arithmetic_v<MK> && std::is_arithmetic_v<MV>) {
      const auto c = static_cast<int64_t>(count.value().value_or(V{})) + 1;
      count.update(static_cast<V>(c));
      seen.add(static_cast<L>(e.seq));
      by_seq.put(static_cast<MK>(e.seq), static_cast<MV>(e.key));
      if (static_cast<int64_t>(seen.get().size()) != c || static_cast<int64_t>(by_seq.keys().size()) != c) {
        throw std::runtime_error("list or map state disagrees with the count of key " + std::to_string(e.key));
      }
      out.collect({e.key, c});
    } else {
      // Types the counts cannot convert to are only read (RocksDB decodes on access).
      (void)count.value();
      (void)seen.get();
      (void)by_seq.keys();
    }
  }
};

/// The job: gated events → key_by(key) → AllKinds, with stable uids.
template <class F, class KeyFn>
CollectHandle<std::pair<int64_t, int64_t>> pipeline(StreamExecutionEnvironment& env, std::shared_ptr<std::atomic<int64_t>> limit,
                                                    F f, KeyFn key) {
  return env.from_source(GatedEvents(kN, std::move(limit)), WatermarkStrategy<Ev>::no_watermarks(), "events")
      .uid("events")
      .key_by(key)
      .process(std::move(f))
      .uid("counts")
      .collect_async();
}
auto by_key() {
  return [](const Ev& e) { return e.key; };
}

/// Runs the job with the saved types until `kHeld` records are counted; returns a savepoint
/// (stop with savepoint) or a retained checkpoint of that state, and the output so far.
std::pair<std::string, std::vector<std::pair<int64_t, int64_t>>> save(const TempDir& dir, const std::string& backend,
                                                                      bool savepoint) {
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  env.enable_checkpointing(3600 * 1000);
  env.set_checkpoint_storage(dir.sub("checkpoints"));
  use_backend(env, backend, dir.sub("db1"));
  auto limit = std::make_shared<std::atomic<int64_t>>(kHeld);
  auto out = pipeline(env, limit, AllKinds<>{}, by_key());
  auto client = env.execute_async("save");
  wait_for_input(client, kHeld);
  std::string path;
  if (savepoint) {
    path = client.stop_with_savepoint(dir.sub("sp")).get();
    client.wait();
    return {path, out.get()};
  }
  path = client.trigger_checkpoint().get();
  client.cancel();
  EXPECT_THROW(client.wait(), JobFailure);
  return {path, {}};
}

/// Restores `path` into a job with function `f` on `backend`; the JobFailure's message, or
/// empty when the job ran to its end (its output then in `out`).
template <class F, class KeyFn = decltype(by_key())>
std::string restore(const TempDir& dir, const std::string& path, const std::string& backend, F f,
                    std::vector<std::pair<int64_t, int64_t>>* out = nullptr, KeyFn key = by_key()) {
  static std::atomic<int> n{0};
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  use_backend(env, backend, dir.sub("db-restore-" + std::to_string(++n)));
  env.set_savepoint_restore_settings(SavepointRestoreSettings::for_path(path));
  auto handle = pipeline(env, std::make_shared<std::atomic<int64_t>>(INT64_MAX), std::move(f), key);
  try {
    env.execute("restore");
  } catch (const JobFailure& e) {
    return e.what();
  }
  if (out) *out = handle.get();
  return "";
}

void expect_refused(const std::string& message, const std::string& state, const std::string& saved, const std::string& now) {
  EXPECT_NE(message.find("operator uid 'counts'"), std::string::npos) << message;
  EXPECT_NE(message.find(state), std::string::npos) << message;
  EXPECT_NE(message.find("saved as " + saved + " (v1), restored as " + now + " (v1)"), std::string::npos) << message;
}

using BackendAndKind = std::tuple<std::string, bool>;
class StateTypes : public ::testing::TestWithParam<BackendAndKind> {};

TEST_P(StateTypes, ARestoreIntoAnotherTypeIsRefusedAndTheSameTypeRestores) {
  const auto& [backend, savepoint] = GetParam();
  TempDir dir;
  auto [path, before] = save(dir, backend, savepoint);

  // ValueState<int64_t> "count" restored as double, int8_t, string: refused, naming both types.
  expect_refused(restore(dir, path, backend, AllKinds<double>{}), "state 'count'", "ValueState<int64>", "ValueState<double>");
  expect_refused(restore(dir, path, backend, AllKinds<int8_t>{}), "state 'count'", "ValueState<int64>", "ValueState<int8>");
  expect_refused(restore(dir, path, backend, AllKinds<std::string>{}), "state 'count'", "ValueState<int64>",
                 "ValueState<string>");
  // List and map state likewise.
  expect_refused(restore(dir, path, backend, AllKinds<int64_t, int32_t>{}), "state 'seen'", "ListState<int64>",
                 "ListState<int32>");
  expect_refused(restore(dir, path, backend, AllKinds<int64_t, int64_t, std::string>{}), "state 'by_seq'",
                 "MapState<int64,int64>", "MapState<string,int64>");
  expect_refused(restore(dir, path, backend, AllKinds<int64_t, int64_t, int64_t, double>{}), "state 'by_seq'",
                 "MapState<int64,int64>", "MapState<int64,double>");

  // The same types restore, and every count goes on from where it was saved (the function
  // checks its list and map against the count on every record).
  std::vector<std::pair<int64_t, int64_t>> after;
  ASSERT_EQ(restore(dir, path, backend, AllKinds<>{}, &after), "");
  if (savepoint) {
    for (auto& kc : after) before.push_back(kc);
    expect_exactly_once(before, expected_counts(0, kN));
  } else {
    // A checkpoint of a job that went on: the restored counts are those of the checkpoint.
    std::map<int64_t, int64_t> first, last;
    for (auto& [k, c] : after) {
      first.try_emplace(k, c);
      last[k] = std::max(last[k], c);
    }
    const auto all = expected_counts(0, kN);
    for (auto& [k, c] : all) EXPECT_EQ(last[k], c) << "key " << k;
    for (auto& [k, c] : first) EXPECT_GT(c, 1) << "key " << k << " started over";
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, StateTypes,
                         ::testing::Combine(::testing::Values(std::string("heap"), std::string("rocksdb")),
                                            ::testing::Values(true, false)),
                         [](const ::testing::TestParamInfo<BackendAndKind>& i) {
                           return std::get<0>(i.param) + (std::get<1>(i.param) ? "_savepoint" : "_checkpoint");
                         });

TEST(StateTypes, ASavepointRestoresIntoTheOtherBackendOnlyWithTheSameTypes) {
  TempDir dir;
  auto [path, before] = save(dir, "heap", true);
  expect_refused(restore(dir, path, "rocksdb", AllKinds<double>{}), "state 'count'", "ValueState<int64>", "ValueState<double>");
  std::vector<std::pair<int64_t, int64_t>> after;
  ASSERT_EQ(restore(dir, path, "rocksdb", AllKinds<>{}, &after), "");
  for (auto& kc : after) before.push_back(kc);
  expect_exactly_once(before, expected_counts(0, kN));
}

TEST(StateTypes, AnotherKindOfStateUnderTheSameNameIsRefused) {
  TempDir dir;
  auto [path, before] = save(dir, "heap", true);
  struct Reducing : KeyedProcessFunction<int64_t, Ev, std::pair<int64_t, int64_t>> {
    ReducingState<int64_t> count;
    void open(RuntimeContext& rc) override {
      count = rc.get_reducing_state(ReducingStateDescriptor<int64_t>("count", [](int64_t a, int64_t b) { return a + b; }));
    }
    void process_element(const Ev&, Context&, Collector<std::pair<int64_t, int64_t>>&) override { count.add(1); }
  };
  expect_refused(restore(dir, path, "heap", Reducing{}), "state 'count'", "ValueState<int64>", "ReducingState<int64>");
}

TEST(StateTypes, AReduceRefusesTheKeyedStateOfAnotherOperatorUnderItsUid) {
  // The process function's keyed state restored into a reduce with the same uid: refused with
  // the uid and what the state holds, never decoded as running values.
  TempDir dir;
  auto [path, before] = save(dir, "heap", true);
  auto env = StreamExecutionEnvironment::get_execution_environment();
  env.set_parallelism(2);
  env.set_savepoint_restore_settings(SavepointRestoreSettings::for_path(path, /*allow_non_restored_state=*/true));  // the collect sink
  env.from_source(GatedEvents(kN, std::make_shared<std::atomic<int64_t>>(INT64_MAX)), WatermarkStrategy<Ev>::no_watermarks(), "events")
      .uid("events")
      .map([](const Ev& e) { return std::pair<int64_t, int64_t>{e.key, 1}; })
      .key_by([](const std::pair<int64_t, int64_t>& p) { return p.first; })
      .reduce([](const std::pair<int64_t, int64_t>& a, const std::pair<int64_t, int64_t>& b) {
        return std::pair<int64_t, int64_t>{a.first, a.second + b.second};
      })
      .uid("counts")
      .add_sink([](const std::pair<int64_t, int64_t>&) {});
  try {
    env.execute("reduce over another operator's state");
    FAIL() << "the restore should be refused";
  } catch (const JobFailure& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("operator uid 'counts'"), std::string::npos) << m;
    EXPECT_NE(m.find("which a reduce does not keep"), std::string::npos) << m;
  }
}

TEST(StateTypes, AnotherKeyTypeIsRefused) {
  TempDir dir;
  auto [path, before] = save(dir, "heap", true);
  struct ByInt32 : KeyedProcessFunction<int32_t, Ev, std::pair<int64_t, int64_t>> {
    void process_element(const Ev&, Context&, Collector<std::pair<int64_t, int64_t>>&) override {}
  };
  const std::string message =
      restore(dir, path, "heap", ByInt32{}, nullptr, [](const Ev& e) { return static_cast<int32_t>(e.key); });
  EXPECT_NE(message.find("operator uid 'counts', key type: saved as int64 (v1), restored as int32 (v1)"), std::string::npos)
      << message;
}

std::atomic<int64_t> g_mapped{0};

/// A map function with operator list state "buffer" of T (a CheckpointedFunction).
template <class T>
struct Buffered : CheckpointedFunction {
  OperatorListState<T>* buffer = nullptr;
  Ev operator()(const Ev& e) {
    g_mapped.fetch_add(1);
    return e;
  }
  void snapshot_state(const FunctionSnapshotContext&) override {}
  void initialize_state(FunctionInitializationContext& ctx) override {
    buffer = &ctx.get_operator_state_store().get_list_state(ListStateDescriptor<T>("buffer"));
    if (!ctx.is_restored()) buffer->add(T{});
  }
};

TEST(StateTypes, OperatorListStateOfAnotherTypeIsRefused) {
  TempDir dir;
  auto job = [&](auto f, std::shared_ptr<std::atomic<int64_t>> limit, bool restore) {
    auto env = StreamExecutionEnvironment::get_execution_environment();
    env.set_parallelism(1);
    env.enable_checkpointing(3600 * 1000);
    if (restore) env.set_savepoint_restore_settings(SavepointRestoreSettings::for_path(dir.sub("sp")));
    env.from_source(GatedEvents(100, limit), WatermarkStrategy<Ev>::no_watermarks(), "events")
        .uid("events")
        .map(std::move(f))
        .uid("buffered")
        .collect_async();
    return env;
  };
  {
    auto limit = std::make_shared<std::atomic<int64_t>>(10);
    auto env = job(Buffered<int64_t>{}, limit, false);
    g_mapped = 0;
    auto client = env.execute_async("save");
    while (g_mapped.load() < 10) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    client.stop_with_savepoint(dir.sub("sp")).get();
    client.wait();
  }
  auto env = job(Buffered<std::string>{}, std::make_shared<std::atomic<int64_t>>(INT64_MAX), true);
  try {
    env.execute("restore");
    FAIL() << "restoring operator list state of int64 as string must fail";
  } catch (const JobFailure& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("operator uid 'buffered', state 'buffer': saved as ListState<int64> (v1), restored as ListState<string> (v1)"),
              std::string::npos)
        << m;
    // With checkpoints the job would restart without limit; a restart cannot help here.
    EXPECT_EQ(m.find("restart"), std::string::npos) << m;
  }
  // The same type restores.
  auto same = job(Buffered<int64_t>{}, std::make_shared<std::atomic<int64_t>>(INT64_MAX), true);
  same.execute("restore");
}

// The metadata records each state's type; inspect and an upgrade checker read it there.
TEST(StateTypes, TheMetadataRecordsEveryStateType) {
  TempDir dir;
  auto [path, before] = save(dir, "rocksdb", true);
  const auto meta = checkpoint::read_metadata(path);
  EXPECT_EQ(meta.version, checkpoint::kFormatVersion);
  std::set<std::string> types;
  for (const auto& op : meta.operators) {
    if (op.uid != "counts") continue;
    for (const auto& st : op.subtasks) {
      for (const auto& t : st.state_types) types.insert(t.name + "=" + t.describe());
    }
  }
  EXPECT_EQ(types, (std::set<std::string>{"=int64 (v1)", "count=ValueState<int64> (v1)", "seen=ListState<int64> (v1)",
                                          "by_seq=MapState<int64,int64> (v1)"}));
}

// ---- snapshots of format 1 (before state types were recorded) --------------------------------

using SubtaskMetaV1 = weir::checkpoint::format1::SubtaskMeta;
using OperatorMetaV1 = weir::checkpoint::format1::OperatorMeta;
using MetadataV1 = weir::checkpoint::format1::Metadata;

/// Rewrites the snapshot in `dir` as format 1 wrote it: state files with version 1 in their
/// header, metadata without state types.
void downgrade_to_format_1(const std::string& dir) {
  const auto meta = checkpoint::read_metadata(dir);
  MetadataV1 v1{1, meta.checkpoint_id, meta.timestamp, meta.savepoint, meta.job_name, meta.backend, meta.shared_dir, {}};
  for (const auto& op : meta.operators) {
    OperatorMetaV1 o{op.uid, op.name, op.parallelism, op.max_parallelism, {}};
    for (const auto& st : op.subtasks) {
      checkpoint::FileRef file = st.file;
      if (!file.name.empty()) {
        std::string bytes = checkpoint::read_file(dir + "/" + file.name);
        bytes[8] = 1;  // after the 8-byte magic: the version, little-endian
        checkpoint::write_file_atomic(dir + "/" + file.name, bytes);
        file.checksum = checkpoint::checksum(bytes);
      }
      o.subtasks.push_back(SubtaskMetaV1{st.subtask, st.first_key_group, st.last_key_group, file, st.kv_files, st.keyed_bytes,
                                         st.keyed_records, st.keys, st.state_names});
    }
    v1.operators.push_back(std::move(o));
  }
  const std::string body = serialize(v1);
  std::string out = "WEIRCKPT";
  ByteWriter w(out);
  w.write_fixed(uint32_t{1});
  w.write_fixed(checkpoint::checksum(body));
  out += body;
  checkpoint::write_file_atomic(dir + "/" + checkpoint::kMetadataFile, out);
}

class FormatOne : public ::testing::TestWithParam<BackendAndKind> {};

// Format 1 recorded no types, so only what decoding itself can see is caught: a value that
// leaves bytes over or does not decode is refused with the state's name; the same types
// restore as before.
TEST_P(FormatOne, SnapshotsRestoreAndValuesOfAnotherSizeAreRefused) {
  const auto& [backend, savepoint] = GetParam();
  TempDir dir;
  auto [path, before] = save(dir, backend, savepoint);
  downgrade_to_format_1(path);
  ASSERT_EQ(checkpoint::read_metadata(path).version, 1u);

  std::string m = restore(dir, path, backend, AllKinds<int8_t>{});
  EXPECT_NE(m.find("operator uid 'counts', keyed state 'count': a stored value of 16 bytes has 7 bytes left over"),
            std::string::npos)
      << m;
  m = restore(dir, path, backend, AllKinds<int64_t, int32_t>{});
  EXPECT_NE(m.find("keyed state 'seen'"), std::string::npos) << m;
  m = restore(dir, path, backend, AllKinds<std::string>{});
  EXPECT_NE(m.find("keyed state 'count'"), std::string::npos) << m;

  std::vector<std::pair<int64_t, int64_t>> after;
  ASSERT_EQ(restore(dir, path, backend, AllKinds<>{}, &after), "");
  std::map<int64_t, int64_t> last;
  for (auto& [k, c] : after) last[k] = std::max(last[k], c);
  for (auto& [k, c] : expected_counts(0, kN)) EXPECT_EQ(last[k], c) << "key " << k;
}

INSTANTIATE_TEST_SUITE_P(Backends, FormatOne,
                         ::testing::Values(BackendAndKind{"heap", true}, BackendAndKind{"rocksdb", false}),
                         [](const ::testing::TestParamInfo<BackendAndKind>& i) {
                           return std::get<0>(i.param) + (std::get<1>(i.param) ? "_savepoint" : "_checkpoint");
                         });

// ---- type identities ------------------------------------------------------------------------

struct Inner {
  std::string name;
  std::vector<double> xs;
};
WEIR_SERDE(Inner, name, xs)
struct Outer {
  int32_t id = 0;
  std::optional<Inner> inner;
  std::map<std::string, int64_t> counts;
};
WEIR_SERDE(Outer, id, inner, counts)
struct Tree {
  int64_t value = 0;
  std::vector<Tree> children;
};
WEIR_SERDE(Tree, value, children)
struct Versioned {
  int64_t v = 0;
};
enum class Color : uint8_t { red, green };
}  // namespace
}  // namespace weir::cptest

template <>
struct weir::Serde<weir::cptest::Versioned> {
  static constexpr std::string_view type_name = "Versioned";
  static constexpr uint32_t version = 3;
  static void write(ByteWriter& w, const weir::cptest::Versioned& x) { w.write_fixed(x.v); }
  static weir::cptest::Versioned read(ByteReader& r) { return {r.read_fixed<int64_t>()}; }
};

namespace weir::cptest {
namespace {

TEST(SerdeTypeId, NamesTypesByWhatTheyEncode) {
  EXPECT_EQ(serde_type_id<int64_t>(), "int64");
  EXPECT_EQ(serde_type_id<long long>(), "int64");
  EXPECT_EQ(serde_type_id<uint8_t>(), "uint8");
  EXPECT_EQ(serde_type_id<int8_t>(), "int8");
  EXPECT_EQ(serde_type_id<double>(), "double");
  EXPECT_EQ(serde_type_id<float>(), "float");
  EXPECT_EQ(serde_type_id<bool>(), "bool");
  EXPECT_EQ(serde_type_id<std::string>(), "string");
  EXPECT_EQ(serde_type_id<std::vector<int64_t>>(), "vector<int64>");
  EXPECT_EQ((serde_type_id<std::map<std::string, int64_t>>()), "map<string,int64>");
  EXPECT_EQ((serde_type_id<std::pair<int32_t, std::tuple<bool, std::string>>>()), "pair<int32,tuple<bool,string>>");
  EXPECT_EQ(serde_type_id<std::chrono::milliseconds>(), "duration<int64,1/1000>");
  EXPECT_EQ(serde_type_id<Outer>(), "Outer{id:int32,inner:optional<Inner{name:string,xs:vector<double>}>,counts:map<string,int64>}");
  EXPECT_EQ(serde_type_id<Tree>(), "Tree{value:int64,children:vector<Tree>}");
  // Enumerations: their C++ name as the compiler spells it, and the underlying type.
  EXPECT_TRUE(serde_type_id<Color>().starts_with("enum weir::cptest::")) << serde_type_id<Color>();
  EXPECT_TRUE(serde_type_id<Color>().ends_with("::Color(uint8)")) << serde_type_id<Color>();
  EXPECT_EQ(serde_type_id<Versioned>(), "Versioned");
  EXPECT_EQ(serde_type_version<Versioned>(), 3u);
  EXPECT_EQ(serde_type_version<int64_t>(), 1u);
  EXPECT_EQ(serde_type_id<std::vector<Versioned>>(), "vector<Versioned@v3>");
}

}  // namespace
}  // namespace weir::cptest
