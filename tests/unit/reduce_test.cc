// Reduction kernels: every dtype x op against a plain scalar reference, on every ISA variant
// this CPU runs (forced through the reduce_dispatch.h hook), plus fp16/bf16 edge cases and
// the scalar converters against F16C. Single-threaded; deterministic seeds.
#include <immintrin.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "collectives/reduce/half.h"
#include "collectives/reduce/reduce.h"
#include "collectives/reduce/reduce_dispatch.h"
#include "base/dtype.h"

namespace coll {
namespace {

constexpr ReduceIsa kAllIsas[] = {ReduceIsa::kPortable, ReduceIsa::kAvx2, ReduceIsa::kAvx512};
constexpr coll_op_t kAllOps[] = {COLL_SUM, COLL_PROD, COLL_MIN, COLL_MAX, COLL_AVG};
constexpr size_t kCounts[] = {0, 1, 7, 31, 1000, (size_t{1} << 20) + 3};

// ---- the reference: one element at a time, written from the rules in reduce.h ----

template <typename F>
F RefFloatOp(F x, F y, coll_op_t op) {
  const F nan = std::numeric_limits<F>::quiet_NaN();  // canonical on x86: 0x7FC00000
  if (op == COLL_MIN || op == COLL_MAX) {
    if (std::isnan(x) || std::isnan(y)) return nan;
    if (x == y) return std::signbit(x) == (op == COLL_MIN) ? x : y;  // -0 < +0 here
    return (x < y) == (op == COLL_MIN) ? x : y;
  }
  const F r = op == COLL_PROD ? x * y : x + y;
  return std::isnan(r) ? nan : r;
}

template <typename F>
F RefCanonical(F x) { return std::isnan(x) ? std::numeric_limits<F>::quiet_NaN() : x; }

template <typename T>
T RefIntOp(T x, T y, coll_op_t op) {
  using U = std::make_unsigned_t<T>;
  switch (op) {
    case COLL_PROD: return static_cast<T>(static_cast<U>(static_cast<U>(x) * static_cast<U>(y)));
    case COLL_MIN: return std::min(x, y);
    case COLL_MAX: return std::max(x, y);
    default: return static_cast<T>(static_cast<U>(static_cast<U>(x) + static_cast<U>(y)));
  }
}

// Reference for ReduceFinal (avg divides the stored sum by nranks) or ReduceInto (nranks 0).
template <typename T>
void RefReduce(T* out, const T* a, const T* b, size_t n, coll_dtype_t dtype, coll_op_t op,
               int nranks) {
  const bool avg = op == COLL_AVG && nranks > 0;
  for (size_t i = 0; i < n; ++i) {
    if constexpr (std::is_integral_v<T> && sizeof(T) != 2) {
      const T s = RefIntOp(a[i], b[i], op);
      out[i] = avg ? static_cast<T>(static_cast<long double>(s) / nranks) : s;
    } else if constexpr (std::is_floating_point_v<T>) {
      const T s = RefFloatOp(a[i], b[i], op);
      out[i] = avg ? RefCanonical(s / static_cast<T>(nranks)) : s;
    } else {  // uint16_t storage of float16 / bfloat16
      auto load = dtype == COLL_FLOAT16 ? HalfToFloat : Bf16ToFloat;
      auto store = dtype == COLL_FLOAT16 ? FloatToHalf : FloatToBf16;
      const T s = store(RefFloatOp(load(a[i]), load(b[i]), op));
      out[i] = avg ? store(RefCanonical(load(s) / static_cast<float>(nranks))) : s;
    }
  }
}

void RefReduceAny(void* out, const void* a, const void* b, size_t n, coll_dtype_t dtype,
                  coll_op_t op, int nranks) {
#define COLL_REF_CASE(D, T)                                                                 \
  case D:                                                                                   \
    return RefReduce(static_cast<T*>(out), static_cast<const T*>(a), static_cast<const T*>(b), \
                     n, dtype, op, nranks);
  switch (dtype) {
    COLL_REF_CASE(COLL_INT8, int8_t)
    COLL_REF_CASE(COLL_UINT8, uint8_t)
    COLL_REF_CASE(COLL_INT32, int32_t)
    COLL_REF_CASE(COLL_UINT32, uint32_t)
    COLL_REF_CASE(COLL_INT64, int64_t)
    COLL_REF_CASE(COLL_UINT64, uint64_t)
    COLL_REF_CASE(COLL_FLOAT16, uint16_t)
    COLL_REF_CASE(COLL_BFLOAT16, uint16_t)
    COLL_REF_CASE(COLL_FLOAT32, float)
    COLL_REF_CASE(COLL_FLOAT64, double)
  }
#undef COLL_REF_CASE
}

// ---- test data ----

// Element i of the buffer sits one element past a 64-byte boundary.
class Buffer {
 public:
  Buffer(size_t count, coll_dtype_t dtype)
      : elem_(DtypeSize(dtype)), storage_(count * elem_ + elem_ + 128) {
    const auto base = reinterpret_cast<uintptr_t>(storage_.data());
    data_ = storage_.data() + ((64 - base % 64) % 64) + elem_;
  }
  uint8_t* data() { return data_; }
  size_t bytes(size_t count) const { return count * elem_; }

