// The CUDA reduction kernels behind reduce_cuda.h: one grid-stride kernel per (dtype, kind),
// 16-byte vector loads and stores when all three pointers allow them, element rules from
// reduce_cuda_rules.h (bitwise those of the CPU kernels). Thread-safe: the per-device SM counts
// are cached in atomics; launches go to the caller's stream.
#include "collectives/reduce/reduce_cuda.h"

#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>

#include "collectives/reduce/reduce_cuda_rules.h"
#include "base/dtype.h"

namespace coll {
namespace cuda {
namespace {

using cuda_rules::Bf16Fmt;
using cuda_rules::HalfFmt;
using cuda_rules::Kind;
using cuda_rules::PlainFmt;
using cuda_rules::ReduceElement;

constexpr int kThreads = 512;
constexpr size_t kVectorBytes = 16;

template <typename S>
union Vec {
  uint4 raw;
  S e[kVectorBytes / sizeof(S)];
};

template <typename Fmt, Kind kKind>
__device__ __forceinline__ uint4 ReduceVec(uint4 x, uint4 y, int nranks) {
  using S = typename Fmt::Storage;
  Vec<S> a, b, o;
  a.raw = x;
  b.raw = y;
#pragma unroll
  for (int j = 0; j < static_cast<int>(kVectorBytes / sizeof(S)); ++j)
    o.e[j] = ReduceElement<Fmt, kKind>(a.e[j], b.e[j], nranks);
  return o.raw;
}

// Elements [0, nvec * per-vector) in 16-byte vectors, two per thread per step so that four
// loads are in flight; the rest (a tail, or everything when unaligned) one element at a time.
// out may alias a or b element for element, so no restrict / read-only cache.
template <typename Fmt, Kind kKind>
__global__ void __launch_bounds__(kThreads)
    ReduceKernel(void* out, const void* a, const void* b, size_t count, size_t nvec, int nranks) {
  using S = typename Fmt::Storage;
  const size_t stride = static_cast<size_t>(gridDim.x) * blockDim.x;
  const size_t tid = static_cast<size_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  uint4* vo = static_cast<uint4*>(out);
  const uint4* va = static_cast<const uint4*>(a);
  const uint4* vb = static_cast<const uint4*>(b);
  size_t i = tid;
  for (; i + stride < nvec; i += 2 * stride) {
    const uint4 a0 = va[i], b0 = vb[i], a1 = va[i + stride], b1 = vb[i + stride];
    vo[i] = ReduceVec<Fmt, kKind>(a0, b0, nranks);
    vo[i + stride] = ReduceVec<Fmt, kKind>(a1, b1, nranks);
  }
  if (i < nvec) vo[i] = ReduceVec<Fmt, kKind>(va[i], vb[i], nranks);
  S* so = static_cast<S*>(out);
  const S* sa = static_cast<const S*>(a);
  const S* sb = static_cast<const S*>(b);
  for (size_t k = nvec * (kVectorBytes / sizeof(S)) + tid; k < count; k += stride)
    so[k] = ReduceElement<Fmt, kKind>(sa[k], sb[k], nranks);
}

Status CudaError(cudaError_t err, const char* what) {
  return SystemError("%s: %s (%s)", what, cudaGetErrorString(err), cudaGetErrorName(err));
}

// Multiprocessors of the current device, asked once per device.
Status SmCount(int* out) {
  constexpr int kMaxDevices = 64;
  static std::atomic<int> cache[kMaxDevices];
  int dev = 0;
  if (cudaError_t err = cudaGetDevice(&dev); err != cudaSuccess) return CudaError(err, "cudaGetDevice");
  if (dev >= 0 && dev < kMaxDevices && (*out = cache[dev].load(std::memory_order_relaxed)) > 0) return Status::OK();
  int sms = 0;
  if (cudaError_t err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev); err != cudaSuccess)
    return CudaError(err, "cudaDeviceGetAttribute(multiprocessor count)");
  if (dev >= 0 && dev < kMaxDevices) cache[dev].store(sms, std::memory_order_relaxed);
  *out = sms > 0 ? sms : 1;
  return Status::OK();
}

template <typename Fmt, Kind kKind>
Status Launch(void* out, const void* a, const void* b, size_t count, int nranks, cudaStream_t stream) {
  constexpr size_t kPer = kVectorBytes / sizeof(typename Fmt::Storage);
  const bool aligned = ((reinterpret_cast<uintptr_t>(out) | reinterpret_cast<uintptr_t>(a) |
                         reinterpret_cast<uintptr_t>(b)) % kVectorBytes) == 0;
  const size_t nvec = aligned ? count / kPer : 0;
  const size_t work = nvec > count - nvec * kPer ? nvec : count - nvec * kPer;
  int sms = 1;
  COLL_RETURN_IF_ERROR(SmCount(&sms));
  // As many blocks as fit on the device at once (registers differ per kernel), asked once per
  // kernel: devices of one process share an architecture in practice, and a wrong guess only
  // costs some speed.
  static std::atomic<int> resident{0};
  int per_sm = resident.load(std::memory_order_relaxed);
  if (per_sm == 0) {
    if (cudaError_t err = cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, ReduceKernel<Fmt, kKind>, kThreads, 0);
        err != cudaSuccess)
      return CudaError(err, "cudaOccupancyMaxActiveBlocksPerMultiprocessor");
    per_sm = per_sm > 0 ? per_sm : 1;
    resident.store(per_sm, std::memory_order_relaxed);
  }
  const size_t wanted = (work + kThreads - 1) / kThreads;
  const size_t most = static_cast<size_t>(sms) * static_cast<size_t>(per_sm);
  const unsigned blocks = static_cast<unsigned>(wanted < most ? wanted : most);
  ReduceKernel<Fmt, kKind><<<blocks, kThreads, 0, stream>>>(out, a, b, count, nvec, nranks);
  if (cudaError_t err = cudaGetLastError(); err != cudaSuccess) return CudaError(err, "reduction kernel launch");
  return Status::OK();
}

template <Kind kKind>
Status LaunchFor(coll_dtype_t dtype, void* out, const void* a, const void* b, size_t count, int nranks,
                 cudaStream_t s) {
  switch (dtype) {
    case COLL_INT8: return Launch<PlainFmt<int8_t>, kKind>(out, a, b, count, nranks, s);
    case COLL_UINT8: return Launch<PlainFmt<uint8_t>, kKind>(out, a, b, count, nranks, s);
    case COLL_INT32: return Launch<PlainFmt<int32_t>, kKind>(out, a, b, count, nranks, s);
    case COLL_UINT32: return Launch<PlainFmt<uint32_t>, kKind>(out, a, b, count, nranks, s);
    case COLL_INT64: return Launch<PlainFmt<int64_t>, kKind>(out, a, b, count, nranks, s);
    case COLL_UINT64: return Launch<PlainFmt<uint64_t>, kKind>(out, a, b, count, nranks, s);
    case COLL_FLOAT16: return Launch<HalfFmt, kKind>(out, a, b, count, nranks, s);
    case COLL_BFLOAT16: return Launch<Bf16Fmt, kKind>(out, a, b, count, nranks, s);
    case COLL_FLOAT32: return Launch<PlainFmt<float>, kKind>(out, a, b, count, nranks, s);
    case COLL_FLOAT64: return Launch<PlainFmt<double>, kKind>(out, a, b, count, nranks, s);
  }
  return InvalidArgument("dtype %d is not a coll_dtype_t", static_cast<int>(dtype));
}

Status CheckArgs(coll_dtype_t dtype, coll_op_t op, int nranks) {
  if (!IsValidDtype(dtype)) return InvalidArgument("dtype %d is not a coll_dtype_t", static_cast<int>(dtype));
  if (!IsValidOp(op)) return InvalidArgument("op %d is not a coll_op_t", static_cast<int>(op));
  if (op == COLL_AVG && nranks < 1) return InvalidArgument("AVG over %d ranks", nranks);
  return Status::OK();
}

Status LaunchOp(coll_op_t op, bool avg_final, coll_dtype_t dtype, void* out, const void* a, const void* b,
                size_t count, int nranks, cudaStream_t s) {
  switch (op) {
    case COLL_SUM: return LaunchFor<Kind::kSum>(dtype, out, a, b, count, nranks, s);
    case COLL_PROD: return LaunchFor<Kind::kProd>(dtype, out, a, b, count, nranks, s);
    case COLL_MIN: return LaunchFor<Kind::kMin>(dtype, out, a, b, count, nranks, s);
    case COLL_MAX: return LaunchFor<Kind::kMax>(dtype, out, a, b, count, nranks, s);
    case COLL_AVG:
      if (avg_final) return LaunchFor<Kind::kAvgFinal>(dtype, out, a, b, count, nranks, s);
      return LaunchFor<Kind::kSum>(dtype, out, a, b, count, nranks, s);
  }
  return InvalidArgument("op %d is not a coll_op_t", static_cast<int>(op));
}

}  // namespace

