// coll_allreduce across processes: every dtype x op at small counts, in and out of place,
// and a few combinations at 2^20+3 elements; on tcp, shm and ibverbs (softverbs).
// Results are compared exactly (integers, float sums of small integers) or within a
// dtype tolerance (float AVG). Guard bytes catch writes past the end of recvbuf.
#include <cstring>
#include <vector>

#include "support/child_check.h"
#include "support/data.h"
#include "support/transport_test.h"

namespace colltest {
namespace {

constexpr unsigned char kGuard = 0xa5;
constexpr size_t kLargeCount = (size_t{1} << 20) + 3;

// One allreduce of c (count elements) on this rank, checked. 0 when right.
int CheckAllreduce(coll_comm_t comm, const ReduceCase& c, int rank, size_t count, bool in_place) {
  size_t bytes = count * ElementSize(c.dtype);
  std::vector<unsigned char> send(bytes + 1, kGuard);
  std::vector<unsigned char> recv(bytes + 1, kGuard);
  FillInput(c, rank, 0, count, send.data());
  std::vector<unsigned char> original = send;
  void* out = in_place ? send.data() : recv.data();
  std::string name = CaseName(c, count) + (in_place ? ", in place" : ", out of place");
  CCHECK_OK(coll_allreduce(send.data(), out, count, c.dtype, c.op, comm), comm) << name;
  std::string why = CheckReduced(c, 0, count, out);
  CCHECK(why.empty()) << name << ": " << why;
  CCHECK(static_cast<unsigned char*>(out)[bytes] == kGuard) << name << ": wrote past recvbuf";
  if (!in_place) {
    CCHECK(send == original) << name << ": sendbuf was modified";
  }
  return 0;
}

class AllreduceTest : public TransportRanksTest {};

TEST_P(AllreduceTest, EveryDtypeAndOpAtSmallCounts) {
  COLL_REQUIRE_TRANSPORT(transport());
  GroupResult result = RunCommRanks(Options(), [](coll_comm_t comm, int rank, int nranks) {
    for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1000}}) {
      for (coll_dtype_t dtype : AllDtypes()) {
        for (coll_op_t op : AllOps()) {
          ReduceCase c{dtype, op, CaseSeed(dtype, op, count, 1), nranks};
          for (bool in_place : {false, true}) {
            int rc = CheckAllreduce(comm, c, rank, count, in_place);
            if (rc != 0) return rc;
          }
        }
      }
    }
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

struct LargeCase {
  coll_dtype_t dtype;
  coll_op_t op;
  bool in_place;
};

TEST_P(AllreduceTest, LargeCountSelectedCombinations) {
  COLL_REQUIRE_TRANSPORT(transport());
  GroupResult result = RunCommRanks(Options(), [](coll_comm_t comm, int rank, int nranks) {
    const LargeCase cases[] = {{COLL_FLOAT32, COLL_SUM, false},
                               {COLL_FLOAT16, COLL_SUM, true},
                               {COLL_BFLOAT16, COLL_AVG, false},
                               {COLL_INT32, COLL_MAX, true},
                               {COLL_UINT8, COLL_MIN, false},
                               {COLL_FLOAT64, COLL_PROD, true}};
    for (const LargeCase& l : cases) {
      ReduceCase c{l.dtype, l.op, CaseSeed(l.dtype, l.op, kLargeCount, 2), nranks};
      int rc = CheckAllreduce(comm, c, rank, kLargeCount, l.in_place);
      if (rc != 0) return rc;
    }
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

// The same buffer reduced twice in a row: the second call must not see state of the first.
TEST_P(AllreduceTest, BackToBackCallsStayIndependent) {
  COLL_REQUIRE_TRANSPORT(transport());
  GroupResult result = RunCommRanks(Options(), [](coll_comm_t comm, int rank, int nranks) {
    for (int iteration = 0; iteration < 20; ++iteration) {
      size_t count = 1 + static_cast<size_t>(iteration) * 997;
      ReduceCase c{COLL_INT64, COLL_SUM, CaseSeed(COLL_INT64, COLL_SUM, count, 3 + iteration), nranks};
      int rc = CheckAllreduce(comm, c, rank, count, iteration % 2 == 0);
      if (rc != 0) return rc;
    }
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

COLL_INSTANTIATE_TRANSPORTS(AllreduceTest, 1, 2, 3, 4, 5, 8);

}  // namespace
}  // namespace colltest
