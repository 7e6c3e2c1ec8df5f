// W11's floor (docs/bench.md): what MPI itself does with W11's payload variant, with nothing around it. Rank 0
// sends the same 10 MiB buffer 20 times, round robin over the other ranks, straight from the buffer (no
// encoding, no copy outside MPI); each worker rank receives into a buffer it keeps, sums its 64-bit words and
// sends the 8-byte sum back. No pool, no codec, no local process: the most any MPI pool could reach on this
// transport, so that spindle's and mpi4py's payload figures can be read against it in the same run.
// Run by scripts/bench-w11.sh as `mpirun -np 4 bench_w11_floor`. Prints one JSON line on rank 0.

#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <vector>

namespace {

constexpr int kTasks = 20;
constexpr std::size_t kWords = std::size_t{10} * 1024 * 1024 / 8;
constexpr int kTask = 1, kStop = 2, kResult = 3;

std::uint64_t word_sum(const std::vector<std::uint64_t>& words) {
  std::uint64_t sum = 0;
  for (auto w : words) sum += w;
  return sum;
}

int serve() {
  std::vector<std::uint64_t> words(kWords);
  for (;;) {
    MPI_Status status;
    MPI_Recv(words.data(), static_cast<int>(kWords), MPI_UINT64_T, 0, MPI_ANY_TAG, MPI_COMM_WORLD, &status);
    if (status.MPI_TAG == kStop) return 0;
    int count = 0;
    MPI_Get_count(&status, MPI_UINT64_T, &count);
    // A warm-up message is one word long: its "sum" is that word.
    const std::uint64_t sum = count == 1 ? words[0] : word_sum(words);
    MPI_Send(&sum, 1, MPI_UINT64_T, 0, kResult, MPI_COMM_WORLD);
  }
}

}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (size < 2) {
    if (rank == 0) std::fprintf(stderr, "bench_w11_floor: run it under mpirun -np N, N >= 2\n");
    MPI_Finalize();
    return 2;
  }
  if (rank != 0) {
    const int rc = serve();
    MPI_Finalize();
    return rc;
  }
  const int workers = size - 1;
  std::vector<std::uint64_t> words(kWords);
  for (std::size_t i = 0; i < kWords * 8; ++i) reinterpret_cast<unsigned char*>(words.data())[i] = i & 0xff;
  const std::uint64_t expected = word_sum(words);
  std::uint64_t got = 0;
  // Warm-up, as the pools' benchmarks warm up with tiny tasks: every connection made, no large message yet.
  for (int r = 1; r <= workers; ++r) {
    const std::uint64_t one = 1;
    MPI_Send(&one, 1, MPI_UINT64_T, r, kTask, MPI_COMM_WORLD);
    MPI_Recv(&got, 1, MPI_UINT64_T, r, kResult, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  }
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<MPI_Request> sends(kTasks);
  for (int i = 0; i < kTasks; ++i) {
    MPI_Isend(words.data(), static_cast<int>(kWords), MPI_UINT64_T, 1 + i % workers, kTask, MPI_COMM_WORLD,
              &sends[static_cast<std::size_t>(i)]);
  }
  int wrong = 0;
  for (int i = 0; i < kTasks; ++i) {
    MPI_Recv(&got, 1, MPI_UINT64_T, MPI_ANY_SOURCE, kResult, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    wrong += got != expected;
  }
  MPI_Waitall(kTasks, sends.data(), MPI_STATUSES_IGNORE);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (int r = 1; r <= workers; ++r) MPI_Send(nullptr, 0, MPI_UINT64_T, r, kStop, MPI_COMM_WORLD);
  std::printf(
      "{\"impl\": \"mpi-floor\", \"variant\": \"payload\", \"ranks\": %d, \"tasks\": %d, \"seconds\": %.6f, "
      "\"MiB_per_s\": %.1f}\n",
      workers, kTasks, s, kTasks * 10.0 / s);
  MPI_Finalize();
  return wrong == 0 ? 0 : 1;
}
