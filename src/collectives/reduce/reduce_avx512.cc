// The AVX-512 (F, BW, VL) + F16C kernel table: float kernels from reduce_simd.h over 512-bit
// traits, the integer ones are reduce_loops.h compiled for AVX-512. Only run when
// ReduceIsaSupported(kAvx512). Stateless, thread-safe.
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
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx2,f16c"))), \
                             apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512vl,avx2,f16c")
#endif
// GCC 12's own _mm512_undefined_*() (`__Y = __Y`) trips these warnings when inlined.
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include "collectives/reduce/reduce_loops.h"
#include "collectives/reduce/reduce_simd.h"

namespace coll {
namespace {

struct Avx512Float {
  using V = __m512;
  static constexpr size_t kLanes = 16;
  static V set1(int n) { return _mm512_set1_ps(static_cast<float>(n)); }
  static V add(V x, V y) { return _mm512_add_ps(x, y); }
  static V mul(V x, V y) { return _mm512_mul_ps(x, y); }
  static V div(V x, V y) { return _mm512_div_ps(x, y); }
  static V min(V x, V y) { return _mm512_min_ps(x, y); }
  static V max(V x, V y) { return _mm512_max_ps(x, y); }
  static V orBits(V x, V y) {
    return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(x), _mm512_castps_si512(y)));
  }
  static V andBits(V x, V y) {
    return _mm512_castsi512_ps(_mm512_and_si512(_mm512_castps_si512(x), _mm512_castps_si512(y)));
  }
  // Lanes where x or y is NaN become the canonical quiet NaN.
  static V nanTo(V r, V x, V y) {
    const V nan = _mm512_castsi512_ps(_mm512_set1_epi32(static_cast<int>(kCanonicalNan32)));
    return _mm512_mask_mov_ps(r, _mm512_cmp_ps_mask(x, y, _CMP_UNORD_Q), nan);
  }
};

struct F32Io : Avx512Float {
  using T = float;
  using Raw = __m512;
  static Raw loadRaw(const T* p) { return _mm512_loadu_ps(p); }
  static void storeRaw(T* p, Raw r) { _mm512_storeu_ps(p, r); }
  static V widen(Raw r) { return r; }
  static Raw narrow(V v) { return v; }
};

struct F16Io : Avx512Float {
  using T = uint16_t;
  using Raw = __m256i;
  static Raw loadRaw(const T* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void storeRaw(T* p, Raw r) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), r); }
  static V widen(Raw r) { return _mm512_cvtph_ps(r); }
  static Raw narrow(V v) { return _mm512_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT); }
};

// bf16 rounding in integer lanes (not VCVTNEPS2BF16, which flushes subnormals). Inputs to
// Narrow are never NaN but the canonical one, which this rounding maps to 0x7FC0.
struct Bf16Io : Avx512Float {
  using T = uint16_t;
  using Raw = __m256i;
  static Raw loadRaw(const T* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static void storeRaw(T* p, Raw r) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), r); }
  static V widen(Raw r) {
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(r), 16));
  }
  static Raw narrow(V v) {
    const __m512i x = _mm512_castps_si512(v);
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(x, 16), _mm512_set1_epi32(1));
    const __m512i bias = _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF));
    return _mm512_cvtepi32_epi16(_mm512_srli_epi32(_mm512_add_epi32(x, bias), 16));
  }
};

struct F64Io {
  using T = double;
  using V = __m512d;
  using Raw = __m512d;
  static constexpr size_t kLanes = 8;
  static Raw loadRaw(const T* p) { return _mm512_loadu_pd(p); }
  static void storeRaw(T* p, Raw r) { _mm512_storeu_pd(p, r); }
  static V widen(Raw r) { return r; }
  static Raw narrow(V v) { return v; }
  static V set1(int n) { return _mm512_set1_pd(static_cast<double>(n)); }
  static V add(V x, V y) { return _mm512_add_pd(x, y); }
  static V mul(V x, V y) { return _mm512_mul_pd(x, y); }
  static V div(V x, V y) { return _mm512_div_pd(x, y); }
  static V min(V x, V y) { return _mm512_min_pd(x, y); }
  static V max(V x, V y) { return _mm512_max_pd(x, y); }
  static V orBits(V x, V y) {
    return _mm512_castsi512_pd(_mm512_or_si512(_mm512_castpd_si512(x), _mm512_castpd_si512(y)));
  }
  static V andBits(V x, V y) {
    return _mm512_castsi512_pd(_mm512_and_si512(_mm512_castpd_si512(x), _mm512_castpd_si512(y)));
  }
  static V nanTo(V r, V x, V y) {
    const V nan = _mm512_castsi512_pd(_mm512_set1_epi64(static_cast<int64_t>(kCanonicalNan64)));
    return _mm512_mask_mov_pd(r, _mm512_cmp_pd_mask(x, y, _CMP_UNORD_Q), nan);
  }
};

ReduceKernels MakeAvx512Kernels() {
  ReduceKernels k;
  FillIntLoopKernels(&k);
  FillVecKernels<F16Io>(&k, COLL_FLOAT16);
  FillVecKernels<Bf16Io>(&k, COLL_BFLOAT16);
  FillVecKernels<F32Io>(&k, COLL_FLOAT32);
  FillVecKernels<F64Io>(&k, COLL_FLOAT64);
  return k;
}

}  // namespace

const ReduceKernels& Avx512ReduceKernels() {
  static const ReduceKernels kKernels = MakeAvx512Kernels();
  return kKernels;
}

}  // namespace coll

#if defined(__clang__)
#pragma clang attribute pop
#endif

#endif  // __x86_64__
