// all_reduce_perf: coll_allreduce vs MPI_Allreduce, nccl-tests style (see perf/driver/).
// busbw = algbw * 2(n-1)/n: each rank sends and receives 2(n-1)/n of the buffer in a ring.
// With --overlap: coll_iallreduce against the blocking call and against computation
// (driver/perf_overlap.h).
#include "driver/perf_collective.h"
#include "driver/perf_data.h"
#include "driver/perf_overlap.h"

namespace {

using coll::perf::CallArgs;
using coll::perf::Layout;
using coll::perf::ValueContext;

double BusFactor(int nranks) { return 2.0 * (nranks - 1) / nranks; }

Layout MakeLayout(size_t elements, int, int, int) {
  Layout layout;
  layout.param_count = layout.send_count = layout.recv_count = layout.result_count = elements;
  return layout;
}

coll_status_t RunOurs(const CallArgs& a, coll_comm_t comm) {
  return coll_allreduce(a.send, a.recv, a.count, a.type, a.op, comm);
}

int RunMpi(const CallArgs& a, MPI_Datatype type, MPI_Op op, MPI_Comm comm) {
  const void* send = a.in_place ? MPI_IN_PLACE : a.send;
  return MPI_Allreduce(send, a.recv, static_cast<int>(a.count), type, op, comm);
}

double Input(const ValueContext& c, size_t i) {
  return coll::perf::ReductionInput(c.op, c.rank, c.nranks, i);
}

double Expected(const ValueContext& c, size_t i) {
  return coll::perf::ReductionResult(c.op, c.nranks, i);
}

}  // namespace

int main(int argc, char** argv) {
  if (coll::perf::TakeOverlapFlag(&argc, argv)) return coll::perf::RunOverlapPerf(argc, argv);
  const coll::perf::PerfCollective collective = {
      "all_reduce", true, false, false, false, BusFactor, MakeLayout, RunOurs, RunMpi, Input,
      Expected};
  return coll::perf::RunPerf(argc, argv, collective);
}
