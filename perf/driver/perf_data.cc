// Values, conversions and comparison for the perf checks (see perf_data.h).
#include "perf_data.h"

#include <cmath>
#include <cstring>

namespace coll::perf {
namespace {

// 0..4, varying along the buffer.
double Base(size_t index) { return static_cast<double>((index * 7 + index / 11) % 5); }

// The one rank that contributes specially at this index.
bool IsSpecialRank(int rank, int nranks, size_t index) {
  return static_cast<size_t>(rank) == index % static_cast<size_t>(nranks);
}

template <typename T>
T Load(const void* buf, size_t index) {
  T value;
  std::memcpy(&value, static_cast<const char*>(buf) + index * sizeof(T), sizeof(T));
  return value;
}

template <typename T>
void Store(void* buf, size_t index, T value) {
  std::memcpy(static_cast<char*>(buf) + index * sizeof(T), &value, sizeof(T));
}

uint32_t FloatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof bits);
  return bits;
}

float BitsFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

// Shifts mantissa right by `shift`, rounding to nearest even.
uint32_t ShiftRoundEven(uint32_t mantissa, int shift) {
  uint32_t kept = mantissa >> shift;
  uint32_t rest = mantissa & ((1u << shift) - 1);
  uint32_t half = 1u << (shift - 1);
  if (rest > half || (rest == half && (kept & 1))) ++kept;
  return kept;
}

}  // namespace

double ReductionInput(coll_op_t op, int rank, int nranks, size_t index) {
  bool special = IsSpecialRank(rank, nranks, index);
  if (op == COLL_PROD) return special ? 2 + static_cast<double>(index % 3) : 1;
  return Base(index) + (special ? nranks : 0);
}

double ReductionResult(coll_op_t op, int nranks, size_t index) {
  double base = Base(index);
  switch (op) {
    case COLL_SUM: return base * nranks + nranks;
    case COLL_PROD: return 2 + static_cast<double>(index % 3);
    case COLL_MIN: return nranks == 1 ? base + 1 : base;
    case COLL_MAX: return base + nranks;
    case COLL_AVG: return base + 1;
  }
  return 0;
}

double PatternValue(int rank, size_t index) {
  return static_cast<double>((index * 13 + static_cast<size_t>(rank) * 29 + 1) % 97);
}

double LoadElement(coll_dtype_t type, const void* buf, size_t index) {
  switch (type) {
    case COLL_INT8: return Load<int8_t>(buf, index);
    case COLL_UINT8: return Load<uint8_t>(buf, index);
    case COLL_INT32: return Load<int32_t>(buf, index);
    case COLL_UINT32: return Load<uint32_t>(buf, index);
    case COLL_INT64: return static_cast<double>(Load<int64_t>(buf, index));
    case COLL_UINT64: return static_cast<double>(Load<uint64_t>(buf, index));
    case COLL_FLOAT16: return HalfToFloat(Load<uint16_t>(buf, index));
    case COLL_BFLOAT16: return Bfloat16ToFloat(Load<uint16_t>(buf, index));
    case COLL_FLOAT32: return Load<float>(buf, index);
    case COLL_FLOAT64: return Load<double>(buf, index);
  }
  return 0;
}

void StoreElement(coll_dtype_t type, void* buf, size_t index, double value) {
  switch (type) {
    case COLL_INT8: Store(buf, index, static_cast<int8_t>(value)); break;
    case COLL_UINT8: Store(buf, index, static_cast<uint8_t>(value)); break;
    case COLL_INT32: Store(buf, index, static_cast<int32_t>(value)); break;
    case COLL_UINT32: Store(buf, index, static_cast<uint32_t>(value)); break;
    case COLL_INT64: Store(buf, index, static_cast<int64_t>(value)); break;
    case COLL_UINT64: Store(buf, index, static_cast<uint64_t>(value)); break;
    case COLL_FLOAT16: Store(buf, index, FloatToHalf(static_cast<float>(value))); break;
    case COLL_BFLOAT16: Store(buf, index, FloatToBfloat16(static_cast<float>(value))); break;
    case COLL_FLOAT32: Store(buf, index, static_cast<float>(value)); break;
    case COLL_FLOAT64: Store(buf, index, value); break;
  }
}

uint16_t FloatToHalf(float value) {
  uint32_t bits = FloatBits(value);
  uint32_t sign = (bits >> 16) & 0x8000u;
  uint32_t mantissa = bits & 0x7fffffu;
  int exponent = static_cast<int>((bits >> 23) & 0xffu) - 127 + 15;
  if ((bits & 0x7fffffffu) >= 0x7f800000u)  // inf or nan
    return static_cast<uint16_t>(sign | 0x7c00u | (mantissa != 0 ? 0x200u : 0));
  if (exponent >= 31) return static_cast<uint16_t>(sign | 0x7c00u);
  if (exponent <= 0) {
    if (exponent < -10) return static_cast<uint16_t>(sign);
    return static_cast<uint16_t>(sign | ShiftRoundEven(mantissa | 0x800000u, 14 - exponent));
  }
  // A carry out of the mantissa correctly bumps the exponent (up to inf).
  uint32_t rounded = ShiftRoundEven((static_cast<uint32_t>(exponent) << 23) | mantissa, 13);
  return static_cast<uint16_t>(sign | rounded);
}

float HalfToFloat(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0) {
    float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exponent == 31) return BitsFloat(sign | 0x7f800000u | (mantissa << 13));
  return BitsFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t FloatToBfloat16(float value) {
  uint32_t bits = FloatBits(value);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  return static_cast<uint16_t>((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

float Bfloat16ToFloat(uint16_t bits) { return BitsFloat(static_cast<uint32_t>(bits) << 16); }

size_t ElementSize(coll_dtype_t type) {
  switch (type) {
    case COLL_INT8: case COLL_UINT8: return 1;
    case COLL_FLOAT16: case COLL_BFLOAT16: return 2;
    case COLL_INT32: case COLL_UINT32: case COLL_FLOAT32: return 4;
    case COLL_INT64: case COLL_UINT64: case COLL_FLOAT64: return 8;
  }
  return 0;
}

size_t CountWrong(coll_dtype_t type, const void* got, const void* want, size_t count) {
  size_t size = ElementSize(type);
  if (std::memcmp(got, want, count * size) == 0) return 0;
  size_t wrong = 0;
  const char* a = static_cast<const char*>(got);
  const char* b = static_cast<const char*>(want);
  for (size_t i = 0; i < count; ++i) wrong += std::memcmp(a + i * size, b + i * size, size) != 0;
  return wrong;
}

}  // namespace coll::perf
