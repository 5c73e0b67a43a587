// Connectors for Python streams: Kafka, files, number sequences.
//
// Sources read C++ values (std::string) on their readers and turn them into Python objects in a
// map on the task (the task holds the interpreter lock; Kafka's and the file reader's I/O never
// touch Python). Sinks get their bytes from a map on the task (Python values → std::string) and
// write those with the engine's C++ sinks.
#include <nanobind/stl/map.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/tuple.h>

#include <nlohmann/json.hpp>

#include "bindings.h"
#include "weir/connectors/file.hpp"
#include "weir/connectors/file_sink.hpp"
#include "weir/connectors/kafka.hpp"

namespace weir::python {

/// A record for the Kafka sink, made on the task from a Python value.
struct PyKafkaRecord {
  std::string topic;
  std::string key;
  bool has_key = false;
  std::string value;
};

}  // namespace weir::python

namespace weir {
WEIR_SERDE(python::PyKafkaRecord, topic, key, has_key, value)
}  // namespace weir

namespace weir::python {
namespace {

StreamExecutionEnvironment& env_from(nb::handle env) {
  if (!nb::inst_check(env)) throw nb::type_error("expected a weir._weir.Environment");
  return env_ref(*nb::inst_ptr<PyEnv>(env));
}

PyStream wrap_stream(Stream s) { return PyStream{std::make_shared<Stream>(std::move(s))}; }

BadRecordPolicy policy_of(const std::string& kind, const std::string& tag) {
  if (kind == "fail") return BadRecordPolicy::fail();
  if (kind == "skip") return BadRecordPolicy::skip();
  if (kind == "dead_letter") return BadRecordPolicy::dead_letter(OutputTag<BadRecord>(tag.empty() ? "bad-records" : tag));
  throw nb::value_error(("unknown bad-record policy '" + kind + "' (fail, skip, dead_letter)").c_str());
}

/// The watermark strategy of a source of strings: no assigner here (a Python assigner runs on
/// the Python values after the conversion; see weir/datastream/connectors/base.py).

/// How the bytes of a record become a Python value.
struct Conversion {
  std::string mode;  // "str" (UTF-8, malformed bytes replaced as Java does), "bytes", "call_str", "call_bytes"
  Object fn;         // for call_*: a Python callable of one argument
  Object operator()(const std::string& s) const {
    Object arg;
    if (mode == "str" || mode == "call_str") {
      PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
      if (o == nullptr) throw_python_error();
      arg = Object::steal(o);
      if (mode == "str") return arg;
    } else {
      arg = Object::steal(PyBytes_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size())));
      if (!arg) throw_python_error();
      if (mode == "bytes") return arg;
    }
    return call(fn.get(), arg.get());
  }
};

Conversion conversion(const std::string& mode, nb::object fn) {
  if (mode != "str" && mode != "bytes" && mode != "call_str" && mode != "call_bytes") {
    throw nb::value_error(("unknown conversion '" + mode + "'").c_str());
  }
  return Conversion{mode, fn.is_none() ? Object() : own(fn)};
}

/// What a JSON row must look like: field names and the JSON kind each must have
/// ("string", "int", "float", "bool", "any").
struct JsonCheck {
  std::vector<std::pair<std::string, std::string>> fields;
  bool fail_on_missing = false;
  void operator()(std::string_view text) const {
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::parse_error& e) {
      throw std::runtime_error(std::string("not JSON: ") + e.what());
    }
    if (fields.empty()) return;
    if (!j.is_object()) throw std::runtime_error("expected a JSON object, found " + std::string(j.type_name()));
    for (const auto& [name, kind] : fields) {
      auto it = j.find(name);
      if (it == j.end() || it->is_null()) {
        if (fail_on_missing && it == j.end()) throw std::runtime_error("the field '" + name + "' is missing");
        continue;
      }
      bool ok = true;
      if (kind == "string") ok = it->is_string();
      else if (kind == "int") ok = it->is_number_integer();
      else if (kind == "float") ok = it->is_number();
      else if (kind == "bool") ok = it->is_boolean();
      if (!ok) {
        throw std::runtime_error("the field '" + name + "' should be " + (kind == "int" ? "an " : "a ") + kind +
                                 ", found " + it->type_name() + " " + it->dump());
      }
    }
  }
};

nb::tuple finish_source(DataStream<std::string> raw, const Conversion& conv, const BadRecordPolicy& policy,
                        const std::string& name);

