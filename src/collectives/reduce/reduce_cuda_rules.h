// The element rules of the CUDA reduction kernels, written once for host and device so that a
// CPU unit test can check them against the CPU kernels (reduce.h) value by value. On the device
// float arithmetic goes through the round-to-nearest intrinsics (never contracted into an FMA)
// and fp16 conversions through the hardware ones; on the host through plain C++ and half.h.
// Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "collective.h"

#if defined(__CUDACC__)
#include <cuda_fp16.h>
#define COLL_HOST_DEVICE __host__ __device__ __forceinline__
#else
#define COLL_HOST_DEVICE inline
#endif
#if !defined(__CUDA_ARCH__)
#include "collectives/reduce/half.h"
#endif

namespace coll {
namespace cuda_rules {

// What one kernel computes per element: an op, AVG's sum-then-divide, or the divide alone.
enum class Kind { kSum, kProd, kMin, kMax, kAvgFinal, kAvgFinalize };

COLL_HOST_DEVICE uint32_t Bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
#endif
}
COLL_HOST_DEVICE uint64_t Bits(double d) {
#if defined(__CUDA_ARCH__)
  return static_cast<uint64_t>(__double_as_longlong(d));
#else
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
#endif
}
COLL_HOST_DEVICE float FloatOf(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
#endif
}
COLL_HOST_DEVICE double DoubleOf(uint64_t u) {
#if defined(__CUDA_ARCH__)
  return __longlong_as_double(static_cast<long long>(u));
#else
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
#endif
}

// One IEEE operation, round to nearest-even, subnormals kept (the build never uses -ftz).
COLL_HOST_DEVICE float Add(float x, float y) {
#if defined(__CUDA_ARCH__)
  return __fadd_rn(x, y);
#else
  return x + y;
#endif
}
COLL_HOST_DEVICE double Add(double x, double y) {
#if defined(__CUDA_ARCH__)
  return __dadd_rn(x, y);
#else
  return x + y;
#endif
}
COLL_HOST_DEVICE float Mul(float x, float y) {
#if defined(__CUDA_ARCH__)
  return __fmul_rn(x, y);
#else
  return x * y;
#endif
}
COLL_HOST_DEVICE double Mul(double x, double y) {
#if defined(__CUDA_ARCH__)
  return __dmul_rn(x, y);
#else
  return x * y;
#endif
}
COLL_HOST_DEVICE float Div(float x, float y) {
#if defined(__CUDA_ARCH__)
  return __fdiv_rn(x, y);
#else
  return x / y;
#endif
}
COLL_HOST_DEVICE double Div(double x, double y) {
#if defined(__CUDA_ARCH__)
  return __ddiv_rn(x, y);
#else
  return x / y;
#endif
}

COLL_HOST_DEVICE float CanonicalNan(float) { return FloatOf(0x7FC00000u); }
COLL_HOST_DEVICE double CanonicalNan(double) { return DoubleOf(0x7FF8000000000000ull); }

// Equal floats differ in bits only as -0 / +0: AND of the bits gives MAX's +0, OR gives MIN's -0.
COLL_HOST_DEVICE float BitOp(float x, float y, bool use_or) {
  return FloatOf(use_or ? (Bits(x) | Bits(y)) : (Bits(x) & Bits(y)));
}
COLL_HOST_DEVICE double BitOp(double x, double y, bool use_or) {
  return DoubleOf(use_or ? (Bits(x) | Bits(y)) : (Bits(x) & Bits(y)));
}

// Floats: a NaN result is the canonical quiet NaN; MIN/MAX propagate NaN; min(-0, +0) = -0.
template <Kind kKind, typename F>
COLL_HOST_DEVICE F ApplyFloat(F x, F y) {
  if constexpr (kKind == Kind::kSum || kKind == Kind::kProd) {
    const F r = kKind == Kind::kProd ? Mul(x, y) : Add(x, y);
    return r != r ? CanonicalNan(r) : r;
  } else {
    static_assert(kKind == Kind::kMin || kKind == Kind::kMax, "element ops only");
    if (x != x || y != y) return CanonicalNan(x);
    if (x < y) return kKind == Kind::kMin ? x : y;
    if (y < x) return kKind == Kind::kMin ? y : x;
    return BitOp(x, y, kKind == Kind::kMin);
  }
}

// Integers: SUM and PROD wrap modulo 2^bits (computed unsigned: no undefined overflow).
template <Kind kKind, typename T>
COLL_HOST_DEVICE T ApplyInt(T x, T y) {
  using U = std::make_unsigned_t<T>;
  if constexpr (kKind == Kind::kSum) return static_cast<T>(U(x) + U(y));
  if constexpr (kKind == Kind::kProd) return static_cast<T>(U(x) * U(y));
  if constexpr (kKind == Kind::kMin) return y < x ? y : x;
  if constexpr (kKind == Kind::kMax) return x < y ? y : x;
}

template <Kind kKind, typename C>
COLL_HOST_DEVICE C Apply(C x, C y) {
  if constexpr (std::is_floating_point_v<C>) return ApplyFloat<kKind>(x, y);
  else return ApplyInt<kKind>(x, y);
}

// Storage formats: an element is loaded into its compute type and stored back.
template <typename T>
struct PlainFmt {
  using Storage = T;
  using Compute = T;
  COLL_HOST_DEVICE static T load(T v) { return v; }
  COLL_HOST_DEVICE static T store(T v) { return v; }
};

// Loads are exact. A NaN input's payload never reaches a result (every op canonicalises NaN),
// so the hardware conversion's NaN payload does not matter. Stores round to nearest-even;
// NaNs are converted with half.h's rule (only the canonical NaN reaches a store).
struct HalfFmt {
  using Storage = uint16_t;
  using Compute = float;
  COLL_HOST_DEVICE static float load(uint16_t v) {
#if defined(__CUDA_ARCH__)
    return __half2float(__ushort_as_half(v));
#else
    return HalfToFloat(v);
#endif
  }
  COLL_HOST_DEVICE static uint16_t store(float f) {
#if defined(__CUDA_ARCH__)
    const uint32_t x = Bits(f);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u)
      return static_cast<uint16_t>(((x >> 16) & 0x8000u) | 0x7E00u | ((x >> 13) & 0x3FFu));
    return __half_as_ushort(__float2half_rn(f));
#else
    return FloatToHalf(f);
#endif
  }
};

