// Pointer classification through the real CUDA driver (src/cuda/pointer_kind.h): what
// cudaMalloc, cudaMallocHost, cudaHostRegister, cudaMallocManaged and malloc give, and the
// exact sentence a device buffer gets from this build. Needs a CUDA device; exits 77
// ("skipped: no CUDA device") without one.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "cuda/driver.h"
#include "cuda/pointer_kind.h"
#include "gpu/gpu_check.h"

namespace {

using coll::cuda::PointerInfo;
using coll::cuda::PointerKind;
using coll::cuda::PointerKindName;

constexpr const char* kProgram = "pointer_kind_gpu_test";

void ExpectKind(const coll::cuda::CudaDriver& d, const char* what, const void* p, PointerKind kind, int device,
                colltest::Checker* check) {
  PointerInfo info;
  const coll::Status st = coll::cuda::ClassifyPointer(d, "buf", p, &info);
  check->expect(st.ok(), std::string(what) + ": " + st.message());
  check->expect(info.kind == kind, std::string(what) + " is " + PointerKindName(info.kind) + ", expected " +
                                       PointerKindName(kind));
  if (kind == PointerKind::kDevice)  // the ordinal of pinned / managed memory is not pinned down here
    check->expect(info.device == device, std::string(what) + " on device " + std::to_string(info.device));
}

}  // namespace

int main() {
  std::string about;
  if (!colltest::CudaDeviceAvailable(&about)) return colltest::Skip(kProgram, about);
  std::printf("%s: %s\n", kProgram, about.c_str());
  colltest::Checker check(kProgram);
  const coll::cuda::CudaDriver& d = coll::cuda::CudaDriverOnce();
  check.expect(d.usable, "the CUDA driver is not usable: " + d.why);
  if (!d.usable) return check.finish();

  void* dev = nullptr;
  void* pinned = nullptr;
  void* managed = nullptr;
  void* registered = std::malloc(1 << 16);
  void* pageable = std::malloc(1 << 16);
  int on_stack = 0;
  const bool ok = check.cuda(cudaSetDevice(0), "cudaSetDevice") && check.cuda(cudaMalloc(&dev, 1 << 20), "cudaMalloc") &&
                  check.cuda(cudaMallocHost(&pinned, 1 << 16), "cudaMallocHost") &&
                  check.cuda(cudaMallocManaged(&managed, 1 << 16), "cudaMallocManaged") &&
                  check.cuda(cudaHostRegister(registered, 1 << 16, cudaHostRegisterDefault), "cudaHostRegister");
  if (ok) {
    ExpectKind(d, "cudaMalloc", dev, PointerKind::kDevice, 0, &check);
    ExpectKind(d, "cudaMalloc + 4096", static_cast<char*>(dev) + 4096, PointerKind::kDevice, 0, &check);
    ExpectKind(d, "cudaMallocHost", pinned, PointerKind::kPinnedHost, 0, &check);
    ExpectKind(d, "cudaHostRegister", registered, PointerKind::kPinnedHost, 0, &check);
    ExpectKind(d, "cudaMallocManaged", managed, PointerKind::kManaged, 0, &check);
    ExpectKind(d, "malloc", pageable, PointerKind::kHost, -1, &check);
    ExpectKind(d, "a stack variable", &on_stack, PointerKind::kHost, -1, &check);

    const coll::cuda::BufferArg args[] = {{"sendbuf", pageable}, {"recvbuf", dev}};
    bool any_device = false;
    const coll::Status st =
        coll::cuda::CheckBufferKinds(d, coll::cuda::BuildDeviceSupport(), args, 2, &any_device);
    check.expect(st.code() == COLL_ERR_UNSUPPORTED, "host + device buffers: status " + std::to_string(st.code()));
    std::printf("%s: host + device buffers give: %s\n", kProgram, st.message().c_str());
  }
  cudaHostUnregister(registered);
  cudaFree(dev);
  cudaFreeHost(pinned);
  cudaFree(managed);
  std::free(registered);
  std::free(pageable);
  return check.finish();
}
