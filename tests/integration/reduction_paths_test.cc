// Every dtype x op through every reduction path: the small-message path (count exactly at
// COLL_SMALL_BYTES, and count < nranks), the ring (threshold + 1 element, and a count of
// many chunks), and the chain of coll_reduce; with COLL_NSLOTS=2 and 4 KiB chunks so credits
// wrap. Inputs are not exactly representable and include NaN, +-Inf, -0 and +0, so every bit
// of every result is checked against the documented rules applied in the documented order
// (README "Reduction rules"; support/reference_reduce.h): a 16-bit float result is rounded
// after every hop, in ring order from the segment's owner, or rank order on the small path.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <string>
#include <vector>

#include "support/child_check.h"
#include "support/data.h"
#include "support/float16.h"
#include "support/reference_reduce.h"
#include "support/transport_test.h"

namespace colltest {
namespace {

constexpr size_t kSmallBytes = 4096;
constexpr size_t kChunkBytes = 4096;

enum class Path { kSmall, kRing, kChain };

const char* AlgorithmOf(Path path) {
  return path == Path::kSmall ? "allgather_reduce" : path == Path::kRing ? "ring" : "chain";
}

// The rank whose input starts the fold of element i; the others follow to its right.
int FoldStart(Path path, size_t count, int nranks, size_t i, int root) {
  if (path == Path::kSmall) return 0;
  if (path == Path::kRing) return RingFoldStart(count, nranks, i);
  return (root + 1) % nranks;  // the chain starts right of the root and ends at it
}

uint64_t Expected(Path path, coll_dtype_t dtype, coll_op_t op, uint64_t seed, size_t count, int nranks,
                  size_t i, int root) {
  std::vector<uint64_t> values;
  const int start = FoldStart(path, count, nranks, i, root);
  for (int k = 0; k < nranks; ++k) values.push_back(RefInput(dtype, seed, (start + k) % nranks, i));
  return RefFold(dtype, op, values, nranks);
}

std::string Hex(uint64_t v) {
  std::ostringstream out;
  out << "0x" << std::hex << v;
  return out.str();
}

// One collective along `path`, every element checked bit for bit. 0 when right.
int CheckPath(coll_comm_t comm, int rank, int nranks, coll_dtype_t dtype, coll_op_t op, size_t count,
              Path path) {
  const size_t es = ElementSize(dtype);
  const int root = nranks - 1;
  const uint64_t seed = CaseSeed(dtype, op, count, 77);
  std::vector<unsigned char> send(count * es), recv(count * es + 1, 0xa5);
  for (size_t i = 0; i < count; ++i) {
    const uint64_t bits = RefInput(dtype, seed, rank, i);
    std::memcpy(send.data() + i * es, &bits, es);
  }
  const std::string name = std::string(DtypeName(dtype)) + " " + OpName(op) + " count " + std::to_string(count) +
                           " via " + AlgorithmOf(path);
  if (path == Path::kChain) {
    CCHECK_OK(coll_reduce(send.data(), recv.data(), count, dtype, op, root, comm), comm) << name;
  } else {
    CCHECK_OK(coll_allreduce(send.data(), recv.data(), count, dtype, op, comm), comm) << name;
  }
  coll_op_info_t info = COLL_OP_INFO_INIT;
  CCHECK_OK(coll_comm_last_op_info(comm, &info), comm);
  CCHECK(std::string(info.algorithm) == AlgorithmOf(path)) << name << " ran " << info.algorithm;
  CCHECK(recv[count * es] == 0xa5) << name << ": wrote past recvbuf";
  if (path == Path::kChain && rank != root) return 0;
  size_t wrong = 0, first = 0;
  uint64_t want_first = 0, got_first = 0;
  for (size_t i = 0; i < count; ++i) {
    uint64_t got = 0;
    std::memcpy(&got, recv.data() + i * es, es);
    const uint64_t want = Expected(path, dtype, op, seed, count, nranks, i, root);
    if (got != want && wrong++ == 0) {
      first = i;
      want_first = want;
      got_first = got;
    }
  }
  CCHECK(wrong == 0) << name << ": " << wrong << " wrong elements; element " << first << " is " << Hex(got_first)
                     << ", the rules give " << Hex(want_first);
  return 0;
}

class ReductionPathsTest : public TransportRanksTest {
 protected:
  RankOptions PathOptions() const {
    RankOptions options = Options();
    options.env.push_back({"COLL_SMALL_BYTES", std::to_string(kSmallBytes)});
    options.env.push_back({"COLL_CHUNK_BYTES", std::to_string(kChunkBytes)});
    options.env.push_back({"COLL_NSLOTS", std::string("2")});
    options.deadline = std::chrono::seconds(240);
    return options;
  }
};

TEST_P(ReductionPathsTest, EveryDtypeAndOpBitExactOnEveryPath) {
  COLL_REQUIRE_TRANSPORT(transport());
  GroupResult result = RunCommRanks(PathOptions(), [](coll_comm_t comm, int rank, int nranks) {
    for (coll_dtype_t dtype : AllDtypes()) {
      const size_t at_threshold = kSmallBytes / ElementSize(dtype);
      const size_t many_chunks = 5 * static_cast<size_t>(nranks) * at_threshold + 3;
      for (coll_op_t op : AllOps()) {
        const struct {
          size_t count;
          Path path;
        } cases[] = {{at_threshold, Path::kSmall},    {static_cast<size_t>(nranks) - 1, Path::kSmall},
                     {at_threshold + 1, Path::kRing}, {many_chunks, Path::kRing},
                     {at_threshold + 1, Path::kChain}, {many_chunks, Path::kChain}};
        for (const auto& c : cases) {
          int rc = CheckPath(comm, rank, nranks, dtype, op, c.count, c.path);
          if (rc != 0) return rc;
        }
      }
    }
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

COLL_INSTANTIATE_TRANSPORTS(ReductionPathsTest, 3);

// The bit-exact check above can tell the documented rule from its alternatives: on these
// inputs, rounding after every hop differs from one fp32 sum rounded once, and the ring's
// fold order differs from rank order, in a good share of elements.
TEST(ReductionRules, PerHopRoundingAndFoldOrderAreObservable) {
  for (coll_dtype_t dtype : {COLL_FLOAT16, COLL_BFLOAT16, COLL_FLOAT32}) {
    const int n = 3, kElements = 10000;
    int differs_from_fp32_sum = 0, differs_by_order = 0, finite = 0;
    for (size_t i = 0; i < kElements; ++i) {
      std::vector<uint64_t> in, rotated;
      for (int r = 0; r < n; ++r) in.push_back(RefInput(dtype, 5, r, i));
      for (int r = 0; r < n; ++r) rotated.push_back(in[static_cast<size_t>(r + 1) % n]);
      const uint64_t per_hop = RefFold(dtype, COLL_SUM, in, n);
      double exact = 0;  // to skip sums with Inf or NaN in them
      float once = 0;    // fp32 partial sums, rounded to 16 bits once at the end
      for (uint64_t v : in) {
        float x;
        if (dtype == COLL_FLOAT32) {
          uint32_t b = static_cast<uint32_t>(v);
          std::memcpy(&x, &b, 4);
        } else {
          x = dtype == COLL_FLOAT16 ? HalfToFloat(static_cast<uint16_t>(v)) : Bfloat16ToFloat(static_cast<uint16_t>(v));
        }
        once += x;
        exact += x;
      }
      if (!std::isfinite(exact)) continue;
      ++finite;
      if (dtype != COLL_FLOAT32) {
        const uint64_t rounded_once = dtype == COLL_FLOAT16 ? FloatToHalf(once) : FloatToBfloat16(once);
        differs_from_fp32_sum += rounded_once != per_hop;
      }
      differs_by_order += RefFold(dtype, COLL_SUM, rotated, n) != per_hop;
    }
    std::printf("%s, 3 ranks, %d finite sums: per-hop rounding differs from one rounded fp32 sum in %d, another "
                "fold order differs in %d\n",
                DtypeName(dtype), finite, differs_from_fp32_sum, differs_by_order);
    if (dtype != COLL_FLOAT32) {
      EXPECT_GT(differs_from_fp32_sum, finite / 20) << DtypeName(dtype);
    }
    EXPECT_GT(differs_by_order, finite / 100) << DtypeName(dtype);
  }
}

}  // namespace
}  // namespace colltest
