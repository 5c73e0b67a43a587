#pragma once
/// Internal to Weir (see docs/architecture.md): included by the public headers, not by jobs.
/// Writers that route a task's output records to the channels of one downstream edge, batching
/// them (hash partitioning by the key groups of weir/common/key_groups.hpp).
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "weir/common/key_groups.hpp"
#include "weir/runtime/internal/operator.hpp"
#include "weir/serde/serde.hpp"

namespace weir::runtime {

using weir::key_group_of;
using weir::key_hash;
using weir::KeyGroupMapper;
using weir::operator_index_for_key_group;
using weir::stable_hash;

/// The outgoing channels of one producer subtask on one edge. Implemented by the runtime.
/// Called only from the producer's task thread.
class ResultPartitionWriter {
 public:
  virtual ~ResultPartitionWriter() = default;
  virtual int num_channels() const = 0;
  virtual void push(int channel, std::unique_ptr<BatchBase> batch) = 0;
  /// A batch leaves when it holds this many records or bytes (or when the task flushes).
  virtual std::size_t batch_records() const = 0;
  virtual std::size_t batch_bytes() const = 0;
  /// The producer's subtask index (seeds round-robin and random partitioners).
  virtual int producer_subtask() const = 0;
  /// Sends a watermark on every channel, after the batches already pushed.
  virtual void broadcast_watermark(int64_t watermark) = 0;
  /// Sends a watermark status (idle / active) on every channel.
  virtual void broadcast_watermark_status(bool idle) = 0;
};

/// Base of writers: flushed by the task when its input runs dry, when the buffer timeout is
/// due, and before control events.
class WriterBase {
 public:
  virtual ~WriterBase() = default;
  virtual void flush() = 0;
};

/// The per-channel batches of a writer: a batch leaves when full, on `flush()`, and before a
/// watermark or status change (which then follows every record emitted before it).
template <class T>
class BatchingWriter : public Output<T>, public WriterBase {
 public:
  explicit BatchingWriter(ResultPartitionWriter* partition)
      : partition_(partition),
        channels_(partition->num_channels()),
        max_records_(partition->batch_records()),
        max_bytes_(partition->batch_bytes()),
        pending_(static_cast<std::size_t>(channels_)) {}

  void flush() override {
    for (int c = 0; c < channels_; ++c) {
      if (pending_[c] && pending_[c]->size() > 0) partition_->push(c, std::move(pending_[c]));
    }
  }
  void emit_watermark(int64_t wm) override {
    flush();
    partition_->broadcast_watermark(wm);
  }
  void emit_watermark_status(bool idle) override {
    flush();
    partition_->broadcast_watermark_status(idle);
  }

 protected:
  template <class V>
  void append(int c, V&& v, int64_t ts) {
    auto& b = pending_[static_cast<std::size_t>(c)];
    if (!b) b = std::make_unique<Batch<T>>(max_records_);
    b->append(std::forward<V>(v), ts);
    if (b->size() >= max_records_ || b->bytes() >= max_bytes_) partition_->push(c, std::move(b));
  }

  ResultPartitionWriter* partition_;
  int channels_;

 private:
  std::size_t max_records_;
  std::size_t max_bytes_;
  std::vector<std::unique_ptr<Batch<T>>> pending_;
};

/// Routes each record to one channel chosen by `Selector::select(const T&, int n)`.
template <class T, class Selector>
class RecordWriter final : public BatchingWriter<T> {
 public:
  RecordWriter(ResultPartitionWriter* partition, Selector selector)
      : BatchingWriter<T>(partition), selector_(std::move(selector)) {}

  void emit(const T& v, int64_t ts) override { this->append(selector_.select(v, this->channels_), v, ts); }
  void emit(T&& v, int64_t ts) override {
    const int c = selector_.select(static_cast<const T&>(v), this->channels_);
    this->append(c, std::move(v), ts);
  }

 private:
  Selector selector_;
};

/// Copies each record to every channel.
template <class T>
class BroadcastWriter final : public BatchingWriter<T> {
 public:
  explicit BroadcastWriter(ResultPartitionWriter* partition) : BatchingWriter<T>(partition) {}
  void emit(const T& v, int64_t ts) override {
    for (int c = 0; c < this->channels_; ++c) this->append(c, v, ts);
  }
  void emit(T&& v, int64_t ts) override { emit(static_cast<const T&>(v), ts); }
};

/// forward and global: always channel 0 (on a forward edge the only channel, to the subtask
/// with the same index; on a global edge subtask 0).
struct ForwardSelector {
  template <class T>
  int select(const T&, int) const {
    return 0;
  }
};

/// rebalance: round robin, starting at a point that depends on the producer subtask.
struct RoundRobinSelector {
  int next = 0;
  template <class T>
  int select(const T&, int n) {
    if (++next >= n) next = 0;
    return next;
  }
};

/// shuffle: uniformly random (xorshift, seeded per producer subtask: deterministic runs).
struct RandomSelector {
  uint64_t state = 0x9E3779B97F4A7C15ull;
  template <class T>
  int select(const T&, int n) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return static_cast<int>((state >> 32) * static_cast<uint64_t>(n) >> 32);
  }
};

/// hash: by the key group of the key, so every record of a key reaches the same subtask.
/// The same routing as `operator_index_for_key_group(key_group_of(key, max_parallelism), ...)`,
/// without a division per record: the key group comes from a `KeyGroupMapper` and the channel
/// of each key group from a table built on first use.
template <class KeyFn>
struct KeyGroupSelector {
  KeyGroupSelector(KeyFn k, int max_par) : key(std::move(k)), max_parallelism(max_par), mapper(max_par) {}
  KeyFn key;
  int max_parallelism;
  KeyGroupMapper mapper;
  std::vector<uint16_t> channel_of_group;  ///< for `channels_for` channels
  int channels_for = -1;
  template <class T>
  int select(const T& v, int n) {
    if (n != channels_for) [[unlikely]] {
      channel_of_group.resize(static_cast<std::size_t>(max_parallelism));
      for (int kg = 0; kg < max_parallelism; ++kg) {
        channel_of_group[static_cast<std::size_t>(kg)] =
            static_cast<uint16_t>(operator_index_for_key_group(kg, max_parallelism, n));
      }
      channels_for = n;
    }
    return channel_of_group[static_cast<std::size_t>(mapper.key_group(key_hash(key(v))))];
  }
};

/// custom: a user partitioner `int(const K&, int num_partitions)` over a selected key.
template <class KeyFn, class Partitioner>
struct CustomSelector {
  KeyFn key;
  Partitioner partitioner;
  template <class T>
  int select(const T& v, int n) {
    const int c = partitioner(key(v), n);
    if (c < 0 || c >= n) {
      throw OperatorFailure("partition_custom",
                            "custom partitioner returned " + std::to_string(c) +
                                ", outside [0, " + std::to_string(n) + ")");
    }
    return c;
  }
};

}  // namespace weir::runtime
