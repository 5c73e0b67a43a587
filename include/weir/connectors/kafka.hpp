#pragma once
/// The Kafka connector (library `weir::kafka`, on librdkafka): `KafkaSource` and `KafkaSink`,
/// with Flink's names in snake_case.
///
///     #include <weir/connectors/kafka.hpp>   // and link weir::kafka
///     auto src = weir::KafkaSource<std::string>::builder()
///         .set_bootstrap_servers("127.0.0.1:9092")
///         .set_topics({"in"})
///         .set_group_id("doubler")
///         .set_starting_offsets(weir::OffsetsInitializer::earliest())
///         .set_value_only_deserializer(weir::SimpleStringSchema{})
///         .build();
///     auto in = env.from_source(src, weir::WatermarkStrategy<std::string>::for_monotonous_timestamps(), "kafka-in");
///     in.sink_to(weir::KafkaSink<std::string>::builder()
///         .set_bootstrap_servers("127.0.0.1:9092")
///         .set_record_serializer(weir::KafkaRecordSerializationSchema<std::string>::builder()
///             .set_topic("out").set_value_serialization_schema(weir::SimpleStringSchema{}).build())
///         .set_delivery_guarantee(weir::DeliveryGuarantee::exactly_once)
///         .set_transactional_id_prefix("doubler")
///         .build());
///
/// Source (FLIP-27): each topic partition is a split with its own reader and watermark; an
/// enumerator finds partitions (again every `partition.discovery.interval.ms`) and deals them
/// to the subtasks; a split's position (the next offset) is in checkpoints; offsets are
/// committed to the group when a checkpoint completes (for lag monitoring only: a restore
/// starts from the checkpoint). Records carry Kafka's timestamps.
///
/// Sink: records go to Kafka through librdkafka. `exactly_once` writes each checkpoint's
/// records in a Kafka transaction, committed when the checkpoint completes; after a crash the
/// restored job commits what its checkpoint had pre-committed and aborts what the previous run
/// left open (transactional ids: prefix-subtask-n), so a `read_committed` consumer sees every
/// record once. docs/connectors/kafka.md lists every option and guarantee.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "weir/api/bad_records.hpp"
#include "weir/api/serialization.hpp"
#include "weir/api/source.hpp"
#include "weir/api/split_enumerator.hpp"
#include "weir/api/two_phase_commit.hpp"
#include "weir/common/errors.hpp"
#include "weir/common/metrics.hpp"
#include "weir/serde/serde.hpp"

namespace weir {

// ---- common types ----------------------------------------------------------------------------

struct KafkaTopicPartition {
  std::string topic;
  int32_t partition = 0;
  auto operator<=>(const KafkaTopicPartition&) const = default;
  std::string to_string() const { return topic + "-" + std::to_string(partition); }
};
WEIR_SERDE(KafkaTopicPartition, topic, partition)

/// Where to start when there is no committed offset (or it is out of range).
enum class OffsetResetStrategy { earliest, latest, none };

/// Where a split starts or stops, as Flink's `OffsetsInitializer`.
class OffsetsInitializer {
 public:
  enum class Kind { earliest, latest, committed, timestamp, specific };
  /// The first offset the broker still has.
  static OffsetsInitializer earliest() { return OffsetsInitializer(Kind::earliest); }
  /// The end of each partition when the split is found.
  static OffsetsInitializer latest() { return OffsetsInitializer(Kind::latest); }
  /// The group's committed offsets; `reset` where a partition has none (`none`: the job fails).
  static OffsetsInitializer committed_offsets(OffsetResetStrategy reset = OffsetResetStrategy::none) {
    OffsetsInitializer o(Kind::committed);
    o.reset_ = reset;
    return o;
  }
  /// The first record whose timestamp is at or after `ms` (the end where there is none).
  static OffsetsInitializer timestamp(int64_t ms) {
    OffsetsInitializer o(Kind::timestamp);
    o.timestamp_ = ms;
    return o;
  }
  /// Given offsets; partitions not named start at `reset` (default: earliest).
  static OffsetsInitializer offsets(std::map<KafkaTopicPartition, int64_t> offsets,
                                    OffsetResetStrategy reset = OffsetResetStrategy::earliest) {
    OffsetsInitializer o(Kind::specific);
    o.offsets_ = std::move(offsets);
    o.reset_ = reset;
    return o;
  }
  OffsetsInitializer() : OffsetsInitializer(Kind::earliest) {}
  Kind kind() const { return kind_; }
  int64_t timestamp_ms() const { return timestamp_; }
  const std::map<KafkaTopicPartition, int64_t>& specific_offsets() const { return offsets_; }
  OffsetResetStrategy reset_strategy() const { return reset_; }

