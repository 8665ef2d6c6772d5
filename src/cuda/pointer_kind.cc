// Pointer classification through cuPointerGetAttributes and the mixing rules of
// pointer_kind.h. Stateless; thread-safe.
#include "cuda/pointer_kind.h"

#include <cstdint>

namespace coll {
namespace cuda {
namespace {

struct Classified {
  const BufferArg* arg;
  PointerInfo info;
};

std::string Describe(const Classified& c) {
  if (c.info.kind == PointerKind::kDevice)
    return StrFormat("%s is %s (device %d)", c.arg->name, PointerKindName(c.info.kind), c.info.device);
  return StrFormat("%s is %s", c.arg->name, PointerKindName(c.info.kind));
}

Status CheckDeviceArgs(DeviceSupport support, const Classified* all, size_t n, const Classified& dev) {
  if (support == DeviceSupport::kNotBuilt)
    return Unsupported("%s, but this libcollective was built without CUDA (COLL_WITH_CUDA=OFF): pass host memory",
                       Describe(dev).c_str());
  if (support == DeviceSupport::kHostOnly)
    return Unsupported("%s, which this libcollective cannot move yet: pass host or pinned host memory "
                       "(cudaMallocHost)",
                       Describe(dev).c_str());
  for (size_t i = 0; i < n; ++i) {
    if (all[i].info.kind != PointerKind::kDevice)
      return Unsupported("%s but %s: pass every buffer of a call in device memory, or every one in host memory",
                         Describe(all[i]).c_str(), Describe(dev).c_str());
    if (all[i].info.device != dev.info.device)
      return InvalidArgument("%s but %s: every buffer of a call must be on the same device", Describe(dev).c_str(),
                             Describe(all[i]).c_str());
  }
  return Status::OK();
}

}  // namespace

const char* PointerKindName(PointerKind kind) {
  switch (kind) {
    case PointerKind::kHost: return "host memory";
    case PointerKind::kPinnedHost: return "pinned host memory";
    case PointerKind::kDevice: return "CUDA device memory";
    case PointerKind::kManaged: return "CUDA managed memory";
  }
  return "memory of an unknown kind";
}

Status ClassifyPointer(const CudaDriver& driver, const char* name, const void* ptr, PointerInfo* out) {
  *out = PointerInfo();
  if (!driver.usable || ptr == nullptr) return Status::OK();
  // Zeroed 8-byte cells: the driver writes 4 bytes (or a 1-byte bool for IS_MANAGED on some
  // versions) into the low end; unknown pointers leave them zero and still succeed.
  int attributes[] = {kPointerAttributeMemoryType, kPointerAttributeIsManaged, kPointerAttributeDeviceOrdinal};
  uint64_t cells[3] = {0, 0, 0};
  void* data[] = {&cells[0], &cells[1], &cells[2]};
  const int rc = driver.pointer_get_attributes(3, attributes, data, reinterpret_cast<uintptr_t>(ptr));
  if (rc != kCudaSuccess)
    return SystemError("cannot tell what memory %s is: cuPointerGetAttributes failed: %s", name,
                       driver.ErrorText(rc).c_str());
  const uint32_t type = static_cast<uint32_t>(cells[0]);
  const bool managed = static_cast<uint32_t>(cells[1]) != 0;
  const int device = static_cast<int>(static_cast<uint32_t>(cells[2]));
  if (managed) {
    *out = PointerInfo{PointerKind::kManaged, device};
  } else if (type == kMemoryTypeHost) {
    *out = PointerInfo{PointerKind::kPinnedHost, device};
  } else if (type != 0) {  // device, or array / unified: nothing the CPU may read directly
    *out = PointerInfo{PointerKind::kDevice, device};
  }
  return Status::OK();
}

DeviceSupport BuildDeviceSupport() {
#if defined(COLL_HAVE_CUDA)
  return DeviceSupport::kDevice;
#else
  return DeviceSupport::kNotBuilt;
#endif
}

Status CheckBufferKinds(const CudaDriver& driver, DeviceSupport support, const BufferArg* args, size_t nargs,
                        bool* any_device, int* device) {
  *any_device = false;
  if (device != nullptr) *device = -1;
  if (!driver.usable) return Status::OK();  // no driver: no device memory can exist
  constexpr size_t kMaxArgs = 4;
  if (nargs > kMaxArgs) return Internal("CheckBufferKinds takes at most %zu buffers, got %zu", kMaxArgs, nargs);
  Classified all[kMaxArgs];
  size_t n = 0;
  const Classified* first_device = nullptr;
  for (size_t i = 0; i < nargs; ++i) {
    if (args[i].ptr == nullptr) continue;
    all[n].arg = &args[i];
    COLL_RETURN_IF_ERROR(ClassifyPointer(driver, args[i].name, args[i].ptr, &all[n].info));
    if (all[n].info.kind == PointerKind::kDevice && first_device == nullptr) first_device = &all[n];
    ++n;
  }
  if (first_device == nullptr) return Status::OK();
  COLL_RETURN_IF_ERROR(CheckDeviceArgs(support, all, n, *first_device));
  *any_device = true;
  if (device != nullptr) *device = first_device->info.device;
  return Status::OK();
}

}  // namespace cuda
}  // namespace coll
