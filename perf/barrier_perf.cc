// barrier_perf: coll_barrier vs MPI_Barrier. One row (no data); the ratio column is MPI's
// time over ours, so above 1 means ours is faster, as with busbw in the other tools.
#include "driver/perf_collective.h"

namespace {

using coll::perf::CallArgs;
using coll::perf::Layout;
using coll::perf::ValueContext;

double BusFactor(int) { return 0.0; }

Layout MakeLayout(size_t, int, int, int) { return Layout(); }

coll_status_t RunOurs(const CallArgs&, coll_comm_t comm) { return coll_barrier(comm); }

int RunMpi(const CallArgs&, MPI_Datatype, MPI_Op, MPI_Comm comm) { return MPI_Barrier(comm); }

double NoValue(const ValueContext&, size_t) { return 0; }

}  // namespace

int main(int argc, char** argv) {
  const coll::perf::PerfCollective collective = {
      "barrier", false, false, true, false, BusFactor, MakeLayout, RunOurs, RunMpi, NoValue,
      NoValue};
  return coll::perf::RunPerf(argc, argv, collective);
}
