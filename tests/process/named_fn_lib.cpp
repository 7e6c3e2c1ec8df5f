// A function of a static library (linked into test_process_pool_named_fn), for the test that a function
// passed at run time need not be defined in the test's own translation unit.

namespace spindle_test_lib {
long long lib_triple(long long x) { return 3 * x; }
}  // namespace spindle_test_lib