 private:
  explicit OffsetsInitializer(Kind k) : kind_(k) {}
  Kind kind_;
  int64_t timestamp_ = 0;
  std::map<KafkaTopicPartition, int64_t> offsets_;
  OffsetResetStrategy reset_ = OffsetResetStrategy::none;
};

/// A record as it was read, for a key+value deserializer. The views are valid during the call.
struct KafkaConsumerRecord {
  std::string_view topic;
  int32_t partition = 0;
  int64_t offset = 0;
  int64_t timestamp = kNoTimestamp;  ///< Kafka's timestamp (CreateTime or LogAppendTime), ms
  std::optional<std::string_view> key;
  std::optional<std::string_view> value;  ///< nullopt: a tombstone
  std::vector<std::pair<std::string_view, std::string_view>> headers;
};

/// Turns a consumed record into a `T`, as Flink's `KafkaRecordDeserializationSchema`. A
/// deserializer that throws marks the record as bad (the source's `BadRecordPolicy` decides).
template <class T>
class KafkaRecordDeserializationSchema {
 public:
  /// The value alone through a schema with `T deserialize(std::string_view)` (a tombstone is a
  /// bad record).
  template <class S>
  static KafkaRecordDeserializationSchema value_only(S schema) {
    static_assert(std::is_convertible_v<decltype(schema.deserialize(std::string_view())), T>,
                  "value_only: the schema needs T deserialize(std::string_view) const");
    return KafkaRecordDeserializationSchema([schema = std::move(schema)](const KafkaConsumerRecord& r) -> T {
      if (!r.value) throw std::runtime_error("the record has no value (a tombstone)");
      return schema.deserialize(*r.value);
    });
  }
  /// Any function `T(const KafkaConsumerRecord&)` (key, value, headers, offset, timestamp).
  template <class F>
  static KafkaRecordDeserializationSchema of(F f) {
    static_assert(std::is_invocable_r_v<T, const F&, const KafkaConsumerRecord&>,
                  "KafkaRecordDeserializationSchema::of: the function must be callable as T(const weir::KafkaConsumerRecord&)");
    return KafkaRecordDeserializationSchema(std::function<T(const KafkaConsumerRecord&)>(std::move(f)));
  }
  T deserialize(const KafkaConsumerRecord& r) const { return fn_(r); }
  explicit operator bool() const { return static_cast<bool>(fn_); }
  KafkaRecordDeserializationSchema() = default;

