// Chooses the reduction kernel table once from the CPU's features (best supported ISA) and
// lets tests force another. The choice is an atomic pointer: thread-safe, lock-free reads.
// Off x86-64 only the portable table exists.
#include "collectives/reduce/reduce_dispatch.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <atomic>

namespace coll {
namespace {

const ReduceKernels& KernelsFor(ReduceIsa isa) {
#if defined(__x86_64__)
  switch (isa) {
    case ReduceIsa::kAvx512: return Avx512ReduceKernels();
    case ReduceIsa::kAvx2: return Avx2ReduceKernels();
    case ReduceIsa::kPortable: break;
  }
#else
  (void)isa;
#endif
  return PortableReduceKernels();
}

#if defined(__x86_64__)
// F16C is CPUID.1:ECX bit 29 (not every compiler's __builtin_cpu_supports knows "f16c"); it
// is only used with AVX2, whose check covers OS support for the wide registers.
bool CpuHasF16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & bit_F16C) != 0;
}
#endif

struct Active {
  std::atomic<ReduceIsa> isa;
  std::atomic<const ReduceKernels*> kernels;
};

Active& ActiveState() {
  static Active state{{BestReduceIsa()}, {&KernelsFor(BestReduceIsa())}};
  return state;
}

}  // namespace

const char* ReduceIsaName(ReduceIsa isa) {
  switch (isa) {
    case ReduceIsa::kPortable: return "portable";
    case ReduceIsa::kAvx2: return "avx2";
    case ReduceIsa::kAvx512: return "avx512";
  }
  return "unknown";
}

// __builtin_cpu_supports also checks that the OS saves the wider registers (XCR0).
bool ReduceIsaSupported(ReduceIsa isa) {
#if !defined(__x86_64__)
  return isa == ReduceIsa::kPortable;
#else
  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && CpuHasF16c();
  switch (isa) {
    case ReduceIsa::kPortable: return true;
    case ReduceIsa::kAvx2: return avx2;
    case ReduceIsa::kAvx512:
      return avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl");
  }
  return false;
#endif
}

ReduceIsa BestReduceIsa() {
  if (ReduceIsaSupported(ReduceIsa::kAvx512)) return ReduceIsa::kAvx512;
  if (ReduceIsaSupported(ReduceIsa::kAvx2)) return ReduceIsa::kAvx2;
  return ReduceIsa::kPortable;
}

ReduceIsa ActiveReduceIsa() { return ActiveState().isa.load(std::memory_order_acquire); }

const ReduceKernels& ActiveReduceKernels() {
  return *ActiveState().kernels.load(std::memory_order_acquire);
}

bool SetReduceIsaForTesting(ReduceIsa isa) {
  if (!ReduceIsaSupported(isa)) return false;
  Active& state = ActiveState();
  state.kernels.store(&KernelsFor(isa), std::memory_order_release);
  state.isa.store(isa, std::memory_order_release);
  return true;
}

}  // namespace coll
