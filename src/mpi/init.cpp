#include "spindle/mpi/init.hpp"

#include <mpi.h>

#include <atomic>
#include <cstdlib>
#include <future>
#include <thread>
#include <utility>

#include "comm.hpp"
#include "spindle/mpi/errors.hpp"
#include "spindle/process/start_method.hpp"

namespace spindle::mpi {
namespace {

std::atomic<bool> g_called{false};
std::atomic<bool> g_initialized{false};
std::atomic<int> g_world{0};
InitOptions g_options;
std::thread g_service;  // the one thread that makes MPI calls (MPI_THREAD_FUNNELED: it called MPI_Init_thread)

}  // namespace

namespace detail {

const InitOptions& options() { return g_options; }
int world() { return g_world.load(std::memory_order_acquire); }

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw MpiError(std::string("spindle::mpi: ") + what + " failed: " + std::string(text, static_cast<std::size_t>(len)));
}

}  // namespace detail

Session init(int& argc, char**& argv, InitOptions options) {
  if (g_called.exchange(true)) throw MpiError("spindle::mpi::init: called twice");
  g_options = options;
  // The local forkserver first: every worker process of this rank's pool is forked from it, never from a
  // process in which MPI is initialised (Open MPI warns that fork() after MPI_Init is unsafe with some
  // transports).
  process::init();
  std::promise<std::pair<int, int>> started;
  auto ready = started.get_future();
  g_service = std::thread([&argc, &argv, &started] {
    int provided = 0;
    int rank = 0, size = 0;
    try {
      detail::check(MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      // Errors come back as codes (then MpiError), never as Open MPI's default abort of the whole job.
      detail::check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
      detail::check(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
      detail::check(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
    } catch (...) {
      started.set_exception(std::current_exception());
      return;
    }
    g_world.store(size, std::memory_order_release);
    if (rank == 0) detail::prepare_service();  // before init() returns: executors reach it at once
    started.set_value({rank, size});
    // `started` is gone once init() returns: touch nothing of init's frame below.
    if (rank == 0) {
      detail::run_service(size);
    } else {
      detail::run_worker(rank);
    }
  });
  std::pair<int, int> where;
  try {
    where = ready.get();
  } catch (...) {
    g_service.join();
    throw;
  }
  if (where.first != 0) {
    // A worker rank: the service thread serves until rank 0 stops it, then finalizes MPI.
    g_service.join();
    std::exit(0);
  }
  g_initialized.store(true, std::memory_order_release);
  return Session();
}

bool initialized() noexcept { return g_initialized.load(std::memory_order_acquire); }

Session::~Session() {
  if (!active_) return;
  g_initialized.store(false, std::memory_order_release);
  detail::stop_service();
  if (g_service.joinable()) g_service.join();
}

int Session::world_size() const { return detail::world(); }

}  // namespace spindle::mpi
