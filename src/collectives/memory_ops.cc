// The MemoryOps tables. Host: memcpy, streaming stores for final outputs, the CPU kernels.
// CUDA device (staging): every copy is one cuMemcpy, which moves bytes between device memory and
// the links' host slots (or host scratch) in whichever direction the addresses say; a reduction
// brings its operands into a per-thread host buffer, runs the CPU kernels there (the same bits,
// reduce.h) and copies the result out. So device buffers give the same results as host ones on
// every transport. Not yet built: asynchronous copies on a stream overlapping the ring and the
// reduction on the GPU (reduce_cuda.h), which would replace these bodies, not the seam.
#include "collectives/memory_ops.h"

#include <cstring>
#include <vector>

#include "base/dtype.h"
#include "collectives/reduce/reduce.h"
#include "collectives/stream_copy.h"
#include "cuda/device_memory.h"

namespace coll {
namespace {

Status HostBind(int) { return Status::OK(); }

Status HostCopy(void* dst, const void* src, size_t bytes) {
  if (dst != src && bytes > 0) std::memcpy(dst, src, bytes);
  return Status::OK();
}

Status HostCopyFinal(void* dst, const void* src, size_t bytes) {
  if (dst != src && bytes > 0) StreamCopy(dst, src, bytes);
  return Status::OK();
}

Status HostReduce(void* out, const void* a, const void* b, size_t count, coll_dtype_t dtype, coll_op_t op) {
  ReduceInto(out, a, b, count, dtype, op);
  return Status::OK();
}

Status HostReduceFinal(void* out, const void* a, const void* b, size_t count, coll_dtype_t dtype, coll_op_t op,
                       int nranks) {
  ReduceFinal(out, a, b, count, dtype, op, nranks);
  return Status::OK();
}

constexpr MemoryOps kHostOps{MemoryKind::kHost, HostBind,   HostCopy,       HostCopyFinal,
                             HostReduce,        HostReduceFinal};

Status DeviceBind(int device) { return cuda::BindDevice(cuda::CudaDriverOnce(), device); }

Status DeviceCopy(void* dst, const void* src, size_t bytes) {
  return cuda::Copy(cuda::CudaDriverOnce(), dst, src, bytes);
}

// The operands of a staged reduction, in host memory of the driving thread (reused).
struct Staging {
  std::vector<char> a, b;
};

template <typename Fn>
Status DeviceReduceWith(void* out, const void* a, const void* b, size_t count, coll_dtype_t dtype, Fn reduce) {
  thread_local Staging staging;
  const size_t bytes = count * DtypeSize(dtype);
  if (bytes == 0) return Status::OK();
  if (staging.a.size() < bytes) staging.a.resize(bytes);
  if (staging.b.size() < bytes) staging.b.resize(bytes);
  const cuda::CudaDriver& driver = cuda::CudaDriverOnce();
  COLL_RETURN_IF_ERROR(cuda::Copy(driver, staging.a.data(), a, bytes));
  COLL_RETURN_IF_ERROR(cuda::Copy(driver, staging.b.data(), b, bytes));
  reduce(staging.a.data(), staging.a.data(), staging.b.data());
  return cuda::Copy(driver, out, staging.a.data(), bytes);
}

Status DeviceReduce(void* out, const void* a, const void* b, size_t count, coll_dtype_t dtype, coll_op_t op) {
  return DeviceReduceWith(out, a, b, count, dtype,
                          [&](void* o, const void* x, const void* y) { ReduceInto(o, x, y, count, dtype, op); });
}

Status DeviceReduceFinal(void* out, const void* a, const void* b, size_t count, coll_dtype_t dtype, coll_op_t op,
                         int nranks) {
  return DeviceReduceWith(out, a, b, count, dtype, [&](void* o, const void* x, const void* y) {
    ReduceFinal(o, x, y, count, dtype, op, nranks);
  });
}

constexpr MemoryOps kDeviceOps{MemoryKind::kCudaDevice, DeviceBind,   DeviceCopy,
                               DeviceCopy,              DeviceReduce, DeviceReduceFinal};

}  // namespace

const MemoryOps& MemoryOpsFor(MemoryKind kind) { return kind == MemoryKind::kCudaDevice ? kDeviceOps : kHostOps; }

}  // namespace coll