 private:
  size_t elem_;
  std::vector<uint8_t> storage_;
  uint8_t* data_ = nullptr;
};

// Random bits for integers; for floats, mostly finite values of mixed magnitude with some
// +-0, +-inf, NaN (with payloads) and subnormals mixed in.
uint64_t RandomFloatBits(std::mt19937_64& rng, coll_dtype_t dtype) {
  const uint64_t r = rng();
  const int special = static_cast<int>(r % 64);
  const uint64_t bits = rng();
  const bool is64 = dtype == COLL_FLOAT64, is32 = dtype == COLL_FLOAT32;
  const int man_bits = is64 ? 52 : is32 ? 23 : dtype == COLL_FLOAT16 ? 10 : 7;
  const int exp_bits = is64 ? 11 : dtype == COLL_FLOAT16 ? 5 : 8;
  const uint64_t exp_all = (uint64_t{1} << exp_bits) - 1;
  const uint64_t man = bits & ((uint64_t{1} << man_bits) - 1);
  const uint64_t sign = (r >> 40) & 1;
  uint64_t exp = exp_all / 2 - 4 + (r >> 8) % 9;  // near 1.0, so sums and products round
  if (special == 0) exp = 0;                      // subnormal or zero
  if (special == 1) exp = exp_all;                // inf or NaN
  if (special == 2) exp = 1;                      // tiny normal
  if (special == 3) exp = exp_all - 1;            // huge: overflow
  if (special == 4) return sign << (exp_bits + man_bits);  // +-0
  return (sign << (exp_bits + man_bits)) | (exp << man_bits) | (special == 5 ? 0 : man);
}

void FillRandom(uint8_t* p, size_t count, coll_dtype_t dtype, uint64_t seed) {
  std::mt19937_64 rng(seed);
  const size_t size = DtypeSize(dtype);
  for (size_t i = 0; i < count; ++i) {
    const uint64_t v = IsFloatDtype(dtype) ? RandomFloatBits(rng, dtype) : rng();
    std::memcpy(p + i * size, &v, size);  // little-endian: the low bytes
  }
}

std::string Describe(ReduceIsa isa, coll_dtype_t d, coll_op_t op, size_t n, const char* how) {
  return std::string(ReduceIsaName(isa)) + " " + DtypeName(d) + " " + OpName(op) +
         " count=" + std::to_string(n) + " " + how;
}

// Index of the first differing element, or -1.
long FirstDiff(const uint8_t* x, const uint8_t* y, size_t count, size_t size) {
  if (std::memcmp(x, y, count * size) == 0) return -1;
  for (size_t i = 0; i < count; ++i) {
    if (std::memcmp(x + i * size, y + i * size, size) != 0) return static_cast<long>(i);
  }
  return -1;
}

// ---- every variant against the reference ----

class ReduceIsaTest : public ::testing::TestWithParam<ReduceIsa> {
 protected:
  void SetUp() override {
    if (!ReduceIsaSupported(GetParam())) GTEST_SKIP() << "CPU lacks " << ReduceIsaName(GetParam());
    ASSERT_TRUE(SetReduceIsaForTesting(GetParam()));
  }
  void TearDown() override { SetReduceIsaForTesting(BestReduceIsa()); }
};

// Runs one (dtype, op, count) case in the three aliasing modes and through ReduceFinal.
void CheckCase(ReduceIsa isa, coll_dtype_t d, coll_op_t op, size_t n) {
  const size_t size = DtypeSize(d);
  Buffer a(n, d), b(n, d), out(n, d), want(n, d);
  FillRandom(a.data(), n, d, 1000 * d + 17 * op + n);
  FillRandom(b.data(), n, d, 2000 * d + 31 * op + n + 1);
  RefReduceAny(want.data(), a.data(), b.data(), n, d, op, 0);
  ReduceInto(out.data(), a.data(), b.data(), n, d, op);
  ASSERT_EQ(FirstDiff(out.data(), want.data(), n, size), -1) << Describe(isa, d, op, n, "out");
  for (int nranks : {1, 3, 6}) {
    RefReduceAny(want.data(), a.data(), b.data(), n, d, op, nranks);
    ReduceFinal(out.data(), a.data(), b.data(), n, d, op, nranks);
    ASSERT_EQ(FirstDiff(out.data(), want.data(), n, size), -1)
        << Describe(isa, d, op, n, "final") << " nranks=" << nranks;
    ReduceInto(out.data(), a.data(), b.data(), n, d, op);
    FinalizeAvg(out.data(), n, d, op, nranks);
    ASSERT_EQ(FirstDiff(out.data(), want.data(), n, size), -1)
        << Describe(isa, d, op, n, "finalize") << " nranks=" << nranks;
  }
  RefReduceAny(want.data(), a.data(), b.data(), n, d, op, 0);
  Buffer a2(n, d), b2(n, d);
  std::memcpy(a2.data(), a.data(), a.bytes(n));
  std::memcpy(b2.data(), b.data(), b.bytes(n));
  ReduceInto(a.data(), a.data(), b.data(), n, d, op);
  ASSERT_EQ(FirstDiff(a.data(), want.data(), n, size), -1) << Describe(isa, d, op, n, "out==a");
  ReduceInto(b2.data(), a2.data(), b2.data(), n, d, op);
  ASSERT_EQ(FirstDiff(b2.data(), want.data(), n, size), -1) << Describe(isa, d, op, n, "out==b");
}

TEST_P(ReduceIsaTest, EveryDtypeOpCountMatchesReference) {
  for (int d = COLL_INT8; d <= COLL_FLOAT64; ++d) {
    for (coll_op_t op : kAllOps) {
      for (size_t n : kCounts) CheckCase(GetParam(), static_cast<coll_dtype_t>(d), op, n);
    }
  }
}

// Whatever the reference says, each vector variant must give the portable kernels' exact
// bits (the portable kernels themselves are checked against the reference above).
class ReduceVectorIsaTest : public ReduceIsaTest {};

TEST_P(ReduceVectorIsaTest, BitwiseEqualToPortable) {
  const size_t n = 4099;
  for (int di = COLL_INT8; di <= COLL_FLOAT64; ++di) {
    const auto d = static_cast<coll_dtype_t>(di);
    Buffer a(n, d), b(n, d), got(n, d), want(n, d);
    FillRandom(a.data(), n, d, 7 + di);
    FillRandom(b.data(), n, d, 70 + di);
    for (coll_op_t op : kAllOps) {
      ASSERT_TRUE(SetReduceIsaForTesting(ReduceIsa::kPortable));
      ReduceFinal(want.data(), a.data(), b.data(), n, d, op, 5);
      ASSERT_TRUE(SetReduceIsaForTesting(GetParam()));
      ReduceFinal(got.data(), a.data(), b.data(), n, d, op, 5);
      EXPECT_EQ(FirstDiff(got.data(), want.data(), n, DtypeSize(d)), -1)
          << Describe(GetParam(), d, op, n, "vs portable");
    }
  }
}

// Runs ReduceFinal on one pair of raw elements of dtype (given as bit patterns).
uint64_t Reduce1(coll_dtype_t d, coll_op_t op, uint64_t x, uint64_t y, int nranks = 1) {
  uint64_t out = 0;
  ReduceFinal(&out, &x, &y, 1, d, op, nranks);
  return out;
}

TEST_P(ReduceIsaTest, Float16Edges) {
  const auto d = COLL_FLOAT16;
  EXPECT_EQ(Reduce1(d, COLL_SUM, 0x7BFF, 0x4C00), 0x7C00u);  // 65504 + 16 = 65520: tie -> inf
  EXPECT_EQ(Reduce1(d, COLL_SUM, 0x7BFF, 0x4800), 0x7BFFu);  // 65504 + 8: stays finite
  EXPECT_EQ(Reduce1(d, COLL_PROD, 0x7BFF, 0x4000), 0x7C00u);  // overflow to inf
  EXPECT_EQ(Reduce1(d, COLL_SUM, 0x3C00, 0x1000), 0x3C00u);  // 1 + 2^-11: tie to even (1)
  EXPECT_EQ(Reduce1(d, COLL_SUM, 0x3C01, 0x1000), 0x3C02u);  // tie to even (up)
  EXPECT_EQ(Reduce1(d, COLL_SUM, 0x0001, 0x0001), 0x0002u);  // subnormals add exactly
  EXPECT_EQ(Reduce1(d, COLL_SUM, 0x03FF, 0x0001), 0x0400u);  // into the normals
  EXPECT_EQ(Reduce1(d, COLL_PROD, 0x0001, 0x3800), 0x0000u);  // 2^-25: tie to zero
  EXPECT_EQ(Reduce1(d, COLL_SUM, 0x8000, 0x8000), 0x8000u);  // -0 + -0 = -0
  EXPECT_EQ(Reduce1(d, COLL_SUM, 0x8000, 0x0000), 0x0000u);
  EXPECT_EQ(Reduce1(d, COLL_SUM, 0x7C00, 0xFC00), 0x7E00u);  // inf - inf: canonical NaN
  EXPECT_EQ(Reduce1(d, COLL_SUM, 0x7D55, 0x3C00), 0x7E00u);  // sNaN payload dropped
  for (coll_op_t op : {COLL_MIN, COLL_MAX}) {  // NaN propagates, whichever side
    EXPECT_EQ(Reduce1(d, op, 0xFE01, 0x3C00), 0x7E00u);
    EXPECT_EQ(Reduce1(d, op, 0x3C00, 0x7C01), 0x7E00u);
  }
  EXPECT_EQ(Reduce1(d, COLL_MIN, 0x0000, 0x8000), 0x8000u);  // min(+0, -0) = -0
  EXPECT_EQ(Reduce1(d, COLL_MIN, 0x8000, 0x0000), 0x8000u);
  EXPECT_EQ(Reduce1(d, COLL_MAX, 0x8000, 0x0000), 0x0000u);  // max(-0, +0) = +0
  EXPECT_EQ(Reduce1(d, COLL_AVG, 0x7BFF, 0x7BFF, 2), 0x7C00u);  // sum is inf as stored...
  EXPECT_EQ(Reduce1(d, COLL_AVG, 0x7BFF, 0x4800, 2), 0x77FFu);  // ...or 65504, then / 2
  EXPECT_EQ(Reduce1(d, COLL_AVG, 0x3C00, 0x3C00, 3), 0x3955u);  // 2/3 rounded once more
}

TEST_P(ReduceIsaTest, Bfloat16Edges) {
  const auto d = COLL_BFLOAT16;
  EXPECT_EQ(Reduce1(d, COLL_SUM, 0x3F80, 0x3B80), 0x3F80u);  // 1 + 2^-8: tie to even
  EXPECT_EQ(Reduce1(d, COLL_SUM, 0x3F81, 0x3B80), 0x3F82u);
  EXPECT_EQ(Reduce1(d, COLL_SUM, 0x7F7F, 0x7F7F), 0x7F80u);  // overflow to inf
  EXPECT_EQ(Reduce1(d, COLL_SUM, 0x0001, 0x0001), 0x0002u);  // subnormals are not flushed
  EXPECT_EQ(Reduce1(d, COLL_PROD, 0x0080, 0x3F00), 0x0040u);  // normal * 0.5 -> subnormal
  EXPECT_EQ(Reduce1(d, COLL_SUM, 0xFF81, 0x3F80), 0x7FC0u);  // NaN: canonical, quiet
  EXPECT_EQ(Reduce1(d, COLL_MAX, 0x3F80, 0x7FC1), 0x7FC0u);
  EXPECT_EQ(Reduce1(d, COLL_MIN, 0x8000, 0x0000), 0x8000u);
  EXPECT_EQ(Reduce1(d, COLL_AVG, 0x4040, 0x0000, 2), 0x3FC0u);  // 3 / 2
}

TEST_P(ReduceIsaTest, FloatMinMaxNanAndZeros) {
  const uint64_t qnan32 = 0x7FC00000u, one = 0x3F800000u;
  EXPECT_EQ(Reduce1(COLL_FLOAT32, COLL_MIN, 0x7F800001u, one), qnan32);
  EXPECT_EQ(Reduce1(COLL_FLOAT32, COLL_MAX, one, 0xFFC12345u), qnan32);
  EXPECT_EQ(Reduce1(COLL_FLOAT32, COLL_SUM, 0xFFC12345u, one), qnan32);
  EXPECT_EQ(Reduce1(COLL_FLOAT32, COLL_MIN, 0, 0x80000000u), 0x80000000u);
  EXPECT_EQ(Reduce1(COLL_FLOAT32, COLL_MAX, 0x80000000u, 0), 0u);
  const uint64_t qnan64 = 0x7FF8000000000000ull, negzero64 = 0x8000000000000000ull;
  EXPECT_EQ(Reduce1(COLL_FLOAT64, COLL_MAX, 0x7FF0000000000001ull, 0), qnan64);
  EXPECT_EQ(Reduce1(COLL_FLOAT64, COLL_MIN, 0, negzero64), negzero64);
  EXPECT_EQ(Reduce1(COLL_FLOAT64, COLL_MAX, negzero64, 0), 0u);
}

TEST_P(ReduceIsaTest, IntegersWrapAndAverageTowardZero) {
  EXPECT_EQ(static_cast<int8_t>(Reduce1(COLL_INT8, COLL_SUM, 127, 1)), -128);
  EXPECT_EQ(static_cast<int8_t>(Reduce1(COLL_INT8, COLL_PROD, 0x80, 0xFF)), -128);  // -128 * -1
  EXPECT_EQ(Reduce1(COLL_UINT64, COLL_SUM, ~0ull, 2), 1u);
  EXPECT_EQ(Reduce1(COLL_INT64, COLL_PROD, 1ull << 62, 4), 0u);
  EXPECT_EQ(static_cast<int32_t>(Reduce1(COLL_INT32, COLL_AVG, uint32_t(-4), uint32_t(-3), 2)), -3);
  EXPECT_EQ(static_cast<int32_t>(Reduce1(COLL_INT32, COLL_AVG, uint32_t(-7), 0, 4)), -1);
  EXPECT_EQ(static_cast<int8_t>(Reduce1(COLL_INT8, COLL_AVG, 100, 100, 2)), -28);  // wraps first
  EXPECT_EQ(static_cast<int64_t>(Reduce1(COLL_INT64, COLL_AVG, uint64_t(-9), 0, 2)), -4);
  EXPECT_EQ(Reduce1(COLL_UINT8, COLL_AVG, 200, 50, 200), 1u);
  EXPECT_EQ(Reduce1(COLL_UINT32, COLL_MIN, 0xFFFFFFFFu, 1), 1u);
  EXPECT_EQ(static_cast<int8_t>(Reduce1(COLL_INT8, COLL_MAX, 0x80, 0x7F)), 127);
}

std::string IsaParamName(const ::testing::TestParamInfo<ReduceIsa>& info) { return ReduceIsaName(info.param); }

INSTANTIATE_TEST_SUITE_P(AllIsas, ReduceIsaTest, ::testing::ValuesIn(kAllIsas), IsaParamName);
INSTANTIATE_TEST_SUITE_P(VectorIsas, ReduceVectorIsaTest, ::testing::Values(ReduceIsa::kAvx2, ReduceIsa::kAvx512),
                         IsaParamName);

// ---- the scalar converters ----

TEST(HalfConversion, KnownValues) {
  EXPECT_EQ(FloatToHalf(1.0f), 0x3C00);
  EXPECT_EQ(FloatToHalf(65504.0f), 0x7BFF);
  EXPECT_EQ(FloatToHalf(65519.99f), 0x7BFF);
  EXPECT_EQ(FloatToHalf(65520.0f), 0x7C00);
  EXPECT_EQ(FloatToHalf(-1e10f), 0xFC00);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -24)), 0x0001);
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0f, -25)), 0x0000);              // tie to even
  EXPECT_EQ(FloatToHalf(std::ldexp(1.0000001f, -25)), 0x0001);        // just above the tie
  EXPECT_EQ(FloatToHalf(std::ldexp(3.0f, -25)), 0x0002);              // 1.5 ulp: tie up
  EXPECT_EQ(FloatToHalf(FloatFromBits(0x387FE000u)), 0x0400);         // carries to normal
  EXPECT_EQ(FloatToHalf(-0.0f), 0x8000);
  EXPECT_EQ(FloatToHalf(FloatFromBits(0x7F800001u)), 0x7E00);         // sNaN made quiet
  EXPECT_EQ(FloatToHalf(FloatFromBits(0xFFA12345u)), 0xFF09);         // payload's top bits
  EXPECT_EQ(FloatBits(HalfToFloat(0x0001)), 0x33800000u);
  EXPECT_EQ(FloatBits(HalfToFloat(0x7C01)), 0x7FC02000u);
  EXPECT_EQ(FloatBits(HalfToFloat(0xFBFF)), FloatBits(-65504.0f));
}

