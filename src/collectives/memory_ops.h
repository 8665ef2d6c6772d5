// The memory-kind seam: every copy and reduction an Operation makes goes through the
// MemoryOps of the kind its buffers live in, so schedules and algorithm files never learn
// where their bytes are. Host memory is the only kind built today; a device kind adds a
// table here (and a Link that accepts it) without touching any algorithm. Stateless tables;
// thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/memory_kind.h"
#include "collective.h"

namespace coll {

struct MemoryOps {
  MemoryKind kind;
  // dst = src; dst and src may be the same pointer, never partially overlap.
  void (*copy)(void* dst, const void* src, size_t bytes);
  // As copy, for a destination that will not be read again soon (a collective's final output).
  void (*copy_final)(void* dst, const void* src, size_t bytes);
  // out = a (op) b over count elements (reduce.h's rules); AVG reduces as SUM.
  void (*reduce)(void* out, const void* a, const void* b, size_t count, coll_dtype_t dtype, coll_op_t op);
  // As reduce, then AVG divides by nranks: the value is final.
  void (*reduce_final)(void* out, const void* a, const void* b, size_t count, coll_dtype_t dtype, coll_op_t op,
                       int nranks);
};

const MemoryOps& MemoryOpsFor(MemoryKind kind);

}  // namespace coll
