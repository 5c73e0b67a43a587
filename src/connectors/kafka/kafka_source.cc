// The Kafka source: the enumerator that finds partitions and resolves where each starts and
// stops, and the consumer that reads one partition.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <regex>
#include <set>

#include "connectors/kafka/kafka_common.h"
#include "weir/common/key_groups.hpp"
#include "weir/connectors/kafka.hpp"

namespace weir {
namespace kafka_detail {

void install_logger(rd_kafka_conf_t* conf) {
  rd_kafka_conf_set_log_cb(conf, [](const rd_kafka_t* rk, int level, const char* fac, const char* buf) {
    const char* name = rd_kafka_name(rk);
    if (level <= 3) {
      spdlog::error("kafka {} {}: {}", name, fac, buf);
    } else if (level == 4) {
      spdlog::warn("kafka {} {}: {}", name, fac, buf);
    } else {
      spdlog::debug("kafka {} {}: {}", name, fac, buf);
    }
  });
}

}  // namespace kafka_detail

namespace detail {
namespace {

using kafka_detail::KafkaHandle;
using kafka_detail::PartitionList;

int64_t parse_ms(const std::map<std::string, std::string>& p, const std::string& key, int64_t def) {
  auto it = p.find(key);
  if (it == p.end()) return def;
  try {
    std::size_t used = 0;
    const int64_t v = std::stoll(it->second, &used);
    if (used != it->second.size()) throw std::invalid_argument("trailing text");
    return v;
  } catch (const std::exception&) {
    throw GraphError("KafkaSource: property '" + key + "' must be a number of milliseconds, not '" + it->second + "'");
  }
}

/// A consumer handle with the source's properties (auto-commit is off in them). It never
/// subscribes: the enumerator queries metadata and offsets with it, a reader assigns one
/// partition. librdkafka wants a group id to commit; without one the source commits nothing.
KafkaHandle make_client(const KafkaSourceConfig& c, const char* role) {
  auto conf = kafka_detail::make_conf(c.properties, "KafkaSource");
  char err[512];
  const std::string group = c.group_id.empty() ? "weir-unused" : c.group_id;
  rd_kafka_conf_set(conf.get(), "group.id", group.c_str(), err, sizeof err);
  kafka_detail::install_logger(conf.get());
  rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), err, sizeof err);
  if (!rk) throw std::runtime_error(std::string("KafkaSource: cannot create a Kafka ") + role + ": " + err);
  conf.release();  // owned by rk now
  return KafkaHandle(rk);
}

constexpr int kTimeoutMs = 10000;

/// An integer property of the client's configuration (its default when unset).
int64_t conf_int(rd_kafka_t* rk, const char* name, int64_t def) {
  char buf[64];
  size_t size = sizeof buf;
  if (rd_kafka_conf_get(rd_kafka_conf(rk), name, buf, &size) != RD_KAFKA_CONF_OK) return def;
  try {
    return std::stoll(buf);
  } catch (const std::exception&) {
    return def;
  }
}

/// What the enumerator learned in one discovery: partitions with where they start and stop.
struct Discovery {
  std::vector<KafkaPartitionSplit> splits;
};

class KafkaEnumerator final : public SplitEnumerator<KafkaPartitionSplit> {
 public:
  KafkaEnumerator(std::shared_ptr<const KafkaSourceConfig> c, SplitEnumeratorContext<KafkaPartitionSplit>& ctx,
                  const std::string* state)
      : c_(std::move(c)), ctx_(ctx) {
    if (state) {
      auto [assigned, initial_done] = deserialize<std::pair<std::vector<KafkaTopicPartition>, bool>>(*state);
      assigned_.insert(assigned.begin(), assigned.end());
      initial_done_ = initial_done;  // partitions found later start at the earliest offset
    }
  }

  void start() override {
    const bool periodic = !c_->stopping && c_->discovery_interval_ms > 0;
    auto client = std::make_shared<KafkaHandle>();
    ctx_.call_async([this, client] { return discover(*client); },
                    [this](Discovery d, std::exception_ptr error) { assign(std::move(d), error); },
                    std::chrono::milliseconds(0),
                    std::chrono::milliseconds(periodic ? c_->discovery_interval_ms : 0));
  }

  void add_reader(int subtask) override {
    if (c_->stopping && initial_done_) ctx_.signal_no_more_splits(subtask);
  }