/// Adds a source of strings configured by the Python description `c` (name, watermark
/// strategy, conversion): see `finish_source`.
template <class S>
nb::tuple add_string_source(nb::handle env, S source, nb::dict c, const BadRecordPolicy& policy) {
  const auto name = nb::cast<std::string>(c["name"]);
  auto raw = env_from(env).from_source(std::move(source),
                                       base_watermark_strategy<std::string>(nb::cast<std::string>(c["wm_kind"]), nb::cast<int64_t>(c["wm_bound_ms"]),
                                                       nb::cast<int64_t>(c["wm_idle_ms"])),
                                       name);
  return finish_source(std::move(raw), conversion(nb::cast<std::string>(c["conversion"]), c["convert"]), policy, name);
}

/// The Python stream of a source of strings: the values converted on the task, the source's
/// dead letters (as (bytes, origin, error) tuples) when its policy sends them to a side output.
nb::tuple finish_source(DataStream<std::string> raw, const Conversion& conv, const BadRecordPolicy& policy,
                        const std::string& name) {
  Stream values = raw.map([conv](const std::string& s) { return conv(s); }).name(name + " (to Python)");
  nb::object bad = nb::none();
  if (policy.kind() == BadRecordPolicy::Kind::dead_letter) {
    Stream letters = raw.get_side_output(policy.tag())
                         .map([](const BadRecord& b) {
                           Object bytes = Object::steal(PyBytes_FromStringAndSize(b.bytes.data(), static_cast<Py_ssize_t>(b.bytes.size())));
                           Object origin = Object::steal(PyUnicode_DecodeUTF8(b.origin.data(), static_cast<Py_ssize_t>(b.origin.size()), "replace"));
                           Object error = Object::steal(PyUnicode_DecodeUTF8(b.error.data(), static_cast<Py_ssize_t>(b.error.size()), "replace"));
                           if (!bytes || !origin || !error) throw_python_error();
                           PyObject* t = PyTuple_Pack(3, bytes.get(), origin.get(), error.get());
                           if (t == nullptr) throw_python_error();
                           return Object::steal(t);
                         })
                         .name(name + " (bad records)");
    bad = nb::cast(wrap_stream(std::move(letters)));
  }
  return nb::make_tuple(nb::cast(wrap_stream(std::move(values))), bad);
}

OffsetResetStrategy reset_of(const std::string& r) {
  if (r == "earliest") return OffsetResetStrategy::earliest;
  if (r == "latest") return OffsetResetStrategy::latest;
  if (r == "none") return OffsetResetStrategy::none;
  throw nb::value_error(("unknown offset reset strategy '" + r + "'").c_str());
}

/// (kind, timestamp, [(topic, partition, offset)], reset) → OffsetsInitializer.
OffsetsInitializer offsets_of(nb::handle spec) {
  auto t = nb::cast<nb::tuple>(spec);
  const auto kind = nb::cast<std::string>(t[0]);
  if (kind == "earliest") return OffsetsInitializer::earliest();
  if (kind == "latest") return OffsetsInitializer::latest();
  if (kind == "committed") return OffsetsInitializer::committed_offsets(reset_of(nb::cast<std::string>(t[3])));
  if (kind == "timestamp") return OffsetsInitializer::timestamp(nb::cast<int64_t>(t[1]));
  if (kind == "offsets") {
    std::map<KafkaTopicPartition, int64_t> m;
    for (nb::handle e : nb::cast<nb::list>(t[2])) {
      auto et = nb::cast<nb::tuple>(e);
      m[KafkaTopicPartition{nb::cast<std::string>(et[0]), nb::cast<int32_t>(et[1])}] = nb::cast<int64_t>(et[2]);
    }
    return OffsetsInitializer::offsets(std::move(m), reset_of(nb::cast<std::string>(t[3])));
  }
  throw nb::value_error(("unknown offsets initializer '" + kind + "'").c_str());
}

template <class F>
auto graph_errors(F&& f) {
  try {
    return f();
  } catch (const GraphError& e) {
    throw nb::value_error(e.what());
  }
}

