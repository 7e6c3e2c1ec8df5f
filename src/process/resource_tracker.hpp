#pragma once
// The resource tracker: unlinks the named shared memory segments a process created and had not unlinked
// when it dies, however it dies (SIGKILL and OOM included). Python: multiprocessing's resource_tracker.
//
// Each process that creates a named segment gets its own tracker process, started on first use. The
// process writes each name into a table in shared memory *before* creating the segment and clears it after
// unlinking; the tracker waits on a pidfd of the process and, when it exits, unlinks what the table still
// lists. The process holds no descriptor for it and pays no system call per registration.

#include <string>

#include "spindle/process/shared_memory.hpp"

namespace spindle::process::detail {

/// Records `name` (a "/..." POSIX shm name) as about to be created by this process. Throws
/// std::system_error if the table is full or cannot be made.
void track_shm(const std::string& name);

/// Forgets `name` (it was unlinked, or its creation failed).
void untrack_shm(const std::string& name) noexcept;

}  // namespace spindle::process::detail
