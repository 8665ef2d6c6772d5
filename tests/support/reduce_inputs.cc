// The special values of each dtype and the pairings of reduce_inputs.h.
#include "support/reduce_inputs.h"

#include <cstring>
#include <random>

namespace colltest {
namespace {

size_t Size(coll_dtype_t dtype) {
  switch (dtype) {
    case COLL_INT8: case COLL_UINT8: return 1;
    case COLL_FLOAT16: case COLL_BFLOAT16: return 2;
    case COLL_INT32: case COLL_UINT32: case COLL_FLOAT32: return 4;
    default: return 8;
  }
}

// Bit patterns; integer patterns are truncated to the element width.
std::vector<uint64_t> Specials(coll_dtype_t dtype) {
  switch (dtype) {
    case COLL_FLOAT16:
      return {0x0000, 0x8000, 0x0001, 0x8001, 0x0002, 0x03FF, 0x83FF, 0x0400, 0x8400, 0x3C00, 0xBC00, 0x3C01,
              0x3BFF, 0x4000, 0x3555, 0x7BFF, 0xFBFF, 0x7BFE, 0x7800, 0x7C00, 0xFC00, 0x7E00, 0xFE00, 0x7C01,
              0xFC01, 0x7FFF, 0x7D55, 0x1400, 0x0200, 0x6400, 0x5BFF, 0x0C00};
    case COLL_BFLOAT16:
      return {0x0000, 0x8000, 0x0001, 0x8001, 0x007F, 0x807F, 0x0080, 0x8080, 0x3F80, 0xBF80, 0x3F81, 0x3F7F,
              0x4000, 0x3EAB, 0x7F7F, 0xFF7F, 0x7F7E, 0x7F00, 0x7F80, 0xFF80, 0x7FC0, 0xFFC0, 0x7F81, 0xFF81,
              0x7FFF, 0x7FA5, 0x4B80, 0x3400, 0x0040, 0x4F00};
    case COLL_FLOAT32:
      return {0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x807FFFFF, 0x00800000, 0x80800000,
              0x3F800000, 0xBF800000, 0x3F800001, 0x3F7FFFFF, 0x40000000, 0x3EAAAAAB, 0x7F7FFFFF, 0xFF7FFFFF,
              0x7F000000, 0x7F800000, 0xFF800000, 0x7FC00000, 0xFFC00000, 0x7F800001, 0xFFA00001, 0x7FFFFFFF,
              0x4B800000, 0x4B800001, 0x33800000, 0x34000000, 0x00400000, 0x40400000, 0x3DCCCCCD};
    case COLL_FLOAT64:
      return {0x0000000000000000, 0x8000000000000000, 0x0000000000000001, 0x8000000000000001, 0x000FFFFFFFFFFFFF,
              0x0010000000000000, 0x8010000000000000, 0x3FF0000000000000, 0xBFF0000000000000, 0x3FF0000000000001,
              0x3FEFFFFFFFFFFFFF, 0x4000000000000000, 0x3FD5555555555555, 0x7FEFFFFFFFFFFFFF, 0xFFEFFFFFFFFFFFFF,
              0x7FE0000000000000, 0x7FF0000000000000, 0xFFF0000000000000, 0x7FF8000000000000, 0xFFF8000000000000,
              0x7FF0000000000001, 0xFFF4000000000001, 0x7FFFFFFFFFFFFFFF, 0x4340000000000000, 0x4340000000000001,
              0x3CA0000000000000, 0x0008000000000000, 0x4008000000000000, 0x3FB999999999999A};
    default: {  // integers: 0, +-1, +-2, 3, 7, 100, -100, limits of the signed and unsigned views
      const unsigned bits = static_cast<unsigned>(Size(dtype) * 8);
      const uint64_t mask = bits == 64 ? ~uint64_t{0} : (uint64_t{1} << bits) - 1;
      const uint64_t top = uint64_t{1} << (bits - 1);
      std::vector<uint64_t> v = {0, 1, 2, 3, 7, 100, ~uint64_t{0}, ~uint64_t{1}, ~uint64_t{99},
                                 top, top - 1, top + 1, top - 2, mask, mask - 1, mask / 3};
      for (uint64_t& x : v) x &= mask;
      return v;
    }
  }
}

void Put(std::vector<uint8_t>* out, size_t i, uint64_t bits, size_t size) {
  std::memcpy(out->data() + i * size, &bits, size);  // little-endian: the low bytes
}

}  // namespace

ReduceInputs MakeReduceInputs(coll_dtype_t dtype, size_t randoms, uint64_t seed) {
  const size_t size = Size(dtype);
  const std::vector<uint64_t> sp = Specials(dtype);
  const bool all16 = dtype == COLL_FLOAT16 || dtype == COLL_BFLOAT16;
  ReduceInputs in;
  in.count = sp.size() * sp.size() + (all16 ? 65536 * sp.size() : 0) + randoms;
  in.a.resize(in.count * size);
  in.b.resize(in.count * size);
  size_t i = 0;
  for (uint64_t x : sp) {
    for (uint64_t y : sp) {
      Put(&in.a, i, x, size);
      Put(&in.b, i++, y, size);
    }
  }
  if (all16) {
    for (uint64_t y : sp) {
      for (uint64_t x = 0; x < 65536; ++x) {
        Put(&in.a, i, x, size);
        Put(&in.b, i++, y, size);
      }
    }
  }
  std::mt19937_64 rng(seed);
  for (size_t r = 0; r < randoms; ++r) {
    // Half the randoms share the exponent range of the specials' neighbours: sums that round.
    uint64_t x = rng(), y = rng();
    if (r % 2 == 1 && dtype == COLL_FLOAT32) y = (x & 0xFF800000u) | (y & 0x007FFFFFu);
    if (r % 2 == 1 && dtype == COLL_FLOAT64) y = (x & 0xFFF0000000000000u) | (y & 0x000FFFFFFFFFFFFFu);
    if (r % 2 == 1 && all16) y = (x & 0xFC00u) | (y & 0x03FFu);
    Put(&in.a, i, x, size);
    Put(&in.b, i++, y, size);
  }
  return in;
}

long long FirstDifference(const void* x, const void* y, size_t count, coll_dtype_t dtype) {
  const size_t size = Size(dtype);
  const uint8_t* p = static_cast<const uint8_t*>(x);
  const uint8_t* q = static_cast<const uint8_t*>(y);
  if (std::memcmp(p, q, count * size) == 0) return -1;
  for (size_t i = 0; i < count; ++i)
    if (std::memcmp(p + i * size, q + i * size, size) != 0) return static_cast<long long>(i);
  return -1;
}

}  // namespace colltest
