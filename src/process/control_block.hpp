#pragma once
// The claim word shared by a pool worker and its parent, and the two decisions made on it: the worker
// claiming a task, the parent taking back the tasks not yet claimed. Atomics only (no system call), so
// that a unit test can play both sides (tests/process/test_dispatch_policy.cpp).

#include <atomic>
#include <cstdint>
#include <optional>

namespace spindle::process::detail {

/// The control block a pool worker shares with the parent (a memfd both map), operated only through
/// std::atomic_ref. Task frames sent to one worker carry consecutive ordinals 1, 2, 3, ... (the frame id).
/// - `claim`: the last ordinal the worker consumed (ran or skipped), plus kRevoked while a revocation is
///   open. The worker claims ordinal s by CAS(s-1 -> s); the CAS fails once the parent has set kRevoked.
///   The parent revokes by CAS(k -> k | kRevoked): from then on no task with ordinal > k runs on this worker.
/// - `revoke_through`: the last ordinal the parent had sent when it revoked, written before the revoking CAS
///   (which publishes it). The worker skips every task up to it, then stores `claim = revoke_through`
///   (closing the revocation) and acknowledges with a `hello` frame whose id is that ordinal; the parent
///   sends that worker nothing new until the acknowledgement.
/// See docs/design/process-pool.md, "Giving back unstarted tasks".
struct ControlBlock {
  std::uint64_t claim;
  std::uint64_t revoke_through;
  static constexpr std::uint64_t kRevoked = std::uint64_t{1} << 63;
};
static_assert(sizeof(ControlBlock) == 16);

/// Worker side: claims the task with ordinal `seq`; false if the parent revoked it (it runs elsewhere).
inline bool claim_task(ControlBlock& b, std::uint64_t seq) noexcept {
  std::atomic_ref<std::uint64_t> claim(b.claim);
  std::uint64_t c = claim.load(std::memory_order_acquire);
  for (;;) {
    if (c & ControlBlock::kRevoked) return false;
    // Acquire on failure: a revoking CAS publishes revoke_through, read next.
    if (claim.compare_exchange_weak(c, seq, std::memory_order_acq_rel, std::memory_order_acquire)) return true;
  }
}

/// What a worker does with a task it could not claim (revoked).
enum class Skipped {
  more,      ///< skip it; more revoked tasks follow
  last,      ///< it was the last revoked one: the revocation is now closed, acknowledge it
  too_late,  ///< its ordinal is past the revocation: the parent broke the protocol
};

/// Worker side, for a task `claim_task` refused: skips it, and closes the revocation after the last one.
inline Skipped skip_revoked(ControlBlock& b, std::uint64_t seq) noexcept {
  const std::uint64_t through = std::atomic_ref<std::uint64_t>(b.revoke_through).load(std::memory_order_acquire);
  if (seq > through) return Skipped::too_late;
  if (seq < through) return Skipped::more;
  std::atomic_ref<std::uint64_t>(b.claim).store(through, std::memory_order_release);
  return Skipped::last;
}

/// Parent side: revokes every task after the last one the worker claimed, up to ordinal `last` (the last
/// one sent). Returns that claimed ordinal k (the tasks with ordinals in (k, last] never run there), or
/// nothing if the worker already claimed `last` (nothing to take back; no revocation is open then).
inline std::optional<std::uint64_t> revoke_unclaimed(ControlBlock& b, std::uint64_t last) noexcept {
  std::atomic_ref<std::uint64_t> claim(b.claim);
  // Published by the revoking CAS below (release); the worker reads it only once it sees kRevoked.
  std::atomic_ref<std::uint64_t>(b.revoke_through).store(last, std::memory_order_relaxed);
  std::uint64_t k = claim.load(std::memory_order_acquire);
  for (;;) {
    if (k >= last) return std::nullopt;  // it started everything it was sent
    if (claim.compare_exchange_weak(k, k | ControlBlock::kRevoked, std::memory_order_acq_rel,
                                    std::memory_order_acquire))
      return k;
  }
}

/// The ordinal of the last task the worker consumed (started, or skipped as revoked).
inline std::uint64_t claimed_through(ControlBlock& b) noexcept {
  return std::atomic_ref<std::uint64_t>(b.claim).load(std::memory_order_acquire) & ~ControlBlock::kRevoked;
}

}  // namespace spindle::process::detail
