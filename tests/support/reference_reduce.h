// The documented reduction rules (README "Reduction rules", src/collectives/reduce/reduce.h)
// one element at a time on raw bit patterns, and the order in which each algorithm folds the
// ranks' inputs, so a test can predict every bit of a result even when inputs are not
// exactly representable, NaN, +-Inf or -0. Independent of the library's code. Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "collective.h"

namespace colltest {

// a (op) b for one element of dtype (the low bytes of a and b); COLL_AVG combines as SUM.
uint64_t RefCombine(coll_dtype_t dtype, coll_op_t op, uint64_t a, uint64_t b);

// The last step of COLL_AVG: s / nranks (floats: once, in fp32 or fp64, rounded to the
// dtype; integers: truncated toward zero). Any other op: s unchanged.
uint64_t RefFinalize(coll_dtype_t dtype, coll_op_t op, uint64_t s, int nranks);

// Folds values left to right, ((v0 op v1) op v2) ..., rounding to the dtype after every
// step, then finalizes: what one element of a collective is when values come in the
// algorithm's order.
uint64_t RefFold(coll_dtype_t dtype, coll_op_t op, const std::vector<uint64_t>& values, int nranks);

// The rank whose input starts the fold of element `index` of a `count`-element allreduce
// through the ring on one host (ring position = rank): the rank that owns its segment.
int RingFoldStart(size_t count, int nranks, size_t index);

// Bits of element `index` of rank's input: random finite values that are not exactly
// representable sums (mixed signs and magnitudes near 1), with NaN (with payloads), +-Inf,
// -0 and +0 mixed in about one element in 12; integers: random bits.
uint64_t RefInput(coll_dtype_t dtype, uint64_t seed, int rank, size_t index);

}  // namespace colltest
