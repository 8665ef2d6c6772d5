// Moving bytes to and from CUDA device memory through the driver table, for the staging data
// path of device buffers (collectives/memory_ops.cc): copies in any direction (the driver's
// unified addressing tells host from device) and making a context of the buffers' device current
// on the calling thread (the progress thread has none of its own). Thread-safe.
#pragma once

#include <cstddef>

#include "base/status.h"
#include "cuda/driver.h"

namespace coll {
namespace cuda {

// OK when `driver` has what the data path needs; else COLL_ERR_UNSUPPORTED naming the missing
// entry point.
Status CheckDataPath(const CudaDriver& driver);

// Makes a context of `device` current on this thread: one already current there is kept, else
// the device's primary context (the one cudaSetDevice uses) is made current.
Status BindDevice(const CudaDriver& driver, int device);

// dst = src, bytes long, either side host or device memory; returns when the copy is done.
Status Copy(const CudaDriver& driver, void* dst, const void* src, size_t bytes);

}  // namespace cuda
}  // namespace coll
