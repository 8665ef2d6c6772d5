// SIMD float kernels written once over an ISA's vector traits (an `Io` struct: storage type,
// lanes, raw load/store, widen to / narrow from fp32 or fp64 lanes, and lane arithmetic).
// Included LAST by reduce_avx2.cc / reduce_avx512.cc after their traits; internal linkage on
// purpose. The rules match reduce_loops.h bit for bit. Stateless, thread-safe.
#pragma once

#include <cstddef>
#include <cstring>

#include "collectives/reduce/reduce_dispatch.h"

namespace coll {
namespace {  // NOLINT: one copy per ISA translation unit, never shared between them

template <typename Io>
typename Io::V Load(const typename Io::T* p) { return Io::widen(Io::loadRaw(p)); }

template <typename Io>
void Store(typename Io::T* p, typename Io::V v) { Io::storeRaw(p, Io::narrow(v)); }

// Same rules as ApplyFloat: canonical NaN; min/max of +-0 by OR / AND of the bits, which
// the x86 min/max instructions (returning their second operand on ties) cannot give alone.
template <coll_op_t kOp, typename Io>
typename Io::V ApplyVec(typename Io::V x, typename Io::V y) {
  if constexpr (kOp == COLL_SUM || kOp == COLL_AVG) {
    const typename Io::V r = Io::add(x, y);
    return Io::nanTo(r, r, r);
  } else if constexpr (kOp == COLL_PROD) {
    const typename Io::V r = Io::mul(x, y);
    return Io::nanTo(r, r, r);
  } else if constexpr (kOp == COLL_MIN) {
    return Io::nanTo(Io::orBits(Io::min(x, y), Io::min(y, x)), x, y);
  } else {
    return Io::nanTo(Io::andBits(Io::max(x, y), Io::max(y, x)), x, y);
  }
}

// out = Fn::Apply(a, b, param) a vector at a time. A partial last vector goes through a
// zero-padded copy, so it runs the same instructions. (Functors, not lambdas: GCC does not
// give a lambda the file's target ISA.)
template <typename Io, typename Fn>
void ZipVectors(void* out, const void* a, const void* b, size_t count, typename Io::V param) {
  using T = typename Io::T;
  constexpr size_t kLanes = Io::kLanes;
  T* o = static_cast<T*>(out);
  const T* x = static_cast<const T*>(a);
  const T* y = static_cast<const T*>(b);
  size_t i = 0;
#pragma GCC unroll 2
  for (; i + kLanes <= count; i += kLanes) {
    Store<Io>(o + i, Fn::template apply<Io>(Load<Io>(x + i), Load<Io>(y + i), param));
  }
  if (i == count) return;
  const size_t n = count - i;
  T tx[kLanes] = {}, ty[kLanes] = {}, to[kLanes] = {};
  std::memcpy(tx, x + i, n * sizeof(T));
  std::memcpy(ty, y + i, n * sizeof(T));
  Store<Io>(to, Fn::template apply<Io>(Load<Io>(tx), Load<Io>(ty), param));
  std::memcpy(o + i, to, n * sizeof(T));
}

template <coll_op_t kOp>
struct ReduceFn {
  template <typename Io>
  static typename Io::V apply(typename Io::V x, typename Io::V y, typename Io::V) {
    return ApplyVec<kOp, Io>(x, y);
  }
};

// sum / nranks, with the sum first rounded to the storage type as it would be stored.
struct AvgFn {
  template <typename Io>
  static typename Io::V apply(typename Io::V x, typename Io::V y, typename Io::V divisor) {
    const typename Io::V stored = Io::widen(Io::narrow(ApplyVec<COLL_SUM, Io>(x, y)));
    const typename Io::V q = Io::div(stored, divisor);
    return Io::nanTo(q, q, q);
  }
};

// buf / nranks, reusing ZipVectors with buf as both inputs (the second is ignored).
struct DivideFn {
  template <typename Io>
  static typename Io::V apply(typename Io::V x, typename Io::V, typename Io::V divisor) {
    const typename Io::V q = Io::div(x, divisor);
    return Io::nanTo(q, q, q);
  }
};

template <typename Io, coll_op_t kOp>
void VecReduce(void* out, const void* a, const void* b, size_t count) {
  ZipVectors<Io, ReduceFn<kOp>>(out, a, b, count, Io::set1(1));
}

template <typename Io>
void VecAvgFinal(void* out, const void* a, const void* b, size_t count, int nranks) {
  ZipVectors<Io, AvgFn>(out, a, b, count, Io::set1(nranks));
}

template <typename Io>
void VecAvgFinalize(void* buf, size_t count, int nranks) {
  ZipVectors<Io, DivideFn>(buf, buf, buf, count, Io::set1(nranks));
}

template <typename Io>
void FillVecKernels(ReduceKernels* k, coll_dtype_t dtype) {
  k->reduce[dtype][COLL_SUM] = &VecReduce<Io, COLL_SUM>;
  k->reduce[dtype][COLL_PROD] = &VecReduce<Io, COLL_PROD>;
  k->reduce[dtype][COLL_MIN] = &VecReduce<Io, COLL_MIN>;
  k->reduce[dtype][COLL_MAX] = &VecReduce<Io, COLL_MAX>;
  k->avg_final[dtype] = &VecAvgFinal<Io>;
  k->avg_finalize[dtype] = &VecAvgFinalize<Io>;
}

}  // namespace
}  // namespace coll
