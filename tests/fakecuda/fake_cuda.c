/* fakecuda: a stand-in for libcuda.so.1 with just the entry points libcollective binds
 * (src/cuda/driver.h), so tests on machines without a GPU can drive pointer classification and GPU placement.
 * Address ranges are declared device / pinned / managed memory with fakecuda_declare; any
 * other pointer is unknown to the "driver", as pageable host memory is to the real one.
 * Devices: FAKECUDA_PCI_BUSIDS="0000:03:00.0,0000:81:00.0" (read by cuInit) gives that many
 * devices with those PCI ids (else one, 0000:01:00.0); FAKECUDA_CURRENT_DEVICE=N makes device N
 * the current context's (else no context is current), as cudaSetDevice(N) would.
 * Device memory the CPU must not touch: fakecuda_alloc_device(bytes, device) maps pages with no
 * access at all, declared device memory; only cuMemcpy (which opens them for the copy, under a
 * mutex) reads or writes them, so any direct CPU access by the code under test is a SIGSEGV.
 * cuMemcpy refuses a copy that runs past the end of a declared range, as the real driver would
 * fault. Not thread-safe otherwise: tests declare ranges before the code under test runs. */
#include <pthread.h>
#include <stddef.h>
#include <sys/mman.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAKECUDA_API __attribute__((visibility("default")))

enum { kMaxRanges = 16 };

struct Range {
  uintptr_t base;
  size_t bytes;
  unsigned memory_type; /* CU_MEMORYTYPE_HOST 1, CU_MEMORYTYPE_DEVICE 2 */
  int managed;
  int device;
  int guarded; /* mapped PROT_NONE by fakecuda_alloc_device */
};

static struct Range g_ranges[kMaxRanges];
static int g_nranges;
static int g_init_result;      /* what cuInit returns */
static int g_pointer_result;   /* what cuPointerGetAttributes returns */
static int g_devices = 1;
static int g_initialised;
enum { kMaxDevices = 8 };
static char g_busids[kMaxDevices][32]; /* "" : 0000:<device + 1>:00.0 */
static int g_current = -1; /* the current context's device; -1: no context */

/* Reads FAKECUDA_PCI_BUSIDS and FAKECUDA_CURRENT_DEVICE. */
static void ReadDeviceEnv(void) {
  const char* ids = getenv("FAKECUDA_PCI_BUSIDS");
  if (ids != NULL && *ids != '\0') {
    int n = 0;
    while (*ids != '\0' && n < kMaxDevices) {
      size_t len = strcspn(ids, ",");
      snprintf(g_busids[n], sizeof g_busids[n], "%.*s", (int)(len < 31 ? len : 31), ids);
      ++n;
      ids += len;
      if (*ids == ',') ++ids;
    }
    g_devices = n;
  }
  const char* current = getenv("FAKECUDA_CURRENT_DEVICE");
  if (current != NULL && *current != '\0') g_current = atoi(current);
}

FAKECUDA_API void fakecuda_reset(void) {
  g_nranges = 0;
  g_init_result = 0;
  g_pointer_result = 0;
  g_devices = 1;
  g_initialised = 0;
  g_current = -1;
  memset(g_busids, 0, sizeof g_busids);
}

/* As cudaSetDevice(device); -1: no context current. */
FAKECUDA_API void fakecuda_set_current_device(int device) { g_current = device; }

FAKECUDA_API int fakecuda_declare(const void* base, size_t bytes, unsigned memory_type, int managed, int device) {
  if (g_nranges == kMaxRanges) return -1;
  struct Range r = {(uintptr_t)base, bytes, memory_type, managed, device, 0};
  g_ranges[g_nranges++] = r;
  return 0;
}

