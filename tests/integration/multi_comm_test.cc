// Several communicators over the same ranks used in turn, as a framework holding
// data-parallel and model-parallel groups does: a collective must finish without any later
// activity on its communicator (issue 10, defect 2: the ibverbs sender waited for its last
// credits, which the receiver returned only when that link was next used).
#include <atomic>
#include <cstring>
#include <vector>

#include "support/child_check.h"
#include "support/shared_memory.h"
#include "support/transport_test.h"

namespace colltest {
namespace {

constexpr int kComms = 8;

struct IdBoard {
  std::atomic<int> ready;
  coll_unique_id_t ids[kComms];
};

int InterleavedRank(IdBoard& board, int rank, int nranks) {
  if (rank == 0) {
    for (coll_unique_id_t& id : board.ids) CCHECK_OK(coll_get_unique_id(&id), nullptr);
    board.ready = 1;
  }
  CCHECK(WaitUntil([&] { return board.ready.load() == 1; }, std::chrono::seconds(20))) << "no ids";
  std::vector<coll_comm_t> comms(kComms, nullptr);
  for (int c = 0; c < kComms; ++c) {
    coll_unique_id_t id;
    std::memcpy(&id, &board.ids[c], sizeof id);
    CCHECK_OK(coll_comm_init(&comms[c], nranks, rank, &id), nullptr) << "communicator " << c;
  }
  // Above the latency threshold, so the pipelined ring (credits, several chunks) runs.
  std::vector<float> buf(64 * 1024);
  for (int round = 0; round < 6; ++round) {
    for (int c = 0; c < kComms; ++c) {
      for (float& x : buf) x = static_cast<float>(rank + c);
      CCHECK_OK(coll_allreduce(buf.data(), buf.data(), buf.size(), COLL_FLOAT32, COLL_SUM, comms[c]), comms[c])
          << "communicator " << c << ", round " << round;
      const float want = static_cast<float>(nranks * (nranks - 1) / 2 + nranks * c);
      CCHECK(buf[0] == want && buf[buf.size() - 1] == want)
          << "communicator " << c << ": got " << buf[0] << ", want " << want;
    }
  }
  for (coll_comm_t comm : comms) CCHECK_OK(coll_comm_destroy(comm), nullptr);
  return 0;
}

class MultiCommTest : public TransportRanksTest {};

TEST_P(MultiCommTest, InterleavedCommunicatorsNeverWaitOnEachOther) {
  COLL_REQUIRE_TRANSPORT(transport());
  SharedArray<IdBoard> board(1);
  RankOptions options = Options();
  options.bootstrap_env = false;
  // Small slots and few of them, so the last chunks of each collective use up every credit;
  // a stuck collective fails in 5 s instead of the test's deadline.
  options.env.push_back({"COLL_CHUNK_BYTES", std::string("16384")});
  options.env.push_back({"COLL_NSLOTS", std::string("2")});
  options.env.push_back({"COLL_TIMEOUT_MS", std::string("5000")});
  options.deadline = std::chrono::seconds(90);
  GroupResult result = RunRanks(options, [&board](int rank, int nranks) {
    return InterleavedRank(board[0], rank, nranks);
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

COLL_INSTANTIATE_TRANSPORTS(MultiCommTest, 2, 3);

}  // namespace
}  // namespace colltest
