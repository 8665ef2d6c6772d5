// Bootstrap through coll_get_unique_id + coll_comm_init (id handed over through shared
// memory), job-token authentication (an impostor with a flipped token gets COLL_ERR_AUTH
// and the real job still runs), coll_comm_last_op_info, and bad init arguments.
#include <atomic>
#include <cstring>
#include <string>
#include <vector>

#include "support/child_check.h"
#include "support/data.h"
#include "support/shared_memory.h"
#include "support/transport_test.h"

namespace colltest {
namespace {

constexpr size_t kTokenBegin = 32;  // the job token is bytes [32, 48) of coll_unique_id_t
constexpr size_t kTokenEnd = 48;

struct IdBox {
  std::atomic<int> ready;
  std::atomic<int> impostor_done;
  coll_unique_id_t id;
};

int PublishId(IdBox& box) {
  CCHECK_OK(coll_get_unique_id(&box.id), nullptr);
  box.ready = 1;
  return 0;
}

int AwaitId(IdBox& box, coll_unique_id_t* id) {
  CCHECK(WaitUntil([&] { return box.ready.load() == 1; }, std::chrono::seconds(20)))
      << "rank 0 never published the unique id";
  std::memcpy(id, &box.id, sizeof(*id));
  return 0;
}

// Init with id, one checked allreduce, op info, destroy. The 16 KiB allreduce is above
// COLL_SMALL_BYTES (8 KiB, set by BootstrapTest::Env), so it runs the ring over `transport`.
int JoinAndReduce(const coll_unique_id_t& id, int rank, int nranks, const std::string& transport) {
  coll_comm_t comm = nullptr;
  CCHECK_OK(coll_comm_init(&comm, nranks, rank, &id), nullptr);
  ReduceCase c{COLL_FLOAT32, COLL_SUM, 500, nranks};
  std::vector<float> send(4097);
  std::vector<float> recv(4097);
  FillInput(c, rank, 0, send.size(), send.data());
  CCHECK_OK(coll_allreduce(send.data(), recv.data(), send.size(), COLL_FLOAT32, COLL_SUM, comm), comm);
  std::string why = CheckReduced(c, 0, recv.size(), recv.data());
  CCHECK(why.empty()) << why;
  coll_op_info_t info = COLL_OP_INFO_INIT;
  CCHECK_OK(coll_comm_last_op_info(comm, &info), comm);
  CCHECK(info.algorithm != nullptr && std::string(info.algorithm) == "ring") << info.algorithm;
  CCHECK(info.transport != nullptr && info.transport == transport) << info.transport;
  CCHECK_EQ(info.chunk_bytes, size_t{65536});
  CCHECK_OK(coll_allreduce(send.data(), recv.data(), 100, COLL_FLOAT32, COLL_SUM, comm), comm);
  CCHECK_OK(coll_comm_last_op_info(comm, &info), comm);
  CCHECK(std::string(info.algorithm) == "allgather_reduce") << info.algorithm << " for 400 bytes";
  CCHECK_OK(coll_broadcast(send.data(), recv.data(), 100, COLL_FLOAT32, 0, comm), comm);
  CCHECK_OK(coll_comm_last_op_info(comm, &info), comm);
  CCHECK(std::string(info.algorithm) == "chain") << info.algorithm << " for a broadcast";
  CCHECK_OK(coll_comm_destroy(comm), nullptr);
  return 0;
}

class BootstrapTest : public TransportRanksTest {
 protected:
  EnvList Env() const {
    EnvList env = TransportEnv(transport());
    env.push_back({"COLL_SOCKET_IFNAME", std::string("lo")});
    env.push_back({"COLL_SMALL_BYTES", std::string("8192")});
    env.push_back({"COLL_CHUNK_BYTES", std::string("65536")});
    return env;
  }
};

TEST_P(BootstrapTest, UniqueIdInitAndOpInfo) {
  COLL_REQUIRE_TRANSPORT(transport());
  SharedArray<IdBox> box(1);
  ProcessGroup group(std::chrono::seconds(60));
  for (int rank = 0; rank < nranks(); ++rank) {
    int n = nranks();
    std::string transport_name = transport();
    group.Spawn("rank " + std::to_string(rank), Env(), [&box, rank, n, transport_name]() -> int {
      coll_unique_id_t id;
      int rc = rank == 0 ? PublishId(box[0]) : 0;
      if (rc == 0) rc = AwaitId(box[0], &id);
      return rc != 0 ? rc : JoinAndReduce(id, rank, n, transport_name);
    });
  }
  GroupResult result = group.Wait();
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

int Impostor(IdBox& box, int nranks) {
  coll_unique_id_t id;
  int rc = AwaitId(box, &id);
  for (size_t i = kTokenBegin; i < kTokenEnd; ++i) id.bytes[i] = static_cast<char>(id.bytes[i] ^ 0x5a);
  coll_comm_t comm = nullptr;
  coll_status_t status = rc == 0 ? coll_comm_init(&comm, nranks, nranks - 1, &id) : COLL_ERR_INTERNAL;
  box.impostor_done = 1;
  if (rc != 0) return rc;
  CCHECK_STATUS(COLL_ERR_AUTH, status, nullptr) << "the impostor with a wrong token";
  CCHECK(coll_comm_last_error(nullptr)[0] != '\0') << "no last error after COLL_ERR_AUTH";
  return 0;
}

TEST_P(BootstrapTest, ImpostorWithWrongTokenIsRejected) {
  COLL_REQUIRE_TRANSPORT(transport());
  SharedArray<IdBox> box(1);
  ProcessGroup group(std::chrono::seconds(60));
  int n = nranks();
  std::string t = transport();
  group.Spawn("rank 0", Env(), [&box, n, t]() -> int {
    coll_unique_id_t id;
    int rc = PublishId(box[0]);
    if (rc == 0) rc = AwaitId(box[0], &id);
    return rc != 0 ? rc : JoinAndReduce(id, 0, n, t);
  });
  group.Spawn("impostor", Env(), [&box, n] { return Impostor(box[0], n); });
  for (int rank = 1; rank < n; ++rank) {
    group.Spawn("rank " + std::to_string(rank), Env(), [&box, rank, n, t]() -> int {
      coll_unique_id_t id;
      int rc = AwaitId(box[0], &id);
      if (rc != 0) return rc;
      CCHECK(WaitUntil([&] { return box[0].impostor_done.load() == 1; }, std::chrono::seconds(30)))
          << "the impostor never finished";
      return JoinAndReduce(id, rank, n, t);
    });
  }
  GroupResult result = group.Wait();
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

COLL_INSTANTIATE_TRANSPORTS(BootstrapTest, 2, 3);

// Runs fn in one child process (no bootstrap environment) and expects exit 0.
void RunAlone(const EnvList& env, std::function<int()> fn) {
  ProcessGroup group(std::chrono::seconds(30));
  group.Spawn("alone", env, std::move(fn));
  GroupResult result = group.Wait();
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

int ExpectInitRejected(const char* what, int nranks, int rank, const coll_unique_id_t* id, bool null_comm) {
  coll_comm_t comm = nullptr;
  CCHECK_STATUS(COLL_ERR_INVALID_ARGUMENT, coll_comm_init(null_comm ? nullptr : &comm, nranks, rank, id), nullptr)
      << what;
  CCHECK(coll_comm_last_error(nullptr)[0] != '\0') << what << ": empty last error";
  return 0;
}

TEST(BootstrapArgsTest, BadInitArgumentsAreRejected) {
  RunAlone({{"COLL_TRANSPORT", std::string("tcp")}, {"COLL_SOCKET_IFNAME", std::string("lo")}}, []() -> int {
    CCHECK_STATUS(COLL_ERR_INVALID_ARGUMENT, coll_get_unique_id(nullptr), nullptr);
    coll_unique_id_t id;
    CCHECK_OK(coll_get_unique_id(&id), nullptr);
    int rc = 0;
    if (rc == 0) rc = ExpectInitRejected("nranks 0", 0, 0, &id, false);
    if (rc == 0) rc = ExpectInitRejected("rank == nranks", 2, 2, &id, false);
    if (rc == 0) rc = ExpectInitRejected("rank -1", 2, -1, &id, false);
    if (rc == 0) rc = ExpectInitRejected("NULL id", 1, 0, nullptr, false);
    if (rc == 0) rc = ExpectInitRejected("NULL comm", 1, 0, &id, true);
    if (rc != 0) return rc;
    coll_comm_t comm = nullptr;
    CCHECK_OK(coll_comm_init(&comm, 1, 0, &id), nullptr) << "a valid init after the rejected ones";
    CCHECK_OK(coll_barrier(comm), comm);
    CCHECK_OK(coll_comm_destroy(comm), nullptr);
    return 0;
  });
}

int ExpectEnvInitRejected() {
  coll_comm_t comm = nullptr;
  CCHECK_STATUS(COLL_ERR_INVALID_ARGUMENT, coll_comm_init_env(&comm), nullptr)
      << "COLL_RANK=" << getenv("COLL_RANK") << " COLL_SIZE=" << getenv("COLL_SIZE");
  CCHECK(coll_comm_last_error(nullptr)[0] != '\0') << "empty last error";
  return 0;
}

TEST(BootstrapArgsTest, BadEnvironmentIsRejected) {
  std::string root = "127.0.0.1:" + std::to_string(PickFreePort());
  for (auto rank_size : {std::make_pair("0", "0"), std::make_pair("2", "2"), std::make_pair("-1", "2"),
                         std::make_pair("x", "2")}) {
    RunAlone({{"COLL_RANK", std::string(rank_size.first)}, {"COLL_SIZE", std::string(rank_size.second)},
              {"COLL_ROOT_ADDR", root}, {"COLL_TRANSPORT", std::string("tcp")}},
             ExpectEnvInitRejected);
  }
}

}  // namespace
}  // namespace colltest
