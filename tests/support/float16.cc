// fp16 / bf16 bit-pattern conversions (round to nearest, ties to even; NaN stays NaN).
#include "support/float16.h"

#include <cmath>
#include <cstring>

namespace colltest {
namespace {

uint32_t FloatBits(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  return bits;
}

float BitsToFloat(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

constexpr uint32_t kFloatInf = 0x7f800000u;
constexpr uint32_t kHalfOverflow = 0x477ff000u;  // 65520: rounds to +inf in binary16
constexpr uint32_t kHalfMinNormal = 0x38800000u; // 2^-14

}  // namespace

uint16_t FloatToHalf(float value) {
  uint32_t bits = FloatBits(value);
  uint32_t sign = (bits >> 16) & 0x8000u;
  uint32_t abs = bits & 0x7fffffffu;
  if (abs >= kFloatInf) return static_cast<uint16_t>(sign | 0x7c00u | (abs > kFloatInf ? 0x200u : 0));
  if (abs >= kHalfOverflow) return static_cast<uint16_t>(sign | 0x7c00u);
  if (abs < kHalfMinNormal) {
    // Subnormal: units of 2^-24; the scaling is exact, nearbyint rounds to even.
    float units = std::nearbyint(BitsToFloat(abs) * 16777216.0f);
    return static_cast<uint16_t>(sign | static_cast<uint32_t>(units));
  }
  uint32_t exponent = (abs >> 23) - 127 + 15;
  uint32_t mantissa = abs & 0x7fffffu;
  uint32_t half = (exponent << 10) | (mantissa >> 13);
  uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u))) ++half;
  return static_cast<uint16_t>(sign | half);
}

float HalfToFloat(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  if (exponent == 0) {
    float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 31) return BitsToFloat(sign | kFloatInf | (mantissa << 13));
  return BitsToFloat(sign | ((exponent - 15 + 127) << 23) | (mantissa << 13));
}

uint16_t FloatToBfloat16(float value) {
  uint32_t bits = FloatBits(value);
  if ((bits & 0x7fffffffu) > kFloatInf) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float Bfloat16ToFloat(uint16_t bits) { return BitsToFloat(static_cast<uint32_t>(bits) << 16); }

}  // namespace colltest
