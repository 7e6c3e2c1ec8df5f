// The worker loop: what a worker process runs on its channel, under every start method. It reads the config
// frame (control block, limits, initializer), then runs task frames in order, claiming each through the
// control block (so that the parent can take back the ones it has not started), and writes one result or
// error frame per task (a pool worker's quick tasks in batches: result_batch.hpp).

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "fd_passing.hpp"
#include "result_batch.hpp"
#include "runtime.hpp"
#include "spindle/process/detail/blob.hpp"
#include "spindle/process/registry.hpp"
#include "spindle/process/shared_memory.hpp"

namespace spindle::process::detail {

namespace {

[[noreturn]] void quit(int code) {
  std::fflush(nullptr);
  ::_exit(code);
}

void send_frame(int fd, FrameType type, std::uint64_t id, std::string_view payload) {
  std::string out;
  append_frame(out, type, id, payload);
  if (!send_all(fd, out.data(), out.size(), {})) quit(0);
}

void close_fds(std::vector<int>& fds) {
  for (int f : fds)
    if (f >= 0) ::close(f);
  fds.clear();
}

// Claims the task with ordinal `seq`: true if it may run here, false if the parent revoked it. A Process's
// 8-byte block only records the ordinal (nobody revokes a Process's one task).
bool claim(Segment& control, std::uint64_t bytes, std::uint64_t seq) {
  if (bytes < sizeof(ControlBlock)) {
    std::atomic_ref<std::uint64_t>(*static_cast<std::uint64_t*>(control.data())).store(seq, std::memory_order_release);
    return true;
  }
  return claim_task(*static_cast<ControlBlock*>(control.data()), seq);
}

// The arguments of task_blob frames, read in by the kernel (pread) rather than mapped: a fresh mapping costs a
// page fault per 4 KiB, which on some VMs is ten times the copy. The buffer is reused from task to task, so
// its pages stay warm; one over kKeep is given back when the worker runs out of tasks.
class BlobArgs {
 public:
  const char* fill(const BlobFile& blob, std::size_t size) {
    if (size > capacity_) {
      buf_.reset();
      capacity_ = 0;
      buf_ = std::make_unique_for_overwrite<char[]>(size);
      capacity_ = size;
    }
    blob.read_into(buf_.get());
    return buf_.get();
  }
  bool large() const noexcept { return capacity_ > kKeep; }
  void shrink() noexcept {
    if (large()) {
      buf_.reset();
      capacity_ = 0;
    }
  }

