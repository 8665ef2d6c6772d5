// Device buffers through the public API: a build without CUDA refuses them with
// COLL_ERR_UNSUPPORTED and a sentence; a CUDA build refuses a call mixing device and host memory
// with a sentence, before any byte moves, and moves device-only calls; pinned and managed host
// memory work; the communicator keeps working. The "driver" is fakecuda (COLL_CUDA_LIB), which labels address ranges the ranks
// declare: no GPU needed.
#include <dlfcn.h>

#include <cstdint>
#include <string>
#include <vector>

#include "support/child_check.h"
#include "support/data.h"
#include "support/transport_test.h"

namespace colltest {
namespace {

constexpr unsigned kMemoryTypeHost = 1;    // CU_MEMORYTYPE_HOST
constexpr unsigned kMemoryTypeDevice = 2;  // CU_MEMORYTYPE_DEVICE

// Declares [base, base + bytes) to fakecuda as the given kind; false if fakecuda is missing.
bool Declare(const void* base, size_t bytes, unsigned memory_type, int managed) {
  void* lib = dlopen(COLL_TEST_FAKECUDA_LIB, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return false;
  auto declare =
      reinterpret_cast<int (*)(const void*, size_t, unsigned, int, int)>(dlsym(lib, "fakecuda_declare"));
  return declare != nullptr && declare(base, bytes, memory_type, managed, 0) == 0;
}

#if defined(COLL_HAVE_CUDA)
// A CUDA build moves device buffers (device_buffers_test); mixing them with host memory is refused.
int RunRank(coll_comm_t comm, int rank, int nranks) {
  // Stand-ins: only the addresses matter to the driver; the CPU may touch pinned and managed.
  std::vector<int32_t> device(1024), pinned(1024), managed(1024 * 8), host(1024);
  CCHECK(Declare(device.data(), device.size() * 4, kMemoryTypeDevice, 0)) << "fakecuda: " << dlerror();
  CCHECK(Declare(pinned.data(), pinned.size() * 4, kMemoryTypeHost, 0));
  CCHECK(Declare(managed.data(), managed.size() * 4, kMemoryTypeDevice, 1));
  const std::string mixed = ": pass every buffer of a call in device memory, or every one in host memory";
  CCHECK_STATUS(COLL_ERR_UNSUPPORTED, coll_allreduce(host.data(), device.data(), 4, COLL_INT32, COLL_SUM, comm), comm);
  CCHECK_EQ(std::string(coll_comm_last_error(comm)),
            "allreduce on rank " + std::to_string(rank) +
                ": sendbuf is host memory but recvbuf is CUDA device memory (device 0)" + mixed);
  CCHECK_STATUS(COLL_ERR_UNSUPPORTED, coll_allgather(device.data(), pinned.data(), 4, COLL_INT32, comm), comm);
  CCHECK_EQ(std::string(coll_comm_last_error(comm)),
            "allgather on rank " + std::to_string(rank) +
                ": recvbuf is pinned host memory but sendbuf is CUDA device memory (device 0)" + mixed);
  // Device to device works (this "device" memory is host memory fakecuda copies with memcpy).
  FillBytes(9, 0, device.size() * 4, device.data());
  CCHECK_OK(coll_broadcast(device.data(), device.data(), device.size(), COLL_INT32, 0, comm), comm);
  const std::string why = CheckBytes(9, 0, device.size() * 4, device.data());
  CCHECK(why.empty()) << "device broadcast: " << why;
  CCHECK_OK(coll_allreduce(device.data(), device.data(), 0, COLL_INT32, COLL_SUM, comm), comm);

  ReduceCase c{COLL_INT32, COLL_SUM, 5, nranks};
  FillInput(c, rank, 0, pinned.size(), pinned.data());
  CCHECK_OK(coll_allreduce(pinned.data(), managed.data(), pinned.size(), COLL_INT32, COLL_SUM, comm), comm);
  const std::string reduced = CheckReduced(c, 0, pinned.size(), managed.data());
  CCHECK(reduced.empty()) << "pinned -> managed allreduce: " << reduced;
  CCHECK_OK(coll_barrier(comm), comm);
  return 0;
}
#else
std::string DeviceSentence(const char* op, int rank, const char* buf) {
  return std::string(op) + " on rank " + std::to_string(rank) + ": " + buf +
         " is CUDA device memory (device 0), but this libcollective was built without CUDA (COLL_WITH_CUDA=OFF): "
         "pass host memory";
}

int RunRank(coll_comm_t comm, int rank, int nranks) {
  // Stand-ins: only the addresses matter to the driver; the CPU may touch pinned and managed.
  std::vector<int32_t> device(1024), pinned(1024), managed(1024 * 8), host(1024);
  CCHECK(Declare(device.data(), device.size() * 4, kMemoryTypeDevice, 0)) << "fakecuda: " << dlerror();
  CCHECK(Declare(pinned.data(), pinned.size() * 4, kMemoryTypeHost, 0));
  CCHECK(Declare(managed.data(), managed.size() * 4, kMemoryTypeDevice, 1));

  CCHECK_STATUS(COLL_ERR_UNSUPPORTED, coll_allreduce(host.data(), device.data(), 4, COLL_INT32, COLL_SUM, comm), comm);
  CCHECK_EQ(std::string(coll_comm_last_error(comm)), DeviceSentence("allreduce", rank, "recvbuf"));
  CCHECK_STATUS(COLL_ERR_UNSUPPORTED, coll_allgather(device.data(), host.data(), 4, COLL_INT32, comm), comm);
  CCHECK_EQ(std::string(coll_comm_last_error(comm)), DeviceSentence("allgather", rank, "sendbuf"));
  CCHECK_STATUS(COLL_ERR_UNSUPPORTED, coll_broadcast(device.data(), device.data(), 4, COLL_INT32, 0, comm), comm);
  CCHECK_EQ(std::string(coll_comm_last_error(comm)), DeviceSentence("broadcast", rank, rank == 0 ? "sendbuf" : "recvbuf"));
  CCHECK_STATUS(COLL_ERR_UNSUPPORTED,
                coll_reduce_scatter(device.data(), device.data(), 4, COLL_INT32, COLL_SUM, comm), comm);
  CCHECK_EQ(std::string(coll_comm_last_error(comm)), DeviceSentence("reduce_scatter", rank, "sendbuf"));
  // count 0 asks nothing about the buffers.
  CCHECK_OK(coll_allreduce(device.data(), device.data(), 0, COLL_INT32, COLL_SUM, comm), comm);

  // Pinned in, managed out: both host-readable, the collective runs on the CPU.
  ReduceCase c{COLL_INT32, COLL_SUM, 5, nranks};
  FillInput(c, rank, 0, pinned.size(), pinned.data());
  CCHECK_OK(coll_allreduce(pinned.data(), managed.data(), pinned.size(), COLL_INT32, COLL_SUM, comm), comm);
  const std::string why = CheckReduced(c, 0, pinned.size(), managed.data());
  CCHECK(why.empty()) << "pinned -> managed allreduce: " << why;
  CCHECK_OK(coll_allgather(pinned.data(), managed.data(), pinned.size(), COLL_INT32, comm), comm);
  CCHECK_OK(coll_barrier(comm), comm);
  return 0;
}

#endif

// Loading the driver (a dlopen search of ~0.2 ms even when no driver exists) belongs to
// coll_comm_init, not to the first collective: the first row of a benchmark must not pay it.
int DriverAlreadyLoaded(coll_comm_t comm, int, int) {
  void* lib = dlopen(COLL_TEST_FAKECUDA_LIB, RTLD_NOW | RTLD_LOCAL);
  CCHECK(lib != nullptr) << "fakecuda: " << dlerror();
  auto initialised = reinterpret_cast<int (*)()>(dlsym(lib, "fakecuda_initialised"));
  CCHECK(initialised != nullptr);
  CCHECK_EQ(initialised(), 1) << "coll_comm_init returned before loading the CUDA driver";
  std::vector<int32_t> x(4, 1);
  CCHECK_OK(coll_allreduce(x.data(), x.data(), x.size(), COLL_INT32, COLL_SUM, comm), comm);
  return 0;
}

class CudaBuffersTest : public TransportRanksTest {};

TEST_P(CudaBuffersTest, TheDriverIsLoadedByInitNotByTheFirstCollective) {
  COLL_REQUIRE_TRANSPORT(transport());
  RankOptions options = Options();
  options.env.push_back({"COLL_CUDA_LIB", COLL_TEST_FAKECUDA_LIB});
  GroupResult result = RunCommRanks(options, DriverAlreadyLoaded);
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

TEST_P(CudaBuffersTest, DeviceMemoryMixedWithHostIsRefusedWithASentenceAndPinnedAndManagedWork) {
  COLL_REQUIRE_TRANSPORT(transport());
  RankOptions options = Options();
  options.env.push_back({"COLL_CUDA_LIB", COLL_TEST_FAKECUDA_LIB});
  GroupResult result = RunCommRanks(options, RunRank);
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

COLL_INSTANTIATE_TRANSPORTS(CudaBuffersTest, 1, 3);

}  // namespace
}  // namespace colltest
