#pragma once
/// @file
/// Errors specific to the processes model. The shared ones (WorkerCrashed, RemoteError, BrokenExecutor,
/// TimeoutError) live in spindle/core/errors.hpp.

#include "spindle/core/errors.hpp"

namespace spindle::process {

/// A peer sent bytes that break the wire protocol: a frame longer than `max_frame_bytes`, a bad magic, an
/// unknown frame type, a length that does not match its content, or an unregistered function id. Raised
/// before anything is allocated for the offending frame. Python has no equivalent (its `recv()` unpickles
/// whatever arrives, after allocating whatever length it is told).
class ProtocolError : public spindle::Error {
 public:
  using spindle::Error::Error;
};

/// A worker process could not be started (out of descriptors, processes or memory) while tasks waited for
/// one. Only those tasks fail with it: the pool is not broken, and tries to start workers again on the next
/// submit. Python has no equivalent: its pool breaks (BrokenProcessPool).
class SpawnError : public spindle::Error {
 public:
  using spindle::Error::Error;
};

}  // namespace spindle::process
