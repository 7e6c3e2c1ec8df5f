#pragma once
// An environment variable set (or unset) for one test and restored after it.

#include <cstdlib>
#include <optional>
#include <string>

namespace spindle::test {

/// Sets (or unsets) an environment variable for one test and restores it after. Tests run one at a time and
/// the census checks that no thread of a previous test is left to read the environment meanwhile.
class ScopedEnv {
 public:
  explicit ScopedEnv(const char* name) : name_(name) {
    if (const char* v = std::getenv(name)) old_ = v;
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  void set(const char* value) { ::setenv(name_, value, 1); }
  void unset() { ::unsetenv(name_); }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

}  // namespace spindle::test
