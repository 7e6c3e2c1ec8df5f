#pragma once
/// @file
/// spindle::mpi: the process pool's API across the nodes of an MPI job (Open MPI). Its own library,
/// `spindle::mpi`, built when MPI is found.

#include "spindle/mpi/errors.hpp"
#include "spindle/mpi/init.hpp"
#include "spindle/mpi/mpi_pool_executor.hpp"
