#pragma once
/// @file
/// Errors specific to spindle::aio. CancelledError and TimeoutError are spindle's core errors.

#include <exception>
#include <string>
#include <vector>

#include "spindle/core/errors.hpp"
#include "spindle/core/unhandled.hpp"

namespace spindle::aio {

/// Several exceptions raised together (a TaskGroup whose children failed). `exceptions()` lists them in the
/// order they happened; `what()` names each. Python equivalent: `ExceptionGroup` (PEP 654).
class ExceptionGroup : public Error {
 public:
  ExceptionGroup(const std::string& message, std::vector<std::exception_ptr> errors)
      : Error(compose(message, errors)), message_(message), errors_(std::move(errors)) {}
  /// The group's own message. Python: `message`.
  const std::string& message() const noexcept { return message_; }
  /// The exceptions. Python: `exceptions`.
  const std::vector<std::exception_ptr>& exceptions() const noexcept { return errors_; }

 private:
  static std::string compose(const std::string& message, const std::vector<std::exception_ptr>& errors) {
    std::string s =
        message + " (" + std::to_string(errors.size()) + " sub-exception" + (errors.size() == 1 ? "" : "s") + ")";
    for (std::size_t i = 0; i < errors.size(); ++i)
      s += "\n  [" + std::to_string(i + 1) + "] " + describe_exception(errors[i]);
    return s;
  }
  std::string message_;
  std::vector<std::exception_ptr> errors_;
};

/// Ctrl-C interrupted run(): the main task was cancelled and its clean-up ran. Python: `KeyboardInterrupt`.
class KeyboardInterrupt : public Error {
 public:
  KeyboardInterrupt() : Error("KeyboardInterrupt") {}
};

}  // namespace spindle::aio
