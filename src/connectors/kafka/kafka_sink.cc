// The Kafka sink: producers, transactions per checkpoint, and recovery of the transactions a
// previous run left.
//
// Exactly-once: each subtask has a pool of transactional producers with the ids
// "<prefix>-<subtask>-<n>". A transaction begins on a free producer, is flushed at the
// checkpoint's barrier (pre-commit) and committed when the checkpoint completes; then the
// producer is free again. At pre-commit the sink asks the transaction coordinator for the
// transaction's producer id, epoch and start time (DescribeTransactions) and keeps them in the
// checkpoint: a restored job commits a pre-committed transaction that is still ongoing with
// exactly that identity (EndTxn), and treats one that ended as committed unless it ended in an
// abort. Then it aborts whatever else is still open under this subtask's ids.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>

#include "connectors/kafka/kafka_common.h"
#include "connectors/kafka/kafka_wire.h"
#include "weir/connectors/kafka.hpp"

namespace weir::detail {
namespace {

using kafka_detail::KafkaHandle;

constexpr int kFlushTimeoutMs = 120000;
constexpr int64_t kFlinkTransactionTimeoutMs = 3600000;  // Flink's KafkaSink default: 1 hour

std::string txn_id(const std::string& prefix, int subtask, int n) {
  return prefix + "-" + std::to_string(subtask) + "-" + std::to_string(n);
}

/// Delivery failures are collected here by librdkafka's thread and thrown on the task's.
struct DeliveryState {
  std::mutex mu;
  std::string first_error;
  std::atomic<bool> failed{false};
  Counter* records = nullptr;
  Counter* bytes = nullptr;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
  auto* st = static_cast<DeliveryState*>(opaque);
  if (m->err) {
    std::lock_guard lock(st->mu);
    if (st->first_error.empty()) {
      st->first_error = std::string("delivering a record to ") + rd_kafka_topic_name(m->rkt) + " failed: " + rd_kafka_err2str(m->err);
    }
    st->failed = true;
  } else {
    st->records->inc();
    st->bytes->inc(static_cast<int64_t>(m->len + m->key_len));
  }
}

std::string rd_error(rd_kafka_error_t* e) {
  std::string s = rd_kafka_error_string(e);
  rd_kafka_error_destroy(e);
  return s;
}

}  // namespace

void finish_kafka_sink_config(KafkaSinkConfig& c) {
  auto& p = c.properties;
  if (!p.count("bootstrap.servers") || p["bootstrap.servers"].empty()) {
    throw GraphError("KafkaSink: no bootstrap servers; call set_bootstrap_servers(\"host:port\")");
  }
  if (c.guarantee == DeliveryGuarantee::exactly_once) {
    if (c.transactional_id_prefix.empty()) {
      throw GraphError("KafkaSink: exactly_once needs a transactional id prefix, unique to this sink on the cluster; "
                       "call set_transactional_id_prefix(name)");
    }
    if (p.count("transactional.id")) {
      throw GraphError("KafkaSink: do not set transactional.id; the sink derives its ids from set_transactional_id_prefix");
    }
    if (!p.count("transaction.timeout.ms")) p["transaction.timeout.ms"] = std::to_string(kFlinkTransactionTimeoutMs);
  }
  if (c.guarantee != DeliveryGuarantee::none && p.count("acks") && p["acks"] != "all" && p["acks"] != "-1") {
    throw GraphError("KafkaSink: at_least_once and exactly_once need acks=all (the default)");
  }
  if (!p.count("client.id")) p["client.id"] = "weir-kafka-sink";
  try {
    kafka_detail::make_conf(p, "KafkaSink");
  } catch (const std::invalid_argument& e) {
    throw GraphError(e.what());
  }
}

void kafka_recover_transaction(const KafkaSinkConfig& c, const KafkaTransaction& txn, bool commit) {
  if (txn.transactional_id.empty()) return;
  if (!commit) return;  // open transactions are aborted with what else lingers (abort_lingering)
  if (!txn.pre_committed || txn.start_time < 0) return;  // it held no record
  kafka_wire::TransactionClient client(c.properties.at("bootstrap.servers"));
  const auto st = client.describe({txn.transactional_id}).at(0);
  const bool same = st.producer_id == txn.producer_id && st.start_time == txn.start_time;
  if (same && st.state == "Ongoing") {
    client.end_transaction(txn.transactional_id, st.producer_id, st.producer_epoch, true);
    spdlog::info("KafkaSink: committed transaction '{}' (started at {}) of the restored checkpoint", txn.transactional_id,
                 txn.start_time);
    return;
  }
  if (same && (st.state == "PrepareAbort" || st.state == "CompleteAbort")) {
    throw StateError("KafkaSink: transaction '" + txn.transactional_id +
                     "' of the restored checkpoint was aborted by the broker before it could be committed (its records "
                     "are lost; transaction.timeout.ms may be shorter than the time the job was down)");
  }
  // Committed already (CompleteCommit, or a later transaction began under this id after it).
}

struct KafkaWriter::Impl {
  std::shared_ptr<const KafkaSinkConfig> c;
  int subtask = 0;
  int parallelism = 1;
  std::string name;
  DeliveryState delivery;
  Counter* transactions = nullptr;
  struct Producer {
    KafkaHandle rk;
    bool busy = false;
    bool sent = false;  ///< a record went into the current transaction
  };
  std::vector<std::unique_ptr<Producer>> pool;  ///< exactly_once: by pool index; else [0]
  std::unique_ptr<kafka_wire::TransactionClient> wire;
  std::size_t since_poll = 0;

