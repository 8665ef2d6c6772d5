// Element types and reduction ops: sizes, names and validity. Pure functions.
#pragma once

#include <cstddef>

#include "collective.h"

namespace coll {

inline bool IsValidDtype(int dtype) { return dtype >= COLL_INT8 && dtype <= COLL_FLOAT64; }
inline bool IsValidOp(int op) { return op >= COLL_SUM && op <= COLL_AVG; }

inline size_t DtypeSize(coll_dtype_t dtype) {
  switch (dtype) {
    case COLL_INT8: case COLL_UINT8: return 1;
    case COLL_FLOAT16: case COLL_BFLOAT16: return 2;
    case COLL_INT32: case COLL_UINT32: case COLL_FLOAT32: return 4;
    case COLL_INT64: case COLL_UINT64: case COLL_FLOAT64: return 8;
  }
  return 0;
}

inline bool IsFloatDtype(coll_dtype_t dtype) {
  return dtype == COLL_FLOAT16 || dtype == COLL_BFLOAT16 || dtype == COLL_FLOAT32 ||
         dtype == COLL_FLOAT64;
}

const char* DtypeName(int dtype);  // "float32", or "dtype(42)" for an unknown value
const char* OpName(int op);        // "sum", or "op(42)"

}  // namespace coll
