// Reduction kernels for every dtype x op on CPU buffers: the only templates in the core.
// Stateless and thread-safe. fp16/bf16 are computed in fp32 and rounded to nearest-even.
#pragma once

#include <cstddef>

#include "collective.h"

namespace coll {

// The exact rules. Every ISA variant (reduce_dispatch.h) gives identical bits for identical
// inputs, so ranks on different CPUs agree, and every op is commutative bit for bit:
// - Integers: SUM and PROD wrap modulo 2^bits. AVG = (the wrapped sum) / nranks, truncated
//   toward zero (int8: 100 + 100 = -56, avg over 2 ranks = -28).
// - float32 / float64: one IEEE operation in that type, round to nearest-even.
// - float16 / bfloat16: widened exactly to fp32, one fp32 operation, rounded to nearest-even
//   back (overflow gives inf; subnormals are kept, never flushed). Scalar converters: half.h.
// - NaN: any NaN result is the canonical quiet NaN (fp16 0x7E00, bf16 0x7FC0, fp32
//   0x7FC00000, fp64 0x7FF8000000000000); input payloads are not kept. MIN and MAX
//   propagate NaN: a NaN in either input gives NaN.
// - Signed zeros: MIN(-0, +0) = -0 and MAX(-0, +0) = +0, in either order.
// - AVG on floats: s = the SUM as stored in the dtype (fp16/bf16: already rounded to 16 bits),
//   result = round_to_dtype(s / nranks) with the division done once, in fp32 (fp64 for
//   float64). So ReduceFinal(AVG) gives the same bits as ReduceInto(AVG) then FinalizeAvg.
// These hold under the default MXCSR (round to nearest, no FTZ/DAZ).

// out[i] = a[i] (op) b[i] for i < count. out may be the same pointer as a or b (not a
// partial overlap). COLL_AVG reduces as COLL_SUM here; FinalizeAvg divides at the end.
void ReduceInto(void* out, const void* a, const void* b, size_t count, coll_dtype_t dtype,
                coll_op_t op);

// Like ReduceInto, then, for COLL_AVG, divides each result by nranks (floats: once, at the
// end; integers: the sum divided by nranks, truncated toward zero). For other ops it is
// ReduceInto. Used by the rank that produces a final value, so the result takes one pass.
void ReduceFinal(void* out, const void* a, const void* b, size_t count, coll_dtype_t dtype,
                 coll_op_t op, int nranks);

// In place: buf[i] = buf[i] / nranks with the COLL_AVG rules above. No-op for other ops.
void FinalizeAvg(void* buf, size_t count, coll_dtype_t dtype, coll_op_t op, int nranks);

}  // namespace coll
