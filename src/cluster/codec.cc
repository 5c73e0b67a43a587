#include "cluster/codec.h"

#include "checkpoint/storage.h"
#include "cluster/cluster.pb.h"
#include "weir/serde/serde.hpp"

namespace weir::detail {

namespace {
constexpr uint8_t kVersion = 1;

void check_version(ByteReader& r, const char* what) {
  const auto v = r.read_u8();
  if (v != kVersion) throw SerdeError(std::string(what) + ": unknown encoding version " + std::to_string(v));
}
}  // namespace

std::string ConfigCodec::encode(const CheckpointConfig& c) {
  std::string out;
  ByteWriter w(out);
  w.write_u8(kVersion);
  w.write_fixed<int64_t>(c.interval_ms_);
  w.write_u8(static_cast<uint8_t>(c.mode_));
  w.write_fixed<int64_t>(c.timeout_ms_);
  w.write_fixed<int64_t>(c.min_pause_ms_);
  w.write_fixed<int32_t>(c.max_concurrent_);
  w.write_fixed<int32_t>(c.tolerable_failures_);
  w.write_fixed<int32_t>(c.retained_);
  w.write_u8(c.unaligned_ ? 1 : 0);
  w.write_u8(c.fallback_past_committed_ ? 1 : 0);
  w.write_u8(static_cast<uint8_t>(c.retention_));
  Serde<std::string>::write(w, c.storage_);
  return out;
}

CheckpointConfig ConfigCodec::decode_checkpoint_config(std::string_view bytes) {
  ByteReader r(bytes);
  check_version(r, "checkpoint config");
  CheckpointConfig c;
  c.interval_ms_ = r.read_fixed<int64_t>();
  c.mode_ = static_cast<CheckpointingMode>(r.read_u8());
  c.timeout_ms_ = r.read_fixed<int64_t>();
  c.min_pause_ms_ = r.read_fixed<int64_t>();
  c.max_concurrent_ = r.read_fixed<int32_t>();
  c.tolerable_failures_ = r.read_fixed<int32_t>();
  c.retained_ = r.read_fixed<int32_t>();
  c.unaligned_ = r.read_u8() != 0;
  c.fallback_past_committed_ = r.read_u8() != 0;
  c.retention_ = static_cast<CheckpointRetention>(r.read_u8());
  c.storage_ = Serde<std::string>::read(r);
  return c;
}

std::string ConfigCodec::encode(const RestartStrategy& s) {
  std::string out;
  ByteWriter w(out);
  w.write_u8(kVersion);
  w.write_u8(static_cast<uint8_t>(s.kind_));
  w.write_fixed<int32_t>(s.attempts_);
  w.write_fixed<int64_t>(s.delay_);
  w.write_fixed<int64_t>(s.max_delay_);
  w.write_fixed<int64_t>(s.interval_);
  w.write_fixed<double>(s.multiplier_);
  w.write_fixed<double>(s.jitter_);
  return out;
}

RestartStrategy ConfigCodec::decode_restart_strategy(std::string_view bytes) {
  ByteReader r(bytes);
  check_version(r, "restart strategy");
  const auto kind = r.read_u8();
  if (kind > static_cast<uint8_t>(RestartStrategy::Kind::kExponential)) throw SerdeError("restart strategy: unknown kind");
  RestartStrategy s(static_cast<RestartStrategy::Kind>(kind));
  s.attempts_ = r.read_fixed<int32_t>();
  s.delay_ = r.read_fixed<int64_t>();
  s.max_delay_ = r.read_fixed<int64_t>();
  s.interval_ = r.read_fixed<int64_t>();
  s.multiplier_ = r.read_fixed<double>();
  s.jitter_ = r.read_fixed<double>();
  return s;
}

}  // namespace weir::detail

