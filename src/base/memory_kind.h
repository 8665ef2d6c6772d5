// Where a buffer lives. Links declare the kind of their slots and the kinds they accept as
// sources (transport/link.h); an Operation copies and reduces through the operations of its
// buffers' kind (collectives/memory_ops.h): host memory, or CUDA device memory staged through
// the links' host slots.
#pragma once

#include <cstdint>

namespace coll {

enum class MemoryKind : uint8_t { kHost = 0, kCudaDevice = 1 };

// A set of kinds as bits (LinkCaps::source_kinds).
constexpr uint32_t MemoryKindBit(MemoryKind kind) { return uint32_t{1} << static_cast<unsigned>(kind); }

inline const char* MemoryKindName(MemoryKind kind) {
  switch (kind) {
    case MemoryKind::kHost: return "host";
    case MemoryKind::kCudaDevice: return "CUDA device";
  }
  return "unknown";
}

}  // namespace coll
