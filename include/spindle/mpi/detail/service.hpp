#pragma once
/// @file
/// Internal: what an MpiPoolExecutor asks of rank 0's MPI service thread (src/mpi/service.cpp), which makes
/// every MPI call. Tasks wait in one queue per executor; the service sends them to the ranks round robin
/// across executors, so that a long map of one does not starve another.

#include <cstddef>
#include <memory>

#include "spindle/process/process_pool_executor.hpp"

namespace spindle::mpi::detail {

/// Registers an executor that may use worker ranks 1..ranks; returns its id.
/// Throws MpiError when init() did not run here or the world has no worker rank.
int open_executor(std::size_t ranks);
/// Forgets an executor once it has no task left.
void close_executor(int id) noexcept;
/// Queues a task (its call already packed). Throws BrokenExecutor after a lost rank.
void enqueue(int id, std::unique_ptr<process::detail::TaskBase> task);
/// Cancels the executor's tasks still queued (not yet sent to a rank).
void cancel_queued(int id) noexcept;
/// Blocks until every task of the executor completed.
void wait_idle(int id);
/// The number of worker ranks (world size - 1).
std::size_t worker_ranks();

}  // namespace spindle::mpi::detail
