// Where the progress thread of non-blocking calls runs: COLL_PROGRESS_CPUS binds it (read
// back from /proc as the kernel sees it), a process already bound keeps its mask (a list
// outside it is ignored), and a malformed list fails init with a sentence naming it.
#include <sched.h>
#include <unistd.h>

#include <string>

#include <gtest/gtest.h>

#include "support/child_check.h"
#include "support/ranks.h"
#include "support/threads.h"

namespace colltest {
namespace {

std::string ProgressThreadCpus() { return ThreadCpus("coll-progress"); }

// One rank: posts an ibarrier (which starts the progress thread) and reads its binding.
int PostAndReadBinding(coll_comm_t comm, std::string* cpus) {
  coll_request_t request = nullptr;
  CCHECK_OK(coll_ibarrier(comm, &request), comm);
  CCHECK_OK(coll_wait(&request), comm);
  *cpus = ProgressThreadCpus();
  CCHECK(!cpus->empty()) << "no thread named coll-progress";
  return 0;
}

bool CanUseCpus(int a, int b) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return false;
  return CPU_ISSET(a, &set) && CPU_ISSET(b, &set);
}

TEST(ProgressThread, BoundToProgressCpus) {
  if (!CanUseCpus(0, 1)) GTEST_SKIP() << "needs PUs 0 and 1 in this process's mask";
  RankOptions options;
  options.nranks = 1;
  options.env = {{"COLL_PROGRESS_CPUS", std::string("1")}};
  GroupResult result = RunCommRanks(options, [](coll_comm_t comm, int, int) -> int {
    std::string cpus;
    if (int rc = PostAndReadBinding(comm, &cpus)) return rc;
    CCHECK(cpus == "1") << "the progress thread may run on PUs " << cpus << ", not 1";
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

TEST(ProgressThread, KeepsTheProcessMask) {
  if (!CanUseCpus(0, 1)) GTEST_SKIP() << "needs PUs 0 and 1 in this process's mask";
  RankOptions options;
  options.nranks = 1;
  options.env = {{"COLL_PROGRESS_CPUS", std::string("1")}};
  GroupResult result = RunRanks(options, [](int rank, int nranks) -> int {
    cpu_set_t only0;
    CPU_ZERO(&only0);
    CPU_SET(0, &only0);
    CCHECK(sched_setaffinity(0, sizeof only0, &only0) == 0) << "sched_setaffinity";
    return RunWithComm(rank, nranks, [](coll_comm_t comm, int, int) -> int {
      std::string cpus;
      if (int rc = PostAndReadBinding(comm, &cpus)) return rc;
      CCHECK(cpus == "0") << "the progress thread left the process's mask {0}: PUs " << cpus;
      return 0;
    });
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

TEST(ProgressThread, MalformedListFailsInit) {
  RankOptions options;
  options.nranks = 1;
  options.env = {{"COLL_PROGRESS_CPUS", std::string("2-1")}};
  GroupResult result = RunRanks(options, [](int, int) -> int {
    coll_comm_t comm = nullptr;
    CCHECK_STATUS(COLL_ERR_INVALID_ARGUMENT, coll_comm_init_env(&comm), nullptr);
    std::string message = coll_comm_last_error(nullptr);
    CCHECK(message.find("COLL_PROGRESS_CPUS=2-1 is not a CPU list") != std::string::npos) << message;
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

}  // namespace
}  // namespace colltest
