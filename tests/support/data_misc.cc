// Byte patterns, random floats with an approximate-sum check, hashing, and dtype / op tables.
#include <cmath>
#include <cstring>
#include <sstream>

#include "support/data.h"
#include "support/element.h"

namespace colltest {
namespace {

uint8_t ByteAt(uint64_t seed, int rank, size_t i) {
  return static_cast<uint8_t>(Mix(seed, rank, i / 8) >> (8 * (i % 8)));
}

template <typename T>
double RandomFloat(uint64_t seed, int rank, size_t i) {
  double unit = static_cast<double>(Mix(seed ^ 0x5eedull, rank, i) >> 11) * 0x1p-53;
  return FloatCodec<T>::Decode(FloatCodec<T>::Encode(2 * unit - 1));
}

}  // namespace

void FillBytes(uint64_t seed, int rank, size_t nbytes, void* out) {
  uint8_t* bytes = static_cast<uint8_t*>(out);
  for (size_t i = 0; i < nbytes; ++i) bytes[i] = ByteAt(seed, rank, i);
}

std::string CheckBytes(uint64_t seed, int rank, size_t nbytes, const void* got) {
  const uint8_t* bytes = static_cast<const uint8_t*>(got);
  size_t bad = 0;
  size_t first_bad = 0;
  for (size_t i = 0; i < nbytes; ++i) {
    if (bytes[i] == ByteAt(seed, rank, i)) continue;
    if (bad++ == 0) first_bad = i;
  }
  if (bad == 0) return "";
  std::ostringstream out;
  out << bad << " of " << nbytes << " bytes of rank " << rank << "'s data wrong; first at byte "
      << first_bad << ": got " << int(bytes[first_bad]) << ", expected "
      << int(ByteAt(seed, rank, first_bad));
  return out.str();
}

void FillRandomFloats(coll_dtype_t dtype, uint64_t seed, int rank, size_t count, void* out) {
  VisitDtype(dtype, [&](auto tag) {
    using T = decltype(tag);
    if constexpr (kIsFloatKind<T>) {
      T* values = static_cast<T*>(out);
      for (size_t i = 0; i < count; ++i) {
        values[i] = FloatCodec<T>::Encode(RandomFloat<T>(seed, rank, i));
      }
    }
  });
}

std::string CheckApproxSum(coll_dtype_t dtype, uint64_t seed, int nranks, size_t count,
                           const void* got) {
  return VisitDtype(dtype, [&](auto tag) -> std::string {
    using T = decltype(tag);
    if constexpr (!kIsFloatKind<T>) {
      return "CheckApproxSum needs a float dtype";
    } else {
      const T* values = static_cast<const T*>(got);
      for (size_t i = 0; i < count; ++i) {
        double sum = 0;
        double abs_sum = 0;
        for (int r = 0; r < nranks; ++r) {
          double v = RandomFloat<T>(seed, r, i);
          sum += v;
          abs_sum += std::fabs(v);
        }
        double tolerance = (nranks + 1) * FloatCodec<T>::kEps * abs_sum;
        double value = FloatCodec<T>::Decode(values[i]);
        if (std::fabs(value - sum) <= tolerance) continue;
        std::ostringstream out;
        out << "element " << i << ": got " << value << ", expected " << sum << " +- " << tolerance;
        return out.str();
      }
      return "";
    }
  });
}

uint64_t HashBytes(const void* data, size_t nbytes) {
  const uint8_t* bytes = static_cast<const uint8_t*>(data);
  uint64_t h = 0xcbf29ce484222325ull;  // FNV-1a
  for (size_t i = 0; i < nbytes; ++i) h = (h ^ bytes[i]) * 0x100000001b3ull;
  return h;
}

std::string CaseName(const ReduceCase& c, size_t count) {
  std::ostringstream out;
  out << DtypeName(c.dtype) << " " << OpName(c.op) << ", count " << count << ", " << c.nranks
      << " ranks, seed " << c.seed;
  return out.str();
}

uint64_t CaseSeed(coll_dtype_t dtype, coll_op_t op, size_t count, uint64_t salt) {
  return Mix(salt, static_cast<int>(dtype) * 8 + static_cast<int>(op), count);
}

size_t ElementSize(coll_dtype_t dtype) {
  return VisitDtype(dtype, [](auto tag) { return sizeof(tag); });
}

const char* DtypeName(coll_dtype_t dtype) {
  static const char* const kNames[] = {"int8",    "uint8",   "int32",    "uint32",  "int64",
                                       "uint64",  "float16", "bfloat16", "float32", "float64"};
  int i = static_cast<int>(dtype);
  return i >= 0 && i < 10 ? kNames[i] : "bad dtype";
}

const char* OpName(coll_op_t op) {
  static const char* const kNames[] = {"sum", "prod", "min", "max", "avg"};
  int i = static_cast<int>(op);
  return i >= 0 && i < 5 ? kNames[i] : "bad op";
}

const std::vector<coll_dtype_t>& AllDtypes() {
  static const std::vector<coll_dtype_t> kAll = {
      COLL_INT8,    COLL_UINT8,    COLL_INT32,    COLL_UINT32,   COLL_INT64,
      COLL_UINT64,  COLL_FLOAT16,  COLL_BFLOAT16, COLL_FLOAT32,  COLL_FLOAT64};
  return kAll;
}

const std::vector<coll_op_t>& AllOps() {
  static const std::vector<coll_op_t> kAll = {COLL_SUM, COLL_PROD, COLL_MIN, COLL_MAX, COLL_AVG};
  return kAll;
}

}  // namespace colltest
