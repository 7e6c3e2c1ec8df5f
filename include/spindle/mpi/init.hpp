#pragma once
/// @file
/// Starting spindle::mpi: `auto session = spindle::mpi::init(argc, argv);` first thing in main. Under
/// `mpirun -np N prog`, rank 0 returns and runs the program; ranks 1..N-1 never return: they serve tasks (each
/// in a local ProcessPoolExecutor of its node's cores) and exit when rank 0's Session ends.
/// Python equivalent: `mpi4py.futures`' `python -m mpi4py.futures prog.py`.

#include <chrono>
#include <cstddef>

namespace spindle::mpi {

/// Options of init().
struct InitOptions {
  /// Worker processes per worker rank (its local ProcessPoolExecutor); 0: the node's cores.
  std::size_t local_workers = 0;
  /// Tasks sent ahead to one rank (pipelining hides the round trip); 0: adaptive, from two per local worker
  /// up to 128 as round trips show tiny tasks (about 2 ms of queued work per local worker).
  std::size_t inflight_per_rank = 0;
  /// How often an idle rank says it is alive.
  std::chrono::milliseconds heartbeat = std::chrono::milliseconds(250);
  /// A worker rank silent this long is lost: its tasks fail with RankLost and the pool is broken. (A worker
  /// rank gives rank 0 twice this plus abort_grace before it ends itself.)
  std::chrono::milliseconds rank_timeout = std::chrono::milliseconds(3000);
  /// After a rank is lost, how long the program may go on (to report its failed futures) before the job is
  /// ended with a message: Open MPI 4.1 cannot finalize with a rank missing.
  std::chrono::milliseconds abort_grace = std::chrono::milliseconds(4000);
};

/// Rank 0's hold on MPI: its destructor stops the worker ranks and finalizes MPI (or, after a lost rank,
/// ends the job with MPI_Abort and a message). Destroy it after every MpiPoolExecutor. Move-only.
class Session {
 public:
  Session(Session&& other) noexcept : active_(other.active_) { other.active_ = false; }
  Session& operator=(Session&&) = delete;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;
  /// Stops the worker ranks and finalizes MPI. Python: the end of `mpi4py.futures`' main script.
  ~Session();
  /// The number of ranks (rank 0 included). Python: `MPI.COMM_WORLD.Get_size()`.
  int world_size() const;

 private:
  friend Session init(int& argc, char**& argv, InitOptions options);  // NOLINT(readability-redundant-declaration)
  Session() = default;
  bool active_ = true;
};

/// Starts the local forkserver (before MPI_Init: no worker is ever forked from an initialised MPI process),
/// then MPI (MPI_THREAD_FUNNELED, on one service thread that makes every MPI call). Returns on rank 0 only;
/// the other ranks serve tasks and exit with status 0 when rank 0's Session ends.
/// **Errors:** MpiError if called twice or if MPI fails to start.
[[nodiscard]] Session init(int& argc, char**& argv, InitOptions options = {});

/// True between init() and the Session's end, on rank 0.
bool initialized() noexcept;

}  // namespace spindle::mpi
