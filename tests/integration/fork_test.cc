// A rank that fork()s after init (a trainer's data loader) and then dies is still reported
// dead at once: the child must not keep the parent's sockets alive. The child here outlives
// its parent by seconds, which is exactly what used to hide the death until COLL_TIMEOUT_MS.
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "support/child_check.h"
#include "support/ranks.h"
#include "support/shared_memory.h"

namespace colltest {
namespace {

struct ForkBoard {
  std::atomic<int> iterations[2];
  std::atomic<int> forked;
  std::atomic<int64_t> kill_time_ns;
};

int Rank(coll_comm_t comm, int rank, ForkBoard& board) {
  if (rank == 1) {
    pid_t loader = fork();
    if (loader == 0) {  // the "data loader": holds whatever it inherited for 5 s
      sleep(5);
      _exit(0);
    }
    CCHECK(loader > 0) << "fork failed";
    board.forked = 1;
  }
  std::vector<float> buf(size_t{1} << 16, 1.0f);
  coll_status_t status = COLL_SUCCESS;
  const int64_t give_up = NowNs() + int64_t{30} * 1000000000;
  while (status == COLL_SUCCESS && NowNs() < give_up) {
    status = coll_allreduce(buf.data(), buf.data(), buf.size(), COLL_FLOAT32, COLL_MAX, comm);
    if (status == COLL_SUCCESS) ++board.iterations[rank];
  }
  const int64_t killed = board.kill_time_ns.load();
  CCHECK(killed != 0) << "allreduce failed before rank 1 was killed: " << coll_comm_last_error(comm);
  const double seconds = static_cast<double>(NowNs() - killed) * 1e-9;
  CCHECK_STATUS(COLL_ERR_PEER_LOST, status, comm) << "after " << seconds << " s";
  CCHECK(seconds <= 2.0) << "PEER_LOST came " << seconds << " s after the kill";
  return 0;
}

void RunForkedRankDies(const std::string& transport) {
  COLL_REQUIRE_TRANSPORT(transport);
  SharedArray<ForkBoard> board(1);
  ProcessGroup group(std::chrono::seconds(60));
  RankOptions options;
  options.nranks = 2;
  options.env = TransportEnv(transport);
  options.env.push_back({"COLL_TIMEOUT_MS", std::string("10000")});  // a hidden death: 10 s
  StartRanks(group, options, [&board](int rank, int nranks) {
    return RunWithComm(rank, nranks, [&board](coll_comm_t comm, int r, int) { return Rank(comm, r, board[0]); });
  });
  bool running = WaitUntil([&] {
    return board[0].forked == 1 && board[0].iterations[0] >= 2 && board[0].iterations[1] >= 2;
  }, std::chrono::seconds(30));
  board[0].kill_time_ns = NowNs();
  group.Kill(1);
  GroupResult result = group.Wait();
  ASSERT_TRUE(running) << result.Describe();
  EXPECT_TRUE(result.procs[0].Succeeded()) << result.Describe();
}

TEST(ForkTest, RankThatForkedThenDiedIsLostAtOnceOverTcp) { RunForkedRankDies("tcp"); }
TEST(ForkTest, RankThatForkedThenDiedIsLostAtOnceOverShm) { RunForkedRankDies("shm"); }
TEST(ForkTest, RankThatForkedThenDiedIsLostAtOnceOverIbverbs) { RunForkedRankDies("ibverbs"); }

}  // namespace
}  // namespace colltest