 private:
  explicit KafkaRecordDeserializationSchema(std::function<T(const KafkaConsumerRecord&)> f) : fn_(std::move(f)) {}
  std::function<T(const KafkaConsumerRecord&)> fn_;
};

// ---- source ----------------------------------------------------------------------------------

/// A topic partition and where to read it: the split of a `KafkaSource`.
struct KafkaPartitionSplit {
  static constexpr int64_t kNoStoppingOffset = -1;
  std::string topic;
  int32_t partition = 0;
  int64_t starting_offset = 0;                   ///< resolved by the enumerator
  int64_t stopping_offset = kNoStoppingOffset;   ///< exclusive; bounded sources only
  KafkaTopicPartition topic_partition() const { return {topic, partition}; }
};
WEIR_SERDE(KafkaPartitionSplit, topic, partition, starting_offset, stopping_offset)

namespace detail {

/// What a `KafkaSource` was built with (shared by its copies; read-only).
struct KafkaSourceConfig {
  std::map<std::string, std::string> properties;  ///< librdkafka properties, given or derived
  std::vector<std::string> topics;
  std::string topic_pattern;  ///< a regular expression (ECMAScript), or empty
  std::string group_id;
  OffsetsInitializer starting = OffsetsInitializer::earliest();
  std::optional<OffsetsInitializer> stopping;  ///< set: a bounded source
  int64_t discovery_interval_ms = 300000;      ///< <= 0: no discovery after the start
  bool commit_offsets_on_checkpoint = true;
  BadRecordPolicy policy;
  std::size_t max_record_bytes = 0;  ///< 0: no limit
};

std::unique_ptr<SplitEnumerator<KafkaPartitionSplit>> make_kafka_enumerator(
    std::shared_ptr<const KafkaSourceConfig> config, SplitEnumeratorContext<KafkaPartitionSplit>& ctx,
    const std::string* restored_state);

/// Reads one partition with its own librdkafka consumer (created on the first read). Not a
/// template: the typed reader turns its records into `T`.
class KafkaPartitionConsumer {
 public:
  enum class Result { kMore, kNothing, kEnd };
  /// Receives each record of a `poll` (on the task's thread).
  struct Handler {
    virtual ~Handler() = default;
    virtual void on_record(const KafkaConsumerRecord& record, std::size_t bytes) = 0;
  };
  KafkaPartitionConsumer(std::shared_ptr<const KafkaSourceConfig> config, KafkaPartitionSplit split,
                         SourceWakeup wakeup);
  ~KafkaPartitionConsumer();
  KafkaPartitionConsumer(const KafkaPartitionConsumer&) = delete;
  KafkaPartitionConsumer& operator=(const KafkaPartitionConsumer&) = delete;
  /// Hands at most `max` records to `handler`; never blocks.
  Result poll(std::size_t max, Handler& handler, MetricGroup& metrics);
  /// The next offset to read.
  int64_t position() const { return next_offset_; }
  /// Before the first poll: start at `offset`.
  void seek(int64_t offset) { next_offset_ = offset; }
  /// Commits `offset` (the next to read) to the group, asynchronously (lag monitoring).
  void commit(int64_t offset);

 private:
  void restart_fetch();
  struct Impl;
  std::shared_ptr<const KafkaSourceConfig> config_;
  KafkaPartitionSplit split_;
  SourceWakeup wakeup_;
  int64_t next_offset_;
  std::unique_ptr<Impl> impl_;
};

template <class T>
class KafkaSplitReader final : public SplitReader<T>, KafkaPartitionConsumer::Handler {
 public:
  KafkaSplitReader(std::shared_ptr<const KafkaSourceConfig> config, const KafkaPartitionSplit& split,
                   KafkaRecordDeserializationSchema<T> deserializer)
      : config_(config),
        consumer_(std::move(config), split, this->wakeup_handle()),
        deserializer_(std::move(deserializer)),
        origin_prefix_("topic '" + split.topic + "' partition " + std::to_string(split.partition) + " offset ") {}

