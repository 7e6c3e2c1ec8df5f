// Happy Eyeballs (RFC 8305, asyncio's staggered connect): attempts to a name's addresses start one
// `delay` apart, or at once when the previous one fails; the first to connect wins and the rest are cancelled
// and closed.

#include <sys/socket.h>
#include <unistd.h>

#include <exception>
#include <utility>
#include <vector>

#include "spindle/aio/gather.hpp"
#include "spindle/aio/locks.hpp"
#include "spindle/aio/sock.hpp"
#include "spindle/aio/streams.hpp"
#include "spindle/aio/timeout.hpp"

namespace spindle::aio::detail {
namespace {

/// What the attempts share with the loop that starts them.
struct Race {
  Event changed;  // an attempt finished (connected or failed)
  int winner = -1;
  std::size_t live = 0;
  std::exception_ptr last;
};

/// One address: the first to connect becomes the winner; a later one closes its fd (FdGuard), as does a
/// cancelled one.
Task<void> attempt(SockAddr address, Race& race) {
  try {
    FdGuard g(make_socket(address.family(), SOCK_STREAM));
    co_await sock_connect(g.get(), address);
    if (race.winner < 0) race.winner = g.release();
  } catch (const CancelledError&) {
    --race.live;
    race.changed.set();
    throw;
  } catch (...) {
    race.last = std::current_exception();
  }
  --race.live;
  race.changed.set();
}

Task<void> wait_changed(Race& race) { co_await race.changed.wait(); }

}  // namespace

std::vector<SockAddr> interleave_families(std::vector<SockAddr> addresses, std::size_t first_family_count) {
  if (first_family_count == 0 || addresses.empty()) return addresses;
  // Python's _interleave_addrinfos: `first_family_count` of the first family, then alternate families.
  std::vector<std::vector<SockAddr>> by_family;
  std::vector<int> families;
  for (const SockAddr& a : addresses) {
    std::size_t i = 0;
    while (i < families.size() && families[i] != a.family()) ++i;
    if (i == families.size()) {
      families.push_back(a.family());
      by_family.emplace_back();
    }
    by_family[i].push_back(a);
  }
  std::vector<SockAddr> out;
  out.reserve(addresses.size());
  std::vector<std::size_t> next(by_family.size(), 0);
  for (std::size_t k = 0; k < first_family_count - 1 && next[0] < by_family[0].size(); ++k)
    out.push_back(by_family[0][next[0]++]);
  while (out.size() < addresses.size()) {
    for (std::size_t f = 0; f < by_family.size(); ++f) {
      if (next[f] < by_family[f].size()) out.push_back(by_family[f][next[f]++]);
    }
  }
  return out;
}

Task<int> staggered_connect(std::vector<SockAddr> addresses, std::chrono::nanoseconds delay) {
  if (addresses.empty()) throw GaiError(0, "no address to connect to");
  Race race;
  std::vector<Task<void>> tasks;
  std::exception_ptr stop;  // our own cancellation: the attempts are still cancelled and closed first
  std::size_t started = 0;
  while (race.winner < 0) {
    if (started < addresses.size()) {
      ++race.live;
      tasks.push_back(create_task(attempt(addresses[started++], race)));
    }
    if (race.live == 0) break;  // every attempt failed
    race.changed.clear();
    try {
      if (started < addresses.size()) {
        // The next address starts after `delay`, or at once when an attempt fails.
        Task<void> waiting = wait_for(wait_changed(race), delay);
        co_await std::move(waiting);
      } else {
        co_await race.changed.wait();
      }
    } catch (const TimeoutError&) {
    } catch (...) {
      stop = std::current_exception();
      break;
    }
  }
  for (Task<void>& t : tasks) t.cancel();  // the losers (a finished task ignores this)
  Task<std::vector<Outcome<void>>> ending = gather(return_exceptions, std::move(tasks));
  co_await std::move(ending);
  if (stop) {
    if (race.winner >= 0) ::close(race.winner);
    std::rethrow_exception(stop);
  }
  if (race.winner < 0) std::rethrow_exception(race.last);
  co_return race.winner;
}

}  // namespace spindle::aio::detail
