// Init under stress (issue 10, defects 3-6): stray connections to a rank's ring listener
// are dropped and the real neighbour still connects; silent and held connections to the root
// delay no one; a rank that dies during init is reported on every survivor within 2 s; and
// ranks already joined get the root's own reason when its rendezvous fails.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "support/child_check.h"
#include "support/shared_memory.h"
#include "support/transport_test.h"

namespace colltest {
namespace {

struct InitBoard {
  std::atomic<int64_t> start_ns[4];
  std::atomic<int64_t> end_ns[4];
  std::atomic<int> status[4];
  std::atomic<int> sum[4];
  char message[4][512];
};

// coll_comm_init_env after delay_ms, then (on success) one checked allreduce and destroy.
int InitAndReduce(InitBoard& b, int rank, int nranks, int delay_ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
  b.start_ns[rank] = NowNs();
  coll_comm_t comm = nullptr;
  coll_status_t st = coll_comm_init_env(&comm);
  b.end_ns[rank] = NowNs();
  b.status[rank] = st;
  if (st != COLL_SUCCESS) {
    std::snprintf(b.message[rank], sizeof b.message[rank], "%s", coll_comm_last_error(nullptr));
    return 0;
  }
  int x = rank + 1;
  CCHECK_OK(coll_allreduce(&x, &x, 1, COLL_INT32, COLL_SUM, comm), comm);
  b.sum[rank] = x;
  CCHECK(x == nranks * (nranks + 1) / 2) << "sum " << x;
  CCHECK_OK(coll_comm_destroy(comm), nullptr);
  return 0;
}

EnvList RankEnv(int port, int rank, int nranks, int timeout_ms) {
  EnvList env = TransportEnv("tcp");
  env.push_back({"COLL_TIMEOUT_MS", std::to_string(timeout_ms)});
  env.push_back({"COLL_RANK", std::to_string(rank)});
  env.push_back({"COLL_SIZE", std::to_string(nranks)});
  env.push_back({"COLL_ROOT_ADDR", "127.0.0.1:" + std::to_string(port)});
  return env;
}

// TCP ports that process `pid` listens on (its sockets in /proc/<pid>/net/tcp, state LISTEN).
std::vector<int> ListeningPorts(pid_t pid) {
  std::set<std::string> inodes;
  const std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* d = opendir(fd_dir.c_str())) {
    while (dirent* e = readdir(d)) {
      char target[256] = {};
      std::string path = fd_dir + "/" + e->d_name;
      ssize_t n = readlink(path.c_str(), target, sizeof target - 1);
      if (n > 0 && std::strncmp(target, "socket:[", 8) == 0)
        inodes.insert(std::string(target + 8, target + n - 1));
    }
    closedir(d);
  }
  std::vector<int> ports;
  std::ifstream tcp("/proc/" + std::to_string(pid) + "/net/tcp");
  std::string line;
  std::getline(tcp, line);  // header
  while (std::getline(tcp, line)) {
    std::istringstream in(line);
    std::string slot, local, remote, state, queues, timer, retr, uid, timeout, inode;
    in >> slot >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
    if (state != "0A" || inodes.count(inode) == 0) continue;
    ports.push_back(std::stoi(local.substr(local.find(':') + 1), nullptr, 16));
  }
  return ports;
}

int ConnectTo(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

double Seconds(int64_t ns) { return static_cast<double>(ns) * 1e-9; }

TEST(InitFailureTest, StrayConnectionsToARingListenerAreDropped) {
  SharedArray<InitBoard> board(1);
  const int port = PickFreePort();
  ProcessGroup group(std::chrono::seconds(60));
  // Rank 2 comes late, so ranks 0 and 1 wait in init with their ring listeners open.
  for (int r = 0; r < 3; ++r)
    group.Spawn("rank " + std::to_string(r), RankEnv(port, r, 3, 20000),
                [&board, r] { return InitAndReduce(board[0], r, 3, r == 2 ? 1500 : 0); });
  std::vector<int> ports;
  ASSERT_TRUE(WaitUntil([&] { return !(ports = ListeningPorts(group.pid(1))).empty(); }, std::chrono::seconds(10)))
      << "rank 1 never opened its ring listener";
  const int listener = ports[0];
  std::vector<int> held;
  int closes_at_once = ConnectTo(listener);  // connects and leaves
  ASSERT_GE(closes_at_once, 0);
  close(closes_at_once);
  int garbage = ConnectTo(listener);  // sends bytes that are no handshake
  ASSERT_GE(garbage, 0);
  std::string junk(300, 'x');
  ASSERT_EQ(write(garbage, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  held.push_back(garbage);
  held.push_back(ConnectTo(listener));  // silent, held open
  GroupResult result = group.Wait();
  for (int fd : held) close(fd);
  ASSERT_TRUE(result.AllSucceeded()) << result.Describe();
  for (int r = 0; r < 3; ++r) EXPECT_EQ(board[0].status[r].load(), COLL_SUCCESS) << board[0].message[r];
  const double after_last = Seconds(board[0].end_ns[1] - board[0].start_ns[2]);
  EXPECT_LT(after_last, 3.0) << "rank 1's init ended " << after_last << " s after the last rank started";
}

TEST(InitFailureTest, SilentAndHeldConnectionsToTheRootDelayNoOne) {
  SharedArray<InitBoard> board(1);
  const int port = PickFreePort();
  ProcessGroup group(std::chrono::seconds(60));
  group.Spawn("rank 0", RankEnv(port, 0, 3, 30000), [&board] { return InitAndReduce(board[0], 0, 3, 0); });
  std::vector<int> held;
  ASSERT_TRUE(WaitUntil([&] {
    int fd = ConnectTo(port);
    if (fd >= 0) held.push_back(fd);
    return fd >= 0;
  }, std::chrono::seconds(10))) << "rank 0 never listened";
  for (int i = 0; i < 200; ++i) {
    int fd = ConnectTo(port);
    ASSERT_GE(fd, 0) << "connection " << i;
    held.push_back(fd);
  }
  const int64_t joiners_start = NowNs();
  for (int r = 1; r < 3; ++r)
    group.Spawn("rank " + std::to_string(r), RankEnv(port, r, 3, 30000),
                [&board, r] { return InitAndReduce(board[0], r, 3, 0); });
  GroupResult result = group.Wait();
  for (int fd : held) close(fd);
  ASSERT_TRUE(result.AllSucceeded()) << result.Describe();
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(board[0].status[r].load(), COLL_SUCCESS) << board[0].message[r];
    const double took = Seconds(board[0].end_ns[r] - joiners_start);
    EXPECT_LT(took, 3.0) << "rank " << r << "'s init ended " << took << " s after the joiners started";
  }
}

// nranks 4 but rank 3 never comes: a death among the joined ranks must end everyone's init
// at once, not at COLL_TIMEOUT_MS (20 s here).
void KillDuringInit(int victim) {
  SharedArray<InitBoard> board(1);
  const int port = PickFreePort();
  ProcessGroup group(std::chrono::seconds(60));
  for (int r = 0; r < 3; ++r)
    group.Spawn("rank " + std::to_string(r), RankEnv(port, r, 4, 20000),
                [&board, r] { return InitAndReduce(board[0], r, 4, 0); });
  std::this_thread::sleep_for(std::chrono::milliseconds(700));  // every started rank has joined
  const int64_t killed = NowNs();
  group.Kill(victim);
  GroupResult result = group.Wait();
  for (int r = 0; r < 3; ++r) {
    if (r == victim) continue;
    ASSERT_NE(board[0].end_ns[r].load(), 0) << "rank " << r << " never returned from init\n" << result.Describe();
    EXPECT_EQ(board[0].status[r].load(), COLL_ERR_PEER_LOST) << "rank " << r << ": " << board[0].message[r];
    const double after = Seconds(board[0].end_ns[r] - killed);
    EXPECT_LT(after, 2.0) << "rank " << r << " learnt of the death " << after << " s after it";
    const std::string names = "rank " + std::to_string(victim);
    EXPECT_NE(std::string(board[0].message[r]).find(names), std::string::npos)
        << "rank " << r << ": \"" << board[0].message[r] << "\" does not name " << names;
  }
}

TEST(InitFailureTest, AJoinedRankKilledDuringInitIsReportedEverywhereAtOnce) { KillDuringInit(2); }

TEST(InitFailureTest, TheRootKilledDuringInitIsReportedEverywhereAtOnce) { KillDuringInit(0); }

TEST(InitFailureTest, JoinedRanksGetTheRootsReasonForAConfigMismatch) {
  SharedArray<InitBoard> board(1);
  const int port = PickFreePort();
  ProcessGroup group(std::chrono::seconds(60));
  for (int r = 0; r < 3; ++r) {
    EnvList env = RankEnv(port, r, 3, 20000);
    if (r == 2) env.push_back({"COLL_NSLOTS", std::string("8")});
    group.Spawn("rank " + std::to_string(r), env,
                [&board, r] { return InitAndReduce(board[0], r, 3, r == 2 ? 500 : 0); });
  }
  GroupResult result = group.Wait();
  EXPECT_EQ(board[0].status[1].load(), COLL_ERR_INVALID_ARGUMENT) << board[0].message[1];
  EXPECT_NE(std::string(board[0].message[1]).find("COLL_NSLOTS is 4 on rank 0 but 8 on rank 2"), std::string::npos)
      << "rank 1 got \"" << board[0].message[1] << "\"";
  EXPECT_EQ(board[0].status[0].load(), COLL_ERR_INVALID_ARGUMENT) << board[0].message[0];
}

TEST(InitFailureTest, JoinedRanksGetTheRootsReasonForAMissingRank) {
  SharedArray<InitBoard> board(1);
  const int port = PickFreePort();
  ProcessGroup group(std::chrono::seconds(60));
  group.Spawn("rank 0", RankEnv(port, 0, 3, 1500), [&board] { return InitAndReduce(board[0], 0, 3, 0); });
  group.Spawn("rank 1", RankEnv(port, 1, 3, 20000), [&board] { return InitAndReduce(board[0], 1, 3, 0); });
  GroupResult result = group.Wait();
  EXPECT_EQ(board[0].status[0].load(), COLL_ERR_TIMEOUT) << board[0].message[0];
  EXPECT_EQ(board[0].status[1].load(), COLL_ERR_TIMEOUT) << board[0].message[1];
  EXPECT_NE(std::string(board[0].message[1]).find("waiting for rank(s) 2 to join"), std::string::npos)
      << "rank 1 got \"" << board[0].message[1] << "\"";
}

}  // namespace
}  // namespace colltest
