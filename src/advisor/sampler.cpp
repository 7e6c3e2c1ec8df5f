#include "sampler.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>
#include <vector>

#include "procfs.hpp"

namespace spindle::advisor::detail {
namespace {

std::uint64_t field_after(const std::string& text, const char* key) {
  const auto at = text.find(key);
  if (at == std::string::npos) return 0;
  return std::strtoull(text.c_str() + at + std::strlen(key), nullptr, 10);
}

}  // namespace

bool read_thread(pid_t pid, pid_t tid, ThreadCounters& out) {
  char path[96];
  std::snprintf(path, sizeof path, "/proc/%d/task/%d/stat", pid, tid);
  const std::string stat = slurp(path);
  // The name sits in parentheses and may contain spaces or ')': parse from the last ')'.
  const auto open = stat.find('(');
  const auto close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close + 2 >= stat.size()) return false;
  out.name = stat.substr(open + 1, close - open - 1);
  std::istringstream rest(stat.substr(close + 2));
  std::string tok;
  std::vector<std::string> f;  // f[0] is field 3 (state)
  while (f.size() < 13 && rest >> tok) f.push_back(tok);
  if (f.size() < 13) return false;
  out.state = f[0][0];
  const std::uint64_t ticks = std::strtoull(f[11].c_str(), nullptr, 10) + std::strtoull(f[12].c_str(), nullptr, 10);
  static const long hz = sysconf(_SC_CLK_TCK);

  std::snprintf(path, sizeof path, "/proc/%d/task/%d/schedstat", pid, tid);
  const std::string sched = slurp(path);
  unsigned long long run = 0, wait = 0, slices = 0;
  if (!sched.empty() && std::sscanf(sched.c_str(), "%llu %llu %llu", &run, &wait, &slices) >= 2) {
    out.cpu_ns = run;  // nanosecond-precise, where stat's utime/stime are clock ticks
    out.runqueue_ns = wait;
  } else {
    out.cpu_ns = ticks * (1'000'000'000ULL / static_cast<std::uint64_t>(hz > 0 ? hz : 100));
    out.runqueue_ns = 0;
  }
  out.futex = false;
  out.loop = false;
  if (out.state == 'S') {  // where it sleeps tells a lock (futex) from I/O (pipe_read, ep_poll, nanosleep...)
    std::snprintf(path, sizeof path, "/proc/%d/task/%d/wchan", pid, tid);
    const std::string wchan = slurp(path);
    out.futex = wchan.rfind("futex", 0) == 0;
    // An event loop's wait: epoll (do_epoll_wait, ep_poll), poll/select, io_uring's completion wait.
    for (const char* w : {"do_epoll_wait", "ep_poll", "do_sys_poll", "do_select", "core_sys_select", "io_cqring_wait",
                          "io_uring_cqring_wait"}) {
      if (wchan == w) out.loop = true;
    }
  }
  std::snprintf(path, sizeof path, "/proc/%d/task/%d/status", pid, tid);
  const std::string status = slurp(path);
  out.voluntary = field_after(status, "\nvoluntary_ctxt_switches:");
  out.involuntary = field_after(status, "\nnonvoluntary_ctxt_switches:");
  return true;
}

bool read_io(pid_t pid, IoCounters& out) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/io", pid);
  std::string text = "\n";
  text += slurp(path);
  if (text.size() < 8) return false;
  out.rchar = field_after(text, "\nrchar:");
  out.wchar = field_after(text, "\nwchar:");
  out.read_bytes = field_after(text, "\nread_bytes:");
  out.write_bytes = field_after(text, "\nwrite_bytes:");
  return true;
}

int count_epoll_registrations(pid_t pid) {
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/fd", pid);
  int count = 0;
  for (int fd : list_dir_numbers(path)) {
    char link[96];
    std::snprintf(link, sizeof link, "/proc/%d/fd/%d", pid, fd);
    if (read_link(link) != "anon_inode:[eventpoll]") continue;
    std::snprintf(link, sizeof link, "/proc/%d/fdinfo/%d", pid, fd);
    const std::string info = slurp(link);
    for (std::size_t at = info.find("tfd:"); at != std::string::npos; at = info.find("tfd:", at + 4)) ++count;
  }
  return count;
}

