// Scalar float16 / bfloat16 <-> float32 conversions, bit-exact with the F16C instructions and
// with the SIMD kernels (round to nearest-even; NaN kept quiet). Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <cstring>

namespace coll {

inline uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

inline float FloatFromBits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Exact. A NaN keeps its sign and payload (shifted up) and becomes quiet, as VCVTPH2PS does.
inline float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t man = h & 0x3FFu;
  if (exp == 0x1F) {
    const uint32_t nan_bits = man != 0 ? 0x400000u | (man << 13) : 0u;
    return FloatFromBits(sign | 0x7F800000u | nan_bits);
  }
  if (exp != 0) return FloatFromBits(sign | ((exp + 112) << 23) | (man << 13));
  if (man == 0) return FloatFromBits(sign);
  uint32_t shift = 0;  // subnormal half: normalise so the leading one sits at bit 10
  while ((man & 0x400u) == 0) {
    man <<= 1;
    ++shift;
  }
  return FloatFromBits(sign | ((113 - shift) << 23) | ((man & 0x3FFu) << 13));
}

// Round to nearest, ties to even; overflow gives infinity; results below the smallest
// subnormal round to (signed) zero. A NaN becomes quiet with its payload's top 9 bits, as
// VCVTPS2PH does.
inline uint16_t FloatToHalf(float f) {
  const uint32_t x = FloatBits(f);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t ax = x & 0x7FFFFFFFu;
  if (ax > 0x7F800000u) return static_cast<uint16_t>(sign | 0x7E00u | ((ax >> 13) & 0x3FFu));
  if (ax >= 0x477FF000u) return static_cast<uint16_t>(sign | 0x7C00u);  // >= 65520: inf
  if (ax >= 0x38800000u) {  // normal half: rebias the exponent, round off 13 bits
    const uint32_t r = ax - (112u << 23);
    return static_cast<uint16_t>(sign | ((r + 0xFFFu + ((r >> 13) & 1u)) >> 13));
  }
  const uint32_t exp = ax >> 23;
  if (exp < 102) return static_cast<uint16_t>(sign);  // below 2^-25: rounds to zero
  const uint32_t man = (ax & 0x7FFFFFu) | 0x800000u;
  const uint32_t shift = 126 - exp;  // 14..24: value in units of 2^-24 is man >> shift
  uint32_t q = man >> shift;
  const uint32_t rem = man & ((1u << shift) - 1);
  const uint32_t halfway = 1u << (shift - 1);
  if (rem > halfway || (rem == halfway && (q & 1u) != 0)) ++q;  // may carry into 0x400
  return static_cast<uint16_t>(sign | q);
}

// Exact: bfloat16 is the upper half of a float32.
inline float Bf16ToFloat(uint16_t h) { return FloatFromBits(static_cast<uint32_t>(h) << 16); }

// Round to nearest, ties to even (no flush of subnormals); a NaN keeps its sign and top
// payload bits and becomes quiet.
inline uint16_t FloatToBf16(float f) {
  const uint32_t x = FloatBits(f);
  if ((x & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((x >> 16) | 0x40u);
  return static_cast<uint16_t>((x + 0x7FFFu + ((x >> 16) & 1u)) >> 16);
}

}  // namespace coll
