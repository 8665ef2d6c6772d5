// Measures one row: allocates the buffers for one size, fills deterministic inputs, times
// libcollective and (with --compare mpi) MPI alternately, out of place then in place, and
// checks every timed iteration with -c. Collective over all ranks; one thread.
#pragma once

#include <cstddef>

#include "collective.h"
#include "perf_collective.h"
#include "perf_options.h"
#include "perf_report.h"

namespace coll::perf {

struct MeasureSetup {
  const PerfCollective* collective = nullptr;
  const PerfOptions* options = nullptr;
  coll_comm_t comm = nullptr;
  int rank = 0;
  int nranks = 1;
};

// root is -1 for collectives without one. The result is the same on every rank: times are
// the maximum over ranks of each rank's average, #wrong the sum over ranks.
PerfRow MeasureRow(const MeasureSetup& setup, size_t bytes, coll_dtype_t type, coll_op_t op,
                   int root);

}  // namespace coll::perf
