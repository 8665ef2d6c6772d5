// The portable kernel table: reduce_loops.h compiled for the library's baseline (x86-64-v2 on x86-64),
// the reference every SIMD table must match bit for bit. Stateless, thread-safe.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "collectives/reduce/half.h"
#include "collectives/reduce/reduce_dispatch.h"
#include "collectives/reduce/reduce_loops.h"

namespace coll {

namespace {

ReduceKernels MakePortableKernels() {
  ReduceKernels k;
  FillIntLoopKernels(&k);
  FillFloatLoopKernels(&k);
  return k;
}

}  // namespace

const ReduceKernels& PortableReduceKernels() {
  static const ReduceKernels kKernels = MakePortableKernels();
  return kKernels;
}

}  // namespace coll
