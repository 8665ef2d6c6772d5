// The AVX2 + F16C kernel table: float kernels from reduce_simd.h over 256-bit traits, the
// integer ones are reduce_loops.h compiled for AVX2. Only run when ReduceIsaSupported(kAvx2).
// Stateless, thread-safe.
#if defined(__x86_64__)  // the whole file: no such ISA elsewhere
#include <immintrin.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "collectives/reduce/half.h"
#include "collectives/reduce/reduce_dispatch.h"

// Everything below, the included kernel templates too, is compiled for this ISA.
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,f16c"))), apply_to = function)
#else
#pragma GCC target("avx2,f16c")
#endif

#include "collectives/reduce/reduce_loops.h"
#include "collectives/reduce/reduce_simd.h"

namespace coll {
namespace {

struct Avx2Float {
  using V = __m256;
  static constexpr size_t kLanes = 8;
  static V set1(int n) { return _mm256_set1_ps(static_cast<float>(n)); }
  static V add(V x, V y) { return _mm256_add_ps(x, y); }
  static V mul(V x, V y) { return _mm256_mul_ps(x, y); }
  static V div(V x, V y) { return _mm256_div_ps(x, y); }
  static V min(V x, V y) { return _mm256_min_ps(x, y); }
  static V max(V x, V y) { return _mm256_max_ps(x, y); }
  static V orBits(V x, V y) { return _mm256_or_ps(x, y); }
  static V andBits(V x, V y) { return _mm256_and_ps(x, y); }
  // Lanes where x or y is NaN become the canonical quiet NaN.
  static V nanTo(V r, V x, V y) {
    const V nan = _mm256_castsi256_ps(_mm256_set1_epi32(static_cast<int>(kCanonicalNan32)));
    return _mm256_blendv_ps(r, nan, _mm256_cmp_ps(x, y, _CMP_UNORD_Q));
  }
};

struct F32Io : Avx2Float {
  using T = float;
  using Raw = __m256;
  static Raw loadRaw(const T* p) { return _mm256_loadu_ps(p); }
  static void storeRaw(T* p, Raw r) { _mm256_storeu_ps(p, r); }
  static V widen(Raw r) { return r; }
  static Raw narrow(V v) { return v; }
};

struct F16Io : Avx2Float {
  using T = uint16_t;
  using Raw = __m128i;
  static Raw loadRaw(const T* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
  static void storeRaw(T* p, Raw r) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), r); }
  static V widen(Raw r) { return _mm256_cvtph_ps(r); }
  static Raw narrow(V v) { return _mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT); }
};

// bf16 rounding in integer lanes (not VCVTNEPS2BF16, which flushes subnormals). Inputs to
// Narrow are never NaN but the canonical one, which this rounding maps to 0x7FC0.
struct Bf16Io : Avx2Float {
  using T = uint16_t;
  using Raw = __m128i;
  static Raw loadRaw(const T* p) { return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p)); }
  static void storeRaw(T* p, Raw r) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), r); }
  static V widen(Raw r) {
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(r), 16));
  }
  static Raw narrow(V v) {
    const __m256i x = _mm256_castps_si256(v);
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(x, 16), _mm256_set1_epi32(1));
    const __m256i bias = _mm256_add_epi32(lsb, _mm256_set1_epi32(0x7FFF));
    const __m256i r = _mm256_srli_epi32(_mm256_add_epi32(x, bias), 16);
    const __m256i packed = _mm256_packus_epi32(r, r);  // per 128-bit lane: r0-3 r0-3 | r4-7 r4-7
    return _mm256_castsi256_si128(_mm256_permute4x64_epi64(packed, 0x08));
  }
};

struct F64Io {
  using T = double;
  using V = __m256d;
  using Raw = __m256d;
  static constexpr size_t kLanes = 4;
  static Raw loadRaw(const T* p) { return _mm256_loadu_pd(p); }
  static void storeRaw(T* p, Raw r) { _mm256_storeu_pd(p, r); }
  static V widen(Raw r) { return r; }
  static Raw narrow(V v) { return v; }
  static V set1(int n) { return _mm256_set1_pd(static_cast<double>(n)); }
  static V add(V x, V y) { return _mm256_add_pd(x, y); }
  static V mul(V x, V y) { return _mm256_mul_pd(x, y); }
  static V div(V x, V y) { return _mm256_div_pd(x, y); }
  static V min(V x, V y) { return _mm256_min_pd(x, y); }
  static V max(V x, V y) { return _mm256_max_pd(x, y); }
  static V orBits(V x, V y) { return _mm256_or_pd(x, y); }
  static V andBits(V x, V y) { return _mm256_and_pd(x, y); }
  static V nanTo(V r, V x, V y) {
    const V nan = _mm256_castsi256_pd(_mm256_set1_epi64x(static_cast<int64_t>(kCanonicalNan64)));
    return _mm256_blendv_pd(r, nan, _mm256_cmp_pd(x, y, _CMP_UNORD_Q));
  }
};

ReduceKernels MakeAvx2Kernels() {
  ReduceKernels k;
  FillIntLoopKernels(&k);
  FillVecKernels<F16Io>(&k, COLL_FLOAT16);
  FillVecKernels<Bf16Io>(&k, COLL_BFLOAT16);
  FillVecKernels<F32Io>(&k, COLL_FLOAT32);
  FillVecKernels<F64Io>(&k, COLL_FLOAT64);
  return k;
}

}  // namespace

const ReduceKernels& Avx2ReduceKernels() {
  static const ReduceKernels kKernels = MakeAvx2Kernels();
  return kKernels;
}

}  // namespace coll

#if defined(__clang__)
#pragma clang attribute pop
#endif

#endif  // __x86_64__
