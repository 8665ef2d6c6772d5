// Element-wise reduction rules and plain loops over them: the portable kernels, and the
// integer kernels of every ISA. Included LAST by each reduce_<isa>.cc, after its target
// pragma, so that file's copies (internal linkage, on purpose) are compiled
// for its ISA. Stateless, thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "collectives/reduce/half.h"
#include "collectives/reduce/reduce_dispatch.h"

// Exact aliasing (out == a or out == b) has no loop-carried dependence: let the loop vectorise
// without runtime overlap checks.
#if defined(__clang__)
// Loops that cannot vectorise anyway (the portable float16 one) must not fail the build.
#pragma clang diagnostic ignored "-Wpass-failed"
#define COLL_REDUCE_NO_LOOP_DEPENDENCE _Pragma("clang loop vectorize(assume_safety)")
#else
#define COLL_REDUCE_NO_LOOP_DEPENDENCE _Pragma("GCC ivdep")
#endif

namespace coll {
namespace {  // NOLINT: one copy per ISA translation unit, never shared between them

constexpr uint32_t kCanonicalNan32 = 0x7FC00000u;
constexpr uint64_t kCanonicalNan64 = 0x7FF8000000000000ull;

inline float CanonicalNan(float) { return FloatFromBits(kCanonicalNan32); }
inline double CanonicalNan(double) {
  double d;
  std::memcpy(&d, &kCanonicalNan64, sizeof d);
  return d;
}

template <typename F>
F BitOp(F x, F y, bool use_or) {
  using U = std::conditional_t<sizeof(F) == 4, uint32_t, uint64_t>;
  U ux, uy;
  std::memcpy(&ux, &x, sizeof ux);
  std::memcpy(&uy, &y, sizeof uy);
  const U r = use_or ? (ux | uy) : (ux & uy);
  F f;
  std::memcpy(&f, &r, sizeof f);
  return f;
}

// Floats: any NaN result is the canonical quiet NaN; min(-0, +0) = -0, max(-0, +0) = +0.
// Every op is then commutative bit for bit.
template <coll_op_t kOp, typename F>
F ApplyFloat(F x, F y) {
  if constexpr (kOp == COLL_SUM || kOp == COLL_AVG || kOp == COLL_PROD) {
    const F r = (kOp == COLL_PROD) ? x * y : x + y;
    return r != r ? CanonicalNan(r) : r;
  } else {
    if (x != x || y != y) return CanonicalNan(x);
    if (x < y) return kOp == COLL_MIN ? x : y;
    if (y < x) return kOp == COLL_MIN ? y : x;
    return BitOp(x, y, kOp == COLL_MIN);  // equal: only +-0 differ in bits
  }
}

// Integers: sum and product wrap modulo 2^bits (computed unsigned, so no UB).
template <coll_op_t kOp, typename T>
T ApplyInt(T x, T y) {
  static_assert(sizeof(T) != 2, "uint16 * uint16 would overflow int");
  using U = std::make_unsigned_t<T>;
  if constexpr (kOp == COLL_SUM || kOp == COLL_AVG) return static_cast<T>(U(x) + U(y));
  if constexpr (kOp == COLL_PROD) return static_cast<T>(U(x) * U(y));
  if constexpr (kOp == COLL_MIN) return y < x ? y : x;
  if constexpr (kOp == COLL_MAX) return x < y ? y : x;
}

// Storage formats: how an element is loaded into, and stored from, its compute type.
template <typename T>
struct PlainFmt {
  using Storage = T;
  using Compute = T;
  static T load(T v) { return v; }
  static T store(T v) { return v; }
};
struct HalfFmt {
  using Storage = uint16_t;
  using Compute = float;
  static float load(uint16_t v) { return HalfToFloat(v); }
  static uint16_t store(float v) { return FloatToHalf(v); }
};
struct Bf16Fmt {
  using Storage = uint16_t;
  using Compute = float;
  static float load(uint16_t v) { return Bf16ToFloat(v); }
  static uint16_t store(float v) { return FloatToBf16(v); }
};

template <coll_op_t kOp, typename C>
C Apply(C x, C y) {
  if constexpr (std::is_floating_point_v<C>) return ApplyFloat<kOp>(x, y);
  else return ApplyInt<kOp>(x, y);
}

// AVG of a stored value: floats divide once (NaN canonical); integers truncate toward zero.
template <typename Fmt>
typename Fmt::Storage DivideStored(typename Fmt::Storage v, int nranks) {
  using C = typename Fmt::Compute;
  if constexpr (std::is_floating_point_v<C>) {
    const C q = Fmt::load(v) / static_cast<C>(nranks);
    return Fmt::store(q != q ? CanonicalNan(q) : q);
  } else {
    using W = std::common_type_t<C, int64_t>;
    return static_cast<C>(static_cast<W>(v) / static_cast<W>(nranks));
  }
}

template <typename Fmt, coll_op_t kOp>
void LoopReduce(void* out, const void* a, const void* b, size_t count) {
  using S = typename Fmt::Storage;
  S* o = static_cast<S*>(out);
  const S* x = static_cast<const S*>(a);
  const S* y = static_cast<const S*>(b);
  COLL_REDUCE_NO_LOOP_DEPENDENCE
  for (size_t i = 0; i < count; ++i) {
    o[i] = Fmt::store(Apply<kOp>(Fmt::load(x[i]), Fmt::load(y[i])));
  }
}

template <typename Fmt>
void LoopAvgFinal(void* out, const void* a, const void* b, size_t count, int nranks) {
  using S = typename Fmt::Storage;
  S* o = static_cast<S*>(out);
  const S* x = static_cast<const S*>(a);
  const S* y = static_cast<const S*>(b);
  for (size_t i = 0; i < count; ++i) {
    const S sum = Fmt::store(Apply<COLL_SUM>(Fmt::load(x[i]), Fmt::load(y[i])));
    o[i] = DivideStored<Fmt>(sum, nranks);
  }
}

template <typename Fmt>
void LoopAvgFinalize(void* buf, size_t count, int nranks) {
  using S = typename Fmt::Storage;
  S* p = static_cast<S*>(buf);
  for (size_t i = 0; i < count; ++i) p[i] = DivideStored<Fmt>(p[i], nranks);
}

template <typename Fmt>
void FillLoopKernels(ReduceKernels* k, coll_dtype_t dtype) {
  k->reduce[dtype][COLL_SUM] = &LoopReduce<Fmt, COLL_SUM>;
  k->reduce[dtype][COLL_PROD] = &LoopReduce<Fmt, COLL_PROD>;
  k->reduce[dtype][COLL_MIN] = &LoopReduce<Fmt, COLL_MIN>;
  k->reduce[dtype][COLL_MAX] = &LoopReduce<Fmt, COLL_MAX>;
  k->avg_final[dtype] = &LoopAvgFinal<Fmt>;
  k->avg_finalize[dtype] = &LoopAvgFinalize<Fmt>;
}

inline void FillIntLoopKernels(ReduceKernels* k) {
  FillLoopKernels<PlainFmt<int8_t>>(k, COLL_INT8);
  FillLoopKernels<PlainFmt<uint8_t>>(k, COLL_UINT8);
  FillLoopKernels<PlainFmt<int32_t>>(k, COLL_INT32);
  FillLoopKernels<PlainFmt<uint32_t>>(k, COLL_UINT32);
  FillLoopKernels<PlainFmt<int64_t>>(k, COLL_INT64);
  FillLoopKernels<PlainFmt<uint64_t>>(k, COLL_UINT64);
}

// SIMD files use their own float kernels instead (so these are compiled only where used).
inline void FillFloatLoopKernels(ReduceKernels* k) {
  FillLoopKernels<HalfFmt>(k, COLL_FLOAT16);
  FillLoopKernels<Bf16Fmt>(k, COLL_BFLOAT16);
  FillLoopKernels<PlainFmt<float>>(k, COLL_FLOAT32);
  FillLoopKernels<PlainFmt<double>>(k, COLL_FLOAT64);
}

}  // namespace
}  // namespace coll
