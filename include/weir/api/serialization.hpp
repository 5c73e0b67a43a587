#pragma once
/// Serialization schemas, as Flink's `SerializationSchema` / `DeserializationSchema`: how a
/// connector turns a record into bytes and back. A schema is any copyable object with
/// `std::string serialize(const T&) const` and/or `T deserialize(std::string_view) const`; a
/// `deserialize` that throws marks the record as a bad record (see `weir/api/bad_records.hpp`).
#include <string>
#include <string_view>

namespace weir {

/// Text as it is: bytes to `std::string` and back (UTF-8 is not checked), as Flink's.
struct SimpleStringSchema {
  using value_type = std::string;
  std::string serialize(const std::string& s) const { return s; }
  std::string deserialize(std::string_view bytes) const { return std::string(bytes); }
};

/// What a sink promises after a failure, as Flink's `DeliveryGuarantee`:
/// - `none`: records may be lost or written twice;
/// - `at_least_once`: every record is written; after a restore some may be written again;
/// - `exactly_once`: every record is visible once to readers of committed data (transactions
///   committed when a checkpoint completes).
enum class DeliveryGuarantee { none, at_least_once, exactly_once };

}  // namespace weir