TreeSampler::TreeSampler(pid_t root, bool baseline_existing, pid_t exclude_tid)
    : root_(root),
      baseline_existing_(baseline_existing),
      exclude_(exclude_tid),
      start_(std::chrono::steady_clock::now()) {}

void TreeSampler::collect(pid_t pid, std::map<pid_t, bool>& seen) {
  if (seen.count(pid) || seen.size() > 4096) return;
  seen[pid] = true;
  char path[64];
  std::snprintf(path, sizeof path, "/proc/%d/task", pid);
  const auto now = std::chrono::steady_clock::now();
  std::vector<pid_t> children;
  for (pid_t tid : list_dir_numbers(path)) {
    if (tid == exclude_) continue;
    ThreadCounters c;
    if (!read_thread(pid, tid, c)) continue;
    auto [it, inserted] = threads_.try_emplace(tid);
    Track& t = it->second;
    if (inserted) {
      t.pid = pid;
      if (first_ && baseline_existing_) t.base = c;
      t.base.name.clear();
      t.first_seen = first_ ? start_ : now;
    }
    if (c.state == 'Z' || c.state == 'X') continue;  // a dead thread's counters are final; keep the last
    if (!inserted) {
      const std::uint64_t before = t.last.cpu_ns + t.last.runqueue_ns, now_ns = c.cpu_ns + c.runqueue_ns;
      const std::uint64_t wanted = now_ns > before ? now_ns - before : 0;
      tick_wants_.emplace_back(wanted, c.state == 'R');
      const auto since = std::chrono::duration_cast<std::chrono::nanoseconds>(now - t.last_seen).count();
      if (c.state == 'R' || (since > 0 && wanted >= static_cast<std::uint64_t>(since) / 4))
        tick_computing_.push_back(pid);
    } else if (c.state == 'R') {
      tick_computing_.push_back(pid);
    }
    if (c.state == 'S' && !c.futex) tick_sleepers_.emplace_back(pid, tid);
    t.last = c;
    t.last_seen = now;
    t.last_seen_tick = ticks_;
    ++t.samples;
    if (c.state == 'R')
      ++t.r;
    else if (c.state == 'D')
      ++t.d;
    else if (c.state == 'S')
      ++t.s;
    if (c.futex) ++t.l;
    if (c.loop) ++t.e;
    char cpath[96];
    std::snprintf(cpath, sizeof cpath, "/proc/%d/task/%d/children", pid, tid);
    std::istringstream kids(slurp(cpath));
    pid_t kid;
    while (kids >> kid) {
      children.push_back(kid);
      tick_parent_[kid] = pid;
    }
  }
  IoCounters io;
  auto [pit, pinserted] = procs_.try_emplace(pid);
  if (read_io(pid, io)) {
    if (pinserted && first_ && baseline_existing_) pit->second.base = io;
    pit->second.last = io;
    pit->second.readable = true;
  }
  for (pid_t kid : children) collect(kid, seen);
}

