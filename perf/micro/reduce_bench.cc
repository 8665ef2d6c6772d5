// Micro-benchmark of the CPU reduction kernels (Google Benchmark). Throughput is bytes
// touched: two inputs read plus one output written per element, so 3x the buffer size;
// memcpy of the same buffer size (1 read + 1 write) is shown beside it. Single-threaded.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "collectives/reduce/half.h"
#include "collectives/reduce/reduce.h"
#include "collectives/reduce/reduce_dispatch.h"
#include "base/dtype.h"

namespace coll {
namespace {

constexpr size_t kMiB = size_t{1} << 20;
constexpr size_t kSizes[] = {4 * kMiB, 64 * kMiB};

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};
using AlignedBuf = std::unique_ptr<uint8_t, FreeDeleter>;

// 64-byte aligned, filled with values near 1 (no subnormals, NaNs or overflow).
AlignedBuf MakeBuffer(size_t bytes, coll_dtype_t dtype, unsigned seed) {
  AlignedBuf buf(static_cast<uint8_t*>(std::aligned_alloc(64, bytes)));
  const size_t size = DtypeSize(dtype), count = bytes / size;
  for (size_t i = 0; i < count; ++i) {
    const float f = 1.0f + static_cast<float>((i * 2654435761u + seed) % 1000) / 4096.0f;
    const double d = f;
    const uint16_t h = dtype == COLL_FLOAT16 ? FloatToHalf(f) : FloatToBf16(f);
    const uint64_t n = (i * 2654435761u + seed) % 3 + 1;
    const void* src = dtype == COLL_FLOAT32 ? static_cast<const void*>(&f)
                      : dtype == COLL_FLOAT64 ? static_cast<const void*>(&d)
                      : IsFloatDtype(dtype)   ? static_cast<const void*>(&h)
                                              : static_cast<const void*>(&n);
    std::memcpy(buf.get() + i * size, src, size);
  }
  return buf;
}

void BmReduce(benchmark::State& state, ReduceIsa isa, coll_dtype_t dtype, coll_op_t op,
              size_t bytes) {
  if (!SetReduceIsaForTesting(isa)) {
    state.SkipWithError("CPU lacks this ISA");
    return;
  }
  const size_t count = bytes / DtypeSize(dtype);
  AlignedBuf a = MakeBuffer(bytes, dtype, 1), b = MakeBuffer(bytes, dtype, 2);
  AlignedBuf out = MakeBuffer(bytes, dtype, 3);
  for (auto _ : state) {
    ReduceFinal(out.get(), a.get(), b.get(), count, dtype, op, 4);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 3 * bytes);
  SetReduceIsaForTesting(BestReduceIsa());
}

void BmMemcpy(benchmark::State& state, size_t bytes) {
  AlignedBuf src = MakeBuffer(bytes, COLL_UINT8, 1), dst = MakeBuffer(bytes, COLL_UINT8, 2);
  for (auto _ : state) {
    std::memcpy(dst.get(), src.get(), bytes);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 * bytes);
}

std::string Name(ReduceIsa isa, coll_dtype_t dtype, coll_op_t op, size_t bytes) {
  return std::string("reduce/") + DtypeName(dtype) + "/" + OpName(op) + "/" +
         ReduceIsaName(isa) + "/" + std::to_string(bytes / kMiB) + "MiB";
}

void Register(ReduceIsa isa, coll_dtype_t dtype, coll_op_t op, size_t bytes) {
  benchmark::RegisterBenchmark(Name(isa, dtype, op, bytes).c_str(), BmReduce, isa, dtype, op,
                               bytes)
      ->UseRealTime();
}

// Best ISA: sum for every dtype and every op for float32, at each size; then float sums
// on every ISA this CPU runs, at the cache-resident size.
void RegisterAll() {
  const ReduceIsa best = BestReduceIsa();
  for (size_t bytes : kSizes) {
    benchmark::RegisterBenchmark(("memcpy/" + std::to_string(bytes / kMiB) + "MiB").c_str(),
                                 BmMemcpy, bytes)
        ->UseRealTime();
    for (int d = COLL_INT8; d <= COLL_FLOAT64; ++d) {
      Register(best, static_cast<coll_dtype_t>(d), COLL_SUM, bytes);
    }
    for (coll_op_t op : {COLL_PROD, COLL_MIN, COLL_MAX, COLL_AVG}) {
      Register(best, COLL_FLOAT32, op, bytes);
    }
  }
  for (ReduceIsa isa : {ReduceIsa::kPortable, ReduceIsa::kAvx2, ReduceIsa::kAvx512}) {
    if (isa == best || !ReduceIsaSupported(isa)) continue;
    for (coll_dtype_t d : {COLL_FLOAT16, COLL_BFLOAT16, COLL_FLOAT32, COLL_FLOAT64}) {
      Register(isa, d, COLL_SUM, kSizes[0]);
    }
  }
}

}  // namespace
}  // namespace coll

int main(int argc, char** argv) {
  coll::RegisterAll();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