TEST(Bf16Conversion, KnownValues) {
  EXPECT_EQ(FloatToBf16(1.0f), 0x3F80);
  EXPECT_EQ(FloatToBf16(FloatFromBits(0x3F808000u)), 0x3F80);  // tie to even
  EXPECT_EQ(FloatToBf16(FloatFromBits(0x3F818000u)), 0x3F82);
  EXPECT_EQ(FloatToBf16(FloatFromBits(0x3F808001u)), 0x3F81);
  EXPECT_EQ(FloatToBf16(FloatFromBits(0x7F7FFFFFu)), 0x7F80);  // rounds up to inf
  EXPECT_EQ(FloatToBf16(FloatFromBits(0x00018000u)), 0x0002);  // subnormal, tie up to even
  EXPECT_EQ(FloatToBf16(FloatFromBits(0x7F800001u)), 0x7FC0);  // NaN stays NaN, quiet
  EXPECT_EQ(FloatToBf16(FloatFromBits(0xFF810000u)), 0xFFC1);
  EXPECT_EQ(FloatToBf16(-0.0f), 0x8000);
  EXPECT_EQ(FloatBits(Bf16ToFloat(0xC0A0)), FloatBits(-5.0f));
}

__attribute__((target("f16c"))) uint16_t F16cToHalf(float f) {
  return static_cast<uint16_t>(_mm_extract_epi16(_mm_cvtps_ph(_mm_set1_ps(f), 0), 0));
}
__attribute__((target("f16c"))) float F16cToFloat(uint16_t h) {
  return _mm_cvtss_f32(_mm_cvtph_ps(_mm_set1_epi16(static_cast<short>(h))));
}

// Every half, and floats around every half and every midpoint between halves.
TEST(HalfConversion, MatchesF16c) {
  if (!ReduceIsaSupported(ReduceIsa::kAvx2)) GTEST_SKIP() << "no F16C";
  for (uint32_t h = 0; h <= 0xFFFF; ++h) {
    const uint32_t f = FloatBits(F16cToFloat(static_cast<uint16_t>(h)));
    ASSERT_EQ(FloatBits(HalfToFloat(static_cast<uint16_t>(h))), f) << std::hex << h;
    for (uint32_t probe : {f, f + 0x1000u, f + 0xFFFu, f + 0x1001u, f - 1u, f + 1u}) {
      const float x = FloatFromBits(probe);
      ASSERT_EQ(FloatToHalf(x), F16cToHalf(x)) << std::hex << probe;
    }
  }
  for (uint64_t bits = 0; bits <= 0xFFFFFFFFull; bits += 9973) {
    const float x = FloatFromBits(static_cast<uint32_t>(bits));
    ASSERT_EQ(FloatToHalf(x), F16cToHalf(x)) << std::hex << bits;
  }
}

}  // namespace
}  // namespace coll
