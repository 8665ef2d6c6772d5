// reduce_scatter_perf: coll_reduce_scatter vs MPI_Reduce_scatter_block, nccl-tests style.
// size = nranks * count * elt; busbw = algbw * (n-1)/n.
#include "driver/perf_collective.h"
#include "driver/perf_data.h"

namespace {

using coll::perf::CallArgs;
using coll::perf::Layout;
using coll::perf::ValueContext;

double BusFactor(int nranks) { return static_cast<double>(nranks - 1) / nranks; }

Layout MakeLayout(size_t elements, int nranks, int rank, int) {
  Layout layout;
  layout.param_count = layout.recv_count = layout.result_count = elements / nranks;
  layout.send_count = layout.param_count * nranks;
  layout.recv_in_place = layout.param_count * rank;
  return layout;
}

coll_status_t RunOurs(const CallArgs& a, coll_comm_t comm) {
  return coll_reduce_scatter(a.send, a.recv, a.count, a.type, a.op, comm);
}

// MPI in place reads the whole input from, and writes block `rank` to the start of, one
// buffer: our in-place send pointer (offset 0).
int RunMpi(const CallArgs& a, MPI_Datatype type, MPI_Op op, MPI_Comm comm) {
  int count = static_cast<int>(a.count);
  if (a.in_place)
    return MPI_Reduce_scatter_block(MPI_IN_PLACE, const_cast<void*>(a.send), count, type, op, comm);
  return MPI_Reduce_scatter_block(a.send, a.recv, count, type, op, comm);
}

double Input(const ValueContext& c, size_t i) {
  return coll::perf::ReductionInput(c.op, c.rank, c.nranks, i);
}

double Expected(const ValueContext& c, size_t i) {
  return coll::perf::ReductionResult(c.op, c.nranks, c.param_count * c.rank + i);
}

}  // namespace

int main(int argc, char** argv) {
  const coll::perf::PerfCollective collective = {
      "reduce_scatter", true, false, false, false, BusFactor, MakeLayout, RunOurs, RunMpi, Input,
      Expected};
  return coll::perf::RunPerf(argc, argv, collective);
}
