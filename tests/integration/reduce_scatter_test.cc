// coll_reduce_scatter across processes: rank r receives reduced block r of the
// nranks * recvcount input. Every dtype x op at small counts, in place (recvbuf inside
// sendbuf at the rank's block) and out of place; a few combinations at 2^20+3 per rank.
#include <vector>

#include "support/child_check.h"
#include "support/data.h"
#include "support/transport_test.h"

namespace colltest {
namespace {

constexpr unsigned char kGuard = 0xa5;
constexpr size_t kLargeCount = (size_t{1} << 20) + 3;

int CheckReduceScatter(coll_comm_t comm, const ReduceCase& c, int rank, size_t recvcount,
                       bool in_place) {
  size_t elem = ElementSize(c.dtype);
  size_t total = recvcount * static_cast<size_t>(c.nranks);
  std::vector<unsigned char> send(total * elem + 1, kGuard);
  std::vector<unsigned char> recv(recvcount * elem + 1, kGuard);
  FillInput(c, rank, 0, total, send.data());
  std::vector<unsigned char> original = send;
  unsigned char* out = in_place ? send.data() + static_cast<size_t>(rank) * recvcount * elem : recv.data();
  std::string name = CaseName(c, recvcount) + (in_place ? ", in place" : ", out of place");
  CCHECK_OK(coll_reduce_scatter(send.data(), out, recvcount, c.dtype, c.op, comm), comm) << name;
  std::string why = CheckReduced(c, static_cast<size_t>(rank) * recvcount, recvcount, out);
  CCHECK(why.empty()) << name << ": block " << rank << ": " << why;
  if (in_place) {
    CCHECK(send[total * elem] == kGuard) << name << ": wrote past sendbuf";
  } else {
    CCHECK(recv[recvcount * elem] == kGuard) << name << ": wrote past recvbuf";
    CCHECK(send == original) << name << ": sendbuf was modified";
  }
  return 0;
}

class ReduceScatterTest : public TransportRanksTest {};

TEST_P(ReduceScatterTest, EveryDtypeAndOpAtSmallCounts) {
  COLL_REQUIRE_TRANSPORT(transport());
  GroupResult result = RunCommRanks(Options(), [](coll_comm_t comm, int rank, int nranks) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1000}}) {
      for (coll_dtype_t dtype : AllDtypes()) {
        for (coll_op_t op : AllOps()) {
          ReduceCase c{dtype, op, CaseSeed(dtype, op, count, 11), nranks};
          for (bool in_place : {false, true}) {
            int rc = CheckReduceScatter(comm, c, rank, count, in_place);
            if (rc != 0) return rc;
          }
        }
      }
    }
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

TEST_P(ReduceScatterTest, LargeCountSelectedCombinations) {
  COLL_REQUIRE_TRANSPORT(transport());
  GroupResult result = RunCommRanks(Options(), [](coll_comm_t comm, int rank, int nranks) {
    ReduceCase sum{COLL_FLOAT32, COLL_SUM, CaseSeed(COLL_FLOAT32, COLL_SUM, kLargeCount, 12), nranks};
    int rc = CheckReduceScatter(comm, sum, rank, kLargeCount, true);
    if (rc != 0) return rc;
    ReduceCase avg{COLL_INT8, COLL_AVG, CaseSeed(COLL_INT8, COLL_AVG, kLargeCount, 13), nranks};
    return CheckReduceScatter(comm, avg, rank, kLargeCount, false);
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

COLL_INSTANTIATE_TRANSPORTS(ReduceScatterTest, 1, 2, 3, 4, 5, 8);

}  // namespace
}  // namespace colltest
