// Bad arguments are rejected with COLL_ERR_INVALID_ARGUMENT before any byte moves: every
// rank makes the same bad call, gets the status and a last-error sentence naming the
// operation, and the communicator then still works. Also bad coll_comm_init arguments.
#include <cctype>
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include "support/child_check.h"
#include "support/data.h"
#include "support/transport_test.h"

namespace colltest {
namespace {

constexpr coll_dtype_t kBadDtype = static_cast<coll_dtype_t>(99);
constexpr coll_op_t kBadOp = static_cast<coll_op_t>(99);
constexpr size_t kOverflow = SIZE_MAX / 2;  // times 4 bytes overflows size_t

struct Bufs {
  float send[64] = {};
  float recv[64 * 8] = {};
};

struct BadCall {
  const char* name;
  coll_status_t expected;
  const char* mentions;  // lower-case part of coll_comm_last_error; nullptr: no check
  std::function<coll_status_t(coll_comm_t comm, int nranks, Bufs& b)> call;
};

const std::vector<BadCall>& BadCalls() {
  static const std::vector<BadCall> kCalls = {
      {"allreduce NULL comm", COLL_ERR_INVALID_ARGUMENT, nullptr,
       [](coll_comm_t, int, Bufs& b) { return coll_allreduce(b.send, b.recv, 4, COLL_FLOAT32, COLL_SUM, nullptr); }},
      {"allreduce NULL sendbuf", COLL_ERR_INVALID_ARGUMENT, "allreduce",
       [](coll_comm_t c, int, Bufs& b) { return coll_allreduce(nullptr, b.recv, 4, COLL_FLOAT32, COLL_SUM, c); }},
      {"allreduce NULL recvbuf", COLL_ERR_INVALID_ARGUMENT, "allreduce",
       [](coll_comm_t c, int, Bufs& b) { return coll_allreduce(b.send, nullptr, 4, COLL_FLOAT32, COLL_SUM, c); }},
      {"allreduce dtype 99", COLL_ERR_INVALID_ARGUMENT, "allreduce",
       [](coll_comm_t c, int, Bufs& b) { return coll_allreduce(b.send, b.recv, 4, kBadDtype, COLL_SUM, c); }},
      {"allreduce op 99", COLL_ERR_INVALID_ARGUMENT, "allreduce",
       [](coll_comm_t c, int, Bufs& b) { return coll_allreduce(b.send, b.recv, 4, COLL_FLOAT32, kBadOp, c); }},
      {"allreduce count SIZE_MAX", COLL_ERR_INVALID_ARGUMENT, "allreduce",
       [](coll_comm_t c, int, Bufs& b) { return coll_allreduce(b.send, b.recv, SIZE_MAX, COLL_FLOAT32, COLL_SUM, c); }},
      {"allreduce count*size overflow", COLL_ERR_INVALID_ARGUMENT, "allreduce",
       [](coll_comm_t c, int, Bufs& b) { return coll_allreduce(b.send, b.recv, kOverflow, COLL_FLOAT32, COLL_SUM, c); }},
      {"broadcast root -1", COLL_ERR_INVALID_ARGUMENT, "root",
       [](coll_comm_t c, int, Bufs& b) { return coll_broadcast(b.send, b.recv, 4, COLL_FLOAT32, -1, c); }},
      {"broadcast root nranks", COLL_ERR_INVALID_ARGUMENT, "root",
       [](coll_comm_t c, int n, Bufs& b) { return coll_broadcast(b.send, b.recv, 4, COLL_FLOAT32, n, c); }},
      {"broadcast NULL recvbuf", COLL_ERR_INVALID_ARGUMENT, "broadcast",
       [](coll_comm_t c, int, Bufs& b) { return coll_broadcast(b.send, nullptr, 4, COLL_FLOAT32, 0, c); }},
      {"broadcast dtype 99", COLL_ERR_INVALID_ARGUMENT, "broadcast",
       [](coll_comm_t c, int, Bufs& b) { return coll_broadcast(b.send, b.recv, 4, kBadDtype, 0, c); }},
      {"reduce root -1", COLL_ERR_INVALID_ARGUMENT, "root",
       [](coll_comm_t c, int, Bufs& b) { return coll_reduce(b.send, b.recv, 4, COLL_FLOAT32, COLL_SUM, -1, c); }},
      {"reduce root nranks", COLL_ERR_INVALID_ARGUMENT, "root",
       [](coll_comm_t c, int n, Bufs& b) { return coll_reduce(b.send, b.recv, 4, COLL_FLOAT32, COLL_SUM, n, c); }},
      {"reduce op 99", COLL_ERR_INVALID_ARGUMENT, "reduce",
       [](coll_comm_t c, int, Bufs& b) { return coll_reduce(b.send, b.recv, 4, COLL_FLOAT32, kBadOp, 0, c); }},
      {"allgather NULL recvbuf", COLL_ERR_INVALID_ARGUMENT, "allgather",
       [](coll_comm_t c, int, Bufs& b) { return coll_allgather(b.send, nullptr, 4, COLL_FLOAT32, c); }},
      {"allgather count overflow", COLL_ERR_INVALID_ARGUMENT, "allgather",
       [](coll_comm_t c, int, Bufs& b) { return coll_allgather(b.send, b.recv, kOverflow, COLL_FLOAT32, c); }},
      {"reduce_scatter NULL sendbuf", COLL_ERR_INVALID_ARGUMENT, "reduce",
       [](coll_comm_t c, int, Bufs& b) { return coll_reduce_scatter(nullptr, b.recv, 4, COLL_FLOAT32, COLL_SUM, c); }},
      {"reduce_scatter op 99", COLL_ERR_INVALID_ARGUMENT, "reduce",
       [](coll_comm_t c, int, Bufs& b) { return coll_reduce_scatter(b.send, b.recv, 4, COLL_FLOAT32, kBadOp, c); }},
      {"reduce_scatter count overflow", COLL_ERR_INVALID_ARGUMENT, "reduce",
       [](coll_comm_t c, int, Bufs& b) { return coll_reduce_scatter(b.send, b.recv, kOverflow, COLL_FLOAT32, COLL_SUM, c); }},
      {"barrier NULL comm", COLL_ERR_INVALID_ARGUMENT, nullptr,
       [](coll_comm_t, int, Bufs&) { return coll_barrier(nullptr); }},
      {"comm_rank NULL out", COLL_ERR_INVALID_ARGUMENT, nullptr,
       [](coll_comm_t c, int, Bufs&) { return coll_comm_rank(c, nullptr); }},
      {"comm_size NULL comm", COLL_ERR_INVALID_ARGUMENT, nullptr,
       [](coll_comm_t, int, Bufs&) { int n = 0; return coll_comm_size(nullptr, &n); }},
      {"last_op_info NULL info", COLL_ERR_INVALID_ARGUMENT, nullptr,
       [](coll_comm_t c, int, Bufs&) { return coll_comm_last_op_info(c, nullptr); }},
      {"allreduce count 0 with NULL buffers", COLL_SUCCESS, nullptr,
       [](coll_comm_t c, int, Bufs&) { return coll_allreduce(nullptr, nullptr, 0, COLL_FLOAT32, COLL_SUM, c); }},
  };
  return kCalls;
}

std::string Lower(const char* text) {
  std::string out(text);
  for (char& ch : out) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return out;
}

int RunBadCalls(coll_comm_t comm, int nranks) {
  for (const BadCall& bad : BadCalls()) {
    Bufs bufs;
    CCHECK_STATUS(bad.expected, bad.call(comm, nranks, bufs), comm) << bad.name;
    if (bad.mentions == nullptr) continue;
    std::string message = Lower(coll_comm_last_error(comm));
    CCHECK(message.find(bad.mentions) != std::string::npos)
        << bad.name << ": last error \"" << message << "\" does not mention " << bad.mentions;
  }
  return 0;
}

int CheckStillWorks(coll_comm_t comm, int rank, int nranks) {
  ReduceCase c{COLL_INT32, COLL_SUM, 77, nranks};
  std::vector<int32_t> send(1000);
  std::vector<int32_t> recv(1000);
  FillInput(c, rank, 0, send.size(), send.data());
  CCHECK_OK(coll_allreduce(send.data(), recv.data(), send.size(), COLL_INT32, COLL_SUM, comm), comm)
      << "allreduce after the rejected calls";
  std::string why = CheckReduced(c, 0, recv.size(), recv.data());
  CCHECK(why.empty()) << "allreduce after the rejected calls: " << why;
  CCHECK_OK(coll_barrier(comm), comm);
  return 0;
}

class InvalidArgsTest : public TransportRanksTest {};

TEST_P(InvalidArgsTest, RejectedBeforeAnyByteMovesAndCommStillWorks) {
  COLL_REQUIRE_TRANSPORT(transport());
  GroupResult result = RunCommRanks(Options(), [](coll_comm_t comm, int rank, int nranks) {
    int rc = RunBadCalls(comm, nranks);
    return rc != 0 ? rc : CheckStillWorks(comm, rank, nranks);
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

COLL_INSTANTIATE_TRANSPORTS(InvalidArgsTest, 1, 3);

}  // namespace
}  // namespace colltest