  KafkaHandle make_producer(const std::string& transactional_id) {
    auto conf = kafka_detail::make_conf(c->properties, "KafkaSink");
    char err[512];
    if (!transactional_id.empty()) {
      rd_kafka_conf_set(conf.get(), "transactional.id", transactional_id.c_str(), err, sizeof err);
    }
    rd_kafka_conf_set_opaque(conf.get(), &delivery);
    rd_kafka_conf_set_dr_msg_cb(conf.get(), on_delivery);
    kafka_detail::install_logger(conf.get());
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), err, sizeof err);
    if (!rk) throw std::runtime_error(std::string("KafkaSink: cannot create a producer: ") + err);
    conf.release();
    KafkaHandle h(rk);
    if (!transactional_id.empty()) {
      if (rd_kafka_error_t* e = rd_kafka_init_transactions(rk, 60000)) {
        const std::string msg = rd_error(e);
        std::string hint;
        if (msg.find("timeout") != std::string::npos || msg.find("Timeout") != std::string::npos) {
          hint = " (transaction.timeout.ms is " + c->properties.at("transaction.timeout.ms") +
                 "; the broker's transaction.max.timeout.ms may be lower (15 minutes by default): lower the sink's with "
                 "set_property(\"transaction.timeout.ms\", ...) or raise the broker's)";
        }
        throw std::runtime_error("KafkaSink: starting transactions for '" + transactional_id + "' failed: " + msg + hint);
      }
    }
    return h;
  }

  void check_delivery() {
    if (!delivery.failed.load(std::memory_order_relaxed)) return;
    std::lock_guard lock(delivery.mu);
    throw std::runtime_error("KafkaSink: " + delivery.first_error);
  }

  rd_kafka_t* producer_of(const KafkaTransaction& t) {
    if (c->guarantee != DeliveryGuarantee::exactly_once) return pool.at(0)->rk.get();
    return pool.at(static_cast<std::size_t>(t.pool_index))->rk.get();
  }

  void flush(rd_kafka_t* rk) {
    const auto e = rd_kafka_flush(rk, kFlushTimeoutMs);
    check_delivery();
    if (e) throw std::runtime_error(std::string("KafkaSink: flushing failed: ") + rd_kafka_err2str(e));
  }
};

