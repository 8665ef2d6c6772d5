// all_gather_perf: coll_allgather vs MPI_Allgather, nccl-tests style (see perf/driver/).
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
  layout.param_count = layout.send_count = elements / nranks;
  layout.recv_count = layout.result_count = layout.param_count * nranks;
  layout.send_in_place = layout.param_count * rank;
  return layout;
}

coll_status_t RunOurs(const CallArgs& a, coll_comm_t comm) {
  return coll_allgather(a.send, a.recv, a.count, a.type, comm);
}

int RunMpi(const CallArgs& a, MPI_Datatype type, MPI_Op, MPI_Comm comm) {
  int count = static_cast<int>(a.count);
  const void* send = a.in_place ? MPI_IN_PLACE : a.send;
  return MPI_Allgather(send, count, type, a.recv, count, type, comm);
}

double Input(const ValueContext& c, size_t i) { return coll::perf::PatternValue(c.rank, i); }

double Expected(const ValueContext& c, size_t i) {
  return coll::perf::PatternValue(static_cast<int>(i / c.param_count), i % c.param_count);
}

}  // namespace

int main(int argc, char** argv) {
  const coll::perf::PerfCollective collective = {
      "all_gather", false, false, false, false, BusFactor, MakeLayout, RunOurs, RunMpi, Input,
      Expected};
  return coll::perf::RunPerf(argc, argv, collective);
}
