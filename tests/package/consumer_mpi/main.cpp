// Run under mpirun -np 2 by tests/package/run_consumer.cmake: rank 1 computes, rank 0 prints "consumer ok 42"
// only when the result came back right.
#include <cstdio>

#include "spindle/mpi.hpp"

int times_seven(int x) { return x * 7; }

int main(int argc, char** argv) {
  auto session = spindle::mpi::init(argc, argv);  // rank 1 serves tasks here and never returns
  spindle::mpi::MpiPoolExecutor pool;
  const int answer = pool.submit<&times_seven>(6).result();
  std::printf("consumer ok %d\n", answer);
  return answer == 42 ? 0 : 1;
}