KafkaWriter::KafkaWriter(std::shared_ptr<const KafkaSinkConfig> config, const RuntimeContext& ctx, MetricGroup& metrics,
                         bool restored)
    : impl_(std::make_unique<Impl>()) {
  auto& im = *impl_;
  im.c = std::move(config);
  im.subtask = ctx.get_index_of_this_subtask();
  im.parallelism = ctx.get_number_of_parallel_subtasks();
  im.name = ctx.get_operator_name();
  im.delivery.records = &metrics.counter("records");
  im.delivery.bytes = &metrics.counter("bytes");
  im.transactions = &metrics.counter("transactions");
  if (im.c->guarantee == DeliveryGuarantee::exactly_once) {
    const int64_t timeout = std::stoll(im.c->properties.at("transaction.timeout.ms"));
    const int64_t interval = ctx.get_checkpoint_interval();
    if (interval > 0 && timeout < interval) {
      throw GraphError("KafkaSink: transaction.timeout.ms (" + std::to_string(timeout) +
                       ") is shorter than the checkpoint interval (" + std::to_string(interval) +
                       " ms): transactions would time out before their checkpoint completes; raise it");
    }
    im.wire = std::make_unique<kafka_wire::TransactionClient>(im.c->properties.at("bootstrap.servers"));
    if (!restored) abort_lingering({});  // a fresh start: nothing earlier runs left is wanted
  } else {
    im.pool.push_back(std::make_unique<Impl::Producer>());
    im.pool[0]->rk = im.make_producer("");
  }
}

KafkaWriter::~KafkaWriter() {
  for (auto& p : impl_->pool) {
    if (p->rk && impl_->c->guarantee != DeliveryGuarantee::exactly_once) rd_kafka_flush(p->rk.get(), 10000);
  }
}

KafkaTransaction KafkaWriter::begin() {
  auto& im = *impl_;
  KafkaTransaction t;
  if (im.c->guarantee != DeliveryGuarantee::exactly_once) return t;
  std::size_t i = 0;
  while (i < im.pool.size() && im.pool[i]->busy) ++i;
  if (i == im.pool.size()) {
    im.pool.push_back(std::make_unique<Impl::Producer>());
    im.pool[i]->rk = im.make_producer(txn_id(im.c->transactional_id_prefix, im.subtask, static_cast<int>(i)));
  }
  auto& p = *im.pool[i];
  if (rd_kafka_error_t* e = rd_kafka_begin_transaction(p.rk.get())) {
    throw std::runtime_error("KafkaSink: beginning a transaction failed: " + rd_error(e));
  }
  p.busy = true;
  p.sent = false;
  t.transactional_id = txn_id(im.c->transactional_id_prefix, im.subtask, static_cast<int>(i));
  t.pool_index = static_cast<int32_t>(i);
  return t;
}

void KafkaWriter::send(const KafkaTransaction& txn, const KafkaProducerRecord& r, int64_t event_time) {
  auto& im = *impl_;
  rd_kafka_t* rk = im.producer_of(txn);
  if (im.c->guarantee == DeliveryGuarantee::exactly_once) im.pool[static_cast<std::size_t>(txn.pool_index)]->sent = true;
  const int64_t ts = r.timestamp != kNoTimestamp ? r.timestamp : (event_time != kNoTimestamp ? event_time : 0);
  rd_kafka_headers_t* hdrs = nullptr;
  if (!r.headers.empty()) {
    hdrs = rd_kafka_headers_new(r.headers.size());
    for (const auto& [k, v] : r.headers) rd_kafka_header_add(hdrs, k.data(), static_cast<ssize_t>(k.size()), v.data(), static_cast<ssize_t>(v.size()));
  }
  const int32_t partition = r.partition ? *r.partition : RD_KAFKA_PARTITION_UA;
  void* value = r.value ? const_cast<char*>(r.value->data()) : nullptr;
  const std::size_t value_len = r.value ? r.value->size() : 0;
  const void* key = r.key ? r.key->data() : nullptr;
  const std::size_t key_len = r.key ? r.key->size() : 0;
  for (;;) {
    const rd_kafka_resp_err_t e = rd_kafka_producev(
        rk, RD_KAFKA_V_TOPIC(r.topic.c_str()), RD_KAFKA_V_PARTITION(partition), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_VALUE(value, value_len), RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_TIMESTAMP(ts),
        RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_END);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) break;  // the headers belong to the message now
    if (e == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
      rd_kafka_poll(rk, 5);  // backpressure: wait for deliveries
      im.check_delivery();
      continue;
    }
    if (hdrs) rd_kafka_headers_destroy(hdrs);
    throw std::runtime_error("KafkaSink: producing to '" + r.topic + "' failed: " + rd_kafka_err2str(e));
  }
  if (++im.since_poll >= 1024) {
    im.since_poll = 0;
    rd_kafka_poll(rk, 0);
    im.check_delivery();
  }
}

