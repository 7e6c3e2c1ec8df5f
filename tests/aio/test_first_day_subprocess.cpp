// A Python programmer's first subprocess: create_subprocess_exec("echo", "hi", options) -- program and
// arguments as separate parameters, as Python's -- inside a co_await. The vector form with a braced list
// written inside the co_await does not compile on g++ 12 (GCC PR c++/103871, "array used as initializer"), so
// the vector is built first there.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "census.hpp"
#include "spindle/aio/run.hpp"
#include "spindle/aio/subprocess.hpp"

namespace aio = spindle::aio;

namespace {

using FirstDaySubprocessTest = spindle::test::LeakCheckedTest;

aio::Task<std::string> echo_variadic() {
  const aio::SubprocessOptions piped{.stdout_ = aio::Redirect::pipe};
  aio::Process p = co_await aio::create_subprocess_exec("echo", "hi", std::string("there"), piped);
  aio::CommunicateResult r = co_await p.communicate();
  EXPECT_EQ(r.returncode, 0);
  co_return r.out;
}

TEST_F(FirstDaySubprocessTest, ProgramAndArgumentsAsSeparateParameters) {
  EXPECT_EQ(aio::run(echo_variadic()), "hi there\n");
}

aio::Task<int> true_without_options() {
  aio::Process p = co_await aio::create_subprocess_exec("true");
  co_return co_await p.wait();
}

TEST_F(FirstDaySubprocessTest, ProgramAloneWithDefaultOptions) { EXPECT_EQ(aio::run(true_without_options()), 0); }

aio::Task<std::string> echo_options_inline() {
  aio::Process p = co_await aio::create_subprocess_exec("printf", "%s-%s", "a", "b",
                                                        aio::SubprocessOptions{.stdout_ = aio::Redirect::pipe});
  aio::CommunicateResult r = co_await p.communicate();
  co_return r.out;
}

TEST_F(FirstDaySubprocessTest, OptionsSpelledWithTheirTypeAfterTheArguments) {
  EXPECT_EQ(aio::run(echo_options_inline()), "a-b");
}

aio::Task<std::string> echo_vector_named() {
  std::vector<std::string> argv{"echo", "vector"};  // built outside the co_await: compiles on g++ 12
  aio::Process p = co_await aio::create_subprocess_exec(argv, {.stdout_ = aio::Redirect::pipe});
  aio::CommunicateResult r = co_await p.communicate();
  co_return r.out;
}

TEST_F(FirstDaySubprocessTest, TheVectorFormBuiltOutsideTheCoAwait) {
  EXPECT_EQ(aio::run(echo_vector_named()), "vector\n");
}

aio::Task<void> missing_program() {
  (void)co_await aio::create_subprocess_exec("/nonexistent/spindle-no-such-program", "x");
}

TEST_F(FirstDaySubprocessTest, AMissingProgramIsAClearError) {
  EXPECT_THROW(aio::run(missing_program()), std::system_error);
}

}  // namespace
