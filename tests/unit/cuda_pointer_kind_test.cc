// Pointer classification and the mixing rules (src/cuda/pointer_kind.h) without a GPU: the
// real loader against a missing library, a library that is not a driver, and fakecuda (a
// stand-in libcuda.so.1 whose address ranges tests declare). Exact status and sentence for
// every rejection. Single-threaded (fakecuda's state is global).
#include "cuda/pointer_kind.h"

#include <dlfcn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include <cstddef>
#include <string>

#include <gtest/gtest.h>

#include "cuda/device_memory.h"
#include "cuda/driver.h"

namespace coll {
namespace cuda {
namespace {

// fakecuda's control functions, found in the same loaded copy libcollective's loader binds.
struct Fake {
  void (*reset)();
  int (*declare)(const void*, size_t, unsigned, int, int);
  void (*set_results)(int, int, int);
};

bool LoadFake(Fake* fake) {
  void* lib = dlopen(COLL_TEST_FAKECUDA_LIB, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return false;
  fake->reset = reinterpret_cast<void (*)()>(dlsym(lib, "fakecuda_reset"));
  fake->declare = reinterpret_cast<int (*)(const void*, size_t, unsigned, int, int)>(dlsym(lib, "fakecuda_declare"));
  fake->set_results = reinterpret_cast<void (*)(int, int, int)>(dlsym(lib, "fakecuda_set_results"));
  return fake->reset != nullptr && fake->declare != nullptr && fake->set_results != nullptr;
}

// Stand-in buffers: only their addresses matter (the fake "driver" never touches them).
alignas(64) char g_host[256];
alignas(64) char g_pinned[256];
alignas(64) char g_managed[256];
alignas(64) char g_dev0[256];
alignas(64) char g_dev0b[256];
alignas(64) char g_dev1[256];

class FakeDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(LoadFake(&fake_)) << "cannot load " << COLL_TEST_FAKECUDA_LIB << ": " << dlerror();
    fake_.reset();
    fake_.declare(g_pinned, sizeof g_pinned, kMemoryTypeHost, 0, 0);
    fake_.declare(g_managed, sizeof g_managed, kMemoryTypeDevice, 1, 0);
    fake_.declare(g_dev0, sizeof g_dev0, kMemoryTypeDevice, 0, 0);
    fake_.declare(g_dev0b, sizeof g_dev0b, kMemoryTypeDevice, 0, 0);
    fake_.declare(g_dev1, sizeof g_dev1, kMemoryTypeDevice, 0, 1);
    driver_ = LoadCudaDriver(COLL_TEST_FAKECUDA_LIB);
    ASSERT_TRUE(driver_.usable) << driver_.why;
  }

  Status Check(DeviceSupport support, const void* send, const void* recv, bool* any_device) {
    const BufferArg args[] = {{"sendbuf", send}, {"recvbuf", recv}};
    return CheckBufferKinds(driver_, support, args, 2, any_device);
  }

