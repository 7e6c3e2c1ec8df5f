// Errors across the process boundary: a worker encodes the exception in flight (type, message), the
// parent rebuilds it as a RemoteError; and wait statuses in words.

#include <cxxabi.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <typeinfo>

#include "runtime.hpp"

namespace spindle::process::detail {

void describe_current_exception(std::string& type, std::string& message) {
  std::type_info* ti = abi::__cxa_current_exception_type();
  type = "unknown";
  if (ti) {
    int status = 0;
    char* d = abi::__cxa_demangle(ti->name(), nullptr, nullptr, &status);
    type = (status == 0 && d) ? d : ti->name();
    std::free(d);
  }
  message.clear();
  try {
    throw;
  } catch (const std::exception& e) {
    message = e.what();
  } catch (...) {
  }
}

std::string error_payload() {
  std::string type, message;
  describe_current_exception(type, message);
  return encode(std::make_pair(type, message));
}

std::exception_ptr remote_error(const char* data, std::size_t size) {
  try {
    auto [type, message] = decode<std::pair<std::string, std::string>>(data, size);
    return std::make_exception_ptr(RemoteError(std::move(type), std::move(message)));
  } catch (...) {
    return std::current_exception();
  }
}

std::string describe_status(int status) {
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) + " (SIG" + (abbrev ? abbrev : "?") + ")";
  }
  if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
  return "ended with status " + std::to_string(status);
}

}  // namespace spindle::process::detail
