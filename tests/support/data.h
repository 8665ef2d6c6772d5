// Deterministic test data for collectives: each rank's input is a pure function of
// (seed, rank, element index), so any rank can compute every other rank's contribution and
// the exact expected result. Reduction inputs are chosen so results are exactly
// representable (small integers in floats); only AVG on floats needs a tolerance.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "collective.h"

namespace colltest {

struct ReduceCase {
  coll_dtype_t dtype;
  coll_op_t op;
  uint64_t seed;
  int nranks;
};

// rank's contribution to elements [first, first + count) of the logical vector.
void FillInput(const ReduceCase& c, int rank, size_t first, size_t count, void* out);

// "" when got[i] equals the reduction over all ranks of element first + i; else a sentence
// with the number of wrong elements and the first one.
std::string CheckReduced(const ReduceCase& c, size_t first, size_t count, const void* got);

// Opaque bytes for copies (broadcast, allgather).
void FillBytes(uint64_t seed, int rank, size_t nbytes, void* out);
std::string CheckBytes(uint64_t seed, int rank, size_t nbytes, const void* got);

// Uniform values in [-1, 1) rounded to dtype (a float dtype): sums depend on order.
void FillRandomFloats(coll_dtype_t dtype, uint64_t seed, int rank, size_t count, void* out);
// "" when got is within a dtype-appropriate tolerance of the sum over nranks ranks.
std::string CheckApproxSum(coll_dtype_t dtype, uint64_t seed, int nranks, size_t count,
                           const void* got);

// "float16 avg, count 7, 3 ranks, seed 42": context for failure messages.
std::string CaseName(const ReduceCase& c, size_t count);

// A seed that differs per (dtype, op, count, salt), so cases do not share data.
uint64_t CaseSeed(coll_dtype_t dtype, coll_op_t op, size_t count, uint64_t salt);

uint64_t HashBytes(const void* data, size_t nbytes);

size_t ElementSize(coll_dtype_t dtype);  // our own table, independent of the library
const char* DtypeName(coll_dtype_t dtype);
const char* OpName(coll_op_t op);
const std::vector<coll_dtype_t>& AllDtypes();
const std::vector<coll_op_t>& AllOps();

}  // namespace colltest
