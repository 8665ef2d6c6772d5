// A rank SIGKILLed in the middle of a large allreduce loop: the survivors get
// COLL_ERR_PEER_LOST naming it within 2 s. coll_comm_abort from another thread ends a wait
// for a peer that never comes with COLL_ERR_ABORTED. Afterwards every call fails and
// coll_comm_destroy succeeds.
#include <time.h>

#include <atomic>
#include <thread>
#include <vector>

#include "support/child_check.h"
#include "support/shared_memory.h"
#include "support/transport_test.h"

namespace colltest {
namespace {

struct LossBoard {
  std::atomic<int> iterations[3];
  std::atomic<int64_t> kill_time_ns;
};

int ExpectBroken(coll_comm_t comm) {
  float x = 1;
  CCHECK(coll_allreduce(&x, &x, 1, COLL_FLOAT32, COLL_SUM, comm) != COLL_SUCCESS)
      << "a collective after the error succeeded";
  CCHECK(coll_barrier(comm) != COLL_SUCCESS) << "a barrier after the error succeeded";
  return 0;
}

// Allreduces until an error; the victim never sees one (it is killed).
int SurvivorLoop(coll_comm_t comm, int rank, LossBoard& board) {
  std::vector<float> buf(size_t{1} << 20, 1.0f);
  int64_t give_up = NowNs() + int64_t{40} * 1000000000;
  coll_status_t status = COLL_SUCCESS;
  while (status == COLL_SUCCESS && NowNs() < give_up) {
    status = coll_allreduce(buf.data(), buf.data(), buf.size(), COLL_FLOAT32, COLL_MAX, comm);
    if (status == COLL_SUCCESS) ++board.iterations[rank];
  }
  int64_t killed = board.kill_time_ns.load();
  CCHECK(killed != 0) << "allreduce failed before the peer was killed";
  double seconds = static_cast<double>(NowNs() - killed) * 1e-9;
  CCHECK_STATUS(COLL_ERR_PEER_LOST, status, comm) << "after " << seconds << " s";
  CCHECK(seconds <= 2.0) << "PEER_LOST came " << seconds << " s after the kill";
  std::string message = coll_comm_last_error(comm);
  CCHECK(message.find("rank 2") != std::string::npos) << "\"" << message << "\" does not name rank 2";
  return ExpectBroken(comm);
}

class PeerLossTest : public TransportRanksTest {};

TEST_P(PeerLossTest, SurvivorsGetPeerLostWithinTwoSeconds) {
  COLL_REQUIRE_TRANSPORT(transport());
  SharedArray<LossBoard> board(1);
  ProcessGroup group(std::chrono::seconds(60));
  RankOptions options = Options();
  options.env.push_back({"COLL_TIMEOUT_MS", std::string("10000")});  // a hang fails in 10 s
  StartRanks(group, options, [&board](int rank, int nranks) {
    return RunWithComm(rank, nranks, [&board](coll_comm_t comm, int r, int) {
      return SurvivorLoop(comm, r, board[0]);
    });
  });
  bool running = WaitUntil([&] {
    return board[0].iterations[0] >= 2 && board[0].iterations[1] >= 2 && board[0].iterations[2] >= 2;
  }, std::chrono::seconds(30));
  board[0].kill_time_ns = NowNs();
  group.Kill(2);
  GroupResult result = group.Wait();
  ASSERT_TRUE(running) << "the allreduce loop never got going\n" << result.Describe();
  ASSERT_EQ(result.procs.size(), 3u);
  EXPECT_EQ(result.procs[2].term_signal, SIGKILL) << result.Describe();
  EXPECT_TRUE(result.procs[0].Succeeded() && result.procs[1].Succeeded()) << result.Describe();
}

COLL_INSTANTIATE_TRANSPORTS(PeerLossTest, 3);

int AbortedRank(coll_comm_t comm, std::atomic<int>& done) {
  std::thread aborter([comm] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    coll_comm_abort(comm);
  });
  std::vector<float> buf(1000, 1.0f);
  int64_t start = NowNs();
  coll_status_t status = coll_allreduce(buf.data(), buf.data(), buf.size(), COLL_FLOAT32, COLL_SUM, comm);
  double seconds = static_cast<double>(NowNs() - start) * 1e-9;
  aborter.join();
  done = 1;
  CCHECK_STATUS(COLL_ERR_ABORTED, status, comm) << "after " << seconds << " s";
  CCHECK(seconds < 5.0) << "abort took " << seconds << " s to end the wait";
  float x = 1;
  CCHECK_STATUS(COLL_ERR_ABORTED, coll_allreduce(&x, &x, 1, COLL_FLOAT32, COLL_SUM, comm), comm)
      << "a call after abort";
  return 0;
}

class AbortTest : public TransportRanksTest {};

TEST_P(AbortTest, AbortFromAnotherThreadEndsTheWait) {
  COLL_REQUIRE_TRANSPORT(transport());
  SharedArray<std::atomic<int>> done(1);
  RankOptions options = Options();
  options.env.push_back({"COLL_TIMEOUT_MS", std::string("20000")});
  GroupResult result = RunCommRanks(options, [&done](coll_comm_t comm, int rank, int) -> int {
    if (rank == 0) return AbortedRank(comm, done[0]);
    CCHECK(WaitUntil([&] { return done[0].load() == 1; }, std::chrono::seconds(30)))
        << "rank 0 never came back from the aborted allreduce";
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

COLL_INSTANTIATE_TRANSPORTS(AbortTest, 2);

}  // namespace
}  // namespace colltest
