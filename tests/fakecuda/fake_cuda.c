/* fakecuda: a stand-in for libcuda.so.1 with just the entry points libcollective binds
 * (src/cuda/driver.h), so tests on machines without a GPU can drive pointer classification.
 * Address ranges are declared device / pinned / managed memory with fakecuda_declare; any
 * other pointer is unknown to the "driver", as pageable host memory is to the real one.
 * Not thread-safe: tests declare ranges before the code under test runs. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define FAKECUDA_API __attribute__((visibility("default")))

enum { kMaxRanges = 16 };

struct Range {
  uintptr_t base;
  size_t bytes;
  unsigned memory_type; /* CU_MEMORYTYPE_HOST 1, CU_MEMORYTYPE_DEVICE 2 */
  int managed;
  int device;
};

static struct Range g_ranges[kMaxRanges];
static int g_nranges;
static int g_init_result;      /* what cuInit returns */
static int g_pointer_result;   /* what cuPointerGetAttributes returns */
static int g_devices = 1;
static int g_initialised;

FAKECUDA_API void fakecuda_reset(void) {
  g_nranges = 0;
  g_init_result = 0;
  g_pointer_result = 0;
  g_devices = 1;
  g_initialised = 0;
}

FAKECUDA_API int fakecuda_declare(const void* base, size_t bytes, unsigned memory_type, int managed, int device) {
  if (g_nranges == kMaxRanges) return -1;
  struct Range r = {(uintptr_t)base, bytes, memory_type, managed, device};
  g_ranges[g_nranges++] = r;
  return 0;
}

FAKECUDA_API void fakecuda_set_results(int init_result, int pointer_result, int devices) {
  g_init_result = init_result;
  g_pointer_result = pointer_result;
  g_devices = devices;
}

/* Whether cuInit(0) has succeeded in this process (the library loaded the "driver"). */
FAKECUDA_API int fakecuda_initialised(void) { return g_initialised; }

FAKECUDA_API int cuInit(unsigned flags) {
  if (flags != 0) return 1; /* CUDA_ERROR_INVALID_VALUE */
  if (g_init_result == 0) g_initialised = 1;
  return g_init_result;
}

FAKECUDA_API int cuDriverGetVersion(int* version) {
  *version = 13000;
  return 0;
}

FAKECUDA_API int cuDeviceGetCount(int* count) {
  if (!g_initialised) return 3; /* CUDA_ERROR_NOT_INITIALIZED */
  *count = g_devices;
  return 0;
}

/* As the real driver: an unknown pointer succeeds with every attribute zero. */
FAKECUDA_API int cuPointerGetAttributes(unsigned n, const int* attributes, void** data, unsigned long long ptr) {
  if (!g_initialised) return 3;
  if (g_pointer_result != 0) return g_pointer_result;
  const struct Range* hit = NULL;
  for (int i = 0; i < g_nranges; ++i)
    if (ptr >= g_ranges[i].base && ptr - g_ranges[i].base < g_ranges[i].bytes) hit = &g_ranges[i];
  for (unsigned i = 0; i < n; ++i) {
    switch (attributes[i]) {
      case 2: *(unsigned*)data[i] = hit ? hit->memory_type : 0; break; /* MEMORY_TYPE */
      case 8: *(unsigned char*)data[i] = hit ? (unsigned char)hit->managed : 0; break; /* IS_MANAGED: a bool */
      case 9: *(int*)data[i] = hit ? hit->device : -2; break; /* DEVICE_ORDINAL */
      default: return 1;
    }
  }
  return 0;
}

FAKECUDA_API int cuGetErrorString(int error, const char** text) {
  switch (error) {
    case 0: *text = "no error"; return 0;
    case 1: *text = "invalid argument"; return 0;
    case 3: *text = "initialization error"; return 0;
    case 100: *text = "no CUDA-capable device is detected"; return 0;
    case 999: *text = "unknown error"; return 0;
    default: *text = NULL; return 1;
  }
}
