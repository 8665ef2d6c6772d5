// The driver calls of device_memory.h. Stateless.
#include "cuda/device_memory.h"

#include <cstdint>

namespace coll {
namespace cuda {

Status CheckDataPath(const CudaDriver& driver) {
  if (!driver.usable) return Unsupported("no CUDA driver in use (%s)", driver.why.c_str());
  const char* missing = driver.mem_copy == nullptr              ? "cuMemcpy"
                        : driver.primary_ctx_retain == nullptr ? "cuDevicePrimaryCtxRetain"
                        : driver.ctx_set_current == nullptr    ? "cuCtxSetCurrent"
                                                               : nullptr;
  if (missing != nullptr)
    return Unsupported("%s has no %s: device buffers cannot be moved with it", driver.path.c_str(), missing);
  return Status::OK();
}

Status BindDevice(const CudaDriver& driver, int device) {
  COLL_RETURN_IF_ERROR(CheckDataPath(driver));
  int current = -1;
  if (driver.ctx_get_device != nullptr && driver.ctx_get_device(&current) == kCudaSuccess && current == device)
    return Status::OK();  // the caller's own context on that device (cudaSetDevice's primary one, or theirs)
  void* context = nullptr;
  if (int rc = driver.primary_ctx_retain(&context, device); rc != kCudaSuccess)
    return SystemError("cuDevicePrimaryCtxRetain(device %d) failed: %s", device, driver.ErrorText(rc).c_str());
  if (int rc = driver.ctx_set_current(context); rc != kCudaSuccess)
    return SystemError("cuCtxSetCurrent(device %d) failed: %s", device, driver.ErrorText(rc).c_str());
  return Status::OK();
}

Status Copy(const CudaDriver& driver, void* dst, const void* src, size_t bytes) {
  if (bytes == 0 || dst == src) return Status::OK();
  if (int rc = driver.mem_copy(reinterpret_cast<uintptr_t>(dst), reinterpret_cast<uintptr_t>(src), bytes);
      rc != kCudaSuccess)
    return SystemError("cuMemcpy of %zu bytes failed: %s", bytes, driver.ErrorText(rc).c_str());
  return Status::OK();
}

}  // namespace cuda
}  // namespace coll