  std::string snapshot_state(int64_t) override {
    return serialize(std::pair<std::vector<KafkaTopicPartition>, bool>(
        std::vector<KafkaTopicPartition>(assigned_.begin(), assigned_.end()), initial_done_.load()));
  }

 private:
  /// Lists the partitions (off the lock) and resolves the new ones' offsets.
  Discovery discover(KafkaHandle& client) {
    if (!client) client = make_client(*c_, "metadata client");
    std::vector<KafkaTopicPartition> found = list_partitions(client.get());
    std::vector<KafkaTopicPartition> fresh;
    {
      std::lock_guard lock(seen_mu_);
      for (auto& tp : found) {
        if (!seen_.count(tp)) fresh.push_back(tp);
      }
    }
    Discovery d;
    if (fresh.empty()) return d;
    // Partitions found after the first discovery start at the earliest offset (as Flink's).
    const bool initial = !initial_done_.load();
    const OffsetsInitializer start = initial ? c_->starting : OffsetsInitializer::earliest();
    auto starts = resolve(client.get(), fresh, start, "starting");
    std::vector<int64_t> stops(fresh.size(), KafkaPartitionSplit::kNoStoppingOffset);
    if (c_->stopping) stops = resolve(client.get(), fresh, *c_->stopping, "stopping");
    for (std::size_t i = 0; i < fresh.size(); ++i) {
      d.splits.push_back(KafkaPartitionSplit{fresh[i].topic, fresh[i].partition, starts[i], stops[i]});
    }
    return d;
  }