nb::tuple kafka_source(nb::handle env, nb::dict c) {
  return graph_errors([&] {
    auto b = KafkaSource<std::string>::builder();
    b.set_bootstrap_servers(nb::cast<std::string>(c["bootstrap_servers"]));
    auto topics = nb::cast<std::vector<std::string>>(c["topics"]);
    if (!topics.empty()) b.set_topics(topics);
    auto pattern = nb::cast<std::string>(c["topic_pattern"]);
    if (!pattern.empty()) b.set_topic_pattern(pattern);
    auto parts = nb::cast<std::vector<std::pair<std::string, int32_t>>>(c["partitions"]);
    if (!parts.empty()) {
      std::set<KafkaTopicPartition> s;
      for (auto& [t, p] : parts) s.insert(KafkaTopicPartition{t, p});
      b.set_partitions(std::move(s));
    }
    auto group = nb::cast<std::string>(c["group_id"]);
    if (!group.empty()) b.set_group_id(group);
    auto prefix = nb::cast<std::string>(c["client_id_prefix"]);
    if (!prefix.empty()) b.set_client_id_prefix(prefix);
    b.set_starting_offsets(offsets_of(c["starting"]));
    if (!c["stopping"].is_none()) b.set_bounded(offsets_of(c["stopping"]));
    b.set_properties(nb::cast<std::map<std::string, std::string>>(c["properties"]));
    const BadRecordPolicy policy = policy_of(nb::cast<std::string>(c["policy"]), nb::cast<std::string>(c["policy_tag"]));
    b.set_bad_record_policy(policy);
    const auto max_bytes = nb::cast<int64_t>(c["max_record_bytes"]);
    if (max_bytes > 0) b.set_max_record_bytes(static_cast<std::size_t>(max_bytes));
    if (!c["json_fields"].is_none()) {
      JsonCheck check{nb::cast<std::vector<std::pair<std::string, std::string>>>(c["json_fields"]),
                      nb::cast<bool>(c["json_fail_on_missing"])};
      b.set_deserializer(KafkaRecordDeserializationSchema<std::string>::of([check](const KafkaConsumerRecord& r) {
        if (!r.value) throw std::runtime_error("the record has no value (a tombstone)");
        check(*r.value);
        return std::string(*r.value);
      }));
    } else {
      b.set_deserializer(KafkaRecordDeserializationSchema<std::string>::of([](const KafkaConsumerRecord& r) {
        if (!r.value) throw std::runtime_error("the record has no value (a tombstone)");
        return std::string(*r.value);
      }));
    }
    return add_string_source(env, b.build(), c, policy);
  });
}

DeliveryGuarantee guarantee_of(const std::string& g) {
  if (g == "exactly_once") return DeliveryGuarantee::exactly_once;
  if (g == "at_least_once") return DeliveryGuarantee::at_least_once;
  if (g == "none") return DeliveryGuarantee::none;
  throw nb::value_error(("unknown delivery guarantee '" + g + "'").c_str());
}

/// Python value → bytes: `fn(value)` returning bytes or str (UTF-8); no fn: str(value) in UTF-8.
std::string to_bytes(PyObject* fn, PyObject* value, const char* what) {
  Object r = fn != nullptr && fn != Py_None ? call(fn, value) : Object::borrow(value);
  PyObject* v = r.get();
  Object tmp;
  if (fn == nullptr || fn == Py_None) {
    if (!PyUnicode_Check(v)) {
      tmp = Object::steal(PyObject_Str(v));
      if (!tmp) throw_python_error();
      v = tmp.get();
    }
  }
  if (PyBytes_Check(v)) return std::string(PyBytes_AS_STRING(v), static_cast<std::size_t>(PyBytes_GET_SIZE(v)));
  if (PyByteArray_Check(v)) return std::string(PyByteArray_AS_STRING(v), static_cast<std::size_t>(PyByteArray_GET_SIZE(v)));
  if (PyUnicode_Check(v)) {
    Py_ssize_t n = 0;
    const char* p = PyUnicode_AsUTF8AndSize(v, &n);
    if (p == nullptr) throw_python_error();
    return std::string(p, static_cast<std::size_t>(n));
  }
  throw PythonError(std::string(what) + " must return bytes or str, not " + Py_TYPE(v)->tp_name);
}

