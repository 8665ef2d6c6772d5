// Every rank must end an allreduce with the same bytes, even for random floats whose sum
// depends on the order of additions. Each rank stores a hash of its result in memory shared
// with the test, which compares them; each rank also checks the sum within tolerance.
#include <cstdint>
#include <vector>

#include "support/child_check.h"
#include "support/data.h"
#include "support/shared_memory.h"
#include "support/transport_test.h"

namespace colltest {
namespace {

struct BitwiseCase {
  coll_dtype_t dtype;
  coll_op_t op;
  size_t count;
};

const std::vector<BitwiseCase>& Cases() {
  static const std::vector<BitwiseCase> kCases = {
      {COLL_FLOAT32, COLL_SUM, 1},         {COLL_FLOAT32, COLL_SUM, 1000},
      {COLL_FLOAT32, COLL_SUM, 65537},     {COLL_FLOAT32, COLL_SUM, (size_t{1} << 20) + 3},
      {COLL_FLOAT32, COLL_AVG, 4099},      {COLL_FLOAT16, COLL_SUM, 7},
      {COLL_FLOAT16, COLL_SUM, 65537},     {COLL_BFLOAT16, COLL_SUM, 7},
      {COLL_BFLOAT16, COLL_SUM, 65537},    {COLL_FLOAT64, COLL_SUM, 1000},
      {COLL_FLOAT64, COLL_SUM, 300001}};
  return kCases;
}

int RunCase(coll_comm_t comm, const BitwiseCase& c, size_t index, int rank, int nranks,
            uint64_t* hash_out) {
  size_t bytes = c.count * ElementSize(c.dtype);
  uint64_t seed = CaseSeed(c.dtype, c.op, c.count, 400 + index);
  std::vector<unsigned char> send(bytes);
  std::vector<unsigned char> recv(bytes);
  FillRandomFloats(c.dtype, seed, rank, c.count, send.data());
  CCHECK_OK(coll_allreduce(send.data(), recv.data(), c.count, c.dtype, c.op, comm), comm)
      << "case " << index << ": " << DtypeName(c.dtype) << " count " << c.count;
  *hash_out = HashBytes(recv.data(), bytes);
  if (c.op == COLL_SUM) {
    std::string why = CheckApproxSum(c.dtype, seed, nranks, c.count, recv.data());
    CCHECK(why.empty()) << "case " << index << ": " << DtypeName(c.dtype) << ": " << why;
  }
  return 0;
}

class BitwiseIdentityTest : public TransportRanksTest {};

TEST_P(BitwiseIdentityTest, AllRanksGetIdenticalBytes) {
  COLL_REQUIRE_TRANSPORT(transport());
  const std::vector<BitwiseCase>& cases = Cases();
  const size_t n = static_cast<size_t>(nranks());
  SharedArray<uint64_t> hashes(cases.size() * n);
  GroupResult result = RunCommRanks(Options(), [&](coll_comm_t comm, int rank, int nranks) {
    for (size_t i = 0; i < cases.size(); ++i) {
      int rc = RunCase(comm, cases[i], i, rank, nranks, &hashes[i * n + static_cast<size_t>(rank)]);
      if (rc != 0) return rc;
    }
    return 0;
  });
  ASSERT_TRUE(result.AllSucceeded()) << result.Describe();
  for (size_t i = 0; i < cases.size(); ++i) {
    for (size_t r = 1; r < n; ++r) {
      EXPECT_EQ(hashes[i * n + r], hashes[i * n]) << "case " << i << " (" << DtypeName(cases[i].dtype)
                                                  << " count " << cases[i].count << "): rank " << r
                                                  << " differs from rank 0";
    }
  }
}

COLL_INSTANTIATE_TRANSPORTS(BitwiseIdentityTest, 2, 3, 5, 8);

}  // namespace
}  // namespace colltest
