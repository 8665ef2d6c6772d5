// all_reduce_perf --overlap (see perf_overlap.h). Timings are the mean over -n iterations
// after -w warm-up ones, each iteration started together (MPI_Barrier) and the slowest rank's
// mean reported, as in the main tables. The "computation" is real arithmetic on a 64 KiB
// array that stays in L1/L2, calibrated on this rank to the blocking call's time.
#include "perf_overlap.h"

#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "collective_mpi.h"
#include "perf_options.h"

namespace coll::perf {
namespace {

double NowUs() {
  auto now = std::chrono::steady_clock::now().time_since_epoch();
  return std::chrono::duration<double, std::micro>(now).count();
}

double MaxOverRanks(double value) {
  double result = 0;
  MPI_Allreduce(&value, &result, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  return result;
}

void Check(coll_status_t status, coll_comm_t comm, const char* what) {
  if (status == COLL_SUCCESS) return;
  std::fprintf(stderr, "%s failed: %s: %s\n", what, coll_status_string(status), coll_comm_last_error(comm));
  MPI_Abort(MPI_COMM_WORLD, 1);
}

// `rounds` passes of y = a*y + b over 16 Ki floats; returns a value so it is not elided.
float Compute(std::vector<float>& y, long rounds) {
  for (long r = 0; r < rounds; ++r)
    for (float& v : y) v = v * 0.999f + 0.001f;
  return y[0];
}

// Rounds of Compute that take about `us` microseconds on this core.
long Calibrate(std::vector<float>& y, double us) {
  long rounds = 1;
  for (;;) {
    double start = NowUs();
    Compute(y, rounds);
    double took = NowUs() - start;
    if (took > 2000 || took > us) return std::max(1L, static_cast<long>(rounds * us / took));
    rounds *= 2;
  }
}

struct Buffers {
  std::vector<float> send, recv;
};

enum class Mode { kBlocking, kPostWait, kCompute, kOverlap };

double TimeMode(Mode mode, const PerfOptions& o, coll_comm_t comm, Buffers& b, std::vector<float>& y, long rounds) {
  auto once = [&] {
    coll_request_t request = nullptr;
    switch (mode) {
      case Mode::kBlocking:
        Check(coll_allreduce(b.send.data(), b.recv.data(), b.send.size(), COLL_FLOAT32, COLL_SUM, comm), comm,
              "coll_allreduce");
        break;
      case Mode::kPostWait:
        Check(coll_iallreduce(b.send.data(), b.recv.data(), b.send.size(), COLL_FLOAT32, COLL_SUM, comm, &request),
              comm, "coll_iallreduce");
        Check(coll_wait(&request), comm, "coll_wait");
        break;
      case Mode::kCompute: Compute(y, rounds); break;
      case Mode::kOverlap:
        Check(coll_iallreduce(b.send.data(), b.recv.data(), b.send.size(), COLL_FLOAT32, COLL_SUM, comm, &request),
              comm, "coll_iallreduce");
        Compute(y, rounds);
        Check(coll_wait(&request), comm, "coll_wait");
        break;
    }
  };
  for (int i = 0; i < o.warmup; ++i) once();
  // Small sizes: back-to-back calls after one barrier (a barrier per call would dominate).
  const bool back_to_back = b.send.size() * sizeof(float) < 64 * 1024;
  double total = 0;
  if (back_to_back) {
    MPI_Barrier(MPI_COMM_WORLD);
    double start = NowUs();
    for (int i = 0; i < o.iters; ++i) once();
    total = NowUs() - start;
  } else {
    for (int i = 0; i < o.iters; ++i) {
      MPI_Barrier(MPI_COMM_WORLD);
      double start = NowUs();
      once();
      total += NowUs() - start;
    }
  }
  return MaxOverRanks(total / o.iters);
}

}  // namespace

bool TakeOverlapFlag(int* argc, char** argv) {
  for (int i = 1; i < *argc; ++i) {
    if (std::strcmp(argv[i], "--overlap") != 0) continue;
    for (int j = i; j + 1 < *argc; ++j) argv[j] = argv[j + 1];
    --*argc;
    argv[*argc] = nullptr;
    return true;
  }
  return false;
}

int RunOverlapPerf(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, nranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &nranks);
  PerfOptions o;
  std::string error;
  if (!ParseOptions(argc, argv, &o, &error)) {
    if (rank == 0) std::fprintf(stderr, "%s\n%s", error.c_str(), UsageText(argv[0]).c_str());
    MPI_Finalize();
    return error.empty() ? 0 : 2;
  }
  coll_comm_t comm = nullptr;
  Check(coll_comm_init_mpi(&comm, MPI_COMM_WORLD), nullptr, "coll_comm_init_mpi");
  if (rank == 0) {
    std::printf("# libcollective all_reduce_perf --overlap: %d ranks, float sum, out of place, iters %d warmup %d\n",
                nranks, o.iters, o.warmup);
    std::printf("# blocking = coll_allreduce; post+wait = coll_iallreduce then coll_wait; compute = arithmetic\n"
                "# calibrated to the blocking time; overlapped = iallreduce, compute, wait; ratio = overlapped /\n"
                "# max(compute, blocking) (1.00 = perfect overlap, 2.00 = none). Times in us, slowest rank.\n");
    std::printf("%12s %12s %12s %10s %12s %12s %7s\n", "size", "blocking", "post+wait", "overhead", "compute",
                "overlapped", "ratio");
  }
  std::vector<float> y(16384, 1.0f);
  for (size_t bytes : SizesToScan(o)) {
    Buffers b;
    b.send.assign(std::max<size_t>(bytes / sizeof(float), 1), 1.0f);
    b.recv.assign(b.send.size(), 0.0f);
    double blocking = TimeMode(Mode::kBlocking, o, comm, b, y, 0);
    double post_wait = TimeMode(Mode::kPostWait, o, comm, b, y, 0);
    // Blocking again after the post+wait run: the two blocking figures bracket the noise.
    double blocking2 = TimeMode(Mode::kBlocking, o, comm, b, y, 0);
    blocking = std::min(blocking, blocking2);
    long rounds = Calibrate(y, blocking);
    MPI_Bcast(&rounds, 1, MPI_LONG, 0, MPI_COMM_WORLD);  // every rank computes alike
    double compute = TimeMode(Mode::kCompute, o, comm, b, y, rounds);
    double overlapped = TimeMode(Mode::kOverlap, o, comm, b, y, rounds);
    if (rank == 0)
      std::printf("%12zu %12.2f %12.2f %10.2f %12.2f %12.2f %7.2f\n", b.send.size() * sizeof(float), blocking,
                  post_wait, post_wait - blocking, compute, overlapped, overlapped / std::max(compute, blocking));
  }
  std::fflush(stdout);
  coll_comm_destroy(comm);
  MPI_Finalize();
  return 0;
}

}  // namespace coll::perf
