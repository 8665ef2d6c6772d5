// coll_broadcast and coll_reduce from every root. Broadcast reads sendbuf on the root only
// (non-roots pass NULL); reduce writes recvbuf on the root only (non-root recvbuf must stay
// untouched). Small counts over several dtypes and ops, one large count per collective.
#include <vector>

#include "support/child_check.h"
#include "support/data.h"
#include "support/transport_test.h"

namespace colltest {
namespace {

constexpr unsigned char kGuard = 0xa5;
constexpr size_t kLargeCount = (size_t{1} << 20) + 3;

int CheckBroadcast(coll_comm_t comm, int rank, int root, coll_dtype_t dtype, size_t count,
                   bool in_place) {
  size_t bytes = count * ElementSize(dtype);
  uint64_t seed = CaseSeed(dtype, COLL_SUM, count, 100 + root);
  std::vector<unsigned char> send(bytes + 1, kGuard);
  std::vector<unsigned char> recv(bytes + 1, kGuard);
  const void* sendbuf = nullptr;
  if (rank == root) {
    FillBytes(seed, root, bytes, in_place ? recv.data() : send.data());
    sendbuf = in_place ? recv.data() : send.data();
  }
  CCHECK_OK(coll_broadcast(sendbuf, recv.data(), count, dtype, root, comm), comm)
      << DtypeName(dtype) << " count " << count << " root " << root;
  std::string why = CheckBytes(seed, root, bytes, recv.data());
  CCHECK(why.empty()) << "broadcast " << DtypeName(dtype) << " count " << count << " root "
                      << root << ": " << why;
  CCHECK(recv[bytes] == kGuard) << "broadcast wrote past recvbuf";
  return 0;
}

int CheckReduce(coll_comm_t comm, const ReduceCase& c, int rank, int root, size_t count,
                bool in_place) {
  size_t bytes = count * ElementSize(c.dtype);
  std::vector<unsigned char> send(bytes + 1, kGuard);
  std::vector<unsigned char> recv(bytes + 1, kGuard);
  FillInput(c, rank, 0, count, send.data());
  std::vector<unsigned char> original = send;
  bool root_in_place = in_place && rank == root;
  unsigned char* out = root_in_place ? send.data() : recv.data();
  std::string name = CaseName(c, count) + ", root " + std::to_string(root);
  CCHECK_OK(coll_reduce(send.data(), out, count, c.dtype, c.op, root, comm), comm) << name;
  if (rank == root) {
    std::string why = CheckReduced(c, 0, count, out);
    CCHECK(why.empty()) << name << ": " << why;
  } else {
    CCHECK(recv == std::vector<unsigned char>(bytes + 1, kGuard)) << name << ": non-root recvbuf written";
  }
  CCHECK(out[bytes] == kGuard) << name << ": wrote past the buffer";
  if (!root_in_place) {
    CCHECK(send == original) << name << ": sendbuf was modified";
  }
  return 0;
}

class RootedTest : public TransportRanksTest {};

TEST_P(RootedTest, BroadcastFromEveryRoot) {
  COLL_REQUIRE_TRANSPORT(transport());
  GroupResult result = RunCommRanks(Options(), [](coll_comm_t comm, int rank, int nranks) {
    for (int root = 0; root < nranks; ++root) {
      for (size_t count : {size_t{0}, size_t{1}, size_t{7}, size_t{1000}}) {
        for (coll_dtype_t dtype : {COLL_INT8, COLL_FLOAT16, COLL_FLOAT32, COLL_FLOAT64}) {
          for (bool in_place : {false, true}) {
            int rc = CheckBroadcast(comm, rank, root, dtype, count, in_place);
            if (rc != 0) return rc;
          }
        }
      }
    }
    return CheckBroadcast(comm, rank, nranks - 1, COLL_FLOAT32, kLargeCount, false);
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

std::vector<ReduceCase> ReduceCases(int nranks, size_t count) {
  std::vector<ReduceCase> cases;
  for (coll_op_t op : AllOps()) cases.push_back({COLL_FLOAT32, op, CaseSeed(COLL_FLOAT32, op, count, 200), nranks});
  for (coll_dtype_t dtype : AllDtypes()) {
    if (dtype != COLL_FLOAT32) cases.push_back({dtype, COLL_SUM, CaseSeed(dtype, COLL_SUM, count, 201), nranks});
  }
  return cases;
}

TEST_P(RootedTest, ReduceToEveryRoot) {
  COLL_REQUIRE_TRANSPORT(transport());
  GroupResult result = RunCommRanks(Options(), [](coll_comm_t comm, int rank, int nranks) {
    for (int root = 0; root < nranks; ++root) {
      for (size_t count : {size_t{0}, size_t{7}, size_t{1000}}) {
        for (const ReduceCase& c : ReduceCases(nranks, count)) {
          int rc = CheckReduce(comm, c, rank, root, count, root % 2 == 1);
          if (rc != 0) return rc;
        }
      }
    }
    ReduceCase large{COLL_FLOAT32, COLL_SUM, CaseSeed(COLL_FLOAT32, COLL_SUM, kLargeCount, 202), nranks};
    return CheckReduce(comm, large, rank, nranks / 2, kLargeCount, false);
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

COLL_INSTANTIATE_TRANSPORTS(RootedTest, 1, 2, 3, 4, 5, 8);

}  // namespace
}  // namespace colltest