  typename SplitReader<T>::Status read(std::size_t max, SourceOutput<T>& out) override {
    out_ = &out;
    switch (consumer_.poll(max, *this, out.metric_group())) {
      case KafkaPartitionConsumer::Result::kMore: return SplitReader<T>::Status::kMoreAvailable;
      case KafkaPartitionConsumer::Result::kNothing: return SplitReader<T>::Status::kNothingAvailable;
      case KafkaPartitionConsumer::Result::kEnd: break;
    }
    return SplitReader<T>::Status::kEndOfSplit;
  }
  std::optional<std::string> snapshot_position() const override { return serialize(consumer_.position()); }
  void restore_position(std::string_view p) override { consumer_.seek(deserialize<int64_t>(p)); }
  void notify_checkpoint(int64_t id) override {
    if (config_->commit_offsets_on_checkpoint && !config_->group_id.empty()) {
      offsets_by_checkpoint_.emplace_back(id, consumer_.position());
    }
  }
  void notify_checkpoint_complete(int64_t id) override {
    std::optional<int64_t> offset;
    while (!offsets_by_checkpoint_.empty() && offsets_by_checkpoint_.front().first <= id) {
      offset = offsets_by_checkpoint_.front().second;
      offsets_by_checkpoint_.erase(offsets_by_checkpoint_.begin());
    }
    if (offset) consumer_.commit(*offset);
  }

 private:
  void on_record(const KafkaConsumerRecord& r, std::size_t bytes) override {
    if (config_->max_record_bytes > 0 && bytes > config_->max_record_bytes) {
      bad(r, "the record has " + std::to_string(bytes) + " bytes, above the source's limit of " +
                 std::to_string(config_->max_record_bytes) + " (set_max_record_bytes)");
      return;
    }
    std::optional<T> value;
    try {
      value.emplace(deserializer_.deserialize(r));
    } catch (const OperatorFailure&) {
      throw;
    } catch (const std::exception& e) {
      bad(r, e.what());
      return;
    }
    out_->collect(std::move(*value), r.timestamp);
  }
  void bad(const KafkaConsumerRecord& r, std::string error) {
    out_->bad_record(BadRecord{std::string(r.value.value_or(std::string_view())), origin_prefix_ + std::to_string(r.offset),
                               std::move(error)});
  }

  std::shared_ptr<const KafkaSourceConfig> config_;
  KafkaPartitionConsumer consumer_;
  KafkaRecordDeserializationSchema<T> deserializer_;
  std::string origin_prefix_;
  SourceOutput<T>* out_ = nullptr;
  std::vector<std::pair<int64_t, int64_t>> offsets_by_checkpoint_;
};

}  // namespace detail

template <class T>
class KafkaSourceBuilder;

/// Reads Kafka topics (see the file comment). Build with `KafkaSource<T>::builder()`.
template <class T>
class KafkaSource final : public EnumeratedSource<T, KafkaPartitionSplit> {
 public:
  static KafkaSourceBuilder<T> builder();

  std::unique_ptr<SplitEnumerator<KafkaPartitionSplit>> create_enumerator(
      SplitEnumeratorContext<KafkaPartitionSplit>& ctx) const override {
    return detail::make_kafka_enumerator(config_, ctx, nullptr);
  }
  std::unique_ptr<SplitEnumerator<KafkaPartitionSplit>> restore_enumerator(SplitEnumeratorContext<KafkaPartitionSplit>& ctx,
                                                                           std::string_view state) const override {
    const std::string s(state);
    return detail::make_kafka_enumerator(config_, ctx, &s);
  }
  std::unique_ptr<SplitReader<T>> create_reader(const KafkaPartitionSplit& split) const override {
    return std::make_unique<detail::KafkaSplitReader<T>>(config_, split, deserializer_);
  }
  /// What happens to records that do not deserialize (used by `env.from_source`).
  BadRecordPolicy bad_record_policy() const { return config_->policy; }
  /// Bounded sources end when every split reached its stopping offset.
  bool is_bounded() const { return config_->stopping.has_value(); }

