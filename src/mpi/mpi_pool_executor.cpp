#include "spindle/mpi/mpi_pool_executor.hpp"

#include <string>

namespace spindle::mpi {

MpiPoolExecutor::MpiPoolExecutor(MpiPoolOptions options) {
  if (!initialized()) {
    throw MpiError("MpiPoolExecutor: call spindle::mpi::init(argc, argv) first, and run the program under mpirun");
  }
  const std::size_t ranks = detail::worker_ranks();
  if (ranks == 0) throw MpiError("MpiPoolExecutor: no worker rank: run under mpirun -np N with N >= 2");
  if (options.max_workers > ranks) {
    throw std::invalid_argument("MpiPoolExecutor: max_workers " + std::to_string(options.max_workers) +
                                " is more than the job's " + std::to_string(ranks) + " worker rank(s)");
  }
  workers_ = options.max_workers ? options.max_workers : ranks;
  id_ = detail::open_executor(workers_);
}

MpiPoolExecutor::~MpiPoolExecutor() {
  shutdown(true);
  detail::close_executor(id_);
}

void MpiPoolExecutor::shutdown(bool wait, bool cancel_futures) {
  closed_.store(true, std::memory_order_release);
  if (cancel_futures) detail::cancel_queued(id_);
  if (wait) detail::wait_idle(id_);
}

}  // namespace spindle::mpi