int TreeSampler::sample() {
  std::map<pid_t, bool> seen;
  tick_wants_.clear();
  tick_parent_.clear();
  tick_computing_.clear();
  tick_sleepers_.clear();
  std::uint64_t running_before = 0;
  for (const auto& [tid, t] : threads_) running_before += static_cast<std::uint64_t>(t.r);
  collect(root_, seen);
  // A thread asleep outside a lock (in waitpid, on a pipe, in an event loop) while a process it started is
  // computing waits for the measured program's own work, as a lock's waiter does, not for the outside world:
  // a parent running its computation in a child must not read as waiting on I/O.
  {
    std::set<pid_t> waited_on;  // processes with a computing descendant
    for (pid_t p : tick_computing_) {
      for (auto up = tick_parent_.find(p); up != tick_parent_.end(); up = tick_parent_.find(up->second)) {
        if (!waited_on.insert(up->second).second) break;
      }
    }
    for (const auto& [pid, tid] : tick_sleepers_) {
      if (waited_on.count(pid)) ++threads_[tid].w;
    }
    // The same for a thread blocked reading a pipe or Unix socket whose other end a process of the tree holds
    // that is computing or waiting for its own child's computation: an idle forkserver or pool worker waiting
    // for its next request (its start-up CPU can make it a working thread: under ASan, a forkserver's 0.18 s
    // and 3 s of waiting turned a CPU-bound run "mixed"). Not for an idle peer: the outside world is still
    // what a pipe's reader waits for when the writer itself sleeps on it.
    if (ticks_ % 8 == 0) peer_index_.clear();
    if (!tick_computing_.empty()) {
      std::set<pid_t> busy(tick_computing_.begin(), tick_computing_.end());
      busy.insert(waited_on.begin(), waited_on.end());
      std::vector<pid_t> tree;
      for (const auto& [pid, in] : seen) tree.push_back(pid);
      for (const auto& [pid, tid] : tick_sleepers_) {
        Track& t = threads_[tid];
        if (waited_on.count(pid) || t.last.loop) continue;
        // Still asleep in the same call (no voluntary switch since it was read): the same descriptor.
        if (t.blocked_at_switch != t.last.voluntary) {
          t.blocked_fd = blocked_read_fd(pid, tid);
          t.blocked_at_switch = t.last.voluntary;
        }
        const int fd = t.blocked_fd;
        if (fd < 0) continue;
        for (pid_t peer : peer_index_.peers(pid, fd, tree)) {
          if (busy.count(peer)) {
            ++t.p;
            break;
          }
        }
      }
    }
  }
  // Waits in flight (every 8th tick: listing descriptors costs more than reading counters): what the event
  // loops have registered, plus the threads blocked outside a lock or a loop (each a blocking call in flight).
  if (ticks_ % 8 == 0) {
    int waits = 0;
    for (const auto& [pid, p] : procs_) {
      if (seen.count(pid)) waits += count_epoll_registrations(pid);
    }
    for (const auto& [tid, t] : threads_) {
      if (t.last_seen_tick == ticks_ && (t.last.state == 'S' || t.last.state == 'D') && !t.last.futex && !t.last.loop)
        ++waits;
    }
    waits_in_flight_ = std::max(waits_in_flight_, waits);
  }
  // The machine's other work: runnable tasks (/proc/loadavg's "running/total", this sampling thread
  // included) less the measured program's threads seen running or runnable in this tick.
  std::uint64_t running_now = 0;
  for (const auto& [tid, t] : threads_) running_now += static_cast<std::uint64_t>(t.r);
  long runnable = 0, total = 0;
  double l1 = 0, l5 = 0, l15 = 0;
  if (FILE* f = std::fopen("/proc/loadavg", "r")) {
    if (std::fscanf(f, "%lf %lf %lf %ld/%ld", &l1, &l5, &l15, &runnable, &total) == 5) {
      const long mine = static_cast<long>(running_now - running_before) + 1;
      others_runnable_ += static_cast<double>(std::max(0L, runnable - mine));
      ++load_ticks_;
    }
    std::fclose(f);
  }
  // The timeline: cores used between this tick and the previous one (the tree's CPU, exited threads included).
  const auto tick_time = std::chrono::steady_clock::now();
  std::uint64_t cpu_ns = 0;
  for (const auto& [tid, t] : threads_) cpu_ns += t.last.cpu_ns > t.base.cpu_ns ? t.last.cpu_ns - t.base.cpu_ns : 0;
  if (!first_) {
    const double dt = std::chrono::duration<double>(tick_time - prev_tick_).count();
    if (dt > 0) {
      const double used = static_cast<double>(cpu_ns > prev_cpu_ns_ ? cpu_ns - prev_cpu_ns_ : 0) / 1e9 / dt;
      const double at = std::chrono::duration<double>(tick_time - start_).count();
      timeline_.emplace_back(at, used);
      // Wanted: what each thread ran or queued for since its last sample, and the whole tick for a thread
      // found runnable. The kernel adds a wait in the run queue to schedstat only once the thread gets its
      // core back, and a vCPU the hypervisor takes away stops its CPU clock: a thread kept off its core for
      // 100 ms shows neither, while its state says it wanted to run (a busy loop "waited" under load).
      const double dt_ns = dt * 1e9;
      double wanted = 0;
      for (const auto& [ns, queued] : tick_wants_)
        wanted += std::min(dt_ns, std::max(static_cast<double>(ns), queued ? dt_ns : 0.0));
      demand_timeline_.emplace_back(at, wanted / dt_ns);
    }
  }
  prev_cpu_ns_ = cpu_ns;
  prev_tick_ = tick_time;
  first_ = false;
  ++ticks_;
  return static_cast<int>(threads_.size());
}

