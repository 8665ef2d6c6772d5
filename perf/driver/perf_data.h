// Deterministic inputs and exact expected results for the *_perf checks (-c 1). Values are
// small integers, so every dtype (fp16/bf16 included) and every op has one exact answer.
// Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "collective.h"

namespace coll::perf {

// What rank `rank` of `nranks` contributes at element `index` of a reduction's input. Chosen
// so that sum, prod, min, max and avg over all ranks are small integers (avg included: the
// sum is always a multiple of nranks) that fit int8 for up to 25 ranks.
double ReductionInput(coll_op_t op, int rank, int nranks, size_t index);
// The reduction over all ranks of ReductionInput at `index`.
double ReductionResult(coll_op_t op, int nranks, size_t index);
// Data for broadcast/allgather: distinct per rank and index, below 100.
double PatternValue(int rank, size_t index);

// Element `index` of buf, read as or written from a double (fp16/bf16 rounded to nearest
// even, integers truncated).
double LoadElement(coll_dtype_t type, const void* buf, size_t index);
void StoreElement(coll_dtype_t type, void* buf, size_t index, double value);

uint16_t FloatToHalf(float value);
float HalfToFloat(uint16_t bits);
uint16_t FloatToBfloat16(float value);
float Bfloat16ToFloat(uint16_t bits);

// Bytes per element (the perf tools' own table, so they do not trust the library for it).
size_t ElementSize(coll_dtype_t type);

// Number of elements of `count` that differ bitwise between got and want.
size_t CountWrong(coll_dtype_t type, const void* got, const void* want, size_t count);

}  // namespace coll::perf
