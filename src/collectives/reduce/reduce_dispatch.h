// Internal: the per-ISA tables of reduction kernels behind reduce.h, chosen once from the
// CPU's features. Tables are immutable; the active one is an atomic pointer, so kernels may
// run on any thread. SetReduceIsaForTesting is for tests and benchmarks only.
#pragma once

#include <cstddef>

#include "collective.h"

namespace coll {

// Every variant gives bitwise-identical results for the same inputs (see reduce.h).
enum class ReduceIsa {
  kPortable,  // plain C++: the library's baseline (x86-64-v2 on x86-64), any architecture
  kAvx2,      // AVX2 + F16C (x86-64 only)
  kAvx512,    // AVX-512 F/BW/VL + F16C (x86-64 only)
};
constexpr int kNumReduceIsas = 3;
constexpr int kNumDtypes = COLL_FLOAT64 + 1;
constexpr int kNumReduceKernelOps = COLL_MAX + 1;  // COLL_AVG runs the COLL_SUM kernel

using ReduceFn = void (*)(void* out, const void* a, const void* b, size_t count);
using AvgFinalFn = void (*)(void* out, const void* a, const void* b, size_t count, int nranks);
using AvgFinalizeFn = void (*)(void* buf, size_t count, int nranks);

struct ReduceKernels {
  ReduceFn reduce[kNumDtypes][kNumReduceKernelOps] = {};
  AvgFinalFn avg_final[kNumDtypes] = {};        // out = FinalizeAvg(a + b), one pass
  AvgFinalizeFn avg_finalize[kNumDtypes] = {};  // buf = buf / nranks
};

// Per-ISA tables, each defined in its own file compiled for that ISA. The SIMD ones must
// only be called when ReduceIsaSupported() says so, and exist on x86-64 only.
const ReduceKernels& PortableReduceKernels();
#if defined(__x86_64__)
const ReduceKernels& Avx2ReduceKernels();
const ReduceKernels& Avx512ReduceKernels();
#endif

const char* ReduceIsaName(ReduceIsa isa);  // "portable", "avx2", "avx512"
bool ReduceIsaSupported(ReduceIsa isa);    // this CPU (and OS) can run it
ReduceIsa BestReduceIsa();                 // what is selected by default
ReduceIsa ActiveReduceIsa();
const ReduceKernels& ActiveReduceKernels();

// Forces a variant for every thread; false (and no change) if this CPU cannot run it.
bool SetReduceIsaForTesting(ReduceIsa isa);

}  // namespace coll
