// Binding the CudaDriver table: dlopen once, dlsym each entry point, cuInit(0). The library
// stays loaded for the life of the process. Thread-safety: CudaDriverOnce uses a function
// static (initialised once, then read-only).
#include "cuda/driver.h"

#include <dlfcn.h>
#include <pthread.h>

#include <atomic>
#include <cctype>
#include <cstdlib>

#include "base/log.h"
#include "base/status.h"

#if defined(COLL_HAVE_CUDA)
#include <cuda.h>
static_assert(coll::cuda::kCudaSuccess == CUDA_SUCCESS, "CUresult ABI");
static_assert(coll::cuda::kCudaErrorNoDevice == CUDA_ERROR_NO_DEVICE, "CUresult ABI");
static_assert(coll::cuda::kCudaErrorInvalidContext == CUDA_ERROR_INVALID_CONTEXT, "CUresult ABI");
static_assert(sizeof(CUdevice) == sizeof(int), "CUdevice ABI");
static_assert(coll::cuda::kPointerAttributeMemoryType == CU_POINTER_ATTRIBUTE_MEMORY_TYPE, "attribute ABI");
static_assert(coll::cuda::kPointerAttributeIsManaged == CU_POINTER_ATTRIBUTE_IS_MANAGED, "attribute ABI");
static_assert(coll::cuda::kPointerAttributeDeviceOrdinal == CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL, "attribute ABI");
static_assert(coll::cuda::kMemoryTypeHost == CU_MEMORYTYPE_HOST, "memory type ABI");
static_assert(coll::cuda::kMemoryTypeDevice == CU_MEMORYTYPE_DEVICE, "memory type ABI");
static_assert(sizeof(CUresult) == sizeof(int) && sizeof(CUdeviceptr) == sizeof(unsigned long long), "driver ABI");
#endif

namespace coll {
namespace cuda {
namespace {

template <typename Fn>
bool Bind(void* lib, const char* name, Fn* out) {
  void* sym = dlsym(lib, name);
  *out = reinterpret_cast<Fn>(sym);
  return sym != nullptr;
}

// Fills the table from an open library; false with driver->why set when a symbol is missing.
bool BindAll(void* lib, CudaDriver* d) {
  const char* missing = !Bind(lib, "cuInit", &d->init)                                ? "cuInit"
                        : !Bind(lib, "cuDriverGetVersion", &d->driver_get_version)     ? "cuDriverGetVersion"
                        : !Bind(lib, "cuDeviceGetCount", &d->device_get_count)         ? "cuDeviceGetCount"
                        : !Bind(lib, "cuPointerGetAttributes", &d->pointer_get_attributes) ? "cuPointerGetAttributes"
                        : !Bind(lib, "cuGetErrorString", &d->get_error_string)         ? "cuGetErrorString"
                                                                                       : nullptr;
  Bind(lib, "cuCtxGetDevice", &d->ctx_get_device);  // optional: only the GPU placement needs them
  Bind(lib, "cuDeviceGetPCIBusId", &d->device_get_pci_bus_id);
  Bind(lib, "cuMemcpy", &d->mem_copy);
  Bind(lib, "cuDevicePrimaryCtxRetain", &d->primary_ctx_retain);
  Bind(lib, "cuCtxSetCurrent", &d->ctx_set_current);
  if (missing == nullptr) return true;
  d->why = StrFormat("%s has no symbol %s: it is not a CUDA driver library", d->path.c_str(), missing);
  return false;
}

// Set in a child forked after the driver was loaded: CUDA cannot be used there (the driver is
// not fork-safe), and no device memory of the parent is usable in it either.
std::atomic<bool> g_forked{false};
void MarkForked() { g_forked.store(true, std::memory_order_relaxed); }

CudaDriver LoadOnceFromEnv() {
  pthread_atfork(nullptr, nullptr, &MarkForked);
  const char* env = std::getenv("COLL_CUDA_LIB");
  CudaDriver d = LoadCudaDriver(env != nullptr && *env != '\0' ? env : "libcuda.so.1");
  if (d.usable) {
    COLL_INFO(-1, "CUDA driver: %s, version %d, %d device(s): buffers are classified per call", d.path.c_str(),
              d.version, d.devices);
  } else {
    COLL_INFO(-1, "CUDA driver: not in use (%s): every buffer is host memory", d.why.c_str());
  }
  return d;
}

}  // namespace

std::string CudaDriver::ErrorText(int result) const {
  const char* text = nullptr;
  if (get_error_string == nullptr || get_error_string(result, &text) != kCudaSuccess || text == nullptr)
    return StrFormat("error %d", result);
  return StrFormat("%s (error %d)", text, result);
}

CurrentGpu CurrentContextGpu(const CudaDriver& driver) {
  CurrentGpu gpu;
  if (!driver.usable) {
    gpu.why = "no CUDA driver in use (" + driver.why + ")";
    return gpu;
  }
  if (driver.ctx_get_device == nullptr || driver.device_get_pci_bus_id == nullptr) {
    gpu.why = driver.path + " lacks cuCtxGetDevice or cuDeviceGetPCIBusId";
    return gpu;
  }
  int device = -1;
  if (int rc = driver.ctx_get_device(&device); rc != kCudaSuccess) {
    gpu.why = rc == kCudaErrorInvalidContext ? "no CUDA context is current on the thread that created the communicator"
                                             : "cuCtxGetDevice failed: " + driver.ErrorText(rc);
    return gpu;
  }
  char busid[64] = {0};
  if (int rc = driver.device_get_pci_bus_id(busid, static_cast<int>(sizeof busid - 1), device); rc != kCudaSuccess) {
    gpu.why = StrFormat("cuDeviceGetPCIBusId(device %d) failed: %s", device, driver.ErrorText(rc).c_str());
    return gpu;
  }
  gpu.ordinal = device;
  gpu.pci_busid = busid;
  for (char& c : gpu.pci_busid) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return gpu;
}

CudaDriver LoadCudaDriver(const std::string& path) {
  CudaDriver d;
  d.path = path;
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    d.why = why != nullptr ? why : StrFormat("cannot load %s", path.c_str());
    return d;
  }
  if (!BindAll(lib, &d)) return d;  // the library stays loaded: harmless, and dlclose is not fork-safe
  if (int rc = d.init(0); rc != kCudaSuccess) {
    d.why = StrFormat("cuInit failed: %s", d.ErrorText(rc).c_str());
    return d;
  }
  if (int rc = d.driver_get_version(&d.version); rc != kCudaSuccess) {
    d.why = StrFormat("cuDriverGetVersion failed: %s", d.ErrorText(rc).c_str());
    return d;
  }
  if (int rc = d.device_get_count(&d.devices); rc != kCudaSuccess || d.devices <= 0) {
    d.why = rc != kCudaSuccess ? StrFormat("cuDeviceGetCount failed: %s", d.ErrorText(rc).c_str())
                               : std::string("the driver reports no CUDA device");
    return d;
  }
  d.usable = true;
  return d;
}

const CudaDriver& CudaDriverOnce() {
  static const CudaDriver driver = LoadOnceFromEnv();
  if (g_forked.load(std::memory_order_relaxed)) {
    static const CudaDriver forked = [] {
      CudaDriver d;
      d.path = driver.path;
      d.why = "this process was forked after the CUDA driver was loaded";
      return d;
    }();
    return forked;
  }
  return driver;
}

}  // namespace cuda
}  // namespace coll
