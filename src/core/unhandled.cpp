#include "spindle/core/unhandled.hpp"

#include <cstdio>
#include <mutex>
#include <string>

namespace spindle {
namespace {
std::mutex& handler_mutex() {
  static std::mutex m;
  return m;
}
UnhandledExceptionHandler& handler_slot() {
  static UnhandledExceptionHandler h;
  return h;
}
}  // namespace

std::string describe_exception(const std::exception_ptr& error) {
  if (!error) return "no exception";
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "unknown exception (not derived from std::exception)";
  }
}

UnhandledExceptionHandler set_unhandled_exception_handler(UnhandledExceptionHandler handler) {
  std::lock_guard lock(handler_mutex());
  auto previous = std::move(handler_slot());
  handler_slot() = std::move(handler);
  return previous;
}

void report_unhandled_exception(std::string_view where, std::exception_ptr error) noexcept {
  UnhandledExceptionHandler handler;
  {
    std::lock_guard lock(handler_mutex());
    handler = handler_slot();
  }
  try {
    if (handler) {
      handler(where, error);
      return;
    }
    const std::string text = describe_exception(error);
    std::fprintf(stderr, "spindle: unhandled exception in %.*s: %s\n", static_cast<int>(where.size()), where.data(),
                 text.c_str());
  } catch (...) {
    std::fputs("spindle: the unhandled-exception handler itself threw\n", stderr);
  }
}

}  // namespace spindle
