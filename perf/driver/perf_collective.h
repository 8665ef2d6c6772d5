// What one *_perf binary measures: a table of plain functions describing a collective's
// buffer layout, how to call it in libcollective and in MPI, and its exact expected result.
// The shared driver (perf_driver.cc with perf_options, perf_data, perf_measure and perf_report)
// does everything else.
#pragma once

#include <mpi.h>

#include <cstddef>

#include "collective.h"

namespace coll::perf {

// Element counts for one size, nccl-tests style. In place, one buffer of
// max(send_count, recv_count) elements holds both ends, at the given element offsets.
struct Layout {
  size_t param_count = 0;   // the count argument given to both libraries
  size_t send_count = 0;    // elements in this rank's send buffer
  size_t recv_count = 0;    // elements in this rank's receive buffer
  size_t result_count = 0;  // elements of recv_count this rank checks (0: no result here)
  size_t send_in_place = 0;  // in place: offset of the send pointer in the shared buffer
  size_t recv_in_place = 0;  // in place: offset of the receive pointer
};

struct CallArgs {
  const void* send = nullptr;
  void* recv = nullptr;
  size_t count = 0;
  coll_dtype_t type = COLL_FLOAT32;
  coll_op_t op = COLL_SUM;
  int root = 0;
  bool in_place = false;
};

// Where the values come from: which op, which rank, which root.
struct ValueContext {
  coll_op_t op = COLL_SUM;
  int rank = 0;
  int nranks = 1;
  int root = 0;
  size_t param_count = 0;
};

struct PerfCollective {
  const char* name;  // "all_reduce"
  bool uses_op;
  bool uses_root;
  bool is_barrier;            // one row, no data
  bool mpi_input_in_receive;    // MPI reads the input from the receive buffer (MPI_Bcast)
  double (*bus_factor)(int nranks);  // busbw = algbw * bus_factor (nccl-tests PERFORMANCE.md)
  Layout (*layout)(size_t elements, int nranks, int rank, int root);
  coll_status_t (*run_ours)(const CallArgs& args, coll_comm_t comm);
  // MPI's equivalent; in place it gets our in-place pointers and maps them to MPI_IN_PLACE.
  int (*run_mpi)(const CallArgs& args, MPI_Datatype type, MPI_Op op, MPI_Comm comm);
  double (*input)(const ValueContext& context, size_t index);
  double (*expected)(const ValueContext& context, size_t index);
};

// Runs the whole benchmark for one collective; the binary's main() returns this.
int RunPerf(int argc, char** argv, const PerfCollective& collective);

}  // namespace coll::perf
