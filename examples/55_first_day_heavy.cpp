// A Python programmer's first day: the seed's heavy(n) on a process pool, one line per core's worth of work.
// Python twin: examples/python/55_first_day_heavy.py (a test keeps this file within 1.5x its lines).
#include <cmath>
#include <cstdio>
#include <spindle/spindle.hpp>

double heavy(long n) {
  double s = 0;
  for (long i = 0; i < n; ++i) s += std::sqrt(double(i));
  return s;
}

int main() {
  spindle::process::ProcessPoolExecutor pool;
  for (double r : pool.map(heavy, std::vector<long>(4, 1'000'000))) std::printf("%.1f\n", r);
}
