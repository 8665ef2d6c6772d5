// coll_allgather (rank r's block lands at offset r * sendcount on every rank, in and out of
// place) and coll_barrier (nobody leaves before everybody entered: ranks enter at staggered
// times and record entry / exit times in memory shared with the test).
#include <time.h>

#include <atomic>
#include <thread>
#include <vector>

#include "support/child_check.h"
#include "support/data.h"
#include "support/shared_memory.h"
#include "support/transport_test.h"

namespace colltest {
namespace {

constexpr unsigned char kGuard = 0xa5;
constexpr size_t kLargeCount = (size_t{1} << 20) + 3;

int CheckAllgather(coll_comm_t comm, int rank, int nranks, coll_dtype_t dtype, size_t count,
                   bool in_place) {
  size_t block = count * ElementSize(dtype);
  uint64_t seed = CaseSeed(dtype, COLL_SUM, count, 300);
  std::vector<unsigned char> send(block + 1, kGuard);
  std::vector<unsigned char> recv(block * static_cast<size_t>(nranks) + 1, kGuard);
  unsigned char* mine = recv.data() + static_cast<size_t>(rank) * block;
  FillBytes(seed, rank, block, in_place ? mine : send.data());
  const void* sendbuf = in_place ? mine : send.data();
  CCHECK_OK(coll_allgather(sendbuf, recv.data(), count, dtype, comm), comm)
      << DtypeName(dtype) << " count " << count;
  for (int r = 0; r < nranks; ++r) {
    std::string why = CheckBytes(seed, r, block, recv.data() + static_cast<size_t>(r) * block);
    CCHECK(why.empty()) << "allgather " << DtypeName(dtype) << " count " << count
                        << (in_place ? " in place" : "") << ": block " << r << ": " << why;
  }
  CCHECK(recv.back() == kGuard) << "allgather wrote past recvbuf";
  return 0;
}

class AllgatherBarrierTest : public TransportRanksTest {};

TEST_P(AllgatherBarrierTest, AllgatherBlocksLandAtRankOffsets) {
  COLL_REQUIRE_TRANSPORT(transport());
  GroupResult result = RunCommRanks(Options(), [](coll_comm_t comm, int rank, int nranks) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1000}}) {
      for (coll_dtype_t dtype : {COLL_UINT8, COLL_BFLOAT16, COLL_INT32, COLL_UINT64}) {
        for (bool in_place : {false, true}) {
          int rc = CheckAllgather(comm, rank, nranks, dtype, count, in_place);
          if (rc != 0) return rc;
        }
      }
    }
    return CheckAllgather(comm, rank, nranks, COLL_UINT8, kLargeCount, false);
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

TEST_P(AllgatherBarrierTest, BarrierWaitsForEveryRank) {
  COLL_REQUIRE_TRANSPORT(transport());
  constexpr int kRounds = 3;
  SharedArray<std::atomic<int64_t>> entered(static_cast<size_t>(kRounds * nranks()));
  GroupResult result = RunCommRanks(Options(), [&entered](coll_comm_t comm, int rank, int nranks) {
    for (int round = 0; round < kRounds; ++round) {
      int late = (rank + round) % nranks;  // a different rank arrives last each round
      std::this_thread::sleep_for(std::chrono::milliseconds(late * 40));
      entered[static_cast<size_t>(round * nranks + rank)] = NowNs();
      CCHECK_OK(coll_barrier(comm), comm) << "round " << round;
      int64_t left = NowNs();
      for (int r = 0; r < nranks; ++r) {
        int64_t t = entered[static_cast<size_t>(round * nranks + r)];
        CCHECK(t != 0 && t <= left) << "round " << round << ": left the barrier before rank " << r << " entered";
      }
    }
    for (int i = 0; i < 50; ++i) CCHECK_OK(coll_barrier(comm), comm) << "barrier " << i << " of 50";
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

COLL_INSTANTIATE_TRANSPORTS(AllgatherBarrierTest, 1, 2, 3, 4, 5, 8);

}  // namespace
}  // namespace colltest