 private:
  friend class KafkaSourceBuilder<T>;
  KafkaSource(std::shared_ptr<const detail::KafkaSourceConfig> c, KafkaRecordDeserializationSchema<T> d)
      : config_(std::move(c)), deserializer_(std::move(d)) {}
  std::shared_ptr<const detail::KafkaSourceConfig> config_;
  KafkaRecordDeserializationSchema<T> deserializer_;
};

namespace detail {
/// Checks a source's settings and derives the librdkafka properties (throws GraphError).
void finish_kafka_source_config(KafkaSourceConfig& c);
}  // namespace detail

/// Builds a `KafkaSource` (Flink's `KafkaSourceBuilder`). Every setter returns the builder.
template <class T>
class KafkaSourceBuilder {
 public:
  KafkaSourceBuilder& set_bootstrap_servers(std::string servers) {
    c_.properties["bootstrap.servers"] = std::move(servers);
    return *this;
  }
  KafkaSourceBuilder& set_topics(std::vector<std::string> topics) {
    c_.topics = std::move(topics);
    return *this;
  }
  KafkaSourceBuilder& set_topics(std::initializer_list<std::string> topics) {
    return set_topics(std::vector<std::string>(topics));
  }
  template <class... S>
    requires(sizeof...(S) > 0 && (std::is_convertible_v<S, std::string> && ...))
  KafkaSourceBuilder& set_topics(S&&... topics) {
    return set_topics(std::vector<std::string>{std::string(std::forward<S>(topics))...});
  }
  /// Every topic whose whole name matches the regular expression (found again at each discovery).
  KafkaSourceBuilder& set_topic_pattern(std::string pattern) {
    c_.topic_pattern = std::move(pattern);
    return *this;
  }
  /// Exactly these partitions.
  KafkaSourceBuilder& set_partitions(std::set<KafkaTopicPartition> partitions) {
    partitions_ = std::move(partitions);
    return *this;
  }
  KafkaSourceBuilder& set_group_id(std::string group) {
    c_.group_id = std::move(group);
    return *this;
  }
  KafkaSourceBuilder& set_client_id_prefix(std::string prefix) {
    c_.properties["client.id"] = std::move(prefix);
    return *this;
  }
  KafkaSourceBuilder& set_starting_offsets(OffsetsInitializer o) {
    c_.starting = std::move(o);
    return *this;
  }
  /// A finite source: each split ends at this offset (exclusive) and the job can finish.
  KafkaSourceBuilder& set_bounded(OffsetsInitializer o) {
    c_.stopping = std::move(o);
    return *this;
  }
  /// As `set_bounded`: Flink's name for an unbounded source that stops at given offsets.
  KafkaSourceBuilder& set_unbounded(OffsetsInitializer o) { return set_bounded(std::move(o)); }
  /// The value through a schema with `T deserialize(std::string_view)` (e.g. SimpleStringSchema).
  template <class S>
  KafkaSourceBuilder& set_value_only_deserializer(S schema) {
    d_ = KafkaRecordDeserializationSchema<T>::value_only(std::move(schema));
    return *this;
  }
  /// A key+value deserializer: a `KafkaRecordDeserializationSchema<T>` or any function
  /// `T(const weir::KafkaConsumerRecord&)`.
  KafkaSourceBuilder& set_deserializer(KafkaRecordDeserializationSchema<T> d) {
    d_ = std::move(d);
    return *this;
  }
  template <class F>
    requires std::is_invocable_r_v<T, const F&, const KafkaConsumerRecord&>
  KafkaSourceBuilder& set_deserializer(F f) {
    d_ = KafkaRecordDeserializationSchema<T>::of(std::move(f));
    return *this;
  }
  /// A librdkafka consumer property (see librdkafka's CONFIGURATION.md), or one of the
  /// source's: `partition.discovery.interval.ms` (default 300000; 0 or less: off),
  /// `commit.offsets.on.checkpoint` (default true).
  KafkaSourceBuilder& set_property(std::string key, std::string value) {
    c_.properties[std::move(key)] = std::move(value);
    return *this;
  }
  KafkaSourceBuilder& set_properties(const std::map<std::string, std::string>& props) {
    for (const auto& [k, v] : props) c_.properties[k] = v;
    return *this;
  }
  KafkaSourceBuilder& set_bad_record_policy(BadRecordPolicy p) {
    c_.policy = std::move(p);
    return *this;
  }
  /// Records whose value is longer are bad records (0: no limit, the default).
  KafkaSourceBuilder& set_max_record_bytes(std::size_t n) {
    c_.max_record_bytes = n;
    return *this;
  }
  /// Throws GraphError when a setting is missing or wrong.
  KafkaSource<T> build() const {
    if (!d_) {
      throw GraphError("KafkaSource: no deserializer; call set_value_only_deserializer(weir::SimpleStringSchema{}) "
                       "or set_deserializer(f)");
    }
    auto c = std::make_shared<detail::KafkaSourceConfig>(c_);
    if (!partitions_.empty()) {
      if (!c->topics.empty() || !c->topic_pattern.empty()) {
        throw GraphError("KafkaSource: set one of set_topics, set_topic_pattern and set_partitions");
      }
      auto& specific = c->properties["weir.partitions"];
      for (const auto& tp : partitions_) specific += (specific.empty() ? "" : ",") + tp.topic + ":" + std::to_string(tp.partition);
    }
    detail::finish_kafka_source_config(*c);
    return KafkaSource<T>(std::move(c), d_);
  }