void TreeSampler::fill(Report& report) const {
  report.samples = ticks_;
  report.waits_in_flight = waits_in_flight_;
  report.timeline = timeline_;
  report.demand_timeline = demand_timeline_;
  report.other_load = load_ticks_ ? others_runnable_ / load_ticks_ : 0.0;
  report.threads.clear();
  std::uint64_t states = 0, d_states = 0;
  for (const auto& [tid, t] : threads_) {
    if (t.samples == 0) continue;
    ThreadStats s;
    s.pid = t.pid;
    s.tid = tid;
    s.name = t.last.name;
    const auto delta = [](std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; };
    s.cpu_s = static_cast<double>(delta(t.last.cpu_ns, t.base.cpu_ns)) / 1e9;
    s.runqueue_s = static_cast<double>(delta(t.last.runqueue_ns, t.base.runqueue_ns)) / 1e9;
    s.voluntary = delta(t.last.voluntary, t.base.voluntary);
    s.involuntary = delta(t.last.involuntary, t.base.involuntary);
    const double interval = ticks_ > 1 ? report.wall_s / ticks_ : report.wall_s;
    s.alive_s = std::min(report.wall_s, std::chrono::duration<double>(t.last_seen - t.first_seen).count() + interval);
    s.alive_s = std::max(s.alive_s, s.cpu_s + s.runqueue_s);
    s.running = static_cast<double>(t.r) / t.samples;
    s.sleeping = static_cast<double>(t.s) / t.samples;
    s.disk_wait = static_cast<double>(t.d) / t.samples;
    s.lock_wait = static_cast<double>(t.l) / t.samples;
    s.loop_wait = static_cast<double>(t.e) / t.samples;
    s.child_wait = static_cast<double>(t.w) / t.samples;
    s.peer_wait = static_cast<double>(t.p) / t.samples;
    states += static_cast<std::uint64_t>(t.samples);
    d_states += static_cast<std::uint64_t>(t.d);
    report.cpu_s += s.cpu_s;
    report.runqueue_s += s.runqueue_s;
    report.observed_s = std::max(report.observed_s, std::chrono::duration<double>(t.last_seen - start_).count());
    report.voluntary += s.voluntary;
    report.involuntary += s.involuntary;
    report.threads.push_back(std::move(s));
  }
  std::sort(report.threads.begin(), report.threads.end(),
            [](const ThreadStats& a, const ThreadStats& b) { return a.cpu_s > b.cpu_s; });
  report.threads_seen = static_cast<int>(report.threads.size());
  report.processes_seen = static_cast<int>(procs_.size());
  report.disk_wait_fraction = states ? static_cast<double>(d_states) / static_cast<double>(states) : 0.0;
  for (const auto& [pid, p] : procs_) {
    if (!p.readable) continue;
    report.io_readable = true;
    const auto delta = [](std::uint64_t a, std::uint64_t b) { return a > b ? a - b : 0; };
    report.read_bytes += delta(p.last.read_bytes, p.base.read_bytes);
    report.write_bytes += delta(p.last.write_bytes, p.base.write_bytes);
    report.read_chars += delta(p.last.rchar, p.base.rchar);
    report.write_chars += delta(p.last.wchar, p.base.wchar);
  }
}

}  // namespace spindle::advisor::detail
