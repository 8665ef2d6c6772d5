// The harness cannot hide a failure in a forked rank: each case runs a child that fails in
// one way a test could slip past (a gtest assertion, exit() before the checks, a leak) and
// asserts from the parent that the group result reports it. The child's failure messages in
// this test's output are deliberate.
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include <gtest/gtest.h>

#include "collective.h"
#include "support/child_check.h"
#include "support/ranks.h"

namespace colltest {
namespace {

ProcessResult RunOneChild(std::function<int()> fn) {
  ProcessGroup group(std::chrono::seconds(30));
  group.Spawn("deliberately failing child", {}, std::move(fn));
  GroupResult result = group.Wait();
  EXPECT_FALSE(result.timed_out) << result.Describe();
  return result.procs.at(0);
}

TEST(Harness, ChildThatReturnsZeroSucceeds) {
  ProcessResult p = RunOneChild([] { return 0; });
  EXPECT_TRUE(p.Succeeded()) << p.Describe();
  EXPECT_TRUE(p.reached_end);
}

TEST(Harness, ExpectFailureInChildFailsIt) {
  ProcessResult p = RunOneChild([] {
    EXPECT_EQ(1, 2) << "deliberate failure in a child";
    return 0;
  });
  EXPECT_FALSE(p.Succeeded()) << p.Describe();
  EXPECT_EQ(kExitGtestFailure, p.exit_code) << p.Describe();
}

void FailAnAssert() { ASSERT_TRUE(false) << "deliberate fatal failure in a child"; }

TEST(Harness, AssertFailureInChildHelperFailsIt) {
  ProcessResult p = RunOneChild([] {
    FailAnAssert();
    return 0;
  });
  EXPECT_FALSE(p.Succeeded()) << p.Describe();
  EXPECT_EQ(kExitGtestFailure, p.exit_code) << p.Describe();
}

TEST(Harness, ExitZeroBeforeTheChecksFailsIt) {
  ProcessResult p = RunOneChild([]() -> int { std::exit(0); });
  EXPECT_EQ(0, p.exit_code) << p.Describe();
  EXPECT_FALSE(p.reached_end);
  EXPECT_FALSE(p.Succeeded()) << p.Describe();
  EXPECT_NE(std::string::npos, p.Describe().find("without returning")) << p.Describe();
}

TEST(Harness, UnderscoreExitZeroBeforeTheChecksFailsIt) {
  ProcessResult p = RunOneChild([]() -> int { _exit(0); });
  EXPECT_FALSE(p.Succeeded()) << p.Describe();
}

TEST(Harness, CcheckFailureInRankFailsTheGroup) {
  RankOptions options;
  options.nranks = 2;
  options.env = TransportEnv("tcp");
  GroupResult result = RunCommRanks(options, [](coll_comm_t comm, int rank, int) {
    CCHECK_OK(coll_barrier(comm), comm);
    CCHECK(rank == 0) << "deliberate failure on rank 1";
    return 0;
  });
  EXPECT_FALSE(result.AllSucceeded()) << result.Describe();
  EXPECT_TRUE(result.procs[0].Succeeded()) << result.Describe();
  EXPECT_EQ(1, result.procs[1].exit_code) << result.Describe();
}

// Keeps the leaked pointers out of reach of LeakSanitizer's conservative stack scan.
__attribute__((noinline)) void LeakSomeBlocks() {
  for (int i = 0; i < 16; ++i) {
    void* volatile p = std::malloc(64 + i);
    std::memset(p, i, 64);
  }
}

TEST(Harness, LeakInChildFailsIt) {
  if (!LeakCheckAvailable()) GTEST_SKIP() << "LeakSanitizer runs only in the AddressSanitizer build";
  ProcessResult p = RunOneChild([] {
    LeakSomeBlocks();
    return 0;
  });
  EXPECT_EQ(kExitLeak, p.exit_code) << p.Describe();
}

// A communicator dropped without coll_comm_destroy: libcollective's own allocations leak.
TEST(Harness, CommunicatorNeverDestroyedInRankFailsIt) {
  if (!LeakCheckAvailable()) GTEST_SKIP() << "LeakSanitizer runs only in the AddressSanitizer build";
  RankOptions options;
  options.nranks = 1;
  options.env = TransportEnv("tcp");
  GroupResult result = RunRanks(options, [](int, int) {
    coll_comm_t comm = nullptr;
    CCHECK_OK(coll_comm_init_env(&comm), nullptr);
    CCHECK_OK(coll_barrier(comm), comm);
    return 0;
  });
  EXPECT_EQ(kExitLeak, result.procs[0].exit_code) << result.Describe();
}

}  // namespace
}  // namespace colltest