// bfloat16 is the upper half of a float32: the same integer code on host and device.
struct Bf16Fmt {
  using Storage = uint16_t;
  using Compute = float;
  COLL_HOST_DEVICE static float load(uint16_t v) { return FloatOf(static_cast<uint32_t>(v) << 16); }
  COLL_HOST_DEVICE static uint16_t store(float f) {
    const uint32_t x = Bits(f);
    if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
    return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
  }
};

// AVG of a stored value: floats divide once (fp32 for fp16/bf16/fp32, fp64 for fp64);
// integers divide the wrapped sum, truncating toward zero.
template <typename Fmt>
COLL_HOST_DEVICE typename Fmt::Storage DivideStored(typename Fmt::Storage v, int nranks) {
  using C = typename Fmt::Compute;
  if constexpr (std::is_floating_point_v<C>) {
    const C q = Div(Fmt::load(v), static_cast<C>(nranks));
    return Fmt::store(q != q ? CanonicalNan(q) : q);
  } else {
    using W = std::common_type_t<C, int64_t>;
    return static_cast<C>(static_cast<W>(v) / static_cast<W>(nranks));
  }
}

// One output element. kAvgFinalize ignores y.
template <typename Fmt, Kind kKind>
COLL_HOST_DEVICE typename Fmt::Storage ReduceElement(typename Fmt::Storage x, typename Fmt::Storage y, int nranks) {
  if constexpr (kKind == Kind::kAvgFinalize) {
    return DivideStored<Fmt>(x, nranks);
  } else if constexpr (kKind == Kind::kAvgFinal) {
    return DivideStored<Fmt>(Fmt::store(Apply<Kind::kSum>(Fmt::load(x), Fmt::load(y))), nranks);
  } else {
    return Fmt::store(Apply<kKind>(Fmt::load(x), Fmt::load(y)));
  }
}

}  // namespace cuda_rules
}  // namespace coll