DataStreamSink kafka_sink(PyStream& s, nb::dict c) {
  return graph_errors([&] {
    const std::string topic = nb::cast<std::string>(c["topic"]);
    Object selector = c["topic_selector"].is_none() ? Object() : own(c["topic_selector"]);
    Object value_fn = c["value_fn"].is_none() ? Object() : own(c["value_fn"]);
    Object key_fn = c["key_fn"].is_none() ? Object() : own(c["key_fn"]);
    const bool has_key = nb::cast<bool>(c["has_key"]);
    auto records = s.s->map([=](const Object& v) {
                         PyKafkaRecord r;
                         if (selector) {
                           Object t = call(selector.get(), v.get());
                           r.topic = to_bytes(nullptr, t.get(), "the topic selector");
                         } else {
                           r.topic = topic;
                         }
                         r.value = to_bytes(value_fn.get(), v.get(), "the value serialization schema");
                         if (has_key) {
                           r.key = to_bytes(key_fn.get(), v.get(), "the key serialization schema");
                           r.has_key = true;
                         }
                         return r;
                       })
                       .name(nb::cast<std::string>(c["name"]) + " (from Python)");
    auto serializer = KafkaRecordSerializationSchema<PyKafkaRecord>::of([](const PyKafkaRecord& v, KafkaProducerRecord& r) {
      r.topic = v.topic;
      r.value = v.value;
      if (v.has_key) r.key = v.key;
    });
    auto b = KafkaSink<PyKafkaRecord>::builder();
    b.set_bootstrap_servers(nb::cast<std::string>(c["bootstrap_servers"]))
        .set_record_serializer(std::move(serializer))
        .set_delivery_guarantee(guarantee_of(nb::cast<std::string>(c["guarantee"])))
        .set_kafka_producer_config(nb::cast<std::map<std::string, std::string>>(c["properties"]));
    auto prefix = nb::cast<std::string>(c["transactional_id_prefix"]);
    if (!prefix.empty()) b.set_transactional_id_prefix(prefix);
    return records.sink_to(b.build()).name(nb::cast<std::string>(c["name"]));
  });
}

nb::tuple file_source(nb::handle env, nb::dict c) {
  return graph_errors([&] {
    auto b = FileSource<std::string>::for_record_stream_format(TextLineFormat{}, nb::cast<std::vector<std::string>>(c["paths"]));
    const auto monitor = nb::cast<int64_t>(c["monitor_ms"]);
    if (monitor > 0) b.monitor_continuously(std::chrono::milliseconds(monitor));
    const BadRecordPolicy policy = policy_of(nb::cast<std::string>(c["policy"]), nb::cast<std::string>(c["policy_tag"]));
    b.set_bad_record_policy(policy);
    const auto max_bytes = nb::cast<int64_t>(c["max_record_bytes"]);
    if (max_bytes > 0) b.set_max_record_bytes(static_cast<std::size_t>(max_bytes));
    return add_string_source(env, b.build(), c, policy);
  });
}

DataStreamSink file_sink(PyStream& s, nb::dict c) {
  return graph_errors([&] {
    Object encode = own(c["encode"]);
    auto lines = s.s->map([encode](const Object& v) { return to_bytes(encode.get(), v.get(), "the encoder"); })
                     .name(nb::cast<std::string>(c["name"]) + " (encode)");
    auto b = FileSink<std::string>::for_row_format(nb::cast<std::string>(c["base_path"]),
                                                    [](const std::string& v, std::string& out) { out.append(v); });
    b.with_output_file_config(nb::cast<std::string>(c["prefix"]), nb::cast<std::string>(c["suffix"]));
    auto rp = nb::cast<nb::tuple>(c["rolling"]);
    const auto kind = nb::cast<std::string>(rp[0]);
    if (kind == "on_checkpoint") {
      b.with_rolling_policy(OnCheckpointRollingPolicy::build());
    } else {
      b.with_rolling_policy(DefaultRollingPolicy::builder()
                                .with_max_part_size(nb::cast<uint64_t>(rp[1]))
                                .with_rollover_interval(std::chrono::milliseconds(nb::cast<int64_t>(rp[2])))
                                .with_inactivity_interval(std::chrono::milliseconds(nb::cast<int64_t>(rp[3])))
                                .build());
    }
    return lines.sink_to(b.build()).name(nb::cast<std::string>(c["name"]));
  });
}

}  // namespace

void bind_connectors(nb::module_& m) {
  m.def("kafka_source", &kafka_source);
  m.def("kafka_sink", &kafka_sink);
  m.def("file_source", &file_source);
  m.def("file_sink", &file_sink);
  m.def("_check_json", [](const std::string& text, std::vector<std::pair<std::string, std::string>> fields, bool fail_missing) {
    try {
      JsonCheck{std::move(fields), fail_missing}(text);
      return std::string();
    } catch (const std::exception& e) {
      return std::string(e.what());
    }
  });
}

}  // namespace weir::python