 private:
  detail::KafkaSourceConfig c_;
  std::set<KafkaTopicPartition> partitions_;
  KafkaRecordDeserializationSchema<T> d_;
};

template <class T>
KafkaSourceBuilder<T> KafkaSource<T>::builder() {
  return KafkaSourceBuilder<T>();
}

// ---- sink ------------------------------------------------------------------------------------

/// A record to produce. `partition` unset: chosen by the key's hash (or spread when keyless).
struct KafkaProducerRecord {
  std::string topic;
  std::optional<int32_t> partition;
  std::optional<std::string> key;
  std::optional<std::string> value;  ///< nullopt: a tombstone
  int64_t timestamp = kNoTimestamp;  ///< kNoTimestamp: the record's event time, or now
  std::vector<std::pair<std::string, std::string>> headers;
};

/// Turns a `T` into a record to produce, as Flink's `KafkaRecordSerializationSchema`.
template <class T>
class KafkaRecordSerializationSchema {
 public:
  using Fn = std::function<void(const T&, KafkaProducerRecord&)>;
  class Builder {
   public:
    Builder& set_topic(std::string topic) {
      topic_ = std::move(topic);
      return *this;
    }
    /// The topic per record: `std::string(const T&)`.
    template <class F>
    Builder& set_topic_selector(F f) {
      selector_ = std::function<std::string(const T&)>(std::move(f));
      return *this;
    }
    /// A schema with `std::string serialize(const T&)` for the value.
    template <class S>
    Builder& set_value_serialization_schema(S s) {
      value_ = [s = std::move(s)](const T& v) { return std::string(s.serialize(v)); };
      return *this;
    }
    /// A schema with `std::string serialize(const T&)` for the key (default: no key).
    template <class S>
    Builder& set_key_serialization_schema(S s) {
      key_ = [s = std::move(s)](const T& v) { return std::string(s.serialize(v)); };
      return *this;
    }
    KafkaRecordSerializationSchema build() const {
      if (topic_.empty() && !selector_) {
        throw GraphError("KafkaRecordSerializationSchema: no topic; call set_topic(name) or set_topic_selector(f)");
      }
      if (!value_) {
        throw GraphError("KafkaRecordSerializationSchema: no value schema; call "
                         "set_value_serialization_schema(weir::SimpleStringSchema{})");
      }
      return KafkaRecordSerializationSchema(
          [topic = topic_, selector = selector_, value = value_, key = key_](const T& v, KafkaProducerRecord& r) {
            if (selector) {
              r.topic = selector(v);
            } else if (r.topic != topic) {
              r.topic = topic;
            }
            r.value = value(v);
            if (key) r.key = key(v);
          });
    }

