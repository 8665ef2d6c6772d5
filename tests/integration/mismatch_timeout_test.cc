// Ranks that call different collectives (count, dtype, op or kind) all get
// COLL_ERR_MISMATCH; a rank that arrives 3 s late makes the others' wait end with
// COLL_ERR_TIMEOUT at COLL_TIMEOUT_MS=500. After either, every later call on the comm fails
// and coll_comm_destroy succeeds.
#include <time.h>

#include <atomic>
#include <functional>
#include <thread>
#include <vector>

#include "support/child_check.h"
#include "support/shared_memory.h"
#include "support/transport_test.h"

namespace colltest {
namespace {

using Call = std::function<coll_status_t(coll_comm_t comm, float* send, float* recv)>;

struct MismatchCase {
  const char* name;
  Call rank0;
  Call others;
};

Call Allreduce(size_t count, coll_dtype_t dtype, coll_op_t op) {
  return [=](coll_comm_t c, float* s, float* r) { return coll_allreduce(s, r, count, dtype, op, c); };
}

const std::vector<MismatchCase>& MismatchCases() {
  static const std::vector<MismatchCase> kCases = {
      {"count 1000 vs 999", Allreduce(1000, COLL_FLOAT32, COLL_SUM), Allreduce(999, COLL_FLOAT32, COLL_SUM)},
      {"allreduce vs broadcast", Allreduce(1000, COLL_FLOAT32, COLL_SUM),
       [](coll_comm_t c, float* s, float* r) { return coll_broadcast(s, r, 1000, COLL_FLOAT32, 0, c); }},
      {"float32 vs int32", Allreduce(1000, COLL_FLOAT32, COLL_SUM), Allreduce(1000, COLL_INT32, COLL_SUM)},
      {"sum vs max", Allreduce(1000, COLL_FLOAT32, COLL_SUM), Allreduce(1000, COLL_FLOAT32, COLL_MAX)},
  };
  return kCases;
}

// Every rank reports here and waits for the others, so no rank tears down its comm while
// another still expects the first error.
int ArriveAndWait(SharedArray<std::atomic<int>>& arrived, int nranks) {
  ++arrived[0];
  CCHECK(WaitUntil([&] { return arrived[0].load() >= nranks; }, std::chrono::seconds(30)))
      << "the other ranks never got their error";
  return 0;
}

int ExpectBroken(coll_comm_t comm) {
  float x = 1;
  coll_status_t again = coll_allreduce(&x, &x, 1, COLL_FLOAT32, COLL_SUM, comm);
  CCHECK(again != COLL_SUCCESS) << "a collective after the error succeeded";
  CCHECK(coll_barrier(comm) != COLL_SUCCESS) << "a barrier after the error succeeded";
  return 0;
}

class MismatchTest : public TransportRanksTest {};

TEST_P(MismatchTest, EveryRankGetsMismatch) {
  COLL_REQUIRE_TRANSPORT(transport());
  for (const MismatchCase& mc : MismatchCases()) {
    SharedArray<std::atomic<int>> arrived(1);
    RankOptions options = Options();
    options.env.push_back({"COLL_TIMEOUT_MS", std::string("10000")});
    GroupResult result = RunCommRanks(options, [&](coll_comm_t comm, int rank, int nranks) {
      std::vector<float> send(1000, 1.0f);
      std::vector<float> recv(1000, 0.0f);
      const Call& call = rank == 0 ? mc.rank0 : mc.others;
      CCHECK_STATUS(COLL_ERR_MISMATCH, call(comm, send.data(), recv.data()), comm) << mc.name;
      std::string message = coll_comm_last_error(comm);
      CCHECK(message.find("rank") != std::string::npos) << mc.name << ": \"" << message << "\" names no rank";
      int rc = ArriveAndWait(arrived, nranks);
      return rc != 0 ? rc : ExpectBroken(comm);
    });
    EXPECT_TRUE(result.AllSucceeded()) << mc.name << "\n" << result.Describe();
  }
}

COLL_INSTANTIATE_TRANSPORTS(MismatchTest, 2, 3);

double SecondsSince(const timespec& start) {
  timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<double>(now.tv_sec - start.tv_sec) + (now.tv_nsec - start.tv_nsec) * 1e-9;
}

int OnTimeRank(coll_comm_t comm) {
  std::vector<float> buf(1000, 1.0f);
  timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  CCHECK_STATUS(COLL_ERR_TIMEOUT, coll_allreduce(buf.data(), buf.data(), buf.size(), COLL_FLOAT32, COLL_SUM, comm), comm);
  double waited = SecondsSince(start);
  CCHECK(waited >= 0.4 && waited <= 2.5) << "timed out after " << waited << " s with COLL_TIMEOUT_MS=500";
  std::string message = coll_comm_last_error(comm);
  CCHECK(message.find("rank 1") != std::string::npos || message.find("step") != std::string::npos)
      << "\"" << message << "\" names neither rank 1 nor the step";
  return ExpectBroken(comm);
}

int LateRank(coll_comm_t comm) {
  std::this_thread::sleep_for(std::chrono::seconds(3));
  std::vector<float> buf(1000, 1.0f);
  coll_status_t status = coll_allreduce(buf.data(), buf.data(), buf.size(), COLL_FLOAT32, COLL_SUM, comm);
  CCHECK(status != COLL_SUCCESS) << "the late rank's allreduce succeeded although rank 0 gave up";
  return 0;
}

class TimeoutTest : public TransportRanksTest {};

TEST_P(TimeoutTest, LatePeerGivesTimeout) {
  COLL_REQUIRE_TRANSPORT(transport());
  RankOptions options = Options();
  options.env.push_back({"COLL_TIMEOUT_MS", std::string("500")});
  GroupResult result = RunCommRanks(options, [](coll_comm_t comm, int rank, int) {
    return rank == 1 ? LateRank(comm) : OnTimeRank(comm);
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

// A collective that completed before says nothing about the next one: when the peer is late
// for the second call, the timeout still asks whether it called it (the blocking calls reuse
// one Operation, whose count of received chunks must start again at zero).
TEST_P(TimeoutTest, LatePeerAfterAnEarlierCallIsAskedWhetherItCalled) {
  COLL_REQUIRE_TRANSPORT(transport());
  RankOptions options = Options();
  options.env.push_back({"COLL_TIMEOUT_MS", std::string("500")});
  GroupResult result = RunCommRanks(options, [](coll_comm_t comm, int rank, int) {
    std::vector<float> buf(1000, 1.0f);
    CCHECK_OK(coll_allreduce(buf.data(), buf.data(), buf.size(), COLL_FLOAT32, COLL_SUM, comm), comm);
    if (rank == 1) return LateRank(comm);
    CCHECK_STATUS(COLL_ERR_TIMEOUT, coll_allreduce(buf.data(), buf.data(), buf.size(), COLL_FLOAT32, COLL_SUM, comm),
                  comm);
    std::string message = coll_comm_last_error(comm);
    CCHECK(message.find("has rank 1 called it?") != std::string::npos) << "\"" << message << "\"";
    CCHECK(message.find("has called it") == std::string::npos) << "\"" << message << "\"";
    return ExpectBroken(comm);
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

COLL_INSTANTIATE_TRANSPORTS(TimeoutTest, 2);

}  // namespace
}  // namespace colltest
