// The CUDA kernels' element rules (reduce_cuda_rules.h), compiled for the host, against the
// CPU kernels of every ISA this CPU runs: every dtype x op x AVG mode on reduce_inputs.h's hard
// inputs, bit for bit. The device build swaps in hardware conversions and _rn intrinsics;
// tests/gpu checks the real kernels on a GPU. Single-threaded; deterministic.
#include "collectives/reduce/reduce_cuda_rules.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "collectives/reduce/reduce.h"
#include "collectives/reduce/reduce_dispatch.h"
#include "base/dtype.h"
#include "support/reduce_inputs.h"

namespace coll {
namespace {

using cuda_rules::Kind;

using RulesFn = void (*)(void* out, const void* a, const void* b, size_t n, int nranks);

template <typename Fmt, Kind kKind>
void RulesLoop(void* out, const void* a, const void* b, size_t n, int nranks) {
  using S = typename Fmt::Storage;
  S* o = static_cast<S*>(out);
  const S* x = static_cast<const S*>(a);
  const S* y = static_cast<const S*>(b);
  for (size_t i = 0; i < n; ++i) o[i] = cuda_rules::ReduceElement<Fmt, kKind>(x[i], y[i], nranks);
}

template <Kind kKind>
RulesFn RulesFor(coll_dtype_t dtype) {
  using cuda_rules::PlainFmt;
  switch (dtype) {
    case COLL_INT8: return &RulesLoop<PlainFmt<int8_t>, kKind>;
    case COLL_UINT8: return &RulesLoop<PlainFmt<uint8_t>, kKind>;
    case COLL_INT32: return &RulesLoop<PlainFmt<int32_t>, kKind>;
    case COLL_UINT32: return &RulesLoop<PlainFmt<uint32_t>, kKind>;
    case COLL_INT64: return &RulesLoop<PlainFmt<int64_t>, kKind>;
    case COLL_UINT64: return &RulesLoop<PlainFmt<uint64_t>, kKind>;
    case COLL_FLOAT16: return &RulesLoop<cuda_rules::HalfFmt, kKind>;
    case COLL_BFLOAT16: return &RulesLoop<cuda_rules::Bf16Fmt, kKind>;
    case COLL_FLOAT32: return &RulesLoop<PlainFmt<float>, kKind>;
    case COLL_FLOAT64: return &RulesLoop<PlainFmt<double>, kKind>;
  }
  return nullptr;
}

RulesFn RulesForKind(Kind kind, coll_dtype_t dtype) {
  switch (kind) {
    case Kind::kSum: return RulesFor<Kind::kSum>(dtype);
    case Kind::kProd: return RulesFor<Kind::kProd>(dtype);
    case Kind::kMin: return RulesFor<Kind::kMin>(dtype);
    case Kind::kMax: return RulesFor<Kind::kMax>(dtype);
    case Kind::kAvgFinal: return RulesFor<Kind::kAvgFinal>(dtype);
    case Kind::kAvgFinalize: return RulesFor<Kind::kAvgFinalize>(dtype);
  }
  return nullptr;
}

// The three CPU entry points of reduce.h, and the kernel kind each one corresponds to.
enum class Entry { kInto, kFinal, kFinalize };

Kind KindOf(Entry entry, coll_op_t op) {
  if (entry == Entry::kFinalize) return Kind::kAvgFinalize;
  switch (op) {
    case COLL_SUM: return Kind::kSum;
    case COLL_PROD: return Kind::kProd;
    case COLL_MIN: return Kind::kMin;
    case COLL_MAX: return Kind::kMax;
    case COLL_AVG: return entry == Entry::kFinal ? Kind::kAvgFinal : Kind::kSum;
  }
  return Kind::kSum;
}

void CpuExpected(Entry entry, void* out, const void* a, const void* b, size_t n, coll_dtype_t dtype, coll_op_t op,
                 int nranks) {
  switch (entry) {
    case Entry::kInto: ReduceInto(out, a, b, n, dtype, op); break;
    case Entry::kFinal: ReduceFinal(out, a, b, n, dtype, op, nranks); break;
    case Entry::kFinalize:
      std::memcpy(out, a, n * DtypeSize(dtype));
      FinalizeAvg(out, n, dtype, COLL_AVG, nranks);
      break;
  }
}

std::string Hex(const void* p, size_t size) {
  uint64_t v = 0;
  std::memcpy(&v, p, size);
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%0*llx", static_cast<int>(2 * size), static_cast<unsigned long long>(v));
  return buf;
}

class CudaRulesTest : public ::testing::TestWithParam<std::tuple<ReduceIsa, int>> {};

TEST_P(CudaRulesTest, BitwiseEqualToCpuKernels) {
  const ReduceIsa isa = std::get<0>(GetParam());
  const coll_dtype_t dtype = static_cast<coll_dtype_t>(std::get<1>(GetParam()));
  if (!SetReduceIsaForTesting(isa)) GTEST_SKIP() << "CPU lacks " << ReduceIsaName(isa);
  const size_t size = DtypeSize(dtype);
  const colltest::ReduceInputs in = colltest::MakeReduceInputs(dtype, 20000, 12);
  std::vector<uint8_t> want(in.a.size()), got(in.a.size());
  struct Case {
    Entry entry;
    coll_op_t op;
    int nranks;
  };
  std::vector<Case> cases;
  for (coll_op_t op : {COLL_SUM, COLL_PROD, COLL_MIN, COLL_MAX, COLL_AVG}) {
    cases.push_back({Entry::kInto, op, 1});
    for (int n : {1, 2, 3, 7}) cases.push_back({Entry::kFinal, op, n});
  }
  for (int n : {1, 2, 3, 7, 1000}) cases.push_back({Entry::kFinalize, COLL_AVG, n});
  for (const Case& c : cases) {
    CpuExpected(c.entry, want.data(), in.a.data(), in.b.data(), in.count, dtype, c.op, c.nranks);
    RulesForKind(KindOf(c.entry, c.op), dtype)(got.data(), in.a.data(), in.b.data(), in.count, c.nranks);
    const long long i = colltest::FirstDifference(want.data(), got.data(), in.count, dtype);
    if (i >= 0) {
      const size_t at = static_cast<size_t>(i) * size;
      ADD_FAILURE() << DtypeName(dtype) << " " << OpName(c.op) << " entry " << static_cast<int>(c.entry)
                    << " nranks " << c.nranks << ": element " << i << " a=" << Hex(&in.a[at], size)
                    << " b=" << Hex(&in.b[at], size) << ": cpu " << Hex(&want[at], size) << ", cuda rules "
                    << Hex(&got[at], size);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllDtypes, CudaRulesTest,
                         ::testing::Combine(::testing::Values(ReduceIsa::kPortable, ReduceIsa::kAvx2,
                                                              ReduceIsa::kAvx512),
                                            ::testing::Range(static_cast<int>(COLL_INT8),
                                                             static_cast<int>(COLL_FLOAT64) + 1)),
                         [](const auto& info) {
                           return std::string(ReduceIsaName(std::get<0>(info.param))) + "_" +
                                  DtypeName(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace coll
