// Non-blocking collectives across processes: 64 outstanding mixed requests (with blocking
// calls in between) complete in posting order with the right data on 2-5 ranks and every
// transport; requests tested and waited from a thread other than the poster; coll_comm_abort
// with 10 requests queued completes them all with COLL_ERR_ABORTED within 100 ms;
// coll_comm_destroy with requests outstanding leaves the handles valid until waited; a peer
// killed with 10 requests queued fails them all with COLL_ERR_PEER_LOST naming it; and the
// argument errors of a post.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "support/child_check.h"
#include "support/shared_memory.h"
#include "support/transport_test.h"

namespace colltest {
namespace {

enum class Kind { kAllreduce, kBroadcast, kAllgather, kReduceScatter, kReduce, kBarrier, kBlockingAllreduce };
const char* KindName(Kind k) {
  switch (k) {
    case Kind::kAllreduce: return "iallreduce";
    case Kind::kBroadcast: return "ibroadcast";
    case Kind::kAllgather: return "iallgather";
    case Kind::kReduceScatter: return "ireduce_scatter";
    case Kind::kReduce: return "ireduce";
    case Kind::kBarrier: return "ibarrier";
    case Kind::kBlockingAllreduce: return "allreduce (blocking, between posts)";
  }
  return "?";
}

// Element i of request k's input on rank r.
int32_t Input(int r, int k, size_t i) { return (r + 1) * 7 + k * 13 + static_cast<int32_t>(i % 1001); }

struct Posted {
  Kind kind;
  int k;
  size_t count;
  int root;
  std::vector<int32_t> send, recv;
  coll_request_t request = nullptr;
  std::string name() const { return std::string(KindName(kind)) + " #" + std::to_string(k) + " count " +
                                    std::to_string(count); }
};

// Request k's shape: every kind, counts on both sides of the latency/ring switch.
Posted Shape(int k, int nranks) {
  static const Kind kinds[] = {Kind::kAllreduce, Kind::kBroadcast,     Kind::kAllgather, Kind::kReduceScatter,
                               Kind::kReduce,    Kind::kAllreduce,     Kind::kBarrier};
  static const size_t counts[] = {1, 100, 3000, 70000, 7, 20000};
  Posted p;
  p.kind = k % 16 == 15 ? Kind::kBlockingAllreduce : kinds[k % 7];
  p.k = k;
  p.count = counts[k % 6];
  p.root = k % nranks;
  return p;
}

void Fill(Posted& p, int rank, int nranks) {
  const size_t n = static_cast<size_t>(nranks);
  size_t send = p.count, recv = p.count;
  if (p.kind == Kind::kAllgather) recv = p.count * n;
  if (p.kind == Kind::kReduceScatter) send = p.count * n;
  if (p.kind == Kind::kBarrier) send = recv = 0;
  p.send.resize(send);
  for (size_t i = 0; i < send; ++i) p.send[i] = Input(rank, p.k, i);
  p.recv.assign(recv, -1);
}

coll_status_t Post(Posted& p, coll_comm_t comm) {
  const void* s = p.send.data();
  void* r = p.recv.data();
  switch (p.kind) {
    case Kind::kAllreduce: return coll_iallreduce(s, r, p.count, COLL_INT32, COLL_SUM, comm, &p.request);
    case Kind::kBroadcast: return coll_ibroadcast(s, r, p.count, COLL_INT32, p.root, comm, &p.request);
    case Kind::kAllgather: return coll_iallgather(s, r, p.count, COLL_INT32, comm, &p.request);
    case Kind::kReduceScatter: return coll_ireduce_scatter(s, r, p.count, COLL_INT32, COLL_SUM, comm, &p.request);
    case Kind::kReduce: return coll_ireduce(s, r, p.count, COLL_INT32, COLL_SUM, p.root, comm, &p.request);
    case Kind::kBarrier: return coll_ibarrier(comm, &p.request);
    case Kind::kBlockingAllreduce: return coll_allreduce(s, r, p.count, COLL_INT32, COLL_SUM, comm);
  }
  return COLL_ERR_INTERNAL;
}

// Empty when request p's output on `rank` is right.
std::string Check(const Posted& p, int rank, int nranks) {
  auto sum = [&](size_t i) {
    int32_t s = 0;
    for (int r = 0; r < nranks; ++r) s += Input(r, p.k, i);
    return s;
  };
  for (size_t i = 0; i < p.recv.size(); ++i) {
    int32_t want = 0;
    switch (p.kind) {
      case Kind::kAllreduce:
      case Kind::kBlockingAllreduce: want = sum(i); break;
      case Kind::kBroadcast: want = Input(p.root, p.k, i); break;
      case Kind::kAllgather: want = Input(static_cast<int>(i / p.count), p.k, i % p.count); break;
      case Kind::kReduceScatter: want = sum(static_cast<size_t>(rank) * p.count + i); break;
      case Kind::kReduce:
        if (rank != p.root) return p.recv[i] == -1 ? "" : "a non-root rank's recvbuf was written";
        want = sum(i);
        break;
      case Kind::kBarrier: break;
    }
    if (p.recv[i] != want)
      return "element " + std::to_string(i) + " is " + std::to_string(p.recv[i]) + ", expected " +
             std::to_string(want);
  }
  return "";
}

int PostAll(std::vector<Posted>& posted, coll_comm_t comm, int rank, int nranks) {
  for (Posted& p : posted) {
    Fill(p, rank, nranks);
    CCHECK_OK(Post(p, comm), comm) << p.name();
    if (p.kind != Kind::kBlockingAllreduce) {
      CCHECK(p.request != nullptr) << p.name() << ": no request";
    }
  }
  return 0;
}

int CompleteAndCheck(std::vector<Posted>& posted, coll_comm_t comm, int rank, int nranks) {
  // Every other request by coll_test polling, the rest by coll_wait, last first: completion
  // must not depend on the order of the waits.
  for (size_t j = posted.size(); j-- > 0;) {
    Posted& p = posted[j];
    if (p.request == nullptr) continue;
    if (j % 2 == 0) {
      int done = 0;
      while (!done) CCHECK_OK(coll_test(&p.request, &done), comm) << p.name();
    } else {
      CCHECK_OK(coll_wait(&p.request), comm) << p.name();
    }
    CCHECK(p.request == nullptr) << p.name() << ": the request was not cleared";
  }
  for (const Posted& p : posted) {
    std::string why = Check(p, rank, nranks);
    CCHECK(why.empty()) << p.name() << " on rank " << rank << ": " << why;
  }
  return 0;
}

class AsyncTest : public TransportRanksTest {};

TEST_P(AsyncTest, SixtyFourMixedRequestsCompleteInPostingOrder) {
  COLL_REQUIRE_TRANSPORT(transport());
  GroupResult result = RunCommRanks(Options(), [](coll_comm_t comm, int rank, int nranks) {
    std::vector<Posted> posted;
    for (int k = 0; k < 64; ++k) posted.push_back(Shape(k, nranks));
    if (int rc = PostAll(posted, comm, rank, nranks)) return rc;
    return CompleteAndCheck(posted, comm, rank, nranks);
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

TEST_P(AsyncTest, TestAndWaitFromAnotherThread) {
  COLL_REQUIRE_TRANSPORT(transport());
  GroupResult result = RunCommRanks(Options(), [](coll_comm_t comm, int rank, int nranks) {
    std::vector<Posted> posted;
    for (int k = 0; k < 16; ++k) posted.push_back(Shape(k, nranks));
    int rc = 0;
    std::atomic<int> ready{0};
    std::thread completer([&] {
      while (ready.load() == 0) std::this_thread::yield();
      rc = CompleteAndCheck(posted, comm, rank, nranks);
    });
    int post_rc = PostAll(posted, comm, rank, nranks);
    ready = 1;
    completer.join();
    return post_rc != 0 ? post_rc : rc;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

COLL_INSTANTIATE_TRANSPORTS(AsyncTest, 2, 3, 4, 5);

// Rank 0 posts 10 requests that cannot finish (rank 1 posts nothing), then aborts.
struct Board {
  std::atomic<int> posted;
  std::atomic<int> finished;
};

int PostTenStuck(coll_comm_t comm, std::vector<float>& buf, std::vector<coll_request_t>& requests) {
  requests.assign(10, nullptr);
  for (size_t i = 0; i < requests.size(); ++i)
    CCHECK_OK(coll_iallreduce(&buf[i * 1000], &buf[i * 1000], 1000, COLL_FLOAT32, COLL_SUM, comm, &requests[i]),
              comm);
  return 0;
}

class AsyncAbortTest : public TransportRanksTest {};

TEST_P(AsyncAbortTest, AbortCompletesTenQueuedRequestsWithin100Ms) {
  COLL_REQUIRE_TRANSPORT(transport());
  SharedArray<Board> board(1);
  RankOptions options = Options();
  options.env.push_back({"COLL_TIMEOUT_MS", std::string("20000")});
  GroupResult result = RunCommRanks(options, [&board](coll_comm_t comm, int rank, int) -> int {
    if (rank != 0) {
      CCHECK(WaitUntil([&] { return board[0].finished.load() == 1; }, std::chrono::seconds(30)))
          << "rank 0 never finished";
      return 0;
    }
    std::vector<float> buf(10 * 1000, 1.0f);
    std::vector<coll_request_t> requests;
    if (int rc = PostTenStuck(comm, buf, requests)) return rc;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const int64_t start = NowNs();
    CCHECK_OK(coll_comm_abort(comm), comm);
    size_t left = requests.size();
    while (left > 0 && NowNs() - start < int64_t{2000} * 1000000) {
      for (coll_request_t& r : requests) {
        if (r == nullptr) continue;
        int done = 0;
        coll_status_t st = coll_test(&r, &done);
        if (!done) continue;
        --left;
        CCHECK_STATUS(COLL_ERR_ABORTED, st, comm);
      }
    }
    const double ms = static_cast<double>(NowNs() - start) * 1e-6;
    board[0].finished = 1;
    CCHECK(left == 0) << left << " requests still running 2 s after the abort";
    CCHECK(ms <= 100.0) << "the 10 requests took " << ms << " ms to complete after coll_comm_abort";
    std::string message = coll_comm_last_error(comm);
    CCHECK(message.find("aborted") != std::string::npos) << "\"" << message << "\"";
    float x = 1;
    CCHECK_STATUS(COLL_ERR_ABORTED, coll_iallreduce(&x, &x, 1, COLL_FLOAT32, COLL_SUM, comm, &requests[0]), comm)
        << "a post after the abort";
    CCHECK(requests[0] == nullptr) << "a failed post left a request";
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

TEST_P(AsyncAbortTest, DestroyWithOutstandingRequestsLeavesHandlesValid) {
  COLL_REQUIRE_TRANSPORT(transport());
  SharedArray<Board> board(1);
  RankOptions options = Options();
  options.env.push_back({"COLL_TIMEOUT_MS", std::string("20000")});
  GroupResult result = RunRanks(options, [&board](int rank, int) -> int {
    coll_comm_t comm = nullptr;
    coll_status_t init = coll_comm_init_env(&comm);
    if (init == COLL_ERR_UNSUPPORTED) return kExitUnsupported;
    CCHECK_OK(init, nullptr);
    if (rank != 0) {
      CCHECK(WaitUntil([&] { return board[0].finished.load() == 1; }, std::chrono::seconds(30)))
          << "rank 0 never finished";
      CCHECK_OK(coll_comm_destroy(comm), nullptr);
      return 0;
    }
    std::vector<float> buf(10 * 1000, 1.0f);
    std::vector<coll_request_t> requests;
    if (int rc = PostTenStuck(comm, buf, requests)) return rc;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    CCHECK_OK(coll_comm_destroy(comm), nullptr);
    for (coll_request_t& r : requests) {
      CCHECK_STATUS(COLL_ERR_ABORTED, coll_wait(&r), nullptr);
      CCHECK(r == nullptr) << "the request was not cleared";
    }
    std::string message = coll_comm_last_error(nullptr);
    CCHECK(message.find("destroyed") != std::string::npos) << "\"" << message << "\"";
    int done = 0;
    CCHECK_STATUS(COLL_ERR_INVALID_ARGUMENT, coll_test(&requests[0], &done), nullptr) << "a freed request";
    board[0].finished = 1;
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

COLL_INSTANTIATE_TRANSPORTS(AsyncAbortTest, 2);

// Ranks 0 and 1 post 10 requests each; rank 2 never joins and is killed.
class AsyncPeerLossTest : public TransportRanksTest {};

TEST_P(AsyncPeerLossTest, PeerKilledWithTenQueuedFailsAllNamingIt) {
  COLL_REQUIRE_TRANSPORT(transport());
  SharedArray<Board> board(1);
  ProcessGroup group(std::chrono::seconds(60));
  RankOptions options = Options();
  options.env.push_back({"COLL_TIMEOUT_MS", std::string("10000")});
  StartRanks(group, options, [&board](int rank, int nranks) {
    return RunWithComm(rank, nranks, [&board](coll_comm_t comm, int r, int) -> int {
      if (r == 2) {
        ++board[0].posted;
        for (;;) pause();
      }
      std::vector<float> buf(10 * 1000, 1.0f);
      std::vector<coll_request_t> requests;
      if (int rc = PostTenStuck(comm, buf, requests)) return rc;
      ++board[0].posted;
      for (coll_request_t& req : requests) {
        CCHECK_STATUS(COLL_ERR_PEER_LOST, coll_wait(&req), comm);
        std::string message = coll_comm_last_error(comm);
        CCHECK(message.find("rank 2") != std::string::npos) << "\"" << message << "\" does not name rank 2";
      }
      return 0;
    });
  });
  bool posted = WaitUntil([&] { return board[0].posted.load() == 3; }, std::chrono::seconds(30));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  group.Kill(2);
  GroupResult result = group.Wait();
  ASSERT_TRUE(posted) << result.Describe();
  EXPECT_EQ(result.procs[2].term_signal, SIGKILL) << result.Describe();
  EXPECT_TRUE(result.procs[0].Succeeded() && result.procs[1].Succeeded()) << result.Describe();
}

COLL_INSTANTIATE_TRANSPORTS(AsyncPeerLossTest, 3);

// Argument errors come back from the post, before anything is queued.
TEST(AsyncArgs, PostErrorsAreReturnedAtOnce) {
  RankOptions options;
  options.nranks = 2;
  options.env = TransportEnv("tcp");
  GroupResult result = RunCommRanks(options, [](coll_comm_t comm, int rank, int) -> int {
    float x = 1;
    coll_request_t req = reinterpret_cast<coll_request_t>(&x);
    CCHECK_STATUS(COLL_ERR_INVALID_ARGUMENT, coll_iallreduce(nullptr, &x, 1, COLL_FLOAT32, COLL_SUM, comm, &req),
                  comm);
    CCHECK(req == nullptr) << "a rejected post left *request set";
    CCHECK(std::string(coll_comm_last_error(comm)) ==
           "iallreduce on rank " + std::to_string(rank) + ": sendbuf is NULL with count 1")
        << coll_comm_last_error(comm);
    CCHECK_STATUS(COLL_ERR_INVALID_ARGUMENT, coll_iallreduce(&x, &x, 1, COLL_FLOAT32, COLL_SUM, comm, nullptr), comm);
    CCHECK(std::string(coll_comm_last_error(comm)).find("request is NULL") != std::string::npos)
        << coll_comm_last_error(comm);
    CCHECK_STATUS(COLL_ERR_INVALID_ARGUMENT, coll_ibroadcast(&x, &x, 1, COLL_FLOAT32, 5, comm, &req), comm);
    CCHECK(std::string(coll_comm_last_error(comm)).find("root 5 is out of range") != std::string::npos)
        << coll_comm_last_error(comm);
    CCHECK_STATUS(COLL_ERR_INVALID_ARGUMENT, coll_wait(nullptr), nullptr);
    CCHECK(std::string(coll_comm_last_error(nullptr)) == "coll_wait: request is NULL") << coll_comm_last_error(nullptr);
    req = nullptr;
    int done = 0;
    CCHECK_STATUS(COLL_ERR_INVALID_ARGUMENT, coll_test(&req, &done), nullptr);
    CCHECK_STATUS(COLL_ERR_INVALID_ARGUMENT, coll_test(&req, nullptr), nullptr);
    // The communicator is still usable after argument errors.
    CCHECK_OK(coll_iallreduce(&x, &x, 1, COLL_FLOAT32, COLL_SUM, comm, &req), comm);
    CCHECK_OK(coll_wait(&req), comm);
    CCHECK(x == 2.0f) << x;
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

}  // namespace
}  // namespace colltest