/* Device memory the CPU cannot touch (see above); NULL when out of ranges or memory. */
FAKECUDA_API void* fakecuda_alloc_device(size_t bytes, int device) {
  if (g_nranges == kMaxRanges || bytes == 0) return NULL;
  size_t len = (bytes + 4095) & ~(size_t)4095;
  void* p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return NULL;
  struct Range r = {(uintptr_t)p, bytes, 2, 0, device, 1};
  g_ranges[g_nranges++] = r;
  return p;
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
  ReadDeviceEnv();
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

FAKECUDA_API int cuCtxGetDevice(int* device) {
  if (!g_initialised) return 3;
  if (g_current < 0) return 201; /* CUDA_ERROR_INVALID_CONTEXT */
  *device = g_current;
  return 0;
}

FAKECUDA_API int cuDeviceGetPCIBusId(char* busid, int len, int device) {
  if (!g_initialised) return 3;
  if (device < 0 || device >= g_devices) return 101; /* CUDA_ERROR_INVALID_DEVICE */
  if (busid == NULL || len < 13) return 1;
  if (device < kMaxDevices && g_busids[device][0] != '\0')
    snprintf(busid, (size_t)len, "%s", g_busids[device]);
  else
    snprintf(busid, (size_t)len, "0000:%02x:00.0", (unsigned)(device + 1) & 0xffu);
  return 0;
}

static pthread_mutex_t g_copy_mu = PTHREAD_MUTEX_INITIALIZER;
static long g_copies;

/* The declared range holding ptr, or NULL. */
static struct Range* RangeOf(uintptr_t ptr) {
  for (int i = 0; i < g_nranges; ++i)
    if (ptr >= g_ranges[i].base && ptr - g_ranges[i].base < g_ranges[i].bytes) return &g_ranges[i];
  return NULL;
}

static void Protect(struct Range* r, int prot) {
  if (r != NULL && r->guarded) mprotect((void*)r->base, (r->bytes + 4095) & ~(size_t)4095, prot);
}

/* As the real cuMemcpy with unified addressing: host or device on either side. */
FAKECUDA_API int cuMemcpy(unsigned long long dst, unsigned long long src, size_t bytes) {
  if (!g_initialised) return 3;
  if (bytes == 0) return 0;
  struct Range* d = RangeOf((uintptr_t)dst);
  struct Range* s = RangeOf((uintptr_t)src);
  if ((d != NULL && dst - d->base + bytes > d->bytes) || (s != NULL && src - s->base + bytes > s->bytes))
    return 1; /* CUDA_ERROR_INVALID_VALUE: past the end of an allocation */
  pthread_mutex_lock(&g_copy_mu);
  Protect(d, PROT_READ | PROT_WRITE);
  Protect(s, PROT_READ | PROT_WRITE);
  memmove((void*)(uintptr_t)dst, (const void*)(uintptr_t)src, bytes);
  Protect(d, PROT_NONE);
  Protect(s, PROT_NONE);
  ++g_copies;
  pthread_mutex_unlock(&g_copy_mu);
  return 0;
}

/* How many cuMemcpy calls moved bytes (tests check the staging path ran). */
FAKECUDA_API long fakecuda_copies(void) { return g_copies; }

FAKECUDA_API int cuDevicePrimaryCtxRetain(void** context, int device) {
  if (!g_initialised) return 3;
  if (device < 0 || device >= g_devices) return 101;
  *context = (void*)(uintptr_t)(0x1000 + device);
  return 0;
}

FAKECUDA_API int cuCtxSetCurrent(void* context) {
  if (!g_initialised) return 3;
  /* Per process here, not per thread: enough for the tests, which use one device per rank. */
  g_current = context == NULL ? -1 : (int)((uintptr_t)context - 0x1000);
  return 0;
}

FAKECUDA_API int cuGetErrorString(int error, const char** text) {
  switch (error) {
    case 0: *text = "no error"; return 0;
    case 1: *text = "invalid argument"; return 0;
    case 3: *text = "initialization error"; return 0;
    case 100: *text = "no CUDA-capable device is detected"; return 0;
    case 101: *text = "invalid device ordinal"; return 0;
    case 201: *text = "invalid device context"; return 0;
    case 999: *text = "unknown error"; return 0;
    default: *text = NULL; return 1;
  }
}
