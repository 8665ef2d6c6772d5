// Ranks configured differently (settings every rank must share) fail at init on every rank
// with COLL_ERR_INVALID_ARGUMENT naming the variable and both values — never a hang, never
// a collective that silently runs different algorithms.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "collective.h"
#include "support/child_check.h"
#include "support/ranks.h"

namespace {

using colltest::EnvList;

void ExpectInitRejected(const std::string& variable, const std::string& value_on_rank1) {
  colltest::RankOptions options;
  options.nranks = 2;
  options.env = {{"COLL_TRANSPORT", "tcp"}, {"COLL_TIMEOUT_MS", "20000"}};
  options.rank_env = [=](int rank) { return rank == 1 ? EnvList{{variable, value_on_rank1}} : EnvList{}; };
  auto result = colltest::RunRanks(options, [variable](int, int) {
    coll_comm_t comm = nullptr;
    coll_status_t st = coll_comm_init_env(&comm);
    const char* why = coll_comm_last_error(nullptr);
    CCHECK_EQ(st, COLL_ERR_INVALID_ARGUMENT) << why;
    CCHECK(std::strstr(why, variable.c_str()) != nullptr && std::strstr(why, "same on every rank") != nullptr)
        << why;
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

TEST(ConfigMismatchTest, SmallBytesSetOnOneRankOnly) { ExpectInitRejected("COLL_SMALL_BYTES", "4096"); }

TEST(ConfigMismatchTest, ChunkBytesDiffer) { ExpectInitRejected("COLL_CHUNK_BYTES", "65536"); }

TEST(ConfigMismatchTest, SlotCountDiffers) { ExpectInitRejected("COLL_NSLOTS", "8"); }

// Settings with names are printed by name, not as enum numbers (issue 10, defect 9).
TEST(ConfigMismatchTest, TransportDiffersAndIsNamed) {
  colltest::RankOptions options;
  options.nranks = 2;
  options.env = {{"COLL_TRANSPORT", "tcp"}, {"COLL_TIMEOUT_MS", "20000"}};
  options.rank_env = [](int rank) { return rank == 1 ? EnvList{{"COLL_TRANSPORT", "shm"}} : EnvList{}; };
  auto result = colltest::RunRanks(options, [](int rank, int) {
    coll_comm_t comm = nullptr;
    coll_status_t st = coll_comm_init_env(&comm);
    const std::string why = coll_comm_last_error(nullptr);
    CCHECK_EQ(st, COLL_ERR_INVALID_ARGUMENT) << why;
    const std::string want = rank == 0 ? "COLL_TRANSPORT is tcp on rank 0 but shm on rank 1: set it the same"
                                       : "COLL_TRANSPORT is shm on rank 1 but tcp on rank 0: set it the same";
    CCHECK(why.find(want) != std::string::npos) << why;
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

}  // namespace
