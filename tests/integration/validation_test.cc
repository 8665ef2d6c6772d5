// Environment, id and buffer validation (issue 10, defect 9): a bad COLL_ROOT_ADDR port or
// COLL_JOB_TOKEN is COLL_ERR_INVALID_ARGUMENT with a sentence; timeouts name the root address
// once; unused coll_get_unique_id listeners are bounded; partly overlapping send and receive
// buffers are rejected before any byte moves, in-place forms still work.
#include <dirent.h>

#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "support/child_check.h"
#include "support/transport_test.h"

namespace colltest {
namespace {

// coll_comm_init_env in a child with env; checks the status and the exact sentence.
void ExpectInitError(const EnvList& env, coll_status_t want, const std::string& message) {
  RankOptions options;
  options.nranks = 1;
  options.bootstrap_env = false;
  options.env = env;
  GroupResult result = RunRanks(options, [&](int, int) {
    coll_comm_t comm = nullptr;
    CCHECK_STATUS(want, coll_comm_init_env(&comm), nullptr);
    CCHECK(message == coll_comm_last_error(nullptr)) << "got \"" << coll_comm_last_error(nullptr) << "\"";
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

EnvList Single(const std::string& root) {
  return {{"COLL_TRANSPORT", std::string("tcp")}, {"COLL_RANK", std::string("0")}, {"COLL_SIZE", std::string("2")},
          {"COLL_ROOT_ADDR", root}, {"COLL_TIMEOUT_MS", std::string("300")}, {"COLL_JOB_TOKEN", std::nullopt}};
}

TEST(ValidationTest, RootPortOutOfRange) {
  ExpectInitError(Single("127.0.0.1:99999"), COLL_ERR_INVALID_ARGUMENT,
                  "coll_comm_init_env: COLL_ROOT_ADDR: '127.0.0.1:99999': the port must be a number from 1 to 65535, "
                  "got '99999'");
}

TEST(ValidationTest, RootPortZero) {
  ExpectInitError(Single("127.0.0.1:0"), COLL_ERR_INVALID_ARGUMENT,
                  "coll_comm_init_env: COLL_ROOT_ADDR: '127.0.0.1:0': the port must be a number from 1 to 65535, got "
                  "'0'");
}

TEST(ValidationTest, JobTokenWithANonHexDigit) {
  EnvList env = Single("127.0.0.1:1");
  env.push_back({"COLL_JOB_TOKEN", std::string("0g0g0g0g0g0g0g0g0g0g0g0g0g0g0g0g")});
  ExpectInitError(env, COLL_ERR_INVALID_ARGUMENT,
                  "coll_comm_init_env: COLL_JOB_TOKEN must be 32 hex digits (128 bits): character 2 ('g') is not one");
}

TEST(ValidationTest, TimeoutNamesTheRootAddressOnce) {
  const std::string root = "127.0.0.1:" + std::to_string(PickFreePort());
  EnvList env = Single(root);
  env.push_back({"COLL_RANK", std::string("1")});
  RankOptions options;
  options.nranks = 1;
  options.bootstrap_env = false;
  options.env = env;
  GroupResult result = RunRanks(options, [&](int, int) {
    coll_comm_t comm = nullptr;
    CCHECK_STATUS(COLL_ERR_TIMEOUT, coll_comm_init_env(&comm), nullptr);
    std::string why = coll_comm_last_error(nullptr);
    size_t first = why.find(root);
    CCHECK(first != std::string::npos && why.find(root, first + 1) == std::string::npos)
        << "\"" << why << "\" should name " << root << " once";
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

int OpenFds() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/fd")) {
    while (readdir(d) != nullptr) ++n;
    closedir(d);
  }
  return n;
}

TEST(ValidationTest, UnusedUniqueIdListenersAreBounded) {
  RankOptions options;
  options.nranks = 1;
  options.bootstrap_env = false;
  options.env = {{"COLL_TIMEOUT_MS", std::string("200")}};
  GroupResult result = RunRanks(options, [](int, int) {
    const int base = OpenFds();
    coll_unique_id_t expired;
    for (int i = 0; i < 10; ++i) CCHECK_OK(coll_get_unique_id(&expired), nullptr);
    std::this_thread::sleep_for(std::chrono::milliseconds(300));  // past COLL_TIMEOUT_MS
    coll_unique_id_t id;
    CCHECK_OK(coll_get_unique_id(&id), nullptr);
    CCHECK(OpenFds() == base + 1) << "listeners past COLL_TIMEOUT_MS stay open: " << OpenFds() - base;
    setenv("COLL_TIMEOUT_MS", "60000", 1);
    for (int i = 0; i < 200; ++i) CCHECK_OK(coll_get_unique_id(&id), nullptr);
    CCHECK(OpenFds() <= base + 64) << "200 unused ids keep " << OpenFds() - base << " descriptors";
    // The id whose listener was closed still works: rank 0 binds its address again.
    coll_comm_t comm = nullptr;
    CCHECK_OK(coll_comm_init(&comm, 1, 0, &expired), nullptr);
    CCHECK_OK(coll_comm_destroy(comm), nullptr);
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

struct OverlapCase {
  const char* name;
  std::function<coll_status_t(coll_comm_t comm, int rank, float* buf)> call;
  std::string message;  // after "<op> on rank R: "
};

std::string OverlapMessage(size_t send_bytes, size_t recv_bytes) {
  return "sendbuf (" + std::to_string(send_bytes) + " bytes) and recvbuf (" + std::to_string(recv_bytes) +
         " bytes) overlap without being in place: pass the same buffer for in place (see the README), or buffers "
         "that do not overlap";
}

int OverlapRank(coll_comm_t comm, int rank, int nranks) {
  const std::vector<OverlapCase> cases = {
      {"allreduce", [](coll_comm_t c, int, float* b) { return coll_allreduce(b, b + 1, 4, COLL_FLOAT32, COLL_SUM, c); },
       OverlapMessage(16, 16)},
      {"broadcast", [](coll_comm_t c, int, float* b) { return coll_broadcast(b + 2, b, 4, COLL_FLOAT32, 0, c); },
       OverlapMessage(16, 16)},
      {"reduce", [](coll_comm_t c, int, float* b) { return coll_reduce(b, b + 3, 4, COLL_FLOAT32, COLL_SUM, 0, c); },
       OverlapMessage(16, 16)},
      {"allgather", [](coll_comm_t c, int, float* b) { return coll_allgather(b + 1, b, 4, COLL_FLOAT32, c); },
       OverlapMessage(16, 16 * static_cast<size_t>(nranks))},
      {"reduce_scatter",
       [](coll_comm_t c, int, float* b) { return coll_reduce_scatter(b, b + 5, 4, COLL_FLOAT32, COLL_SUM, c); },
       OverlapMessage(16 * static_cast<size_t>(nranks), 16)},
  };
  std::vector<float> buf(64, 1.0f);
  for (const OverlapCase& c : cases) {
    if (rank != 0 && (std::strcmp(c.name, "broadcast") == 0 || std::strcmp(c.name, "reduce") == 0)) continue;
    CCHECK_STATUS(COLL_ERR_INVALID_ARGUMENT, c.call(comm, rank, buf.data()), comm) << c.name;
    std::string want = std::string(c.name) + " on rank " + std::to_string(rank) + ": " + c.message;
    CCHECK(want == coll_comm_last_error(comm)) << "got \"" << coll_comm_last_error(comm) << "\"";
  }
  // The in-place forms are not overlaps.
  std::vector<float> all(4 * static_cast<size_t>(nranks), static_cast<float>(rank));
  CCHECK_OK(coll_allgather(all.data() + 4 * rank, all.data(), 4, COLL_FLOAT32, comm), comm);
  for (int r = 0; r < nranks; ++r) CCHECK(all[4 * r] == static_cast<float>(r)) << "allgather in place, rank " << r;
  std::vector<float> rs(4 * static_cast<size_t>(nranks), 1.0f);
  CCHECK_OK(coll_reduce_scatter(rs.data(), rs.data() + 4 * rank, 4, COLL_FLOAT32, COLL_SUM, comm), comm);
  CCHECK(rs[4 * rank] == static_cast<float>(nranks)) << "reduce_scatter in place";
  CCHECK_OK(coll_allreduce(buf.data(), buf.data(), 4, COLL_FLOAT32, COLL_SUM, comm), comm);
  return 0;
}

TEST(ValidationTest, PartlyOverlappingBuffersAreRejected) {
  RankOptions options;
  options.nranks = 2;
  options.env = TransportEnv("tcp");
  GroupResult result = RunCommRanks(options, OverlapRank);
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

}  // namespace
}  // namespace colltest
