// The reduce.h entry points: validate the (dtype, op) pair and call the active kernel table
// (reduce_dispatch.h). Stateless apart from that table; thread-safe.
#include "collectives/reduce/reduce.h"

#include "collectives/reduce/reduce_dispatch.h"
#include "base/dtype.h"

namespace coll {
namespace {

// Callers validate arguments before any byte moves; an invalid pair here does nothing.
bool Valid(coll_dtype_t dtype, coll_op_t op) { return IsValidDtype(dtype) && IsValidOp(op); }

coll_op_t KernelOp(coll_op_t op) { return op == COLL_AVG ? COLL_SUM : op; }

}  // namespace

void ReduceInto(void* out, const void* a, const void* b, size_t count, coll_dtype_t dtype,
                coll_op_t op) {
  if (!Valid(dtype, op) || count == 0) return;
  ActiveReduceKernels().reduce[dtype][KernelOp(op)](out, a, b, count);
}

void ReduceFinal(void* out, const void* a, const void* b, size_t count, coll_dtype_t dtype,
                 coll_op_t op, int nranks) {
  if (!Valid(dtype, op) || count == 0) return;
  if (op == COLL_AVG) {
    ActiveReduceKernels().avg_final[dtype](out, a, b, count, nranks);
  } else {
    ActiveReduceKernels().reduce[dtype][op](out, a, b, count);
  }
}

void FinalizeAvg(void* buf, size_t count, coll_dtype_t dtype, coll_op_t op, int nranks) {
  if (!Valid(dtype, op) || op != COLL_AVG || count == 0) return;
  ActiveReduceKernels().avg_finalize[dtype](buf, count, nranks);
}

}  // namespace coll
