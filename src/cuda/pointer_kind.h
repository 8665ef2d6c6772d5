// What kind of memory a user buffer is (host, pinned host, CUDA device, CUDA managed), asked of
// the CUDA driver per call, and the rules for which kinds one call may mix. Without a usable
// driver every pointer is host memory (no device memory can exist in the process then).
// Pure functions of their arguments and the driver table: thread-safe.
#pragma once

#include <cstddef>

#include "base/status.h"
#include "cuda/driver.h"

namespace coll {
namespace cuda {

enum class PointerKind {
  kHost,        // pageable host memory (or anything the driver does not know)
  kPinnedHost,  // cudaMallocHost / cudaHostRegister: host memory the GPU can also reach
  kDevice,      // cudaMalloc: only the GPU can touch it
  kManaged,     // cudaMallocManaged: migrates on demand, the CPU can touch it
};

// "host memory", "pinned host memory", "CUDA device memory", "CUDA managed memory".
const char* PointerKindName(PointerKind kind);

struct PointerInfo {
  PointerKind kind = PointerKind::kHost;
  int device = -1;  // the CUDA device ordinal for device / managed / pinned memory, else -1
};

// Asks the driver about ptr. Host when the driver is not usable. COLL_ERR_SYSTEM when the
// driver refuses the question (the sentence names `name` and the driver's error).
Status ClassifyPointer(const CudaDriver& driver, const char* name, const void* ptr, PointerInfo* out);

// How far device buffers are supported by this build in this process.
enum class DeviceSupport {
  kNotBuilt,  // configured with COLL_WITH_CUDA=OFF (or nvcc was not found)
  kHostOnly,  // built with CUDA, but no data path for device buffers (kept for tests)
  kDevice,    // device buffers are moved, staged through host memory (collectives/memory_ops.cc)
};
DeviceSupport BuildDeviceSupport();

struct BufferArg {
  const char* name;  // "sendbuf", "recvbuf"
  const void* ptr;   // NULL arguments are skipped (the caller checks NULL itself)
};

// The rules for one call, in this order:
//  - a device buffer that this build cannot move: COLL_ERR_UNSUPPORTED naming it;
//  - a device buffer next to one the CPU reads (host, pinned, managed): COLL_ERR_UNSUPPORTED;
//  - device buffers on two different devices: COLL_ERR_INVALID_ARGUMENT.
// Host, pinned host and managed memory mix freely (the CPU reaches all three). On success,
// *any_device says whether the call's buffers are device memory, and *device (when not null)
// their device ordinal (-1 for host buffers).
Status CheckBufferKinds(const CudaDriver& driver, DeviceSupport support, const BufferArg* args, size_t nargs,
                        bool* any_device, int* device = nullptr);

}  // namespace cuda
}  // namespace coll
