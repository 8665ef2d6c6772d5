// The few CUDA driver entry points libcollective needs without a GPU build dependency: bound
// at run time from libcuda.so.1 (COLL_CUDA_LIB names another file) into a table, as the
// ibverbs transport binds libibverbs. No CUDA header is needed to use it; the constants below
// are the driver's ABI values (checked against <cuda.h> when the build has CUDA).
// Thread-safe: CudaDriverOnce() loads once per process; a table is immutable afterwards.
#pragma once

#include <cstdint>
#include <string>

namespace coll {
namespace cuda {

// CUresult, CUpointer_attribute and CUmemorytype values (enums of int size in <cuda.h>).
constexpr int kCudaSuccess = 0;
constexpr int kCudaErrorNoDevice = 100;
constexpr int kCudaErrorInvalidContext = 201;      // CUDA_ERROR_INVALID_CONTEXT: no context is current
constexpr int kPointerAttributeMemoryType = 2;     // CU_POINTER_ATTRIBUTE_MEMORY_TYPE
constexpr int kPointerAttributeIsManaged = 8;      // CU_POINTER_ATTRIBUTE_IS_MANAGED
constexpr int kPointerAttributeDeviceOrdinal = 9;  // CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL
constexpr unsigned kMemoryTypeHost = 1;            // CU_MEMORYTYPE_HOST (pinned / registered)
constexpr unsigned kMemoryTypeDevice = 2;          // CU_MEMORYTYPE_DEVICE

// The bound functions. `usable` is false when the library could not be loaded, lacks a
// symbol, or cuInit failed (no driver, no device): then no pointer in this process can be
// device memory, and `why` says which, in one phrase.
struct CudaDriver {
  bool usable = false;
  std::string path;  // as given to dlopen
  std::string why;   // when !usable: "libcuda.so.1: cannot open shared object file ..."
  int version = 0;   // cuDriverGetVersion, e.g. 13000
  int devices = 0;   // cuDeviceGetCount

  int (*init)(unsigned flags) = nullptr;
  int (*driver_get_version)(int* version) = nullptr;
  int (*device_get_count)(int* count) = nullptr;
  int (*pointer_get_attributes)(unsigned n, int* attributes, void** data, unsigned long long ptr) = nullptr;
  int (*get_error_string)(int error, const char** text) = nullptr;
  // Optional (nullptr when the library lacks them): the current context's device, its PCI id.
  int (*ctx_get_device)(int* device) = nullptr;
  int (*device_get_pci_bus_id)(char* busid, int len, int device) = nullptr;
  // Optional: what the staging data path for device buffers needs (device_memory.h).
  int (*mem_copy)(unsigned long long dst, unsigned long long src, size_t bytes) = nullptr;  // cuMemcpy (UVA)
  int (*primary_ctx_retain)(void** context, int device) = nullptr;
  int (*ctx_set_current)(void* context) = nullptr;

  // "CUDA_ERROR_INVALID_VALUE (invalid argument)"-style text of a CUresult; "error N" when the
  // driver does not know it.
  std::string ErrorText(int result) const;
};

// The GPU a communicator serves, as NCCL takes it: the device of the CUDA context current on
// the thread that creates the communicator (cudaSetDevice makes one current).
struct CurrentGpu {
  int ordinal = -1;        // -1: none
  std::string pci_busid;   // "0000:81:00.0" (lower case), empty when none
  std::string why;         // when none: one phrase saying why
};
CurrentGpu CurrentContextGpu(const CudaDriver& driver);

// Loads `path` (dlopen, dlsym, cuInit(0), version and device count). Never fails: a driver
// that cannot be used comes back with usable == false and the reason. Each call loads anew;
// tests use it with fake drivers.
CudaDriver LoadCudaDriver(const std::string& path);

// The process's driver: COLL_CUDA_LIB (default libcuda.so.1) loaded on first use, the outcome
// printed once at COLL_DEBUG=INFO. In a child forked after that, a driver that is not usable
// (CUDA does not survive fork; every buffer there is host memory).
const CudaDriver& CudaDriverOnce();

}  // namespace cuda
}  // namespace coll
