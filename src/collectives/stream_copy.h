// A copy whose destination will not be read again soon (a collective's final output): it
// writes with non-temporal stores, so the destination lines are neither read first (no
// read-for-ownership) nor left to evict the working set. Stateless, thread-safe.
#pragma once

#include <cstddef>

namespace coll {

// Falls back to memcpy below a size where streaming does not pay.
void StreamCopy(void* dst, const void* src, size_t bytes);

}  // namespace coll
