// Internal to tests/support: per-dtype element types and codecs used by data.cc.
// Integers are their C types; fp16 / bf16 are wrappers around the uint16 bit pattern.
#pragma once

#include <cstdint>
#include <limits>
#include <type_traits>

#include "collective.h"
#include "support/float16.h"

namespace colltest {

struct Half {
  uint16_t bits;
};
struct Bfloat16 {
  uint16_t bits;
};

// Float kinds: encode from double, decode to double, machine epsilon, and the integer
// range whose sums over 8 ranks stay exact (times scale, a power of two).
template <typename T>
struct FloatCodec;

template <>
struct FloatCodec<Half> {
  static Half Encode(double v) { return Half{FloatToHalf(static_cast<float>(v))}; }
  static double Decode(Half v) { return HalfToFloat(v.bits); }
  static constexpr double kEps = 1.0 / 1024;
  static constexpr int64_t kSumRange = 128;
  static constexpr double kScale = 1.0;
};
template <>
struct FloatCodec<Bfloat16> {
  static Bfloat16 Encode(double v) { return Bfloat16{FloatToBfloat16(static_cast<float>(v))}; }
  static double Decode(Bfloat16 v) { return Bfloat16ToFloat(v.bits); }
  static constexpr double kEps = 1.0 / 128;
  static constexpr int64_t kSumRange = 16;
  static constexpr double kScale = 1.0;
};
template <>
struct FloatCodec<float> {
  static float Encode(double v) { return static_cast<float>(v); }
  static double Decode(float v) { return v; }
  static constexpr double kEps = 1.0 / (1 << 23);
  static constexpr int64_t kSumRange = int64_t{1} << 16;
  static constexpr double kScale = 0.25;
};
template <>
struct FloatCodec<double> {
  static double Encode(double v) { return v; }
  static double Decode(double v) { return v; }
  static constexpr double kEps = 1.0 / (int64_t{1} << 52);
  static constexpr int64_t kSumRange = int64_t{1} << 40;
  static constexpr double kScale = 0.25;
};

template <typename T>
constexpr bool kIsFloatKind = !std::is_integral<T>::value;

// Calls v(T{}) with the element type of dtype.
template <typename Visitor>
auto VisitDtype(coll_dtype_t dtype, Visitor&& v) {
  switch (dtype) {
    case COLL_INT8: return v(int8_t{});
    case COLL_UINT8: return v(uint8_t{});
    case COLL_INT32: return v(int32_t{});
    case COLL_UINT32: return v(uint32_t{});
    case COLL_INT64: return v(int64_t{});
    case COLL_UINT64: return v(uint64_t{});
    case COLL_FLOAT16: return v(Half{});
    case COLL_BFLOAT16: return v(Bfloat16{});
    case COLL_FLOAT32: return v(float{});
    case COLL_FLOAT64: return v(double{});
  }
  return v(uint8_t{});
}

// splitmix64 finaliser over (seed, rank, index): the one source of test randomness.
inline uint64_t Mix(uint64_t seed, int rank, uint64_t index) {
  uint64_t z = seed ^ (static_cast<uint64_t>(rank) + 1) * 0x9e3779b97f4a7c15ull ^
               index * 0xc2b2ae3d27d4eb4full;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace colltest
