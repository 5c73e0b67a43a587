#pragma once
/// Exceptions a Weir job can see. Modules report errors through one of these types; decoding
/// throws `SerdeError` (weir/serde/serde.hpp) and an armed fault point `InjectedFault`.
#include <stdexcept>
#include <string>

namespace weir {

/// Thrown by `execute()` (and `execute_and_collect()`, `JobClient::wait()`) when a job fails.
/// The message names the operator (its `name()`), the subtask, and the original cause.
class JobFailure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Thrown while a job graph is being built when the API is used wrongly (a parallelism below 1,
/// a side output asked of a stream that cannot have one, ...). The message says what to do.
class GraphError : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

/// Thrown by an operator when a user function fails; the runtime turns it into a `JobFailure`
/// that adds the subtask. Carries the operator's name and the original message.
class OperatorFailure : public std::runtime_error {
 public:
  OperatorFailure(std::string op, std::string cause, bool recoverable = true)
      : std::runtime_error("operator '" + op + "' failed: " + cause),
        operator_name_(std::move(op)),
        cause_(std::move(cause)),
        recoverable_(recoverable) {}
  const std::string& operator_name() const noexcept { return operator_name_; }
  const std::string& cause() const noexcept { return cause_; }
  /// False when restarting cannot help (an IncompatibleStateError): the job fails at once.
  bool recoverable() const noexcept { return recoverable_; }

 private:
  std::string operator_name_;
  std::string cause_;
  bool recoverable_ = true;
};

/// Thrown by state backends and checkpoint storage when I/O fails or stored data is corrupt.
/// The message names the file or state involved.
class StateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Thrown on restore when a state was saved with another type than the job now gives it (or a
/// stored value does not decode as that type). A restart would meet it again, so the job
/// fails without restarting.
class IncompatibleStateError : public StateError {
 public:
  using StateError::StateError;
};

}  // namespace weir