  std::vector<KafkaTopicPartition> list_partitions(rd_kafka_t* rk) {
    std::vector<KafkaTopicPartition> out;
    auto specific = c_->properties.find("weir.partitions");
    if (specific != c_->properties.end()) {
      std::size_t pos = 0;
      const std::string& s = specific->second;
      while (pos < s.size()) {
        const auto end = std::min(s.find(',', pos), s.size());
        const std::string item = s.substr(pos, end - pos);
        const auto colon = item.rfind(':');
        out.push_back({item.substr(0, colon), std::stoi(item.substr(colon + 1))});
        pos = end + 1;
      }
      return out;
    }
    const rd_kafka_metadata_t* md = nullptr;
    const rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, nullptr, &md, kTimeoutMs);
    if (err) throw std::runtime_error(std::string("KafkaSource: listing topics failed: ") + rd_kafka_err2str(err));
    std::unique_ptr<const rd_kafka_metadata_t, void (*)(const rd_kafka_metadata_t*)> guard(md, rd_kafka_metadata_destroy);
    std::optional<std::regex> pattern;
    if (!c_->topic_pattern.empty()) pattern.emplace(c_->topic_pattern);
    std::set<std::string> wanted(c_->topics.begin(), c_->topics.end());
    std::set<std::string> present;
    for (int i = 0; i < md->topic_cnt; ++i) {
      const auto& t = md->topics[i];
      const std::string name = t.topic;
      const bool match = pattern ? std::regex_match(name, *pattern) : wanted.count(name) > 0;
      if (!match) continue;
      if (t.err) {
        spdlog::warn("KafkaSource: topic '{}': {}", name, rd_kafka_err2str(t.err));
        continue;
      }
      present.insert(name);
      for (int p = 0; p < t.partition_cnt; ++p) out.push_back({name, t.partitions[p].id});
    }
    if (!pattern) {
      for (const auto& w : wanted) {
        if (!present.count(w)) {
          throw std::runtime_error("KafkaSource: topic '" + w + "' does not exist on " +
                                   c_->properties.at("bootstrap.servers") + " (create it first)");
        }
      }
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  std::vector<int64_t> resolve(rd_kafka_t* rk, const std::vector<KafkaTopicPartition>& tps, const OffsetsInitializer& init,
                               const char* which) {
    std::vector<int64_t> out(tps.size(), 0);
    auto watermarks = [&](std::size_t i, bool high) {
      int64_t lo = 0, hi = 0;
      const auto err = rd_kafka_query_watermark_offsets(rk, tps[i].topic.c_str(), tps[i].partition, &lo, &hi, kTimeoutMs);
      if (err) {
        throw std::runtime_error("KafkaSource: cannot read the offsets of " + tps[i].to_string() + ": " + rd_kafka_err2str(err));
      }
      return high ? hi : lo;
    };
    auto reset = [&](std::size_t i, OffsetResetStrategy r, const std::string& why) -> int64_t {
      switch (r) {
        case OffsetResetStrategy::earliest: return watermarks(i, false);
        case OffsetResetStrategy::latest: return watermarks(i, true);
        case OffsetResetStrategy::none: break;
      }
      throw std::runtime_error("KafkaSource: " + why + " for " + tps[i].to_string() + " (" + which +
                               " offsets); give a reset strategy, e.g. OffsetsInitializer::committed_offsets("
                               "OffsetResetStrategy::earliest)");
    };
    switch (init.kind()) {
      case OffsetsInitializer::Kind::earliest:
        for (std::size_t i = 0; i < tps.size(); ++i) out[i] = watermarks(i, false);
        break;
      case OffsetsInitializer::Kind::latest:
        for (std::size_t i = 0; i < tps.size(); ++i) out[i] = watermarks(i, true);
        break;
      case OffsetsInitializer::Kind::specific:
        for (std::size_t i = 0; i < tps.size(); ++i) {
          auto it = init.specific_offsets().find(tps[i]);
          out[i] = it != init.specific_offsets().end() ? it->second : reset(i, init.reset_strategy(), "no offset given");
        }
        break;
      case OffsetsInitializer::Kind::timestamp:
      case OffsetsInitializer::Kind::committed: {
        PartitionList list(rd_kafka_topic_partition_list_new(static_cast<int>(tps.size())));
        for (const auto& tp : tps) {
          auto* e = rd_kafka_topic_partition_list_add(list.get(), tp.topic.c_str(), tp.partition);
          e->offset = init.kind() == OffsetsInitializer::Kind::timestamp ? init.timestamp_ms() : RD_KAFKA_OFFSET_INVALID;
        }
        rd_kafka_resp_err_t err;
        if (init.kind() == OffsetsInitializer::Kind::timestamp) {
          err = rd_kafka_offsets_for_times(rk, list.get(), kTimeoutMs);
        } else {
          if (c_->group_id.empty()) {
            throw std::runtime_error("KafkaSource: committed_offsets() needs a group id (set_group_id)");
          }
          err = rd_kafka_committed(rk, list.get(), kTimeoutMs);
        }
        if (err) throw std::runtime_error(std::string("KafkaSource: resolving ") + which + " offsets failed: " + rd_kafka_err2str(err));
        for (std::size_t i = 0; i < tps.size(); ++i) {
          const auto* e = rd_kafka_topic_partition_list_find(list.get(), tps[i].topic.c_str(), tps[i].partition);
          if (e && e->err) {
            throw std::runtime_error("KafkaSource: resolving the " + std::string(which) + " offset of " + tps[i].to_string() +
                                     " failed: " + rd_kafka_err2str(e->err));
          }
          const int64_t off = e ? e->offset : -1;
          if (off >= 0) {
            out[i] = off;
          } else if (init.kind() == OffsetsInitializer::Kind::timestamp) {
            out[i] = watermarks(i, true);  // no record at or after the timestamp: the end
          } else {
            out[i] = reset(i, init.reset_strategy(), "group '" + c_->group_id + "' has no committed offset");
          }
        }
        break;
      }
    }
    return out;
  }

  /// Under the enumerator's lock: assigns what is new.
  void assign(Discovery d, std::exception_ptr error) {
    if (error) std::rethrow_exception(error);
    const int p = ctx_.current_parallelism();
    for (auto& split : d.splits) {
      const auto tp = split.topic_partition();
      {
        std::lock_guard lock(seen_mu_);
        seen_.insert(tp);
      }
      if (assigned_.count(tp)) continue;  // assigned before a restore: its reader has it
      assigned_.insert(tp);
      const int owner = static_cast<int>((stable_hash(tp.topic.data(), tp.topic.size()) % static_cast<uint64_t>(p) +
                                          static_cast<uint64_t>(tp.partition)) % static_cast<uint64_t>(p));
      ctx_.assign_split(owner, std::move(split));
    }
    if (!initial_done_) {
      initial_done_ = true;
      if (c_->stopping) {
        for (int s = 0; s < p; ++s) ctx_.signal_no_more_splits(s);
      }
    }
  }

  std::shared_ptr<const KafkaSourceConfig> c_;
  SplitEnumeratorContext<KafkaPartitionSplit>& ctx_;
  std::set<KafkaTopicPartition> assigned_;  // under the enumerator's lock
  std::atomic<bool> initial_done_{false};  ///< the first discovery was assigned (read off the lock too)
  std::mutex seen_mu_;
  std::set<KafkaTopicPartition> seen_;  // partitions discovered (guarded by seen_mu_)
};

}  // namespace

std::unique_ptr<SplitEnumerator<KafkaPartitionSplit>> make_kafka_enumerator(
    std::shared_ptr<const KafkaSourceConfig> config, SplitEnumeratorContext<KafkaPartitionSplit>& ctx,
    const std::string* restored_state) {
  return std::make_unique<KafkaEnumerator>(std::move(config), ctx, restored_state);
}

void finish_kafka_source_config(KafkaSourceConfig& c) {
  auto& p = c.properties;
  if (!p.count("bootstrap.servers") || p["bootstrap.servers"].empty()) {
    throw GraphError("KafkaSource: no bootstrap servers; call set_bootstrap_servers(\"host:port\")");
  }
  const bool specific = p.count("weir.partitions") > 0;
  if (c.topics.empty() && c.topic_pattern.empty() && !specific) {
    throw GraphError("KafkaSource: no topics; call set_topics({...}), set_topic_pattern(regex) or set_partitions({...})");
  }
  if (!c.topics.empty() && !c.topic_pattern.empty()) {
    throw GraphError("KafkaSource: set_topics and set_topic_pattern exclude each other; call one");
  }
  if (!c.topic_pattern.empty()) {
    try {
      std::regex check(c.topic_pattern);
    } catch (const std::regex_error& e) {
      throw GraphError("KafkaSource: the topic pattern '" + c.topic_pattern + "' is not a regular expression: " + e.what());
    }
  }
  if (p.count("group.id")) {
    if (!c.group_id.empty() && c.group_id != p["group.id"]) {
      throw GraphError("KafkaSource: set_group_id and the property group.id differ; set one");
    }
    c.group_id = p["group.id"];
    p.erase("group.id");
  }
  c.discovery_interval_ms = parse_ms(p, "partition.discovery.interval.ms", c.stopping ? 0 : 300000);
  if (auto it = p.find("commit.offsets.on.checkpoint"); it != p.end()) {
    if (it->second != "true" && it->second != "false") {
      throw GraphError("KafkaSource: commit.offsets.on.checkpoint must be true or false");
    }
    c.commit_offsets_on_checkpoint = it->second == "true";
  }
  if (c.starting.kind() == OffsetsInitializer::Kind::committed && c.group_id.empty()) {
    throw GraphError("KafkaSource: committed_offsets() needs a group id; call set_group_id(name)");
  }
  // As Flink's: the source commits on checkpoints, never automatically; Java's default isolation.
  if (p.count("enable.auto.commit") && p["enable.auto.commit"] == "true") {
    spdlog::warn("KafkaSource: enable.auto.commit=true is ignored; offsets are committed when checkpoints complete");
  }
  p["enable.auto.commit"] = "false";
  p["enable.auto.offset.store"] = "false";
  if (!p.count("isolation.level")) p["isolation.level"] = "read_uncommitted";
  if (!p.count("client.id")) p["client.id"] = "weir-kafka-source";
  // librdkafka 2.2+ re-checks a partition whose local queue is full after fetch.queue.backoff.ms
  // (1 s by default): a reader that drains the queue sooner would wait for the rest. 10 ms keeps
  // the fetcher going for a wake-up per 10 ms (older versions: see KafkaPartitionConsumer::poll).
  if (kafka_detail::has_fetch_queue_backoff() && !p.count("fetch.queue.backoff.ms")) p["fetch.queue.backoff.ms"] = "10";
  // Check every librdkafka property now, at graph-build time.
  try {
    kafka_detail::make_conf(p, "KafkaSource");
  } catch (const std::invalid_argument& e) {
    throw GraphError(e.what());
  }
}

// ---- the consumer of one partition -----------------------------------------------------------

struct KafkaPartitionConsumer::Impl {
  KafkaHandle rk;
  rd_kafka_queue_t* queue = nullptr;
  std::vector<rd_kafka_message_t*> batch;
  Counter* records = nullptr;
  Counter* bytes = nullptr;
  Gauge* lag = nullptr;
  Counter* fetch_restarts = nullptr;
  SourceWakeup wakeup;
  // librdkafka before 2.2 stops fetching a partition whose local queue holds queued.min.messages
  // records or queued.max.messages.kbytes, and looks again only when its broker thread wakes up
  // for something else, at the latest after 1 s: a reader that drains the queue faster than
  // that waits for the rest of the second. These marks (half of those limits) tell when the
  // fetcher may have stopped; the reader restarts it once it has drained the queue.
  std::size_t refill_records_mark = 0;  ///< 0: the library has fetch.queue.backoff.ms (>= 2.2)
  int64_t refill_bytes_mark = 0;
  bool fetcher_may_have_stopped = false;
  int64_t mean_record_bytes = 100;
  ~Impl() {
    if (queue) {
      rd_kafka_queue_cb_event_enable(queue, nullptr, nullptr);
      rd_kafka_queue_destroy(queue);
    }
    if (rk) rd_kafka_consumer_close(rk.get());
  }
};

KafkaPartitionConsumer::KafkaPartitionConsumer(std::shared_ptr<const KafkaSourceConfig> config, KafkaPartitionSplit split,
                                               SourceWakeup wakeup)
    : config_(std::move(config)), split_(std::move(split)), wakeup_(std::move(wakeup)), next_offset_(split_.starting_offset) {}

KafkaPartitionConsumer::~KafkaPartitionConsumer() = default;

KafkaPartitionConsumer::Result KafkaPartitionConsumer::poll(std::size_t max, Handler& handler, MetricGroup& metrics) {
  const bool bounded = split_.stopping_offset != KafkaPartitionSplit::kNoStoppingOffset;
  if (bounded && next_offset_ >= split_.stopping_offset) return Result::kEnd;
  if (!impl_) {
    impl_ = std::make_unique<Impl>();
    impl_->wakeup = wakeup_;
    const std::string prefix = "partition." + split_.topic + "-" + std::to_string(split_.partition) + ".";
    impl_->records = &metrics.counter(prefix + "records");
    impl_->bytes = &metrics.counter(prefix + "bytes");
    impl_->lag = &metrics.gauge(prefix + "lag");
    impl_->rk = make_client(*config_, "consumer");
    rd_kafka_t* rk = impl_->rk.get();
    if (!kafka_detail::has_fetch_queue_backoff()) {
      impl_->fetch_restarts = &metrics.counter(prefix + "fetch_restarts");
      impl_->refill_records_mark = static_cast<std::size_t>(std::max<int64_t>(1, conf_int(rk, "queued.min.messages", 100000) / 2));
      impl_->refill_bytes_mark = std::max<int64_t>(1, conf_int(rk, "queued.max.messages.kbytes", 65536) * 1024 / 2);
    }
    rd_kafka_poll_set_consumer(rk);
    impl_->queue = rd_kafka_queue_get_consumer(rk);
    // The queue calls back when it becomes non-empty: the task is woken, never polls.
    rd_kafka_queue_cb_event_enable(
        impl_->queue, [](rd_kafka_t*, void* opaque) { static_cast<Impl*>(opaque)->wakeup.wakeup(); }, impl_.get());
    PartitionList list(rd_kafka_topic_partition_list_new(1));
    rd_kafka_topic_partition_list_add(list.get(), split_.topic.c_str(), split_.partition)->offset = next_offset_;
    if (const auto e = rd_kafka_assign(rk, list.get())) {
      throw std::runtime_error("KafkaSource: cannot assign " + split_.topic + "-" + std::to_string(split_.partition) + ": " +
                               rd_kafka_err2str(e));
    }
    impl_->batch.resize(1024);
  }
  auto& im = *impl_;
  const std::size_t want = std::min(max, im.batch.size());
  if (im.refill_records_mark > 0 && !im.fetcher_may_have_stopped) {
    // The queue's length before this read (records; its bytes estimated with the last read's
    // mean record size).
    const std::size_t queued = rd_kafka_queue_length(im.queue);
    im.fetcher_may_have_stopped = queued >= im.refill_records_mark ||
                                  static_cast<int64_t>(queued) * im.mean_record_bytes >= im.refill_bytes_mark;
  }
  const ssize_t n = rd_kafka_consume_batch_queue(im.queue, 0, im.batch.data(), want);
  if (n < 0) throw std::runtime_error(std::string("KafkaSource: reading failed: ") + rd_kafka_err2str(rd_kafka_last_error()));
  bool ended = false;
  std::size_t i = 0;
  try {
    KafkaConsumerRecord r;
    r.topic = split_.topic;
    r.partition = split_.partition;
    int64_t bytes = 0, count = 0;
    for (; i < static_cast<std::size_t>(n); ++i) {
      rd_kafka_message_t* m = im.batch[i];
      if (m->err) {
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) continue;
        const std::string what = rd_kafka_message_errstr(m);
        const bool fatal = m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE ||
                           m->err == RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED || m->err == RD_KAFKA_RESP_ERR__FATAL;
        if (fatal) {
          throw std::runtime_error("KafkaSource: reading " + split_.topic + "-" + std::to_string(split_.partition) + " at offset " +
                                   std::to_string(next_offset_) + " failed: " + what);
        }
        spdlog::warn("KafkaSource: {}-{}: {}", split_.topic, split_.partition, what);
        continue;
      }
      if (m->offset < next_offset_) continue;  // a duplicate after a seek
      if (bounded && m->offset >= split_.stopping_offset) {
        ended = true;
        break;
      }
      r.offset = m->offset;
      rd_kafka_timestamp_type_t tstype;
      const int64_t ts = rd_kafka_message_timestamp(m, &tstype);
      r.timestamp = tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? kNoTimestamp : ts;
      r.key = m->key ? std::optional<std::string_view>(std::string_view(static_cast<const char*>(m->key), m->key_len))
                     : std::nullopt;
      r.value = m->payload ? std::optional<std::string_view>(std::string_view(static_cast<const char*>(m->payload), m->len))
                           : std::nullopt;
      r.headers.clear();
      rd_kafka_headers_t* hdrs = nullptr;
      if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR && hdrs) {
        const char* name;
        const void* val;
        size_t size;
        for (size_t h = 0; rd_kafka_header_get_all(hdrs, h, &name, &val, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++h) {
          r.headers.emplace_back(name, val ? std::string_view(static_cast<const char*>(val), size) : std::string_view());
        }
      }
      next_offset_ = m->offset + 1;
      bytes += static_cast<int64_t>(m->len + m->key_len);
      ++count;
      handler.on_record(r, m->len);
      if (bounded && next_offset_ >= split_.stopping_offset) {
        ended = true;
        ++i;
        break;
      }
    }
    im.records->inc(count);
    im.bytes->inc(bytes);
    if (count > 0) im.mean_record_bytes = std::max<int64_t>(1, bytes / count);
  } catch (...) {
    for (std::size_t j = 0; j < static_cast<std::size_t>(n); ++j) rd_kafka_message_destroy(im.batch[j]);
    throw;
  }
  for (std::size_t j = 0; j < static_cast<std::size_t>(n); ++j) rd_kafka_message_destroy(im.batch[j]);
  int64_t lo = 0, hi = 0;
  if (rd_kafka_get_watermark_offsets(im.rk.get(), split_.topic.c_str(), split_.partition, &lo, &hi) == RD_KAFKA_RESP_ERR_NO_ERROR &&
      hi >= 0) {
    im.lag->set(std::max<int64_t>(0, hi - next_offset_));
  }
  if (ended) return Result::kEnd;
  if (static_cast<std::size_t>(n) == want && n > 0) return Result::kMore;
  if (im.fetcher_may_have_stopped) {
    // Drained after the queue was (nearly) full: the fetcher may sleep up to a second before it
    // looks at the queue again. A seek to the next offset wakes it; the queue is empty, so the
    // seek drops nothing (a fetch response on its way is dropped and fetched again at worst).
    im.fetcher_may_have_stopped = false;
    restart_fetch();
  }
  return Result::kNothing;
}

void KafkaPartitionConsumer::restart_fetch() {
  PartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), split_.topic.c_str(), split_.partition)->offset = next_offset_;
  // Asynchronous (timeout 0): per-partition errors are not reported; a failed seek leaves the
  // fetcher as it was, which wakes up by itself within a second.
  if (rd_kafka_error_t* e = rd_kafka_seek_partitions(impl_->rk.get(), list.get(), 0)) {
    spdlog::warn("KafkaSource: restarting the fetch of {}-{} at offset {} failed: {}", split_.topic, split_.partition,
                 next_offset_, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
    return;
  }
  impl_->fetch_restarts->inc();
}

void KafkaPartitionConsumer::commit(int64_t offset) {
  if (!impl_ || config_->group_id.empty()) return;
  PartitionList list(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(list.get(), split_.topic.c_str(), split_.partition)->offset = offset;
  if (const auto e = rd_kafka_commit(impl_->rk.get(), list.get(), 1)) {
    spdlog::warn("KafkaSource: committing offset {} of {}-{} failed: {}", offset, split_.topic, split_.partition,
                 rd_kafka_err2str(e));
  }
}

}  // namespace detail
}  // namespace weir
