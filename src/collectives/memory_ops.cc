// Host memory's operations: memcpy, streaming stores for final outputs, the CPU kernels.
#include "collectives/memory_ops.h"

#include <cstring>

#include "collectives/reduce/reduce.h"
#include "collectives/stream_copy.h"

namespace coll {
namespace {

void HostCopy(void* dst, const void* src, size_t bytes) {
  if (dst != src && bytes > 0) std::memcpy(dst, src, bytes);
}

void HostCopyFinal(void* dst, const void* src, size_t bytes) {
  if (dst != src && bytes > 0) StreamCopy(dst, src, bytes);
}

constexpr MemoryOps kHostOps{MemoryKind::kHost, HostCopy, HostCopyFinal, ReduceInto, ReduceFinal};

}  // namespace

const MemoryOps& MemoryOpsFor(MemoryKind) { return kHostOps; }

}  // namespace coll
