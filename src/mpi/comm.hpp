#pragma once
// What both sides of spindle::mpi share on one rank: the service thread's MPI calls (non-blocking sends kept
// alive until complete, probing receives into strings), the options, and the process-wide state.

#include <mpi.h>

#include <chrono>
#include <functional>
#include <list>
#include <string>

#include "spindle/mpi/init.hpp"

namespace spindle::mpi::detail {

// Sends in flight: each buffer lives until MPI_Test says the send completed.
class Outbox {
 public:
  void send(std::string buffer, int dest, int tag);
  // Sends `buffer` followed by `tail` as one message, without joining them in memory: appending a few bytes to
  // a large encoded argument would reallocate and copy all of it (a string's capacity is its size).
  void send(std::string buffer, std::string tail, int dest, int tag);
  // Completes what it can; true if anything completed.
  bool progress();
  bool empty() const { return sends_.empty(); }

 private:
  struct Send {
    std::string buffer, tail;
    MPI_Request request = MPI_REQUEST_NULL;
  };
  std::list<Send> sends_;  // a list: the request's address must not move while MPI holds it
};

// One received message.
struct Message {
  int source = -1;
  int tag = -1;
  std::string data;        // its bytes, unless it was received in place (see try_receive)
  std::size_t placed = 0;  // the bytes received at the place `place` gave (data then empty)
};

// Receives the next message from `source` (MPI_ANY_SOURCE) if one is there. If `place` is given and returns
// memory for the message's tag and size, the message is received there instead of into `data`.
using Place = std::function<char*(int tag, std::size_t bytes)>;
bool try_receive(int source, Message& out, const Place* place = nullptr);

// Runs `call` (MPI_Finalize, MPI_Abort) with a deadline: if it has not returned after `limit`, the process ends
// with status 70 and a message naming `what`. After a rank's loss Open MPI 4.1 (--enable-recovery) may block in
// them for ever: a worker rank's MPI_Finalize waited in its fence for the lost rank, and mpirun, which had
// been asked to end the job by MPI_Abort, did not end it (observed, about one run in twenty under load).
void bounded(std::chrono::milliseconds limit, const char* what, const std::function<void()>& call);

// Throws MpiError naming `what` when `rc` is not MPI_SUCCESS.
void check(int rc, const char* what);

/// This machine's host name (empty if unknown).
std::string host_name();
/// True while process `pid` of this machine runs (not gone, not a zombie): a silent rank that still runs is
/// stalled, not lost.
bool process_running(long pid);

// The options init() was given, for the service and worker loops.
const InitOptions& options();

// Rank 0's service thread (service.cpp): created before init() returns, then run; and a worker rank's loop
// (worker.cpp).
void prepare_service();
void run_service(int world_size);
void run_worker(int rank);
// Rank 0: asks the service to stop the ranks and finalize; returns once it did (or aborted the job).
void stop_service();
// The world size (0 before init).
int world();

}  // namespace spindle::mpi::detail