  Fake fake_{};
  CudaDriver driver_;
};

TEST(CudaDriverLoadTest, MissingLibraryIsNotUsableAndSaysWhy) {
  const CudaDriver d = LoadCudaDriver("/nonexistent/libcuda.so.1");
  EXPECT_FALSE(d.usable);
  EXPECT_NE(d.why.find("/nonexistent/libcuda.so.1"), std::string::npos) << d.why;
}

TEST(CudaDriverLoadTest, LibraryWithoutDriverSymbolsIsNotUsable) {
  const CudaDriver d = LoadCudaDriver("libc.so.6");
  EXPECT_FALSE(d.usable);
  EXPECT_EQ(d.why, "libc.so.6 has no symbol cuInit: it is not a CUDA driver library");
}

// This machine's own libcuda.so.1, if any: with no driver every buffer is host memory and
// every call passes the kind check, whatever the build.
TEST(CudaDriverLoadTest, WithoutADriverEveryBufferIsHost) {
  const CudaDriver d = LoadCudaDriver("libcuda.so.1");
  if (d.usable) GTEST_SKIP() << "this machine has a usable CUDA driver (" << d.devices << " device(s))";
  EXPECT_FALSE(d.why.empty());
  PointerInfo info;
  ASSERT_TRUE(ClassifyPointer(d, "sendbuf", g_dev0, &info).ok());
  EXPECT_EQ(info.kind, PointerKind::kHost);
  const BufferArg args[] = {{"sendbuf", g_dev0}, {"recvbuf", g_host}};
  bool any_device = true;
  EXPECT_TRUE(CheckBufferKinds(d, DeviceSupport::kNotBuilt, args, 2, &any_device).ok());
  EXPECT_FALSE(any_device);
}

TEST_F(FakeDriverTest, ReportsVersionAndDevices) {
  EXPECT_EQ(driver_.version, 13000);
  EXPECT_EQ(driver_.devices, 1);
}

TEST_F(FakeDriverTest, FailedInitIsNotUsableAndSaysWhy) {
  fake_.set_results(100, 0, 1);
  const CudaDriver d = LoadCudaDriver(COLL_TEST_FAKECUDA_LIB);
  EXPECT_FALSE(d.usable);
  EXPECT_EQ(d.why, "cuInit failed: no CUDA-capable device is detected (error 100)");
}

TEST_F(FakeDriverTest, NoDeviceIsNotUsable) {
  fake_.set_results(0, 0, 0);
  const CudaDriver d = LoadCudaDriver(COLL_TEST_FAKECUDA_LIB);
  EXPECT_FALSE(d.usable);
  EXPECT_EQ(d.why, "the driver reports no CUDA device");
}

TEST_F(FakeDriverTest, ClassifiesEachKind) {
  struct {
    const void* ptr;
    PointerKind kind;
    int device;
  } cases[] = {{g_host, PointerKind::kHost, -1},         {g_pinned + 10, PointerKind::kPinnedHost, 0},
               {g_managed, PointerKind::kManaged, 0},    {g_dev0 + 255, PointerKind::kDevice, 0},
               {g_dev1, PointerKind::kDevice, 1},        {g_host + 255, PointerKind::kHost, -1}};
  for (const auto& c : cases) {
    PointerInfo info;
    ASSERT_TRUE(ClassifyPointer(driver_, "buf", c.ptr, &info).ok());
    EXPECT_EQ(info.kind, c.kind) << PointerKindName(info.kind);
    EXPECT_EQ(info.device, c.device);
  }
}

TEST_F(FakeDriverTest, DriverErrorIsSystemErrorNamingTheBuffer) {
  fake_.set_results(0, 999, 1);
  PointerInfo info;
  const Status st = ClassifyPointer(driver_, "recvbuf", g_host, &info);
  EXPECT_EQ(st.code(), COLL_ERR_SYSTEM);
  EXPECT_EQ(st.message(), "cannot tell what memory recvbuf is: cuPointerGetAttributes failed: unknown error (error 999)");
}

TEST_F(FakeDriverTest, HostPinnedAndManagedMixFreely) {
  bool any_device = true;
  for (DeviceSupport s : {DeviceSupport::kNotBuilt, DeviceSupport::kHostOnly, DeviceSupport::kDevice}) {
    EXPECT_TRUE(Check(s, g_host, g_pinned, &any_device).ok());
    EXPECT_TRUE(Check(s, g_managed, g_host, &any_device).ok());
    EXPECT_TRUE(Check(s, g_pinned, g_managed, &any_device).ok());
    EXPECT_FALSE(any_device);
  }
}

TEST_F(FakeDriverTest, DeviceBufferOnABuildWithoutCuda) {
  bool any_device = false;
  const Status st = Check(DeviceSupport::kNotBuilt, g_host, g_dev0, &any_device);
  EXPECT_EQ(st.code(), COLL_ERR_UNSUPPORTED);
  EXPECT_EQ(st.message(),
            "recvbuf is CUDA device memory (device 0), but this libcollective was built without CUDA "
            "(COLL_WITH_CUDA=OFF): pass host memory");
}

TEST_F(FakeDriverTest, DeviceBufferWithoutADeviceDataPath) {
  bool any_device = false;
  const Status st = Check(DeviceSupport::kHostOnly, g_dev1, g_dev1, &any_device);
  EXPECT_EQ(st.code(), COLL_ERR_UNSUPPORTED);
  EXPECT_EQ(st.message(),
            "sendbuf is CUDA device memory (device 1), which this libcollective cannot move yet: pass host or "
            "pinned host memory (cudaMallocHost)");
}

TEST_F(FakeDriverTest, DeviceNextToHostIsRejected) {
  bool any_device = false;
  Status st = Check(DeviceSupport::kDevice, g_dev0, g_pinned, &any_device);
  EXPECT_EQ(st.code(), COLL_ERR_UNSUPPORTED);
  EXPECT_EQ(st.message(),
            "recvbuf is pinned host memory but sendbuf is CUDA device memory (device 0): pass every buffer of a "
            "call in device memory, or every one in host memory");
  st = Check(DeviceSupport::kDevice, g_managed, g_dev0, &any_device);
  EXPECT_EQ(st.code(), COLL_ERR_UNSUPPORTED);
  EXPECT_EQ(st.message(),
            "sendbuf is CUDA managed memory but recvbuf is CUDA device memory (device 0): pass every buffer of a "
            "call in device memory, or every one in host memory");
}

TEST_F(FakeDriverTest, DevicesMustMatch) {
  bool any_device = false;
  const Status st = Check(DeviceSupport::kDevice, g_dev0, g_dev1, &any_device);
  EXPECT_EQ(st.code(), COLL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(st.message(),
            "sendbuf is CUDA device memory (device 0) but recvbuf is CUDA device memory (device 1): every buffer "
            "of a call must be on the same device");
}

TEST_F(FakeDriverTest, DeviceBuffersOnOneDevicePassWhereSupported) {
  bool any_device = false;
  EXPECT_TRUE(Check(DeviceSupport::kDevice, g_dev0, g_dev0b, &any_device).ok());
  EXPECT_TRUE(any_device);
  EXPECT_TRUE(Check(DeviceSupport::kDevice, g_dev0, nullptr, &any_device).ok());  // NULL is skipped
  EXPECT_TRUE(any_device);
}

// The process's driver (COLL_CUDA_LIB = fakecuda here) is usable in the process that loaded it
// and not in a child forked afterwards, where every buffer is host memory.
TEST_F(FakeDriverTest, ForkedChildTreatsEveryBufferAsHost) {
  ASSERT_EQ(setenv("COLL_CUDA_LIB", COLL_TEST_FAKECUDA_LIB, 1), 0);
  const CudaDriver& parent = CudaDriverOnce();
  ASSERT_TRUE(parent.usable) << parent.why;
  PointerInfo info;
  ASSERT_TRUE(ClassifyPointer(parent, "sendbuf", g_dev0, &info).ok());
  EXPECT_EQ(info.kind, PointerKind::kDevice);
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const CudaDriver& child = CudaDriverOnce();
    PointerInfo in_child;
    const bool host = ClassifyPointer(child, "sendbuf", g_dev0, &in_child).ok() && in_child.kind == PointerKind::kHost;
    _exit(!child.usable && child.why == "this process was forked after the CUDA driver was loaded" && host ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the forked child still used the driver";
  EXPECT_TRUE(CudaDriverOnce().usable);
}

// The GPU a communicator serves: the current context's device and its PCI id, lower case.
TEST_F(FakeDriverTest, CurrentContextGpuIsTheCurrentDeviceWithItsPciId) {
  auto set_current = reinterpret_cast<void (*)(int)>(
      dlsym(dlopen(COLL_TEST_FAKECUDA_LIB, RTLD_NOW | RTLD_LOCAL), "fakecuda_set_current_device"));
  ASSERT_NE(set_current, nullptr);
  CurrentGpu none = CurrentContextGpu(driver_);
  EXPECT_EQ(none.ordinal, -1);
  EXPECT_EQ(none.pci_busid, "");
  EXPECT_EQ(none.why, "no CUDA context is current on the thread that created the communicator");
  fake_.set_results(0, 0, 2);
  set_current(1);
  CurrentGpu gpu = CurrentContextGpu(driver_);
  EXPECT_EQ(gpu.ordinal, 1);
  EXPECT_EQ(gpu.pci_busid, "0000:02:00.0");
  set_current(5);  // a device the driver does not have
  CurrentGpu bad = CurrentContextGpu(driver_);
  EXPECT_EQ(bad.ordinal, -1);
  EXPECT_EQ(bad.why, "cuDeviceGetPCIBusId(device 5) failed: invalid device ordinal (error 101)");
  set_current(-1);
}

TEST(CurrentGpuTest, NoDriverNoGpu) {
  CudaDriver missing = LoadCudaDriver("/nonexistent/libcuda.so.1");
  CurrentGpu gpu = CurrentContextGpu(missing);
  EXPECT_EQ(gpu.ordinal, -1);
  EXPECT_EQ(gpu.why.rfind("no CUDA driver in use (/nonexistent/libcuda.so.1: cannot open shared object file", 0), 0u)
      << gpu.why;
}

// The staging data path needs cuMemcpy and the primary-context calls; a driver without them
// (or no driver) refuses device buffers with a sentence naming what is missing.
TEST_F(FakeDriverTest, DataPathNeedsTheCopyAndContextEntryPoints) {
  EXPECT_TRUE(CheckDataPath(driver_).ok());
  CudaDriver lacking = driver_;
  lacking.mem_copy = nullptr;
  Status st = CheckDataPath(lacking);
  EXPECT_EQ(st.code(), COLL_ERR_UNSUPPORTED);
  EXPECT_EQ(st.message(), std::string(COLL_TEST_FAKECUDA_LIB) + " has no cuMemcpy: device buffers cannot be moved with it");
  lacking = driver_;
  lacking.ctx_set_current = nullptr;
  EXPECT_EQ(CheckDataPath(lacking).message(),
            std::string(COLL_TEST_FAKECUDA_LIB) + " has no cuCtxSetCurrent: device buffers cannot be moved with it");
  CudaDriver missing = LoadCudaDriver("/nonexistent/libcuda.so.1");
  EXPECT_EQ(CheckDataPath(missing).code(), COLL_ERR_UNSUPPORTED);
}

// A copy the driver refuses is COLL_ERR_SYSTEM with the driver's words.
TEST_F(FakeDriverTest, ACopyTheDriverRefusesSaysWhy) {
  auto alloc = reinterpret_cast<void* (*)(size_t, int)>(
      dlsym(dlopen(COLL_TEST_FAKECUDA_LIB, RTLD_NOW | RTLD_LOCAL), "fakecuda_alloc_device"));
  ASSERT_NE(alloc, nullptr);
  char* dev = static_cast<char*>(alloc(100, 0));
  ASSERT_NE(dev, nullptr);
  char host[128] = {1};
  EXPECT_TRUE(Copy(driver_, dev, host, 100).ok());
  char back[128] = {0};
  EXPECT_TRUE(Copy(driver_, back, dev, 100).ok());
  EXPECT_EQ(back[0], 1);
  Status st = Copy(driver_, dev + 50, host, 51);  // one byte past the allocation
  EXPECT_EQ(st.code(), COLL_ERR_SYSTEM);
  EXPECT_EQ(st.message(), "cuMemcpy of 51 bytes failed: invalid argument (error 1)");
  EXPECT_TRUE(BindDevice(driver_, 0).ok());
}

}  // namespace
}  // namespace cuda
}  // namespace coll
