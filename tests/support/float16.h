// IEEE binary16 and bfloat16 as raw uint16 bit patterns: conversions from and to float with
// round-to-nearest-even, so tests can build fp16/bf16 buffers without compiler support.
#pragma once

#include <cstdint>

namespace colltest {

uint16_t FloatToHalf(float value);
float HalfToFloat(uint16_t bits);
uint16_t FloatToBfloat16(float value);
float Bfloat16ToFloat(uint16_t bits);

}  // namespace colltest