void KafkaWriter::pre_commit(KafkaTransaction& txn) {
  auto& im = *impl_;
  if (im.c->guarantee == DeliveryGuarantee::none) {
    rd_kafka_poll(im.pool[0]->rk.get(), 0);
    im.check_delivery();
    return;
  }
  im.flush(im.producer_of(txn));
  if (im.c->guarantee != DeliveryGuarantee::exactly_once) return;
  txn.pre_committed = true;
  if (!im.pool[static_cast<std::size_t>(txn.pool_index)]->sent) return;  // empty: nothing at the broker
  const auto st = im.wire->describe({txn.transactional_id}).at(0);
  if (st.state != "Ongoing") {
    throw std::runtime_error("KafkaSink: transaction '" + txn.transactional_id + "' is " + st.state +
                             " at the broker right after its records were flushed (fenced by another producer with this "
                             "transactional id? the prefix must be unique to the sink)");
  }
  txn.producer_id = st.producer_id;
  txn.producer_epoch = st.producer_epoch;
  txn.start_time = st.start_time;
}

void KafkaWriter::commit(const KafkaTransaction& txn) {
  auto& im = *impl_;
  if (im.c->guarantee != DeliveryGuarantee::exactly_once) return;
  auto& p = *im.pool.at(static_cast<std::size_t>(txn.pool_index));
  if (rd_kafka_error_t* e = rd_kafka_commit_transaction(p.rk.get(), kFlushTimeoutMs)) {
    throw std::runtime_error("KafkaSink: committing transaction '" + txn.transactional_id + "' failed: " + rd_error(e));
  }
  im.check_delivery();
  im.transactions->inc();
  p.busy = false;
}

void KafkaWriter::abort(const KafkaTransaction& txn) {
  auto& im = *impl_;
  if (im.c->guarantee != DeliveryGuarantee::exactly_once || txn.pool_index < 0) return;
  if (static_cast<std::size_t>(txn.pool_index) >= im.pool.size()) return;
  auto& p = *im.pool[static_cast<std::size_t>(txn.pool_index)];
  if (!p.busy) return;
  if (rd_kafka_error_t* e = rd_kafka_abort_transaction(p.rk.get(), 30000)) {
    throw std::runtime_error("KafkaSink: aborting transaction '" + txn.transactional_id + "' failed: " + rd_error(e));
  }
  p.busy = false;
}

void KafkaWriter::abort_lingering(const std::vector<KafkaTransaction>& keep) {
  auto& im = *impl_;
  if (im.c->guarantee != DeliveryGuarantee::exactly_once) return;
  // Ids of earlier runs' subtasks that map to this one (a smaller parallelism takes the ids of
  // the subtasks that are gone), each run of ids dense from 0: stop at the first unknown one.
  constexpr int kBatch = 16;
  for (int old = im.subtask;; old += im.parallelism) {
    bool any = false;
    for (int from = 0;; from += kBatch) {
      std::vector<std::string> ids;
      for (int n = from; n < from + kBatch; ++n) ids.push_back(txn_id(im.c->transactional_id_prefix, old, n));
      const auto states = im.wire->describe(ids);
      bool end = false;
      for (const auto& st : states) {
        if (st.error == kafka_wire::kTransactionalIdNotFound) {
          end = true;
          break;
        }
        any = true;
        if (st.state != "Ongoing") continue;
        const bool kept = std::any_of(keep.begin(), keep.end(), [&](const KafkaTransaction& k) {
          return k.pre_committed && k.transactional_id == st.transactional_id && k.start_time == st.start_time &&
                 k.producer_id == st.producer_id;
        });
        if (kept) continue;
        im.wire->end_transaction(st.transactional_id, st.producer_id, st.producer_epoch, false);
        spdlog::info("KafkaSink '{}': aborted transaction '{}' an earlier run left open", im.name, st.transactional_id);
      }
      if (end) break;
    }
    if (!any) break;
  }
}

}  // namespace weir::detail
