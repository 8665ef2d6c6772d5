// broadcast_perf: coll_broadcast vs MPI_Bcast, nccl-tests style (see perf/driver/).
// busbw = algbw: a pipelined chain moves the buffer once over each link.
#include "driver/perf_collective.h"
#include "driver/perf_data.h"

namespace {

using coll::perf::CallArgs;
using coll::perf::Layout;
using coll::perf::ValueContext;

double BusFactor(int) { return 1.0; }

Layout MakeLayout(size_t elements, int, int, int) {
  Layout layout;
  layout.param_count = layout.send_count = layout.recv_count = layout.result_count = elements;
  return layout;
}

coll_status_t RunOurs(const CallArgs& a, coll_comm_t comm) {
  return coll_broadcast(a.send, a.recv, a.count, a.type, a.root, comm);
}

// MPI_Bcast has one buffer: the driver puts the root's input in the receive buffer.
int RunMpi(const CallArgs& a, MPI_Datatype type, MPI_Op, MPI_Comm comm) {
  return MPI_Bcast(a.recv, static_cast<int>(a.count), type, a.root, comm);
}

// Every rank fills its own pattern; only the root's may arrive.
double Input(const ValueContext& c, size_t i) { return coll::perf::PatternValue(c.rank, i); }

double Expected(const ValueContext& c, size_t i) { return coll::perf::PatternValue(c.root, i); }

}  // namespace

int main(int argc, char** argv) {
  const coll::perf::PerfCollective collective = {
      "broadcast", false, true, false, true, BusFactor, MakeLayout, RunOurs, RunMpi, Input,
      Expected};
  return coll::perf::RunPerf(argc, argv, collective);
}
