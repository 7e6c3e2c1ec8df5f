// A worker rank: receives tasks from rank 0, runs them in a local ProcessPoolExecutor (so a task that crashes
// kills a worker process, not this rank), and sends back each result, or its error, as it completes. It says
// it is alive when idle, and ends itself if rank 0 goes silent (rank 0 lost: nobody would stop it).

#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>
#include <thread>
#include <typeinfo>
#include <vector>

#include "comm.hpp"
#include "spindle/core/errors.hpp"
#include "spindle/process/detail/blob.hpp"
#include "spindle/process/process_pool_executor.hpp"
#include "spindle/process/registry.hpp"
#include "wire.hpp"

namespace spindle::mpi::detail {
namespace {

using Clock = std::chrono::steady_clock;

struct Running {
  std::uint64_t id = 0;
  Future<std::string> result;
};

std::string reply(std::string payload, std::uint64_t id, wire::Status status) {
  wire::put_u64(payload, id);
  payload.push_back(static_cast<char>(status));
  return payload;
}

std::string error_reply(std::uint64_t id, const std::string& type, const std::string& message) {
  return reply(type + '\0' + message, id, wire::kOther);
}

// The result of a finished task, or its error, as a kResult message.
std::string outcome(Running& r) {
  try {
    return reply(std::move(r.result).result(), r.id, wire::kOk);
  } catch (const WorkerCrashed& e) {
    return reply(std::string(e.what()) + '\0' + e.task() + '\0' + std::to_string(e.pid()) + '\0' +
                     std::to_string(e.signal()) + '\0' + std::to_string(e.exit_code()),
                 r.id, wire::kCrashed);
  } catch (const RemoteError& e) {
    return reply(e.type_name() + '\0' + e.message(), r.id, wire::kRemote);
  } catch (const std::exception& e) {
    return error_reply(r.id, typeid(e).name(), e.what());
  } catch (...) {
    return error_reply(r.id, "unknown", "a non-standard exception");
  }
}

}  // namespace

void run_worker(int rank) {
  const auto& opt = options();
  Outbox outbox;
  {
    process::ProcessPoolExecutor pool(process::ProcessPoolOptions{.max_workers = opt.local_workers});
    std::string hello;
    wire::put_u64(hello, pool.max_workers());
    wire::put_u64(hello, static_cast<std::uint64_t>(::getpid()));
    hello += host_name();
    outbox.send(std::move(hello), 0, wire::kHello);
    std::vector<Running> running;
    auto last_heard = Clock::now(), last_sent = Clock::now();
    auto backoff = std::chrono::microseconds(5);
    bool stopping = false;
    auto last_round = Clock::now();
    // A task ([arguments][u64 function id][u64 task id]) into the local pool: its arguments are `data`, or the
    // first `placed - 16` bytes of `blob`.
    const auto submit = [&](std::string data, std::shared_ptr<process::detail::Blob> blob, std::size_t placed) {
      const std::string_view message = blob ? std::string_view(blob->data, placed) : std::string_view(data);
      const std::size_t size = message.size();
      if (size < 16) return;  // not ours: rank 0 never sends one
      const std::uint64_t id = wire::get_u64(message, size - 8);
      const std::uint64_t fn = wire::get_u64(message, size - 16);
      const auto* entry = process::detail::find_function(fn);
      if (entry == nullptr) {
        outbox.send(error_reply(id, "spindle::process::ProtocolError",
                                "no function with this id in the worker rank's program (another build?)"),
                    0, wire::kResult);
        return;
      }
      process::Call call;
      call.id = fn;
      call.name = entry->name;
      if (blob) {
        call.args_blob = std::move(blob);
        call.args_blob_bytes = size - 16;
      } else {
        data.resize(size - 16);
        call.args = std::move(data);
      }
      try {
        running.push_back({id, pool.submit_encoded(std::move(call))});
      } catch (const std::exception& e) {
        outbox.send(error_reply(id, typeid(e).name(), e.what()), 0, wire::kResult);
      }
    };
    const auto take = [&](std::string data) { submit(std::move(data), nullptr, 0); };
    // A large task is received straight into a shared-memory blob, which the local pool hands to its worker
    // as it is: no zero-filled string to receive into, no copy into a blob after.
    std::shared_ptr<process::detail::Blob> landing;
    const Place place = [&](int tag, std::size_t bytes) -> char* {
      if (tag != wire::kTask || bytes < process::detail::kBlobMinBytes + 16) return nullptr;
      try {
        landing = process::detail::lend_blob(bytes);
      } catch (const std::exception&) {
        return nullptr;  // no blob (out of memory or descriptors): the message goes into a string
      }
      return landing->data;
    };
    for (;;) {
      // Time this thread was held up (see service.cpp) does not count as rank 0's silence.
      if (const auto gap = Clock::now() - last_round; gap > opt.heartbeat) last_heard += gap;
      bool busy = false;
      Message m;
      while (try_receive(0, m, &place)) {
        busy = true;
        last_heard = Clock::now();
        if (m.tag == wire::kStop) {
          stopping = true;
        } else if (m.tag == wire::kAbort) {
          // Rank 0 is ending a job that lost a rank: MPI_Finalize would wait for the lost one.
          pool.shutdown(false, true, true);
          std::_Exit(70);
        } else if (m.tag == wire::kTask && m.placed != 0) {
          submit(std::string(), std::move(landing), m.placed);
        } else if (m.tag == wire::kTask) {
          take(std::move(m.data));
        } else if (m.tag == wire::kTasks) {
          wire::for_each_record(m.data, take);  // a malformed tail is not ours: rank 0 never sends one
        }
      }
      for (std::size_t i = 0; i < running.size();) {
        if (!running[i].result.done()) {
          ++i;
          continue;
        }
        // One message per result, as it comes: batching them too was measured slower (W11 submit over shared
        // memory 177k tasks/s against 397k with tasks batched alone): results come back in bursts, and rank
        // 0 then sends its tasks in bursts that the local pool runs unevenly. Capping a batch at the results
        // of one round, at most 16 or 4, was slower as well (submit 0.55-0.84x over both transports, 5 pairs).
        outbox.send(outcome(running[i]), 0, wire::kResult);
        running[i] = std::move(running.back());
        running.pop_back();
        busy = true;
      }
      const auto now = Clock::now();
      last_round = now;
      if (busy) last_sent = now;
      if (now - last_sent >= opt.heartbeat) {
        outbox.send(std::string(), 0, wire::kHeartbeat);
        last_sent = now;
      }
      // Rank 0 decides a loss; a worker ends itself only as a last resort, once rank 0 has had the time to
      // notice a loss and end the job itself (after a peer's death, Open MPI 4.1 may stall every message for
      // seconds, so rank 0's silence alone is no proof that it is gone).
      if (now - last_heard >= 2 * opt.rank_timeout + opt.abort_grace) {
        std::fprintf(stderr, "spindle::mpi: rank %d: rank 0 stopped answering; ending the job.\n", rank);
        std::fflush(stderr);
        pool.shutdown(false, true, true);
        bounded(opt.abort_grace, "MPI_Abort", [] { MPI_Abort(MPI_COMM_WORLD, 70); });
        std::_Exit(70);
      }
      busy = outbox.progress() || busy;
      if (stopping && running.empty() && outbox.empty()) break;
      if (busy) {
        backoff = std::chrono::microseconds(5);
      } else {
        std::this_thread::sleep_for(backoff);
        backoff =
            std::min(backoff * 2, running.empty() ? std::chrono::microseconds(1000) : std::chrono::microseconds(200));
      }
    }
  }  // the local pool shuts down (its workers exit) before MPI is finalized
  bounded(opt.rank_timeout + opt.abort_grace, "MPI_Finalize", [] { MPI_Finalize(); });
}

}  // namespace spindle::mpi::detail
