#pragma once
/// @file
/// Where exceptions go that have nowhere else to go (a throwing done-callback, a detached task).

#include <exception>
#include <functional>
#include <string_view>

namespace spindle {

/// Receives an exception nobody can catch; `where` says what threw it. Must not throw.
using UnhandledExceptionHandler = std::function<void(std::string_view where, std::exception_ptr error)>;

/// Installs the process-wide handler and returns the previous one; an empty handler restores the default,
/// which prints one line to stderr. **Thread safety:** safe to call from any thread.
/// Python equivalent: `loop.set_exception_handler` / the "exception in callback" log line.
UnhandledExceptionHandler set_unhandled_exception_handler(UnhandledExceptionHandler handler);

/// Reports `error` through the installed handler exactly once. Never throws.
void report_unhandled_exception(std::string_view where, std::exception_ptr error) noexcept;

/// Describes an exception for a log line: its `what()` for std exceptions, "unknown exception" otherwise.
std::string describe_exception(const std::exception_ptr& error);

}  // namespace spindle
