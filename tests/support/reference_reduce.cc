// The reduction rules, element by element: floats in their own type, fp16/bf16 widened to
// float and rounded back after every operation, NaN canonical, signed zeros ordered.
#include "support/reference_reduce.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "support/float16.h"

namespace colltest {
namespace {

template <typename T>
T From(uint64_t bits) {
  T v;
  std::memcpy(&v, &bits, sizeof v);
  return v;
}

template <typename T>
uint64_t To(T v) {
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof v);
  return bits;
}

template <typename F>
F FloatOp(F x, F y, coll_op_t op) {
  const F nan = std::numeric_limits<F>::quiet_NaN();
  if (op == COLL_MIN || op == COLL_MAX) {
    if (std::isnan(x) || std::isnan(y)) return nan;
    if (x == y) return std::signbit(x) == (op == COLL_MIN) ? x : y;  // -0 below +0
    return (x < y) == (op == COLL_MIN) ? x : y;
  }
  const F r = op == COLL_PROD ? x * y : x + y;
  return std::isnan(r) ? nan : r;
}

template <typename F>
F Canonical(F x) { return std::isnan(x) ? std::numeric_limits<F>::quiet_NaN() : x; }

template <typename T>
uint64_t IntOp(uint64_t a, uint64_t b, coll_op_t op) {
  using U = std::make_unsigned_t<T>;
  const T x = From<T>(a), y = From<T>(b);
  switch (op) {
    case COLL_PROD: return To(static_cast<T>(static_cast<U>(static_cast<U>(x) * static_cast<U>(y))));
    case COLL_MIN: return To(x < y ? x : y);
    case COLL_MAX: return To(x < y ? y : x);
    default: return To(static_cast<T>(static_cast<U>(static_cast<U>(x) + static_cast<U>(y))));
  }
}

template <typename T>
uint64_t IntAvg(uint64_t s, int nranks) {
  return To(static_cast<T>(static_cast<long double>(From<T>(s)) / nranks));
}

float Load16(coll_dtype_t dtype, uint64_t bits) {
  const auto b = static_cast<uint16_t>(bits);
  return dtype == COLL_FLOAT16 ? HalfToFloat(b) : Bfloat16ToFloat(b);
}

uint64_t Store16(coll_dtype_t dtype, float v) {
  return dtype == COLL_FLOAT16 ? FloatToHalf(v) : FloatToBfloat16(v);
}

uint64_t Mix(uint64_t seed, int rank, size_t index) {
  uint64_t z = seed * 0x9e3779b97f4a7c15ull + static_cast<uint64_t>(rank) * 0xbf58476d1ce4e5b9ull +
               static_cast<uint64_t>(index) * 0x94d049bb133111ebull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

uint64_t RefCombine(coll_dtype_t dtype, coll_op_t op, uint64_t a, uint64_t b) {
  if (op == COLL_AVG) op = COLL_SUM;
  switch (dtype) {
    case COLL_INT8: return IntOp<int8_t>(a, b, op);
    case COLL_UINT8: return IntOp<uint8_t>(a, b, op);
    case COLL_INT32: return IntOp<int32_t>(a, b, op);
    case COLL_UINT32: return IntOp<uint32_t>(a, b, op);
    case COLL_INT64: return IntOp<int64_t>(a, b, op);
    case COLL_UINT64: return IntOp<uint64_t>(a, b, op);
    case COLL_FLOAT32: return To(FloatOp(From<float>(a), From<float>(b), op));
    case COLL_FLOAT64: return To(FloatOp(From<double>(a), From<double>(b), op));
    case COLL_FLOAT16:
    case COLL_BFLOAT16: return Store16(dtype, FloatOp(Load16(dtype, a), Load16(dtype, b), op));
  }
  return 0;
}

uint64_t RefFinalize(coll_dtype_t dtype, coll_op_t op, uint64_t s, int nranks) {
  if (op != COLL_AVG) return s;
  switch (dtype) {
    case COLL_INT8: return IntAvg<int8_t>(s, nranks);
    case COLL_UINT8: return IntAvg<uint8_t>(s, nranks);
    case COLL_INT32: return IntAvg<int32_t>(s, nranks);
    case COLL_UINT32: return IntAvg<uint32_t>(s, nranks);
    case COLL_INT64: return IntAvg<int64_t>(s, nranks);
    case COLL_UINT64: return IntAvg<uint64_t>(s, nranks);
    case COLL_FLOAT32: return To(Canonical(From<float>(s) / static_cast<float>(nranks)));
    case COLL_FLOAT64: return To(Canonical(From<double>(s) / static_cast<double>(nranks)));
    case COLL_FLOAT16:
    case COLL_BFLOAT16: return Store16(dtype, Canonical(Load16(dtype, s) / static_cast<float>(nranks)));
  }
  return s;
}

uint64_t RefFold(coll_dtype_t dtype, coll_op_t op, const std::vector<uint64_t>& values, int nranks) {
  uint64_t acc = values.at(0);
  for (size_t i = 1; i < values.size(); ++i) acc = RefCombine(dtype, op, acc, values[i]);
  return RefFinalize(dtype, op, acc, nranks);
}

int RingFoldStart(size_t count, int nranks, size_t index) {
  const size_t n = static_cast<size_t>(nranks), base = count / n, rem = count % n;
  // Segments of base + 1 elements first (rem of them), then of base.
  if (index < rem * (base + 1)) return static_cast<int>(index / (base + 1));
  return static_cast<int>(rem + (index - rem * (base + 1)) / base);
}

uint64_t RefInput(coll_dtype_t dtype, uint64_t seed, int rank, size_t index) {
  const uint64_t h = Mix(seed, rank, index), r = Mix(h, 7, 11);
  const bool f16 = dtype == COLL_FLOAT16, bf16 = dtype == COLL_BFLOAT16;
  if (dtype != COLL_FLOAT32 && dtype != COLL_FLOAT64 && !f16 && !bf16) return h;
  const int man_bits = dtype == COLL_FLOAT64 ? 52 : dtype == COLL_FLOAT32 ? 23 : f16 ? 10 : 7;
  const int exp_bits = dtype == COLL_FLOAT64 ? 11 : f16 ? 5 : 8;
  const uint64_t exp_all = (uint64_t{1} << exp_bits) - 1, sign = (h >> 63) << (exp_bits + man_bits);
  const uint64_t man = r & ((uint64_t{1} << man_bits) - 1);
  switch (h % 48) {
    case 0: return sign | (exp_all << man_bits) | (man | (uint64_t{1} << (man_bits - 1)));  // NaN
    case 1: return exp_all << man_bits;                                                    // +Inf
    case 2: return (uint64_t{1} << (exp_bits + man_bits)) | (exp_all << man_bits);         // -Inf
    case 3: return uint64_t{1} << (exp_bits + man_bits);                                   // -0
    case 4: return 0;                                                                      // +0
    default: {
      const uint64_t exp = exp_all / 2 - 3 + (h >> 8) % 7;  // 2^-2 .. 2^4: sums round
      return sign | (exp << man_bits) | man;
    }
  }
}

}  // namespace colltest