namespace weir::cluster {

std::vector<std::string> encode_snapshots(const std::vector<runtime::OperatorSnapshot>& snaps) {
  std::vector<std::string> out;
  out.reserve(snaps.size());
  for (const auto& s : snaps) {
    if (s.kv) {
      throw StateError("RocksDB state cannot be checkpointed in cluster mode yet: use the heap state backend "
                       "(StateBackend::heap()) for jobs submitted to a cluster");
    }
    std::string bytes;
    ByteWriter w(bytes);
    Serde<std::string>::write(w, checkpoint::encode_state_file(s));
    Serde<std::vector<runtime::StateType>>::write(w, s.state_types);
    out.push_back(std::move(bytes));
  }
  return out;
}

std::vector<runtime::OperatorSnapshot> decode_snapshots(const std::vector<std::string>& files) {
  std::vector<runtime::OperatorSnapshot> out(files.size());
  for (std::size_t i = 0; i < files.size(); ++i) {
    ByteReader r(files[i]);
    const auto file = Serde<std::string>::read(r);
    out[i].state_types = Serde<std::vector<runtime::StateType>>::read(r);
    if (!r.at_end()) throw StateError("a task's snapshot has trailing bytes");
    checkpoint::decode_state_file(file, out[i].key_groups, out[i].lists, &out[i].inflight_in, &out[i].inflight_out);
  }
  return out;
}

}  // namespace weir::cluster

namespace weir::cluster {

void encode_task_metrics(const TaskMetrics& m, rpc::TaskStatus* t) {
  t->set_vertex(m.task_name);
  t->set_subtask(m.subtask);
  t->set_records_in(static_cast<int64_t>(m.records_in));
  t->set_records_out(static_cast<int64_t>(m.records_out));
  t->set_watermark(m.output_watermark);
  t->set_vertex_index(m.vertex);
  t->set_bytes_in(static_cast<int64_t>(m.bytes_in));
  t->set_bytes_out(static_cast<int64_t>(m.bytes_out));
  t->set_busy_ns(m.busy_ns);
  t->set_backpressured_ns(m.backpressured_ns);
  t->set_lifetime_ns(m.lifetime_ns);
  t->set_input_watermark(m.input_watermark);
  t->set_holding_channel(m.watermark_holding_channel);
  t->set_backpressured_count(static_cast<int64_t>(m.backpressured_count));
  for (const auto& c : m.inputs) {
    auto* w = t->add_inputs();
    w->set_input(c.input);
    w->set_upstream_vertex(c.upstream_vertex);
    w->set_upstream_subtask(c.upstream_subtask);
    w->set_watermark(c.watermark);
    w->set_idle(c.idle);
    w->set_ended(c.ended);
  }
  for (const auto& [k, v] : m.operator_metrics) (*t->mutable_operator_metrics())[k] = v;
}

TaskMetrics decode_task_metrics(const rpc::TaskStatus& t) {
  TaskMetrics m;
  m.task_name = t.vertex();
  m.subtask = t.subtask();
  m.records_in = static_cast<uint64_t>(t.records_in());
  m.records_out = static_cast<uint64_t>(t.records_out());
  m.output_watermark = t.watermark();
  m.vertex = t.vertex_index();
  m.bytes_in = static_cast<uint64_t>(t.bytes_in());
  m.bytes_out = static_cast<uint64_t>(t.bytes_out());
  m.busy_ns = t.busy_ns();
  m.backpressured_ns = t.backpressured_ns();
  m.lifetime_ns = t.lifetime_ns();
  m.input_watermark = t.input_watermark();
  m.watermark_holding_channel = t.holding_channel();
  m.backpressured_count = static_cast<uint64_t>(t.backpressured_count());
  for (const auto& c : t.inputs()) {
    m.inputs.push_back(InputChannelMetrics{c.input(), c.upstream_vertex(), c.upstream_subtask(), c.watermark(), c.idle(), c.ended()});
  }
  for (const auto& [k, v] : t.operator_metrics()) m.operator_metrics[k] = v;
  return m;
}

}  // namespace weir::cluster
