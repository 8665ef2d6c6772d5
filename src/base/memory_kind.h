// Where a buffer lives. Links declare the kind of their slots and the kinds they accept as
// sources (transport/link.h); an Operation copies and reduces through the operations of its
// buffers' kind (collectives/memory_ops.h). Host memory is the only kind built today.
#pragma once

#include <cstdint>

namespace coll {

enum class MemoryKind : uint8_t { kHost = 0 };

inline const char* MemoryKindName(MemoryKind kind) {
  switch (kind) {
    case MemoryKind::kHost: return "host";
  }
  return "unknown";
}

}  // namespace coll