 private:
  static constexpr std::size_t kKeep = std::size_t{16} << 20;
  std::unique_ptr<char[]> buf_;
  std::size_t capacity_ = 0;
};

// True if the channel has bytes (more tasks) waiting now.
bool readable_now(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

}  // namespace

void worker_main(int fd) {
  ::signal(SIGINT, SIG_IGN);  // Ctrl-C is the parent's to coordinate
  ::signal(SIGPIPE, SIG_IGN);
  FrameReader reader(kDefaultMaxFrameBytes);
  std::deque<int> received;
  WorkerConfig cfg;
  bool configured = false;
  std::uint64_t done = 0;
  std::string out;
  std::vector<int> out_fds;
  std::vector<int> in_fds;
  std::shared_ptr<Segment> control;      // where the parent reads which task this worker started
  std::unique_ptr<ResultBatch> results;  // pool workers: results of quick tasks go in batches
  BlobArgs blob_args;                    // where a task_blob's arguments are read in

  for (;;) {
    // Nothing more to run for now: what is kept goes before this worker blocks.
    if (results && !results->flush()) quit(0);
    if ((retained_segments() != 0 || blob_args.large()) && results && !readable_now(fd)) {
      release_retained_segments();
      blob_args.shrink();
    }
    auto area = reader.write_area(64 * 1024);
    const long n = recv_some(fd, area.data(), area.size(), received);
    if (n == 0) quit(0);  // the parent closed the channel (shutdown) or died
    if (n < 0) quit(2);
    reader.commit(static_cast<std::size_t>(n));
    Frame f;
    try {
      while (reader.next(f)) {
        in_fds.clear();
        for (int i = 0; i < f.header.nfds; ++i) {
          if (received.empty()) throw ProtocolError("worker: frame announces descriptors that never came");
          in_fds.push_back(received.front());
          received.pop_front();
        }
        if (!configured) {
          if (f.type() != FrameType::config) throw ProtocolError("worker: first frame is not a config frame");
          cfg = decode<WorkerConfig>(f.payload.data(), f.payload.size());
          configured = true;
          if (in_fds.empty()) throw ProtocolError("worker: config frame without its control block");
          const bool batched = cfg.result_area != 0;
          if (batched ? cfg.result_area != kResultAreaBytes || cfg.control_bytes != kResultAreaOffset + kResultAreaBytes
                      : cfg.control_bytes != sizeof(std::uint64_t) && cfg.control_bytes != sizeof(ControlBlock))
            throw ProtocolError("worker: bad control block size");
          control = Segment::adopt(std::exchange(in_fds[0], -1), cfg.control_bytes);
          in_fds.erase(in_fds.begin());
          if (batched) {
            results = std::make_unique<ResultBatch>(fd, static_cast<char*>(control->data()) + kResultAreaOffset);
            retain_adopted_segments(true);  // while busy: released at the loop's top when no task waits
          }
          if (cfg.rlimit_as) {
            rlimit r{cfg.rlimit_as, cfg.rlimit_as};
            ::setrlimit(RLIMIT_AS, &r);
          }
          if (cfg.rlimit_cpu_s) {
            rlimit r{cfg.rlimit_cpu_s, cfg.rlimit_cpu_s + 1};
            ::setrlimit(RLIMIT_CPU, &r);
          }
          if (!cfg.name.empty()) ::prctl(PR_SET_NAME, cfg.name.c_str(), 0, 0, 0);
          if (cfg.init_id) {
            try {
              const FunctionEntry* e = find_function(cfg.init_id);
              if (!e) throw ProtocolError("initializer: unknown function id");
              Reader args(cfg.init_args.data(), cfg.init_args.size(), &in_fds);
              std::string ignored;
              Writer result(ignored);
              e->invoke(args, result);
            } catch (...) {
              send_frame(fd, FrameType::init_failed, 0, error_payload());
              quit(3);
            }
          }
          close_fds(in_fds);
          const std::int32_t pid = ::getpid();
          send_frame(fd, FrameType::hello, 0, std::string_view(reinterpret_cast<const char*>(&pid), sizeof pid));
          continue;
        }
        if (f.type() != FrameType::task && f.type() != FrameType::task_blob)
          throw ProtocolError("worker: unexpected frame type");
        if (!claim(*control, cfg.control_bytes, f.header.id)) {
          // The parent took this task back before it started (it runs elsewhere): skip it, and once past
          // the last revoked ordinal, close the revocation and tell the parent.
          close_fds(in_fds);
          switch (skip_revoked(*static_cast<ControlBlock*>(control->data()), f.header.id)) {
            case Skipped::more:
              break;
            case Skipped::last:
              if (results && !results->flush()) quit(0);
              send_frame(fd, FrameType::hello, f.header.id, {});
              break;
            case Skipped::too_late:
              throw ProtocolError("worker: a task was sent during a revocation");
          }
          continue;
        }
        if (results && !results->before_task()) quit(0);
        // The reply is encoded behind a header placeholder, patched once the payload length is known.
        out.assign(sizeof(FrameHeader), '\0');
        out_fds.clear();
        FrameType type = FrameType::result;
        bool failed = false;
        try {
          if (f.payload.size() < sizeof(std::uint64_t)) throw ProtocolError("worker: short task frame");
          std::uint64_t id;
          std::memcpy(&id, f.payload.data(), sizeof id);
          const FunctionEntry* e = find_function(id);
          if (!e) throw ProtocolError("worker: task names a function id that is not registered");
          Writer result(out, &out_fds);
          if (f.type() == FrameType::task) {
            Reader args(f.payload.data() + sizeof id, f.payload.size() - sizeof id, &in_fds);
            e->invoke(args, result);
          } else {
            // The arguments are in the last descriptor: a blob of `size` bytes (detail/blob.hpp).
            std::uint64_t size = 0;
            if (f.payload.size() != 2 * sizeof(std::uint64_t) || in_fds.empty())
              throw ProtocolError("worker: malformed task_blob frame");
            std::memcpy(&size, f.payload.data() + sizeof id, sizeof size);
            const BlobFile blob(std::exchange(in_fds.back(), -1), static_cast<std::size_t>(size));
            in_fds.pop_back();
            Reader args(blob_args.fill(blob, static_cast<std::size_t>(size)), static_cast<std::size_t>(size), &in_fds);
            e->invoke(args, result);
          }
        } catch (...) {
          failed = true;
          out.resize(sizeof(FrameHeader));
          close_fds(out_fds);
          type = FrameType::error;
          out += error_payload();
          if (cfg.one_shot) {
            std::string t, m;
            describe_current_exception(t, m);
            std::fprintf(stderr, "Process %s: %s: %s\n", cfg.name.c_str(), t.c_str(), m.c_str());
          }
        }
        close_fds(in_fds);
        FrameHeader h{kFrameMagic,
                      static_cast<std::uint16_t>(type),
                      static_cast<std::uint16_t>(out_fds.size()),
                      static_cast<std::uint32_t>(out.size() - sizeof(FrameHeader)),
                      0,
                      f.header.id};
        std::memcpy(out.data(), &h, sizeof h);
        if (!(results ? results->add(out, out_fds) : send_all(fd, out.data(), out.size(), out_fds))) quit(0);
        close_fds(out_fds);
        ++done;
        if (cfg.one_shot) quit(failed ? 1 : 0);
        if (cfg.max_tasks && done >= cfg.max_tasks) {
          if (results && !results->flush()) quit(0);
          quit(0);
        }
      }
    } catch (const std::exception& e) {
      if (results) (void)results->flush();  // the tasks that finished keep their results
      std::fprintf(stderr, "spindle worker %d: %s\n", static_cast<int>(::getpid()), e.what());
      quit(4);
    }
  }
}

}  // namespace spindle::process::detail