Status ReduceIntoOnDevice(void* out, const void* a, const void* b, size_t count, coll_dtype_t dtype, coll_op_t op,
                          void* stream) {
  COLL_RETURN_IF_ERROR(CheckArgs(dtype, op, 1));
  if (count == 0) return Status::OK();
  return LaunchOp(op, false, dtype, out, a, b, count, 1, static_cast<cudaStream_t>(stream));
}

Status ReduceFinalOnDevice(void* out, const void* a, const void* b, size_t count, coll_dtype_t dtype, coll_op_t op,
                           int nranks, void* stream) {
  COLL_RETURN_IF_ERROR(CheckArgs(dtype, op, nranks));
  if (count == 0) return Status::OK();
  return LaunchOp(op, true, dtype, out, a, b, count, nranks, static_cast<cudaStream_t>(stream));
}

Status FinalizeAvgOnDevice(void* buf, size_t count, coll_dtype_t dtype, coll_op_t op, int nranks, void* stream) {
  COLL_RETURN_IF_ERROR(CheckArgs(dtype, op, nranks));
  if (op != COLL_AVG || count == 0) return Status::OK();
  return LaunchFor<Kind::kAvgFinalize>(dtype, buf, buf, buf, count, nranks, static_cast<cudaStream_t>(stream));
}

}  // namespace cuda
}  // namespace coll