   private:
    std::string topic_;
    std::function<std::string(const T&)> selector_;
    std::function<std::string(const T&)> value_;
    std::function<std::string(const T&)> key_;
  };
  static Builder builder() { return Builder(); }
  /// Any function `void(const T&, weir::KafkaProducerRecord&)` or `KafkaProducerRecord(const T&)`
  /// (topic, key, value, headers, partition, timestamp).
  template <class F>
  static KafkaRecordSerializationSchema of(F f) {
    if constexpr (std::is_invocable_v<const F&, const T&, KafkaProducerRecord&>) {
      return KafkaRecordSerializationSchema(Fn(std::move(f)));
    } else {
      static_assert(std::is_invocable_r_v<KafkaProducerRecord, const F&, const T&>,
                    "KafkaRecordSerializationSchema::of: the function must be callable as "
                    "weir::KafkaProducerRecord(const T&) or void(const T&, weir::KafkaProducerRecord&)");
      return KafkaRecordSerializationSchema(Fn([f = std::move(f)](const T& v, KafkaProducerRecord& r) { r = f(v); }));
    }
  }
  void serialize(const T& v, KafkaProducerRecord& out) const { fn_(v, out); }
  explicit operator bool() const { return static_cast<bool>(fn_); }
  KafkaRecordSerializationSchema() = default;

 private:
  explicit KafkaRecordSerializationSchema(Fn f) : fn_(std::move(f)) {}
  Fn fn_;
};

/// A transaction of the exactly-once sink, as its checkpoint holds it.
struct KafkaTransaction {
  std::string transactional_id;  ///< empty: not transactional (none / at_least_once)
  int64_t producer_id = -1;
  int32_t producer_epoch = -1;
  int64_t start_time = -1;  ///< the broker's start time of the transaction (-1: no record yet)
  bool pre_committed = false;
  int32_t pool_index = -1;  ///< which of the subtask's producers holds it
};
WEIR_SERDE(KafkaTransaction, transactional_id, producer_id, producer_epoch, start_time, pre_committed, pool_index)

namespace detail {

struct KafkaSinkConfig {
  std::map<std::string, std::string> properties;
  DeliveryGuarantee guarantee = DeliveryGuarantee::none;
  std::string transactional_id_prefix;
};

/// Checks a sink's settings and derives the producer properties (throws GraphError).
void finish_kafka_sink_config(KafkaSinkConfig& c);
/// Commits (or aborts) a transaction a previous run pre-committed, from its identity alone.
void kafka_recover_transaction(const KafkaSinkConfig& c, const KafkaTransaction& txn, bool commit);

/// The producers of one sink subtask (not a template).
class KafkaWriter {
 public:
  KafkaWriter(std::shared_ptr<const KafkaSinkConfig> config, const RuntimeContext& ctx, MetricGroup& metrics,
              bool restored);
  ~KafkaWriter();
  KafkaTransaction begin();
  void send(const KafkaTransaction& txn, const KafkaProducerRecord& record, int64_t event_time);
  void pre_commit(KafkaTransaction& txn);
  void commit(const KafkaTransaction& txn);
  void abort(const KafkaTransaction& txn);
  /// Aborts what earlier runs left open for this subtask's transactional ids, except the
  /// pre-committed transactions in `keep`.
  void abort_lingering(const std::vector<KafkaTransaction>& keep);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace detail

template <class T>
class KafkaSinkBuilder;

/// Writes records to Kafka (see the file comment). Build with `KafkaSink<T>::builder()`;
/// use with `stream.sink_to(sink)`.
template <class T>
class KafkaSink final : public TwoPhaseCommitSink<T, KafkaTransaction> {
 public:
  static KafkaSinkBuilder<T> builder();

