// Seed 003, exercise 3: measure the speed-up of CPU-heavy work (heavy(n) = sum of sqrt(i) for i < n, four
// times) on processes, and show why threads under a GIL do not help (native threads do, without one).

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "common.hpp"
#include "spindle/lab/gil.hpp"
#include "spindle/process.hpp"
#include "spindle/thread/thread_pool_executor.hpp"

namespace spindle::labs {
namespace {

double heavy(std::uint64_t n, lab::Gil* gil) {
  double total = 0;
  for (std::uint64_t i = 0; i < n; ++i) {
    total += std::sqrt(static_cast<double>(i));
    asm volatile("" : "+x"(total));
    if (gil && (i & 1023) == 0) gil->tick();
  }
  return total;
}

double heavy_n(std::uint64_t n) { return heavy(n, nullptr); }

// The same tasks over the worker ranks of an MPI job (spindle::mpi's MpiPoolExecutor, one worker process per
// rank), in a job of its own: `mpirun -np ranks+1 lab_mpi_heavy n tasks`, where MPI was found at build time.
struct MpiRun {
  double seconds = lab::kNone;
  int ranks = 0;
  std::string why;  // why there is no figure
};

MpiRun mpi_run([[maybe_unused]] std::uint64_t n, [[maybe_unused]] int tasks) {
  MpiRun run;
#if defined(SPINDLE_LAB_MPI_HEAVY) && defined(SPINDLE_LAB_MPIRUN)
  const int ranks = std::min(tasks, cores());
  // --allow-run-as-root: harmless for a user, needed as root (CI, containers); single copy off: containers
  // forbid the process_vm_readv it needs.
  const std::string cmd = std::string("timeout -k 5 300 ") + SPINDLE_LAB_MPIRUN +
                          " --allow-run-as-root --oversubscribe -np " + std::to_string(ranks + 1) +
                          " --mca btl self,vader --mca btl_vader_single_copy_mechanism none " + SPINDLE_LAB_MPI_HEAVY +
                          " " + std::to_string(n) + " " + std::to_string(tasks) + " 2>/dev/null";
  if (std::FILE* p = ::popen(cmd.c_str(), "r")) {
    double seconds = 0;
    int workers = 0;
    const bool read = std::fscanf(p, "%lf %d", &seconds, &workers) == 2;
    const int status = ::pclose(p);
    if (read && status == 0) {
      run.seconds = seconds;
      run.ranks = workers;
    } else {
      run.why = "mpirun failed (status " + std::to_string(status) + ")";
    }
  } else {
    run.why = "could not start mpirun";
  }
#else
  run.why = "spindle::mpi was not built: no MPI at build time (Debian: libopenmpi-dev openmpi-bin)";
#endif
  return run;
}

lab::Result run_process_speedup(const lab::Options& o) {
  const std::uint64_t n = o.quick ? 20'000'000 : 100'000'000;  // the seed's 1e6 in CPython is ~100x slower
  const int tasks = 4;
  const double cpu0 = thread_cpu_s();
  const double serial = timed([&] {
    for (int i = 0; i < tasks; ++i) heavy(n, nullptr);
  });
  const double serial_cpu = thread_cpu_s() - cpu0;
  double gil_s = 0, native = 0;
  Usage gil_use, native_use;
  {
    ThreadPoolExecutor pool(tasks);
    lab::Gil gil;
    gil_use = usage_of([&] {
      std::vector<Future<double>> fs;
      for (int i = 0; i < tasks; ++i) {
        fs.push_back(pool.submit([&gil, n] {
          lab::Gil::Held held(gil);
          return heavy(n, &gil);
        }));
      }
      for (auto& f : fs) f.result();
    });
    native_use = usage_of([&] {
      std::vector<Future<double>> fs;
      for (int i = 0; i < tasks; ++i) fs.push_back(pool.submit([n] { return heavy(n, nullptr); }));
      for (auto& f : fs) f.result();
    });
  }
  double procs = 0;
  {
    process::ProcessPoolExecutor pool;  // max_workers = cores, Python's default
    procs = timed([&] {
      std::vector<Future<double>> fs;
      for (int i = 0; i < tasks; ++i) fs.push_back(pool.submit<&heavy_n>(n));
      for (auto& f : fs) f.result();
    });
  }
  const MpiRun mpi = mpi_run(n, tasks);
  gil_s = gil_use.wall;
  native = native_use.wall;
  const int k = std::min(tasks, cores());
  lab::Result r;
  r.rows.push_back({"serial (4 x heavy)", serial, lab::kNone, serial, "s", ""});
  r.rows.push_back({"threads under the GIL: speed-up", serial / gil_s, lab::kNone, 1, "x", ""});
  r.rows.push_back({"native threads: speed-up", serial / native, lab::kNone, double(k), "x", ""});
  r.rows.push_back({"threads under the GIL: cores used", gil_use.cores, lab::kNone, 1, "cores", ""});
  r.rows.push_back({"native threads: cores used", native_use.cores, lab::kNone, double(k), "cores", ""});
  r.rows.push_back({"processes: speed-up", serial / procs, lab::kNone, double(k), "x",
                    "ProcessPoolExecutor(), " + std::to_string(cores()) + " workers"});
  r.rows.push_back({"MPI ranks: speed-up", serial / mpi.seconds, lab::kNone, double(k), "x",
                    mpi.why.empty() ? "MpiPoolExecutor over " + std::to_string(mpi.ranks) +
                                          " worker ranks (mpirun), the job's start-up excluded"
                                    : "not measured: " + mpi.why});
  r.facts = {{"mpi_speedup", serial / mpi.seconds},
             {"serial_s", serial},
             {"serial_cpu_s", serial_cpu},
             {"gil_s", gil_s},
             {"gil_cores_used", gil_use.cores},
             {"gil_speedup", serial / gil_s},
             {"process_speedup", serial / procs},
             {"native_speedup", serial / native},
             {"cores", k}};
  r.lesson =
      "CPU-heavy work speeds up only with more cores computing at once: processes in Python, any "
      "thread in C++; a GIL keeps the speed-up at 1";
  return r;
}

const lab::Register register_process_speedup({"003-process-speedup", "003",
                                              "Exercise 3: the speed-up of CPU-heavy work", run_process_speedup});

}  // namespace
}  // namespace spindle::labs
