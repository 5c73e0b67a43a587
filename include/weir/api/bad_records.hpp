#pragma once
/// What a source does with a record it cannot read: bytes that do not deserialize, or a record
/// above the source's size limit. Every connector's source takes a `BadRecordPolicy`:
/// - `fail()` (the default): the job fails at once (no restart would get past the record) with
///   the record's origin (topic/partition/offset, file and line, HTTP request), the parser's
///   message, and the policies to switch to;
/// - `skip()`: the record is dropped and counted (metric `bad_records_skipped`);
/// - `dead_letter(tag)`: the record goes, as a `BadRecord` with its original bytes, origin and
///   error, to the side output `tag` of the source's stream (`stream.get_side_output(tag)`),
///   counted in `bad_records_dead_lettered`. A job can write that stream to a Kafka topic.
/// Nothing is dropped silently: the counts are in `TaskMetrics::operator_metrics` as
/// "<source name>.bad_records_skipped" / ".bad_records_dead_lettered".
#include <string>
#include <utility>

#include "weir/api/functions.hpp"
#include "weir/serde/serde.hpp"

namespace weir {

/// A record a source could not read, as its dead-letter side output carries it.
struct BadRecord {
  std::string bytes;   ///< the record as it arrived, unchanged
  std::string origin;  ///< where it came from: "topic 'in' partition 0 offset 17", "file a.csv line 3", ...
  std::string error;   ///< why it could not be read (the parser's message, or the size limit)
  bool operator==(const BadRecord&) const = default;
};
WEIR_SERDE(BadRecord, bytes, origin, error)

class BadRecordPolicy {
 public:
  enum class Kind { fail, skip, dead_letter };
  /// Fail the job, naming the record's origin and the error (the default).
  static BadRecordPolicy fail() { return BadRecordPolicy(Kind::fail, default_tag()); }
  /// Drop the record and count it.
  static BadRecordPolicy skip() { return BadRecordPolicy(Kind::skip, default_tag()); }
  /// Send the record to the side output `tag` of the source's stream, and count it.
  static BadRecordPolicy dead_letter(OutputTag<BadRecord> tag = default_tag()) {
    return BadRecordPolicy(Kind::dead_letter, std::move(tag));
  }
  /// The tag `dead_letter()` uses when given none: "bad-records".
  static OutputTag<BadRecord> default_tag() { return OutputTag<BadRecord>("bad-records"); }

  BadRecordPolicy() : BadRecordPolicy(fail()) {}
  Kind kind() const { return kind_; }
  const OutputTag<BadRecord>& tag() const { return tag_; }
  /// "fail", "skip" or "dead_letter('tag')".
  std::string to_string() const {
    switch (kind_) {
      case Kind::fail: return "fail";
      case Kind::skip: return "skip";
      case Kind::dead_letter: return "dead_letter('" + tag_.id() + "')";
    }
    return "?";
  }

 private:
  BadRecordPolicy(Kind k, OutputTag<BadRecord> tag) : kind_(k), tag_(std::move(tag)) {}
  Kind kind_;
  OutputTag<BadRecord> tag_;
};

}  // namespace weir
