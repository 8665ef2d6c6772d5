// Faults on the ibverbs transport (softverbs), through the public API only: a remote access
// error, RNR retries exhausted, a QP error while every process lives, a rank killed
// mid-allreduce, ibv_reg_mr failing (at once, or after a first registration) and
// RLIMIT_MEMLOCK too low at init. Every rank must come back with an error, never hang, and
// destroy cleanly. Also seeded random WQE delays, which must change no result.
// The faults are injected by softverbs' SOFTVERBS_FAULT_* variables in the victim rank's
// environment (tests/softverbs/README.md); those tests skip on a real verbs stack
// (COLL_TEST_IBVERBS_LIB, tests/rxe/run), where the killed rank and the memlock limit run.
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "support/child_check.h"
#include "support/data.h"
#include "support/shared_memory.h"
#include "support/transport_test.h"

namespace colltest {
namespace {

constexpr int kMaxRanks = 4;

struct Board {
  std::atomic<int> iterations[kMaxRanks];
  std::atomic<int> finished[kMaxRanks];
  int status[kMaxRanks];
  int init_failed[kMaxRanks];
  char message[kMaxRanks][1024];
};

void Record(Board& b, int rank, coll_status_t status, const char* message, bool at_init) {
  b.status[rank] = status;
  b.init_failed[rank] = at_init;
  std::snprintf(b.message[rank], sizeof b.message[rank], "%s", message);
  b.finished[rank] = 1;
}

// Initialises, allreduces until the first error (or 30 s), records it. Exit 0 either way:
// the parent judges the board.
int FaultRank(int rank, int nranks, Board& b, const std::function<void()>& before_init = nullptr) {
  if (before_init) before_init();
  coll_comm_t comm = nullptr;
  coll_status_t st = coll_comm_init_env(&comm);
  if (st != COLL_SUCCESS) {
    Record(b, rank, st, coll_comm_last_error(nullptr), true);
    return 0;
  }
  int size = 0;
  CCHECK(coll_comm_size(comm, &size) == COLL_SUCCESS && size == nranks);
  std::vector<float> buf(size_t{1} << 18, 1.0f);
  timespec start, now;
  clock_gettime(CLOCK_MONOTONIC, &start);
  do {
    st = coll_allreduce(buf.data(), buf.data(), buf.size(), COLL_FLOAT32, COLL_SUM, comm);
    if (st == COLL_SUCCESS) ++b.iterations[rank];
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while (st == COLL_SUCCESS && now.tv_sec - start.tv_sec < 30);
  Record(b, rank, st, coll_comm_last_error(comm), false);
  CCHECK_OK(coll_comm_destroy(comm), nullptr) << "destroy after " << StatusName(st);
  return 0;
}

std::string FabricName() {
  static int n = 0;
  return "coll-ibfault-" + std::to_string(getpid()) + "-" + std::to_string(++n);
}

RankOptions FaultOptions(int nranks, const std::string& fabric) {
  RankOptions o;
  o.nranks = nranks;
  o.env = TransportEnv("ibverbs");
  o.env.push_back({"COLL_TIMEOUT_MS", std::string("15000")});  // a hang shows up as TIMEOUT
  o.env.push_back({"COLL_SOFTVERBS_FABRIC", fabric});
  o.deadline = std::chrono::seconds(60);
  return o;
}

bool AllIterating(Board& b, int nranks, int at_least) {
  for (int r = 0; r < nranks; ++r)
    if (b.iterations[r] < at_least) return false;
  return true;
}

std::string Describe(const Board& b, int nranks) {
  std::string s;
  for (int r = 0; r < nranks; ++r)
    s += "rank " + std::to_string(r) + ": " + StatusName(static_cast<coll_status_t>(b.status[r])) +
         (b.init_failed[r] ? " at init" : "") + " after " + std::to_string(b.iterations[r].load()) +
         " allreduces \"" + b.message[r] + "\"\n";
  return s;
}

// Every listed rank finished with a detected fault: COLL_ERR_SYSTEM (it saw the verbs error
// itself) or COLL_ERR_PEER_LOST (a peer failed), never a success, a timeout (a hang cut
// short) or COLL_ERR_INTERNAL (a bug); returns whether any message contains `needle`.
bool ExpectCleanErrors(const Board& b, const std::vector<int>& ranks, const std::string& needle, int nranks) {
  bool found = false;
  for (int r : ranks) {
    EXPECT_EQ(b.finished[r].load(), 1) << "rank " << r << " never finished\n" << Describe(b, nranks);
    EXPECT_TRUE(b.status[r] == COLL_ERR_SYSTEM || b.status[r] == COLL_ERR_PEER_LOST)
        << "rank " << r << "\n" << Describe(b, nranks);
    found = found || std::strstr(b.message[r], needle.c_str()) != nullptr;
  }
  return found;
}

// Sets `variable`=`value` in `victim`'s environment only.
std::function<EnvList(int)> VictimEnv(int victim, const std::string& variable, const std::string& value) {
  return [=](int rank) { return rank == victim ? EnvList{{variable, value}} : EnvList{}; };
}

class IbverbsFaultTest : public ::testing::Test {
 protected:
  void SetUp() override { COLL_REQUIRE_TRANSPORT("ibverbs"); }
};

// With 3 ranks an allreduce of FaultRank (1 MiB) is 4 ring steps of 4 chunks each (the engine
// cuts a step into at least 4), so it writes 16 chunks into rank 1 and consumes 32 receives
// there (16 chunks, 16 credits): with these counts the fault strikes in the tenth allreduce.
constexpr const char* kWritesBeforeFault = "160";
constexpr const char* kReceivesBeforeFault = "320";

TEST_F(IbverbsFaultTest, RemoteAccessErrorFailsEveryRank) {
  COLL_REQUIRE_SOFTVERBS();
  const int n = 3;
  SharedArray<Board> board(1);
  RankOptions options = FaultOptions(n, FabricName());
  // Every RDMA write into rank 1's memory after the first 160 fails its remote access check.
  options.rank_env = VictimEnv(1, "SOFTVERBS_FAULT_REM_ACCESS_AFTER", kWritesBeforeFault);
  GroupResult result = RunRanks(options, [&](int rank, int nranks) { return FaultRank(rank, nranks, board[0]); });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
  EXPECT_TRUE(AllIterating(board[0], n, 2)) << "the fault struck before the ranks ran\n" << Describe(board[0], n);
  EXPECT_TRUE(ExpectCleanErrors(board[0], {0, 1, 2}, "IBV_WC_REM_ACCESS_ERR", n)) << Describe(board[0], n);
  // The writer names the status, the QP and the peer.
  bool named = false;
  for (int r = 0; r < n; ++r) {
    std::string m = board[0].message[r];
    named = named || (m.find("IBV_WC_REM_ACCESS_ERR") != std::string::npos && m.find("QP 0x") != std::string::npos &&
                      m.find("rank 1") != std::string::npos);
  }
  EXPECT_TRUE(named) << Describe(board[0], n);
}

TEST_F(IbverbsFaultTest, RnrRetriesExhaustedFailsEveryRank) {
  COLL_REQUIRE_SOFTVERBS();
  const int n = 3;
  SharedArray<Board> board(1);
  RankOptions options = FaultOptions(n, FabricName());
  options.env.push_back({"COLL_IB_RNR_RETRY", std::string("0")});
  // After 320 receives consumed on rank 1's QPs, a write-with-immediate or credit SEND into
  // rank 1 finds no receive.
  options.rank_env = VictimEnv(1, "SOFTVERBS_FAULT_RNR_AFTER", kReceivesBeforeFault);
  GroupResult result = RunRanks(options, [&](int rank, int nranks) { return FaultRank(rank, nranks, board[0]); });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
  EXPECT_TRUE(AllIterating(board[0], n, 2)) << "the fault struck before the ranks ran\n" << Describe(board[0], n);
  EXPECT_TRUE(ExpectCleanErrors(board[0], {0, 1, 2}, "IBV_WC_RNR_RETRY_EXC_ERR", n)) << Describe(board[0], n);
}

TEST_F(IbverbsFaultTest, RankKilledMidAllreduceFailsTheOthers) {
  const int n = 4;
  SharedArray<Board> board(1);
  ProcessGroup group(std::chrono::seconds(60));
  StartRanks(group, FaultOptions(n, FabricName()),
             [&](int rank, int nranks) { return FaultRank(rank, nranks, board[0]); });
  ASSERT_TRUE(WaitUntil([&] { return AllIterating(board[0], n, 2); }, std::chrono::seconds(30)));
  group.Kill(2);
  GroupResult result = group.Wait();
  EXPECT_EQ(result.procs[2].term_signal, SIGKILL) << result.Describe();
  EXPECT_TRUE(result.procs[0].Succeeded() && result.procs[1].Succeeded() && result.procs[3].Succeeded())
      << result.Describe();
  EXPECT_TRUE(ExpectCleanErrors(board[0], {0, 1, 3}, "rank 2", n)) << Describe(board[0], n);
  for (int r : {1, 3})  // the neighbours see the loss themselves
    EXPECT_EQ(board[0].status[r], COLL_ERR_PEER_LOST) << Describe(board[0], n);
}

TEST_F(IbverbsFaultTest, RegMrEnomemAtInitFailsEveryRank) {
  COLL_REQUIRE_SOFTVERBS();
  const int n = 4;
  SharedArray<Board> board(1);
  RankOptions options = FaultOptions(n, FabricName());
  options.rank_env = [](int rank) {
    return rank == 1 ? EnvList{{"SOFTVERBS_FAULT_REG_MR_ENOMEM", std::string("1")}} : EnvList{};
  };
  GroupResult result = RunRanks(options, [&](int rank, int nranks) { return FaultRank(rank, nranks, board[0]); });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
  ExpectCleanErrors(board[0], {0, 1, 2, 3}, "", n);
  EXPECT_TRUE(board[0].init_failed[1]) << Describe(board[0], n);
  EXPECT_EQ(board[0].status[1], COLL_ERR_SYSTEM) << Describe(board[0], n);
  EXPECT_NE(std::strstr(board[0].message[1], "ibv_reg_mr"), nullptr) << Describe(board[0], n);
  EXPECT_NE(std::strstr(board[0].message[1], "Cannot allocate memory"), nullptr) << Describe(board[0], n);
}

TEST_F(IbverbsFaultTest, QpErrorWhileThePeersLiveFailsEveryRank) {
  COLL_REQUIRE_SOFTVERBS();
  const int n = 3;
  SharedArray<Board> board(1);
  RankOptions options = FaultOptions(n, FabricName());
  // Rank 1's context executes 2000 WQEs, then its next one fails with a transport retry
  // error and that QP goes to ERR; every process stays alive.
  options.rank_env = VictimEnv(1, "SOFTVERBS_FAULT_QP_ERR_AFTER", "2000");
  GroupResult result = RunRanks(options, [&](int rank, int nranks) { return FaultRank(rank, nranks, board[0]); });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
  EXPECT_TRUE(AllIterating(board[0], n, 2)) << "the fault struck before the ranks ran\n" << Describe(board[0], n);
  // Which completion of rank 1's broken QP it reports first (the failed WQE, or a receive it
  // flushed) is not fixed, but it names the verbs error and the QP; the others name rank 1
  // (its error, or its leaving once it failed).
  ExpectCleanErrors(board[0], {0, 1, 2}, "", n);
  EXPECT_NE(std::strstr(board[0].message[1], "IBV_WC_"), nullptr) << Describe(board[0], n);
  EXPECT_NE(std::strstr(board[0].message[1], "QP 0x"), nullptr) << Describe(board[0], n);
  for (int r : {0, 2}) EXPECT_NE(std::strstr(board[0].message[r], "rank 1"), nullptr) << Describe(board[0], n);
}

// Rank 1's port goes down mid-run: its work requests would retry for half a minute
// (COLL_IB_TIMEOUT=20, longer than this test's COLL_TIMEOUT_MS), but the port's asynchronous
// event fails rank 1 at once, with a sentence, and the others follow it.
TEST_F(IbverbsFaultTest, PortDownFailsEveryRankAtOnce) {
  COLL_REQUIRE_SOFTVERBS();
  const int n = 3;
  SharedArray<Board> board(1);
  RankOptions options = FaultOptions(n, FabricName());
  options.rank_env = VictimEnv(1, "SOFTVERBS_FAULT_PORT_DOWN_AFTER", "2000");
  GroupResult result = RunRanks(options, [&](int rank, int nranks) { return FaultRank(rank, nranks, board[0]); });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
  EXPECT_TRUE(AllIterating(board[0], n, 2)) << "the fault struck before the ranks ran\n" << Describe(board[0], n);
  EXPECT_TRUE(ExpectCleanErrors(board[0], {0, 1, 2}, "went down (IBV_EVENT_PORT_ERR)", n)) << Describe(board[0], n);
  EXPECT_EQ(board[0].status[1], COLL_ERR_SYSTEM) << Describe(board[0], n);
  EXPECT_NE(std::strstr(board[0].message[1], "softverbs0:1 went down (IBV_EVENT_PORT_ERR)"), nullptr)
      << Describe(board[0], n);
}

// A link that stalls mid-call (every message into rank 1 is RNR-NAKed and retried forever,
// COLL_IB_RNR_RETRY=7) ends in rank 1's timeout. Chunks of that call already came from rank 0,
// so the timeout says rank 0 called it and the link stalled, not "has rank 0 called it?".
TEST_F(IbverbsFaultTest, StalledLinkTimeoutSaysThePeerCalledIt) {
  COLL_REQUIRE_SOFTVERBS();
  const int n = 2;
  SharedArray<Board> board(1);
  RankOptions options = FaultOptions(n, FabricName());
  options.env.push_back({"COLL_IB_RNR_RETRY", std::string("7")});
  options.env.push_back({"COLL_TIMEOUT_MS", std::string("20000")});
  // 2 ranks: 16 receives per allreduce on rank 1 (8 chunks, 8 credits); the 89th is the
  // ninth of the sixth allreduce, after some of its chunks arrived.
  options.rank_env = [](int rank) {
    return rank == 1 ? EnvList{{"SOFTVERBS_FAULT_RNR_AFTER", std::string("88")},
                               {"COLL_TIMEOUT_MS", std::string("3000")}}
                     : EnvList{};
  };
  GroupResult result = RunRanks(options, [&](int rank, int nranks) { return FaultRank(rank, nranks, board[0]); });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
  EXPECT_EQ(board[0].status[1], COLL_ERR_TIMEOUT) << Describe(board[0], n);
  EXPECT_NE(std::strstr(board[0].message[1], "waiting for rank 0 to send chunk"), nullptr) << Describe(board[0], n);
  EXPECT_NE(std::strstr(board[0].message[1], "rank 0 has called it"), nullptr) << Describe(board[0], n);
  EXPECT_EQ(std::strstr(board[0].message[1], "has rank 0 called it?"), nullptr) << Describe(board[0], n);
}

TEST_F(IbverbsFaultTest, RegMrFailingAfterTheFirstRegistrationFailsEveryRank) {
  COLL_REQUIRE_SOFTVERBS();
  const int n = 3;
  SharedArray<Board> board(1);
  RankOptions options = FaultOptions(n, FabricName());
  options.rank_env = VictimEnv(1, "SOFTVERBS_FAULT_REG_MR_AFTER", "1");  // its first link's pool is registered
  GroupResult result = RunRanks(options, [&](int rank, int nranks) { return FaultRank(rank, nranks, board[0]); });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
  ExpectCleanErrors(board[0], {0, 1, 2}, "", n);
  EXPECT_TRUE(board[0].init_failed[1]) << Describe(board[0], n);
  EXPECT_EQ(board[0].status[1], COLL_ERR_SYSTEM) << Describe(board[0], n);
  EXPECT_NE(std::strstr(board[0].message[1], "ibv_reg_mr"), nullptr) << Describe(board[0], n);
  EXPECT_NE(std::strstr(board[0].message[1], "Cannot allocate memory"), nullptr) << Describe(board[0], n);
}

// Seeded scheduling (tests/softverbs/README.md): every WQE starts after a random delay of
// up to 200 us and QPs are visited in a random order, so completions interleave differently
// per seed. Results must not change: every collective is checked.
TEST_F(IbverbsFaultTest, RandomDelaysChangeNoResult) {
  for (const char* seed : {"1", "2", "3"}) {
    RankOptions options = FaultOptions(3, FabricName());
    options.env.push_back({"SOFTVERBS_SEED", std::string(seed)});
    options.env.push_back({"SOFTVERBS_MAX_DELAY_US", std::string("200")});
    options.env.push_back({"COLL_NSLOTS", std::string("2")});
    options.env.push_back({"COLL_CHUNK_BYTES", std::string("4096")});
    options.env.push_back({"COLL_SMALL_BYTES", std::string("4096")});
    GroupResult result = RunCommRanks(options, [](coll_comm_t comm, int rank, int nranks) {
      for (size_t count : {size_t{3}, size_t{1024}, size_t{1025}, size_t{40000}}) {
        ReduceCase c{COLL_INT32, COLL_SUM, CaseSeed(COLL_INT32, COLL_SUM, count, 9), nranks};
        std::vector<int32_t> send(count), recv(count);
        FillInput(c, rank, 0, count, send.data());
        CCHECK_OK(coll_allreduce(send.data(), recv.data(), count, COLL_INT32, COLL_SUM, comm), comm) << count;
        std::string why = CheckReduced(c, 0, count, recv.data());
        CCHECK(why.empty()) << "count " << count << ": " << why;
        std::vector<int32_t> all(count * static_cast<size_t>(nranks));
        CCHECK_OK(coll_allgather(send.data(), all.data(), count, COLL_INT32, comm), comm) << count;
        for (int r = 0; r < nranks; ++r) {
          std::vector<int32_t> want(count);
          FillInput(c, r, 0, count, want.data());
          CCHECK(std::memcmp(want.data(), all.data() + static_cast<size_t>(r) * count, count * 4) == 0)
              << "allgather block of rank " << r << ", count " << count;
        }
      }
      return 0;
    });
    EXPECT_TRUE(result.AllSucceeded()) << "SOFTVERBS_SEED=" << seed << "\n" << result.Describe();
  }
}

// RoCE (softverbs' Ethernet port, or rxe in tests/rxe/run): each rank in its own L2 segment
// (softverbs; one segment on rxe). The automatic GID routes between them: allreduce works.
// A forced link-local GID does not: every rank fails, and the requester names the RDMA path
// between the two ranks instead of calling the live peer lost.
EnvList RoceRank(int rank) { return {{"SOFTVERBS_L2_SEGMENT", std::to_string(rank + 1)}}; }

RankOptions RoceOptions(int nranks) {
  RankOptions options = FaultOptions(nranks, FabricName());
  options.env.push_back({"SOFTVERBS_LINK_LAYER", std::string("ethernet")});
  options.rank_env = RoceRank;
  return options;
}

// Where rank `rank` of the test run by process `parent` logs (stderr goes to a file).
std::string LogPath(pid_t parent, int rank) {
  return "/tmp/coll-ibroce-" + std::to_string(parent) + "-" + std::to_string(rank);
}

// The "ibverbs: using ..." line that rank's COLL_DEBUG=INFO log printed; removes the log.
std::string UsingLine(int rank, pid_t parent) {
  std::string path = LogPath(parent, rank);
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return "(no log " + path + ")";
  std::string found;
  char line[2048];
  while (std::fgets(line, sizeof line, f) != nullptr)
    if (found.empty() && std::strstr(line, "ibverbs: using ") != nullptr) found = line;
  std::fclose(f);
  std::remove(path.c_str());
  return found;
}

TEST_F(IbverbsFaultTest, RoceAutomaticGidRoutesAndIsNeverLinkLocal) {
  const int n = 2;
  RankOptions options = RoceOptions(n);
  options.env.push_back({"COLL_DEBUG", std::string("INFO")});
  const pid_t parent = getpid();
  GroupResult result = RunRanks(options, [parent](int rank, int nranks) {
    CCHECK(std::freopen(LogPath(parent, rank).c_str(), "w", stderr) != nullptr) << LogPath(parent, rank);
    coll_comm_t comm = nullptr;
    CCHECK_OK(coll_comm_init_env(&comm), nullptr);
    std::vector<float> buf(100000, static_cast<float>(rank + 1));
    CCHECK_OK(coll_allreduce(buf.data(), buf.data(), buf.size(), COLL_FLOAT32, COLL_SUM, comm), comm);
    for (float v : buf) CCHECK(v == static_cast<float>(nranks * (nranks + 1) / 2)) << v;
    CCHECK_OK(coll_comm_destroy(comm), nullptr);
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
  for (int r = 0; r < n; ++r) {
    std::string line = UsingLine(r, parent);
    EXPECT_NE(line.find("(RoCE, GID index "), std::string::npos) << line;
    EXPECT_NE(line.find(" RoCE v2, MTU"), std::string::npos) << line;
    EXPECT_EQ(line.find("fe80:"), std::string::npos) << line;
  }
}

TEST_F(IbverbsFaultTest, RoceLinkLocalGidAcrossL2SegmentsIsAPathFailure) {
  COLL_REQUIRE_SOFTVERBS();
  const int n = 3;
  SharedArray<Board> board(1);
  RankOptions options = RoceOptions(n);
  options.env.push_back({"COLL_IB_GID_INDEX", std::string("1")});  // fe80:: RoCE v2
  options.env.push_back({"COLL_IB_TIMEOUT", std::string("8")});    // gives up after 8 x 1 ms
  GroupResult result = RunRanks(options, [&](int rank, int nranks) { return FaultRank(rank, nranks, board[0]); });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
  EXPECT_TRUE(ExpectCleanErrors(board[0], {0, 1, 2}, "the RDMA path from rank ", n)) << Describe(board[0], n);
  bool named = false;
  for (int r = 0; r < n; ++r) {
    EXPECT_FALSE(board[0].init_failed[r]) << Describe(board[0], n);
    named = named || (board[0].status[r] == COLL_ERR_SYSTEM && std::strstr(board[0].message[r], "IBV_WC_RETRY_EXC_ERR") &&
                      std::strstr(board[0].message[r], "control connection is still open"));
  }
  EXPECT_TRUE(named) << Describe(board[0], n);
}

// An empty GID table entry (rxe has 1024 entries, most empty) forced with COLL_IB_GID_INDEX is
// refused at init with a sentence, on every rank, before any queue pair is connected.
int EmptyGidIndex() {
  if (!RealVerbsLibrary().empty()) {
    for (int i = 0; i < 64; ++i) {
      FILE* f = std::fopen(("/sys/class/infiniband/rxe0/ports/1/gids/" + std::to_string(i)).c_str(), "r");
      if (f == nullptr) return -1;
      char text[64] = {};
      bool got = std::fgets(text, sizeof text, f) != nullptr;
      std::fclose(f);
      if (got && std::strncmp(text, "0000:0000:0000:0000:0000:0000:0000:0000", 39) == 0) return i;
    }
    return -1;
  }
  return 12;  // softverbs' RoCE port: entries 8-15 are empty
}

TEST_F(IbverbsFaultTest, ForcedEmptyGidIndexIsRefusedAtInit) {
  const int index = EmptyGidIndex();
  if (index < 0) GTEST_SKIP() << "no empty GID entry found under /sys/class/infiniband/rxe0/ports/1/gids";
  const int n = 2;
  SharedArray<Board> board(1);
  RankOptions options = RoceOptions(n);
  options.env.push_back({"COLL_IB_GID_INDEX", std::to_string(index)});
  GroupResult result = RunRanks(options, [&](int rank, int nranks) { return FaultRank(rank, nranks, board[0]); });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
  std::string want = "COLL_IB_GID_INDEX=" + std::to_string(index) + ": entry " + std::to_string(index) + " of ";
  for (int r = 0; r < n; ++r) {
    EXPECT_TRUE(board[0].init_failed[r]) << Describe(board[0], n);
    EXPECT_EQ(board[0].status[r], COLL_ERR_INVALID_ARGUMENT) << Describe(board[0], n);
    EXPECT_NE(std::strstr(board[0].message[r], want.c_str()), nullptr) << Describe(board[0], n);
    EXPECT_NE(std::strstr(board[0].message[r], "GID table is empty"), nullptr) << Describe(board[0], n);
  }
}

// Drops CAP_IPC_LOCK (which overrides RLIMIT_MEMLOCK) and sets the limit to 64 KiB.
void LowerMemlock() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  if (syscall(SYS_capget, &header, data) == 0) {
    data[0].effective &= ~(1u << CAP_IPC_LOCK);
    data[0].permitted &= ~(1u << CAP_IPC_LOCK);
    syscall(SYS_capset, &header, data);
  }
  rlimit lim{65536, 65536};
  setrlimit(RLIMIT_MEMLOCK, &lim);
}

TEST_F(IbverbsFaultTest, MemlockTooLowIsAClearErrorAtInit) {
  const int n = 2;
  SharedArray<Board> board(1);
  GroupResult result = RunRanks(FaultOptions(n, FabricName()), [&](int rank, int nranks) {
    return FaultRank(rank, nranks, board[0], LowerMemlock);
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
  ExpectCleanErrors(board[0], {0, 1}, "", n);
  for (int r = 0; r < n; ++r) {
    EXPECT_TRUE(board[0].init_failed[r]) << Describe(board[0], n);
    EXPECT_NE(std::strstr(board[0].message[r], "RLIMIT_MEMLOCK"), nullptr) << Describe(board[0], n);
  }
}

}  // namespace
}  // namespace colltest
