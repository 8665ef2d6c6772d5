// Google Benchmark of the CUDA reduction kernels (reduce_cuda.h) against a device-to-device
// cudaMemcpy of the same size on the same GPU. Bandwidth counts bytes touched: a reduction
// reads two buffers and writes one (3x the size), a copy reads one and writes one (2x);
// vs_memcpy = reduction bandwidth / copy bandwidth (the target: >= 0.85 at 256 MiB).
// Timed with CUDA events on the default stream. Exits 77 with "skipped: no CUDA device" when
// there is no GPU. Build: COLL_WITH_CUDA and Google Benchmark.
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "collectives/reduce/half.h"
#include "collectives/reduce/reduce_cuda.h"
#include "base/dtype.h"

namespace coll {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

struct DeviceBuffer {
  void* p = nullptr;
  explicit DeviceBuffer(size_t bytes) {
    if (cudaMalloc(&p, bytes) != cudaSuccess) p = nullptr;
  }
  ~DeviceBuffer() { cudaFree(p); }
};

// Values near 1 (no NaN, no overflow, no subnormals), as the CPU kernel benchmark uses.
bool Fill(void* dev, size_t bytes, coll_dtype_t dtype, unsigned seed) {
  const size_t size = DtypeSize(dtype), count = bytes / size;
  std::vector<uint8_t> host(bytes);
  for (size_t i = 0; i < count; ++i) {
    const float f = 1.0f + static_cast<float>((i * 2654435761u + seed) % 1000) / 4096.0f;
    const double d = f;
    const uint16_t h = dtype == COLL_FLOAT16 ? FloatToHalf(f) : FloatToBf16(f);
    const uint64_t n = (i * 2654435761u + seed) % 3 + 1;
    const void* src = dtype == COLL_FLOAT32 ? static_cast<const void*>(&f)
                      : dtype == COLL_FLOAT64 ? static_cast<const void*>(&d)
                      : IsFloatDtype(dtype)   ? static_cast<const void*>(&h)
                                              : static_cast<const void*>(&n);
    std::memcpy(host.data() + i * size, src, size);
  }
  return cudaMemcpy(dev, host.data(), bytes, cudaMemcpyHostToDevice) == cudaSuccess;
}

// Times fn (which enqueues work on the default stream) with events; seconds, or < 0 on error.
template <typename Fn>
double TimeOnce(cudaEvent_t start, cudaEvent_t stop, Fn&& fn) {
  cudaEventRecord(start, nullptr);
  if (!fn()) return -1;
  cudaEventRecord(stop, nullptr);
  if (cudaEventSynchronize(stop) != cudaSuccess) return -1;
  float ms = 0;
  cudaEventElapsedTime(&ms, start, stop);
  return ms / 1e3;
}

// Device-to-device copy bandwidth (bytes touched / s) for `bytes`, measured once per size.
double MemcpyBandwidth(size_t bytes) {
  static std::map<size_t, double> cache;
  auto it = cache.find(bytes);
  if (it != cache.end()) return it->second;
  DeviceBuffer src(bytes), dst(bytes);
  if (src.p == nullptr || dst.p == nullptr) return 0;
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  auto copy = [&] { return cudaMemcpyAsync(dst.p, src.p, bytes, cudaMemcpyDeviceToDevice, nullptr) == cudaSuccess; };
  for (int i = 0; i < 3; ++i) TimeOnce(start, stop, copy);  // warm-up
  double best = 0;
  for (int i = 0; i < 20; ++i) {
    const double t = TimeOnce(start, stop, copy);
    if (t > 0 && 2.0 * bytes / t > best) best = 2.0 * bytes / t;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  return cache[bytes] = best;
}

void BmMemcpy(benchmark::State& state, size_t bytes) {
  DeviceBuffer src(bytes), dst(bytes);
  if (src.p == nullptr || dst.p == nullptr) return state.SkipWithError("cudaMalloc failed");
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  for (auto _ : state) {
    const double t = TimeOnce(start, stop, [&] {
      return cudaMemcpyAsync(dst.p, src.p, bytes, cudaMemcpyDeviceToDevice, nullptr) == cudaSuccess;
    });
    if (t < 0) return state.SkipWithError("cudaMemcpyAsync failed");
    state.SetIterationTime(t);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 2 * static_cast<int64_t>(bytes));
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
}

void BmReduce(benchmark::State& state, coll_dtype_t dtype, coll_op_t op, size_t bytes) {
  const size_t count = bytes / DtypeSize(dtype);
  DeviceBuffer a(bytes), b(bytes), out(bytes);
  if (a.p == nullptr || b.p == nullptr || out.p == nullptr) return state.SkipWithError("cudaMalloc failed");
  if (!Fill(a.p, bytes, dtype, 1) || !Fill(b.p, bytes, dtype, 2)) return state.SkipWithError("fill failed");
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  std::string error;
  auto reduce = [&] {
    const Status st = cuda::ReduceFinalOnDevice(out.p, a.p, b.p, count, dtype, op, 4, nullptr);
    if (!st.ok()) error = st.message();
    return st.ok();
  };
  double total = 0;
  for (auto _ : state) {
    const double t = TimeOnce(start, stop, reduce);
    if (t < 0) return state.SkipWithError(error.empty() ? "kernel failed" : error.c_str());
    state.SetIterationTime(t);
    total += t;
  }
  const double bw = 3.0 * static_cast<double>(bytes) * static_cast<double>(state.iterations()) / total;
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * 3 * static_cast<int64_t>(bytes));
  const double copy_bw = MemcpyBandwidth(bytes);
  state.counters["vs_memcpy"] = copy_bw > 0 ? bw / copy_bw : 0;
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
}

void RegisterAll() {
  const size_t sizes[] = {4 * kMiB, 256 * kMiB};
  const struct {
    coll_dtype_t dtype;
    coll_op_t op;
  } cases[] = {{COLL_FLOAT32, COLL_SUM}, {COLL_FLOAT32, COLL_AVG}, {COLL_FLOAT32, COLL_MAX},
               {COLL_FLOAT16, COLL_SUM}, {COLL_FLOAT16, COLL_AVG}, {COLL_BFLOAT16, COLL_SUM},
               {COLL_FLOAT64, COLL_SUM}, {COLL_INT8, COLL_SUM},    {COLL_INT32, COLL_SUM},
               {COLL_INT64, COLL_AVG}};
  for (size_t bytes : sizes) {
    const std::string mib = std::to_string(bytes / kMiB) + "MiB";
    benchmark::RegisterBenchmark(("memcpy_d2d/" + mib).c_str(), BmMemcpy, bytes)->UseManualTime();
    for (const auto& c : cases) {
      const std::string name = std::string("reduce/") + DtypeName(c.dtype) + "/" + OpName(c.op) + "/" + mib;
      benchmark::RegisterBenchmark(name.c_str(), BmReduce, c.dtype, c.op, bytes)->UseManualTime();
    }
  }
}

}  // namespace
}  // namespace coll

int main(int argc, char** argv) {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess || n == 0) {
    std::printf("reduce_cuda_bench: skipped: no CUDA device (%s)\n",
                err != cudaSuccess ? cudaGetErrorString(err) : "the driver reports no CUDA device");
    return 77;
  }
  benchmark::Initialize(&argc, argv);
  coll::RegisterAll();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
