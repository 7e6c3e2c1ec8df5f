#pragma once
/// @file
/// Errors of spindle::mpi. A task's own failures are the process pool's (RemoteError, WorkerCrashed); these
/// are the cluster's.

#include <string>
#include <vector>

#include "spindle/core/errors.hpp"

namespace spindle::mpi {

/// An MPI rank stopped answering (its node was lost, it was killed): the tasks it held fail with this error,
/// naming the rank and the tasks. Open MPI 4.1 has no fault tolerance (ULFM), so the pool is broken
/// afterwards and the job ends soon after with a message (see Session). Python: mpi4py.futures hangs instead.
class RankLost : public spindle::Error {
 public:
  RankLost(int rank, std::vector<std::string> tasks, const std::string& what)
      : Error(what), rank_(rank), tasks_(std::move(tasks)) {}
  /// The rank that was lost.
  int rank() const noexcept { return rank_; }
  /// Names of the tasks it held.
  const std::vector<std::string>& tasks() const noexcept { return tasks_; }

 private:
  int rank_;
  std::vector<std::string> tasks_;
};

/// MPI could not be used: init() was not called, was called twice, or the MPI library failed.
class MpiError : public spindle::Error {
 public:
  using spindle::Error::Error;
};

}  // namespace spindle::mpi
