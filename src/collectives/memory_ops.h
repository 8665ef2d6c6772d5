// The memory-kind seam: every copy and reduction an Operation makes goes through the
// MemoryOps of the kind its buffers live in, so schedules and algorithm files never learn
// where their bytes are. Host memory: memcpy and the CPU kernels. CUDA device memory: copies
// through the driver in any direction (a pointer may be device memory, a host slot or host
// scratch), reductions staged through host memory (see memory_ops.cc). Stateless tables;
// thread-safe (the device table binds the device's context per thread).
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/memory_kind.h"
#include "base/status.h"
#include "collective.h"

namespace coll {

struct MemoryOps {
  MemoryKind kind;
  // Readies the calling thread for this kind's operations on `device` (a CUDA context); host:
  // nothing. Called when an operation starts, on the thread that drives it.
  Status (*bind)(int device);
  // dst = src; dst and src may be the same pointer, never partially overlap.
  Status (*copy)(void* dst, const void* src, size_t bytes);
  // As copy, for a destination that will not be read again soon (a collective's final output).
  Status (*copy_final)(void* dst, const void* src, size_t bytes);
  // out = a (op) b over count elements (reduce.h's rules); AVG reduces as SUM.
  Status (*reduce)(void* out, const void* a, const void* b, size_t count, coll_dtype_t dtype, coll_op_t op);
  // As reduce, then AVG divides by nranks: the value is final.
  Status (*reduce_final)(void* out, const void* a, const void* b, size_t count, coll_dtype_t dtype, coll_op_t op,
                         int nranks);
};

const MemoryOps& MemoryOpsFor(MemoryKind kind);

}  // namespace coll
