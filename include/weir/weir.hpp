#pragma once
/// Weir: Apache Flink's DataStream model in C++, without a JVM.
///
///   #include <weir/weir.hpp>
///
///   auto env = weir::StreamExecutionEnvironment::create();
///   env.set_parallelism(4);
///   auto counts = env.from_collection(std::vector<std::string>{"a b", "b c"})
///       .flat_map([](const std::string& line, weir::Collector<std::pair<std::string, int64_t>>& out) {
///         for (auto& w : split(line)) out.collect({w, 1});
///       })
///       .key_by([](const std::pair<std::string, int64_t>& p) { return p.first; })
///       .reduce([](const auto& a, const auto& b) { return std::pair{a.first, a.second + b.second}; });
///   counts.print();
///   env.execute("word count");
#include "weir/api/broadcast.hpp"
#include "weir/api/checkpointed.hpp"
#include "weir/api/two_phase_commit.hpp"
#include "weir/connectors/file_sink.hpp"
#include "weir/api/datastream.hpp"
#include "weir/api/environment.hpp"
#include "weir/common/errors.hpp"
#include "weir/common/metrics.hpp"
#include "weir/common/logging.hpp"
#include "weir/api/functions.hpp"
#include "weir/api/job.hpp"
#include "weir/api/bad_records.hpp"
#include "weir/api/serialization.hpp"
#include "weir/api/source.hpp"
#include "weir/time/clock.hpp"
#include "weir/time/watermark.hpp"
#include "weir/windows/joins.hpp"
#include "weir/windows/windowed_stream.hpp"
#include "weir/windows/windows.hpp"
#include "weir/serde/serde.hpp"
#include "weir/serde/text.hpp"
