// Input generation and exact / tolerance checks for reductions; byte and hash helpers.
// Integer inputs stay small for SUM / AVG / PROD so no rank order can overflow; MIN / MAX
// use every bit. Float inputs are small integers (times a power of two): exact sums.
#include "support/data.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

#include "support/element.h"

namespace colltest {
namespace {

// PROD inputs: magnitude 1, except 2 on one rank and 3 on another: |product| <= 6.
int64_t ProdMagnitude(int nranks, int rank, size_t idx) {
  size_t n = static_cast<size_t>(nranks);
  if (static_cast<size_t>(rank) == idx % n) return 2;
  if (nranks > 2 && static_cast<size_t>(rank) == (idx + 1) % n) return 3;
  return 1;
}

bool IsSumLike(coll_op_t op) { return op == COLL_SUM || op == COLL_AVG; }

template <typename T>
T IntInput(const ReduceCase& c, int rank, size_t idx) {
  uint64_t h = Mix(c.seed, rank, idx);
  constexpr bool kSigned = std::is_signed<T>::value;
  if (IsSumLike(c.op)) {
    uint64_t range = std::min<uint64_t>(std::numeric_limits<T>::max() / 8, uint64_t{1} << 40);
    if (!kSigned) return static_cast<T>(h % (range + 1));
    return static_cast<T>(static_cast<int64_t>(h % (2 * range + 1)) - static_cast<int64_t>(range));
  }
  if (c.op == COLL_PROD) {
    int64_t m = ProdMagnitude(c.nranks, rank, idx);
    return static_cast<T>(kSigned && (h & 1) ? -m : m);
  }
  return static_cast<T>(h);
}

template <typename T>
double FloatInput(const ReduceCase& c, int rank, size_t idx) {
  uint64_t h = Mix(c.seed, rank, idx);
  if (IsSumLike(c.op)) {
    int64_t range = FloatCodec<T>::kSumRange;
    int64_t v = static_cast<int64_t>(h % static_cast<uint64_t>(2 * range + 1)) - range;
    return static_cast<double>(v) * FloatCodec<T>::kScale;
  }
  if (c.op == COLL_PROD) {
    double m = static_cast<double>(ProdMagnitude(c.nranks, rank, idx));
    return (h & 1) ? -m : m;
  }
  int64_t v = static_cast<int64_t>(h % 201) - 100;
  int exponent = static_cast<int>((h >> 32) % 9) - 4;
  return std::ldexp(static_cast<double>(v), exponent);
}

template <typename Acc>
Acc Combine(coll_op_t op, Acc acc, Acc v) {
  switch (op) {
    case COLL_SUM: case COLL_AVG: return acc + v;
    case COLL_PROD: return acc * v;
    case COLL_MIN: return std::min(acc, v);
    case COLL_MAX: return std::max(acc, v);
  }
  return acc;
}

// "" or a description of element idx being wrong.
template <typename T>
std::string CheckIntElement(const ReduceCase& c, size_t idx, T got) {
  using Acc = std::conditional_t<std::is_signed<T>::value, int64_t, uint64_t>;
  Acc acc = static_cast<Acc>(IntInput<T>(c, 0, idx));
  for (int r = 1; r < c.nranks; ++r) acc = Combine<Acc>(c.op, acc, IntInput<T>(c, r, idx));
  if (c.op == COLL_AVG) acc /= static_cast<Acc>(c.nranks);
  T expected = static_cast<T>(acc);
  if (got == expected) return "";
  return "got " + std::to_string(static_cast<Acc>(got)) + ", expected " +
         std::to_string(static_cast<Acc>(expected));
}

template <typename T>
std::string CheckFloatElement(const ReduceCase& c, size_t idx, T got) {
  double acc = FloatInput<T>(c, 0, idx);
  double abs_sum = std::fabs(acc);
  for (int r = 1; r < c.nranks; ++r) {
    double v = FloatInput<T>(c, r, idx);
    acc = Combine<double>(c.op, acc, v);
    abs_sum += std::fabs(v);
  }
  double tolerance = 0;
  if (c.op == COLL_AVG) {
    acc /= c.nranks;
    tolerance = (c.nranks + 2) * FloatCodec<T>::kEps * abs_sum / c.nranks;
  }
  double value = FloatCodec<T>::Decode(got);
  if (std::fabs(value - acc) <= tolerance) return "";
  std::ostringstream out;
  out.precision(17);
  out << "got " << value << ", expected " << acc << " (tolerance " << tolerance << ")";
  return out.str();
}

template <typename T>
std::string CheckElement(const ReduceCase& c, size_t idx, T got) {
  if constexpr (kIsFloatKind<T>) {
    return CheckFloatElement<T>(c, idx, got);
  } else {
    return CheckIntElement<T>(c, idx, got);
  }
}

template <typename T>
void FillTyped(const ReduceCase& c, int rank, size_t first, size_t count, T* out) {
  for (size_t i = 0; i < count; ++i) {
    if constexpr (kIsFloatKind<T>) {
      out[i] = FloatCodec<T>::Encode(FloatInput<T>(c, rank, first + i));
    } else {
      out[i] = IntInput<T>(c, rank, first + i);
    }
  }
}

std::string Summarise(size_t bad, size_t count, size_t first_bad, const std::string& detail) {
  if (bad == 0) return "";
  std::ostringstream out;
  out << bad << " of " << count << " elements wrong; first at index " << first_bad << ": "
      << detail;
  return out.str();
}

}  // namespace

void FillInput(const ReduceCase& c, int rank, size_t first, size_t count, void* out) {
  VisitDtype(c.dtype, [&](auto tag) {
    using T = decltype(tag);
    FillTyped<T>(c, rank, first, count, static_cast<T*>(out));
  });
}

std::string CheckReduced(const ReduceCase& c, size_t first, size_t count, const void* got) {
  return VisitDtype(c.dtype, [&](auto tag) {
    using T = decltype(tag);
    const T* values = static_cast<const T*>(got);
    size_t bad = 0;
    size_t first_bad = 0;
    std::string detail;
    for (size_t i = 0; i < count; ++i) {
      std::string why = CheckElement<T>(c, first + i, values[i]);
      if (why.empty()) continue;
      if (bad++ == 0) {
        first_bad = i;
        detail = why;
      }
    }
    return Summarise(bad, count, first_bad, detail);
  });
}

}  // namespace colltest
