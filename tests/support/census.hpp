#pragma once
// Leak census for tests: threads, fds and live future states must be back to
// their baseline when a test ends.

#include <gtest/gtest.h>

namespace spindle::test {

/// Number of threads in this process (/proc/self/task).
int thread_count();
/// Number of open file descriptors (/proc/self/fd).
int fd_count();

/// Records the census at construction; `check()` asserts that it is back to that baseline. Threads may take
/// a moment to vanish from /proc after join returns, so check() polls briefly (bounded) before failing.
class Census {
 public:
  Census();
  void check() const;

 private:
  int threads_;
  int fds_;
  long states_;
};

/// A fixture that runs the census around every test.
class LeakCheckedTest : public ::testing::Test {
 protected:
  void TearDown() override { census_.check(); }

 private:
  Census census_;
};

/// The same for parameterised tests.
template <class P>
class LeakCheckedTestWithParam : public ::testing::TestWithParam<P> {
 protected:
  void TearDown() override { census_.check(); }

 private:
  Census census_;
};

}  // namespace spindle::test