  void initialize(bool restored) override { restored_ = restored; }
  void open(RuntimeContext& ctx) override {
    writer_ = std::make_shared<detail::KafkaWriter>(config_, ctx, ctx.get_metric_group(), restored_);
  }
  KafkaTransaction begin_transaction() override { return writer_->begin(); }
  void invoke(KafkaTransaction& txn, const T& value, SinkContext& ctx) override {
    record_.partition.reset();
    record_.key.reset();
    record_.timestamp = kNoTimestamp;
    record_.headers.clear();
    serializer_.serialize(value, record_);
    writer_->send(txn, record_, ctx.timestamp().value_or(kNoTimestamp));
  }
  void pre_commit(KafkaTransaction& txn) override { writer_->pre_commit(txn); }
  void commit(KafkaTransaction& txn) override { writer_->commit(txn); }
  void abort(KafkaTransaction& txn) override {
    if (writer_) writer_->abort(txn);
  }
  void recover_and_commit(KafkaTransaction& txn) override { detail::kafka_recover_transaction(*config_, txn, true); }
  void recover_and_abort(KafkaTransaction& txn) override { detail::kafka_recover_transaction(*config_, txn, false); }
  void clean_up(const std::vector<KafkaTransaction>& referenced) override {
    if (writer_) writer_->abort_lingering(referenced);
  }
  void close() override { writer_.reset(); }

  DeliveryGuarantee get_delivery_guarantee() const { return config_->guarantee; }

 private:
  friend class KafkaSinkBuilder<T>;
  KafkaSink(std::shared_ptr<const detail::KafkaSinkConfig> c, KafkaRecordSerializationSchema<T> s)
      : config_(std::move(c)), serializer_(std::move(s)) {}
  std::shared_ptr<const detail::KafkaSinkConfig> config_;
  KafkaRecordSerializationSchema<T> serializer_;
  std::shared_ptr<detail::KafkaWriter> writer_;  ///< per subtask, from open()
  KafkaProducerRecord record_;
  bool restored_ = false;
};

/// Builds a `KafkaSink` (Flink's `KafkaSinkBuilder`).
template <class T>
class KafkaSinkBuilder {
 public:
  KafkaSinkBuilder& set_bootstrap_servers(std::string servers) {
    c_.properties["bootstrap.servers"] = std::move(servers);
    return *this;
  }
  KafkaSinkBuilder& set_record_serializer(KafkaRecordSerializationSchema<T> s) {
    s_ = std::move(s);
    return *this;
  }
  /// `none` (default, as Flink's), `at_least_once` or `exactly_once` (needs a transactional id prefix).
  KafkaSinkBuilder& set_delivery_guarantee(DeliveryGuarantee g) {
    c_.guarantee = g;
    return *this;
  }
  /// Prefix of the sink's transactional ids: unique per sink across every job on the cluster.
  KafkaSinkBuilder& set_transactional_id_prefix(std::string prefix) {
    c_.transactional_id_prefix = std::move(prefix);
    return *this;
  }
  /// A librdkafka producer property (e.g. `transaction.timeout.ms`, default 3600000 as Flink's).
  KafkaSinkBuilder& set_property(std::string key, std::string value) {
    c_.properties[std::move(key)] = std::move(value);
    return *this;
  }
  KafkaSinkBuilder& set_kafka_producer_config(const std::map<std::string, std::string>& props) {
    for (const auto& [k, v] : props) c_.properties[k] = v;
    return *this;
  }
  KafkaSink<T> build() const {
    if (!s_) {
      throw GraphError("KafkaSink: no record serializer; call set_record_serializer("
                       "weir::KafkaRecordSerializationSchema<T>::builder().set_topic(...)...build())");
    }
    auto c = std::make_shared<detail::KafkaSinkConfig>(c_);
    detail::finish_kafka_sink_config(*c);
    return KafkaSink<T>(std::move(c), s_);
  }

 private:
  detail::KafkaSinkConfig c_;
  KafkaRecordSerializationSchema<T> s_;
};

template <class T>
KafkaSinkBuilder<T> KafkaSink<T>::builder() {
  return KafkaSinkBuilder<T>();
}

}  // namespace weir
