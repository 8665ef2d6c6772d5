// Hard inputs for reduction kernels, as raw element bits: every pair of a dtype's special
// values (signed zeros, subnormals, extremes, infinities, NaNs with payloads, rounding ties;
// integer limits), every 16-bit pattern against those values for fp16 / bf16, then random bit
// patterns. Used to hold two kernel implementations to the same bits. Pure; thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "collective.h"

namespace colltest {

struct ReduceInputs {
  size_t count = 0;
  std::vector<uint8_t> a, b;  // count elements each, element i of a meets element i of b
};

// `randoms` random pairs are appended after the structured ones (seeded by `seed`).
ReduceInputs MakeReduceInputs(coll_dtype_t dtype, size_t randoms, uint64_t seed);

// Index of the first element where x and y (count elements of dtype) differ, or -1.
long long FirstDifference(const void* x, const void* y, size_t count, coll_dtype_t dtype);

}  // namespace colltest
