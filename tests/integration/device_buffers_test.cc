// Every collective on CUDA device buffers, without a GPU: fakecuda (COLL_CUDA_LIB) hands out
// "device" memory the CPU cannot touch (pages mapped with no access, opened only inside its
// cuMemcpy), so the staging data path must move every byte through the driver. Each case runs
// the collective on host buffers and on device buffers with the same inputs and compares the
// results bit for bit (and with the exact expected reduction), for every dtype x op, in and out
// of place, on every transport. Builds without CUDA refuse device buffers (cuda_buffers_test).
// COLL_TEST_CUDA_LIB=libcuda.so.1 runs the same cases on a real GPU (tests/gpu/run).
#include <dlfcn.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "support/child_check.h"
#include "support/data.h"
#include "support/transport_test.h"

namespace colltest {
namespace {

// The driver the test allocates and copies device memory with: fakecuda (whose entry points
// come from the copy libcollective loaded: same path, same handle), or the real libcuda.so.1
// when COLL_TEST_CUDA_LIB names it (tests/gpu/run on a GPU machine): the same cases then run
// on real device memory through the real driver.
struct Fake {
  void* (*alloc)(size_t, int) = nullptr;
  int (*copy)(unsigned long long, unsigned long long, size_t) = nullptr;
  long (*copies)() = nullptr;  // fakecuda only
};

std::string DriverLibrary() {
  const char* real = std::getenv("COLL_TEST_CUDA_LIB");
  return real != nullptr && *real != '\0' ? real : COLL_TEST_FAKECUDA_LIB;
}

// The real driver: device 0's primary context current on this thread, cuMemAlloc.
int (*g_mem_alloc)(unsigned long long*, size_t) = nullptr;
void* RealAlloc(size_t bytes, int) {
  unsigned long long ptr = 0;
  return g_mem_alloc(&ptr, bytes) == 0 ? reinterpret_cast<void*>(static_cast<uintptr_t>(ptr)) : nullptr;
}

bool LoadFake(Fake* f) {
  void* lib = dlopen(DriverLibrary().c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return false;
  f->copy = reinterpret_cast<int (*)(unsigned long long, unsigned long long, size_t)>(dlsym(lib, "cuMemcpy"));
  f->alloc = reinterpret_cast<void* (*)(size_t, int)>(dlsym(lib, "fakecuda_alloc_device"));
  f->copies = reinterpret_cast<long (*)()>(dlsym(lib, "fakecuda_copies"));
  if (f->alloc == nullptr) {  // a real driver
    auto init = reinterpret_cast<int (*)(unsigned)>(dlsym(lib, "cuInit"));
    auto retain = reinterpret_cast<int (*)(void**, int)>(dlsym(lib, "cuDevicePrimaryCtxRetain"));
    auto set_current = reinterpret_cast<int (*)(void*)>(dlsym(lib, "cuCtxSetCurrent"));
    g_mem_alloc = reinterpret_cast<int (*)(unsigned long long*, size_t)>(dlsym(lib, "cuMemAlloc_v2"));
    void* context = nullptr;
    if (init == nullptr || retain == nullptr || set_current == nullptr || g_mem_alloc == nullptr || init(0) != 0 ||
        retain(&context, 0) != 0 || set_current(context) != 0)
      return false;
    f->alloc = RealAlloc;
  }
  return f->alloc != nullptr && f->copy != nullptr;
}

enum class Coll { kAllreduce, kReduceScatter, kAllgather, kBroadcast, kReduce };
const char* CollName(Coll c) {
  switch (c) {
    case Coll::kAllreduce: return "allreduce";
    case Coll::kReduceScatter: return "reduce_scatter";
    case Coll::kAllgather: return "allgather";
    case Coll::kBroadcast: return "broadcast";
    case Coll::kReduce: return "reduce";
  }
  return "?";
}

// One rank's view of a case: its input bytes, the send/recv sizes, where in place puts them.
struct Shape {
  size_t send_bytes, recv_bytes, send_offset_in_recv;  // in place: sendbuf = recvbuf + offset
  bool in_place_is_recv_in_send = false;                // reduce_scatter: recvbuf = sendbuf + offset
};

Shape ShapeOf(Coll c, size_t count, size_t es, int rank, int nranks) {
  const size_t b = count * es, n = static_cast<size_t>(nranks), r = static_cast<size_t>(rank);
  switch (c) {
    case Coll::kReduceScatter: return Shape{b * n, b, r * b, true};
    case Coll::kAllgather: return Shape{b, b * n, r * b};
    default: return Shape{b, b, 0};
  }
}

coll_status_t Call(Coll c, const void* send, void* recv, size_t count, coll_dtype_t dtype, coll_op_t op, int nranks,
                   coll_comm_t comm) {
  switch (c) {
    case Coll::kAllreduce: return coll_allreduce(send, recv, count, dtype, op, comm);
    case Coll::kReduceScatter: return coll_reduce_scatter(send, recv, count, dtype, op, comm);
    case Coll::kAllgather: return coll_allgather(send, recv, count, dtype, comm);
    case Coll::kBroadcast: return coll_broadcast(send, recv, count, dtype, nranks - 1, comm);
    case Coll::kReduce: return coll_reduce(send, recv, count, dtype, op, 0, comm);
  }
  return COLL_ERR_INTERNAL;
}

struct Device {
  Fake fake;
  char* a = nullptr;  // two device buffers of `bytes` each
  char* b = nullptr;
  size_t bytes = 0;
};

// Runs case (c, dtype, op, count, in_place) on host buffers, then on device buffers with the
// same input, and compares every byte of the results.
int RunCase(coll_comm_t comm, int rank, int nranks, Device& dev, Coll c, coll_dtype_t dtype, coll_op_t op,
            size_t count, bool in_place) {
  const size_t es = ElementSize(dtype);
  const Shape s = ShapeOf(c, count, es, rank, nranks);
  const size_t total = std::max(s.send_bytes, s.recv_bytes);
  CCHECK(total <= dev.bytes) << "device buffers too small";
  const uint64_t seed = CaseSeed(dtype, op, count, static_cast<uint64_t>(c) * 2 + in_place);
  const ReduceCase rc{dtype, op, seed, nranks};
  std::vector<char> input(s.send_bytes);
  if (c == Coll::kAllgather || c == Coll::kBroadcast) FillBytes(seed, rank, input.size(), input.data());
  else FillInput(rc, rank, 0, input.size() / es, input.data());
  const std::string what = std::string(CollName(c)) + " " + CaseName(rc, count) + (in_place ? " in place" : "");

  // Host run: one buffer of `total` bytes in place, else separate buffers.
  std::vector<char> host_a(total, 0x5a), host_b(total, 0x5a);
  char* hsend = host_a.data();
  char* hrecv = host_b.data();
  if (in_place) {
    hrecv = host_a.data();
    hsend = s.in_place_is_recv_in_send ? host_a.data() : host_a.data() + s.send_offset_in_recv;
    if (s.in_place_is_recv_in_send) hrecv = host_a.data() + s.send_offset_in_recv;
  }
  if (!input.empty()) std::memcpy(hsend, input.data(), input.size());  // count 0: data() may be null
  CCHECK_OK(Call(c, hsend, hrecv, count, dtype, op, nranks, comm), comm) << what << " on host buffers";

  // Device run, the same layout in device memory; the staging path must not touch it directly.
  std::vector<char> filler(total, 0x5a);
  CCHECK_EQ(dev.fake.copy(reinterpret_cast<uintptr_t>(dev.a), reinterpret_cast<uintptr_t>(filler.data()), total), 0);
  CCHECK_EQ(dev.fake.copy(reinterpret_cast<uintptr_t>(dev.b), reinterpret_cast<uintptr_t>(filler.data()), total), 0);
  char* dsend = dev.a + (hsend - host_a.data());
  char* drecv = in_place ? dev.a + (hrecv - host_a.data()) : dev.b;
  CCHECK_EQ(dev.fake.copy(reinterpret_cast<uintptr_t>(dsend), reinterpret_cast<uintptr_t>(input.data()), input.size()),
            0);
  const long copies_before = dev.fake.copies != nullptr ? dev.fake.copies() : 0;
  CCHECK_OK(Call(c, dsend, drecv, count, dtype, op, nranks, comm), comm) << what << " on device buffers";
  if (dev.fake.copies != nullptr && count > 0 && (nranks > 1 || dsend != drecv)) {
    CCHECK(dev.fake.copies() > copies_before) << what << ": no cuMemcpy ran";
  }
  std::vector<char> got(total);
  CCHECK_EQ(dev.fake.copy(reinterpret_cast<uintptr_t>(got.data()), reinterpret_cast<uintptr_t>(in_place ? dev.a : dev.b),
                          total),
            0);
  const std::vector<char>& want = in_place ? host_a : host_b;
  for (size_t i = 0; i < total; ++i)
    CCHECK(got[i] == want[i]) << what << ": device result differs from the host result at byte " << i << " of "
                              << total;
  // And the host result is the right one (reductions: the exact expected values).
  if ((c == Coll::kAllreduce || (c == Coll::kReduce && rank == 0)) && op != COLL_AVG) {
    const std::string why = CheckReduced(rc, 0, count, hrecv);
    CCHECK(why.empty()) << what << ": " << why;
  }
  return 0;
}

int RunRank(coll_comm_t comm, int rank, int nranks, size_t large) {
  Device dev;
  CCHECK(LoadFake(&dev.fake)) << DriverLibrary() << ": cannot load, or no device 0";
  dev.bytes = large * 8 * static_cast<size_t>(nranks);
  dev.a = static_cast<char*>(dev.fake.alloc(dev.bytes, 0));
  dev.b = static_cast<char*>(dev.fake.alloc(dev.bytes, 0));
  CCHECK(dev.a != nullptr && dev.b != nullptr);
  // Every dtype x op, in and out of place: allreduce at a size below and above the latency
  // algorithm's, reduce_scatter and reduce once each.
  for (coll_dtype_t dtype : AllDtypes()) {
    for (coll_op_t op : AllOps()) {
      for (bool in_place : {false, true}) {
        for (size_t count : {size_t{7}, large}) {
          if (int r = RunCase(comm, rank, nranks, dev, Coll::kAllreduce, dtype, op, count, in_place)) return r;
        }
        if (int r = RunCase(comm, rank, nranks, dev, Coll::kReduceScatter, dtype, op, 1001, in_place)) return r;
        if (int r = RunCase(comm, rank, nranks, dev, Coll::kReduce, dtype, op, 1001, in_place)) return r;
      }
    }
  }
  for (bool in_place : {false, true}) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{4099}, large}) {
      if (int r = RunCase(comm, rank, nranks, dev, Coll::kAllgather, COLL_UINT8, COLL_SUM, count, in_place)) return r;
      if (int r = RunCase(comm, rank, nranks, dev, Coll::kBroadcast, COLL_FLOAT32, COLL_SUM, count, in_place)) return r;
    }
  }
  return 0;
}

class DeviceBuffersTest : public TransportRanksTest {};

TEST_P(DeviceBuffersTest, EveryCollectiveGivesTheHostResultBitForBit) {
#if !defined(COLL_HAVE_CUDA)
  GTEST_SKIP() << "built without CUDA: device buffers are refused (cuda_buffers_test checks the sentence)";
#endif
  COLL_REQUIRE_TRANSPORT(transport());
  RankOptions options = Options();
  options.env.push_back({"COLL_CUDA_LIB", DriverLibrary()});
  options.env.push_back({"COLL_CHUNK_BYTES", "65536"});  // many chunks per step: the pipeline runs
  options.env.push_back({"COLL_NSLOTS", "2"});           // the staging ring wraps often
  GroupResult result = RunCommRanks(options, [](coll_comm_t comm, int rank, int nranks) {
    return RunRank(comm, rank, nranks, 20011);
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

COLL_INSTANTIATE_TRANSPORTS(DeviceBuffersTest, 1, 2, 3);

}  // namespace
}  // namespace colltest
