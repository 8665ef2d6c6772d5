// Names of dtypes and ops for messages and logs.
#include "base/dtype.h"

namespace coll {

const char* DtypeName(int dtype) {
  static const char* const kNames[] = {"int8",    "uint8",    "int32",   "uint32",  "int64",
                                       "uint64",  "float16",  "bfloat16", "float32", "float64"};
  if (!IsValidDtype(dtype)) return "unknown dtype";
  return kNames[dtype];
}

const char* OpName(int op) {
  static const char* const kNames[] = {"sum", "prod", "min", "max", "avg"};
  if (!IsValidOp(op)) return "unknown op";
  return kNames[op];
}

}  // namespace coll
