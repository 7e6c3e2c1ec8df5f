// ProcessPoolExecutor with functions passed at run time, as Python spells it: `pool.submit(heavy, 4)`,
// `pool.map(heavy, xs)`. Every start method; a function from a static library and one from a shared library
// (libc); captureless lambdas; exceptions as RemoteError; and a worker that refuses a function address that
// is not a function start (a hand-made frame), so that a corrupted frame never jumps into arbitrary code.

#include <cstdint>
#include <cstdlib>
#include <numeric>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "census.hpp"
#include "process_census.hpp"
#include "spindle/process/process.hpp"
#include "spindle/process/process_pool_executor.hpp"

namespace sp = spindle::process;

namespace spindle_test_lib {
long long lib_triple(long long x);  // tests/process/named_fn_lib.cpp, a static library
}

namespace {

long long heavy(int n) {
  long long s = 0;
  for (int i = 0; i <= n; ++i) s += static_cast<long long>(i) * i;
  return s;
}
long long square(long long x) { return x * x; }
std::string greet(const std::string& name, int times) {
  std::string out;
  for (int i = 0; i < times; ++i) out += "hi " + name + ";";
  return out;
}
int twice_noexcept(int x) noexcept { return 2 * x; }
int throws_runtime(int x) {
  if (x >= 0) throw std::runtime_error("bad input " + std::to_string(x));
  return x;
}
int g_init_value = 0;
void init_set(int v) { g_init_value = v; }
int read_init(int) { return g_init_value; }
int g_not_a_function = 0;
[[noreturn]] void exit_with(int code) { std::_Exit(code); }

const bool forkserver_started = (sp::init(), true);  // before any census baseline

class NamedFnPool : public spindle::test::ProcessCheckedTestWithParam<sp::StartMethod> {};

TEST_P(NamedFnPool, SubmitANamedFunctionAsPythonSpellsIt) {
  sp::ProcessPoolExecutor pool({.max_workers = 2, .start_method = GetParam()});
  EXPECT_EQ(pool.submit(heavy, 4).result(), 30);
  EXPECT_EQ(pool.submit(&heavy, 10).result(), 385);
  EXPECT_EQ(pool.submit(greet, "ann", 2).result(), "hi ann;hi ann;");
  EXPECT_EQ(pool.submit(twice_noexcept, 21).result(), 42);
  EXPECT_EQ(pool.submit<&heavy>(4).result(), 30);  // the template form, side by side
}

TEST_P(NamedFnPool, MapANamedFunctionWithChunksKeepsOrder) {
  sp::ProcessPoolExecutor pool({.max_workers = 2, .start_method = GetParam()});
  std::vector<long long> in(300);
  std::iota(in.begin(), in.end(), 0);
  for (std::size_t chunk : {1u, 7u, 100u}) {
    const auto out = pool.map(square, in, {.chunksize = chunk, .buffersize = 4});
    ASSERT_EQ(out.size(), in.size());
    for (std::size_t i = 0; i < in.size(); ++i) EXPECT_EQ(out[i], in[i] * in[i]);
  }
}

TEST_P(NamedFnPool, FunctionsOfALibrary) {
  sp::ProcessPoolExecutor pool({.max_workers = 1, .start_method = GetParam()});
  EXPECT_EQ(pool.submit(spindle_test_lib::lib_triple, 14).result(), 42);  // static library
  EXPECT_EQ(pool.map(spindle_test_lib::lib_triple, std::vector<long long>{1, 2}), (std::vector<long long>{3, 6}));
  long (*shared)(long) = &::labs;  // libc: a shared library, loaded at its own base
  EXPECT_EQ(pool.submit(shared, -42L).result(), 42L);
}

// fork() from a threaded parent is left out under the sanitizers (as test_process_pool's ForkStartMethodWorks is):
// TSan does not support it, and GCC 12's ASan runtime takes no allocator lock around fork(), so a worker forked
// by the pool's thread while the test's thread allocates hangs in its first malloc (1 run in 7 at -Og). glibc's
// malloc is fork-safe, so the release run keeps these; LLVM's runtimes lock their allocators around fork since
// 2024 (llvm-project#96600).
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
#define SPINDLE_TEST_START_METHODS sp::StartMethod::forkserver, sp::StartMethod::spawn
#else
#define SPINDLE_TEST_START_METHODS sp::StartMethod::forkserver, sp::StartMethod::spawn, sp::StartMethod::fork
#endif
INSTANTIATE_TEST_SUITE_P(StartMethods, NamedFnPool, ::testing::Values(SPINDLE_TEST_START_METHODS));

class NamedFnSingle : public spindle::test::ProcessCheckedTest {};

TEST_F(NamedFnSingle, CapturelessLambdasConvertToFunctions) {
  sp::ProcessPoolExecutor pool(1);
  EXPECT_EQ(pool.submit([](int x) { return x + 1; }, 41).result(), 42);
  EXPECT_EQ(pool.submit(
                    +[](int x) { return x * 2; }, 21)
                .result(),
            42);
  EXPECT_EQ(pool.map([](int x) { return x - 1; }, std::vector<int>{1, 2, 3}), (std::vector<int>{0, 1, 2}));
}

TEST_F(NamedFnSingle, AnExceptionArrivesAsRemoteError) {
  sp::ProcessPoolExecutor pool(1);
  try {
    pool.submit(throws_runtime, 7).result();
    FAIL() << "expected RemoteError";
  } catch (const spindle::RemoteError& e) {
    EXPECT_NE(e.type_name().find("runtime_error"), std::string::npos) << e.type_name();
    EXPECT_EQ(e.message(), "bad input 7");
  }
  EXPECT_THROW(pool.map(throws_runtime, std::vector<int>{-1, 2}), spindle::RemoteError);
  EXPECT_EQ(pool.submit(throws_runtime, -3).result(), -3);  // the worker goes on
}

TEST_F(NamedFnSingle, InitializerAsPythonSpellsIt) {
  sp::ProcessPoolExecutor pool({.max_workers = 1, .initializer = sp::call(init_set, 7)});
  EXPECT_EQ(pool.submit(read_init, 0).result(), 7);
}

TEST_F(NamedFnSingle, NamesInMessagesAreTheFunctionsNames) {
  EXPECT_EQ(sp::call(heavy, 1).name, "heavy");
  EXPECT_EQ(sp::call(spindle_test_lib::lib_triple, 1).name, "spindle_test_lib::lib_triple");
}

TEST_F(NamedFnSingle, AnAddressThatIsNotAFunctionStartFailsAtSubmit) {
  sp::ProcessPoolExecutor pool(1);
  const auto inside = reinterpret_cast<long long (*)(int)>(reinterpret_cast<std::uintptr_t>(&heavy) + 1);
  EXPECT_THROW(pool.submit(inside, 4), std::invalid_argument);
  const auto data = reinterpret_cast<int (*)(int)>(reinterpret_cast<std::uintptr_t>(&g_not_a_function));
  EXPECT_THROW(pool.submit(data, 4), std::invalid_argument);
  EXPECT_EQ(pool.stats().submitted, 0u);
}

TEST_F(NamedFnSingle, AProcessTakesAFunctionAsPythonSpellsIt) {
  sp::Process p(exit_with, 7);
  p.start();
  p.join();
  EXPECT_EQ(p.exitcode(), std::optional<int>(7));
}

// A hand-made frame: the trampoline of `long long(*)(int)` with an object and offset no parent would send.
sp::Call forged(const std::string& object, std::uint64_t offset, int arg) {
  using Trampoline = sp::detail::PointerCall<long long (*)(int)>;
  sp::Call c = sp::call(heavy, arg);  // registers the trampoline; then the address is replaced
  c.args.clear();
  sp::encode_into(c.args, nullptr, object, offset, arg);
  EXPECT_EQ(c.id, sp::detail::TrampolineRegistrar<Trampoline>::id);
  return c;
}

TEST_F(NamedFnSingle, TheWorkerRefusesAnAddressThatIsNotAFunctionStart) {
  sp::ProcessPoolExecutor pool(1);
  const sp::detail::FunctionAddress& real = sp::detail::locate_function(reinterpret_cast<std::uintptr_t>(&heavy));
  EXPECT_EQ(pool.submit_call<long long>(forged(real.object, real.offset, 4)).result(), 30);  // the frame is right
  const std::uint64_t data =
      sp::detail::locate_function(reinterpret_cast<std::uintptr_t>(&square)).offset +
      (reinterpret_cast<std::uintptr_t>(&g_not_a_function) - reinterpret_cast<std::uintptr_t>(&square));
  for (const auto& [object, offset] :
       std::vector<std::pair<std::string, std::uint64_t>>{{real.object, real.offset + 1},    // inside the function
                                                          {real.object, data},               // a variable
                                                          {real.object, 0},                  // the ELF header
                                                          {real.object, ~std::uint64_t{0}},  // nowhere
                                                          {"/nonexistent/libnothing.so", real.offset}}) {  // not loaded
    try {
      pool.submit_call<long long>(forged(object, offset, 4)).result();
      ADD_FAILURE() << "the worker ran offset " << offset << " of '" << object << "'";
    } catch (const spindle::RemoteError& e) {
      EXPECT_NE(e.type_name().find("ProtocolError"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(pool.submit(heavy, 4).result(), 30);  // and goes on
  EXPECT_THROW(sp::detail::resolve_function(real.object, real.offset + 1), sp::ProtocolError);
}

}  // namespace
