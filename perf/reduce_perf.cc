// reduce_perf: coll_reduce vs MPI_Reduce, nccl-tests style (see perf/driver/).
// busbw = algbw: the root's result crosses the last link once.
#include "driver/perf_collective.h"
#include "driver/perf_data.h"

namespace {

using coll::perf::CallArgs;
using coll::perf::Layout;
using coll::perf::ValueContext;

double BusFactor(int) { return 1.0; }

Layout MakeLayout(size_t elements, int, int rank, int root) {
  Layout layout;
  layout.param_count = layout.send_count = layout.recv_count = elements;
  layout.result_count = rank == root ? elements : 0;
  return layout;
}

coll_status_t RunOurs(const CallArgs& a, coll_comm_t comm) {
  return coll_reduce(a.send, a.recv, a.count, a.type, a.op, a.root, comm);
}

// In place only the root passes MPI_IN_PLACE; other ranks send from the shared buffer.
int RunMpi(const CallArgs& a, MPI_Datatype type, MPI_Op op, MPI_Comm comm) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  const void* send = a.in_place && rank == a.root ? MPI_IN_PLACE : a.send;
  return MPI_Reduce(send, a.recv, static_cast<int>(a.count), type, op, a.root, comm);
}

double Input(const ValueContext& c, size_t i) {
  return coll::perf::ReductionInput(c.op, c.rank, c.nranks, i);
}

double Expected(const ValueContext& c, size_t i) {
  return coll::perf::ReductionResult(c.op, c.nranks, i);
}

}  // namespace

int main(int argc, char** argv) {
  const coll::perf::PerfCollective collective = {
      "reduce", true, true, false, false, BusFactor, MakeLayout, RunOurs, RunMpi, Input,
      Expected};
  return coll::perf::RunPerf(argc, argv, collective);
}
