// Reduction kernels for CUDA device buffers: the GPU twin of reduce.h, with the same rules bit
// for bit (see reduce.h: wrapping integers, integer AVG truncated toward zero, fp16/bf16 in fp32
// rounded to nearest-even, canonical NaN, signed zeros, AVG divided once at the end). Only in
// builds with COLL_WITH_CUDA; no CUDA type appears here (a stream is a void* cudaStream_t).
// Every call is enqueued on `stream` (NULL: the legacy default stream) and returns at once;
// pointers must be device (or managed) memory of the current device. Thread-safe.
#pragma once

#include <cstddef>

#include "collective.h"
#include "base/status.h"

namespace coll {
namespace cuda {

// out[i] = a[i] (op) b[i]; COLL_AVG reduces as COLL_SUM (FinalizeAvgOnDevice divides).
// out may equal a or b (not a partial overlap).
Status ReduceIntoOnDevice(void* out, const void* a, const void* b, size_t count, coll_dtype_t dtype, coll_op_t op,
                          void* stream);

// ReduceIntoOnDevice, then for COLL_AVG each result divided by nranks, in one pass.
Status ReduceFinalOnDevice(void* out, const void* a, const void* b, size_t count, coll_dtype_t dtype, coll_op_t op,
                           int nranks, void* stream);

// buf[i] = buf[i] / nranks for COLL_AVG; nothing for other ops.
Status FinalizeAvgOnDevice(void* buf, size_t count, coll_dtype_t dtype, coll_op_t op, int nranks, void* stream);

}  // namespace cuda
}  // namespace coll
