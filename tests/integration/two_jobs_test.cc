// Two jobs started on one COLL_ROOT_ADDR with no COLL_JOB_TOKEN and no launcher job id (so
// their derived tokens are equal) must never merge into communicators that mix their ranks
// (issue 10, defect 1): every rank either gets an error or the right sum for its own job,
// and the errors say that two jobs share the address.
#include <atomic>
#include <cstring>
#include <string>
#include <thread>

#include "support/child_check.h"
#include "support/shared_memory.h"
#include "support/transport_test.h"

namespace colltest {
namespace {

constexpr int kRanks = 3;

struct Outcome {
  std::atomic<int> done;
  std::atomic<int> init_status;
  std::atomic<int> reduce_status;
  std::atomic<int> sum;
  char message[512];
};

// Job j's rank r contributes 100 * (j + 1) + r: job 0 sums to 303, job 1 to 603.
int JobRank(Outcome& out, int job, int rank) {
  coll_comm_t comm = nullptr;
  coll_status_t st = coll_comm_init_env(&comm);
  out.init_status = st;
  if (st != COLL_SUCCESS) {
    std::snprintf(out.message, sizeof out.message, "%s", coll_comm_last_error(nullptr));
    out.done = 1;
    return 0;
  }
  int x = 100 * (job + 1) + rank;
  st = coll_allreduce(&x, &x, 1, COLL_INT32, COLL_SUM, comm);
  out.reduce_status = st;
  out.sum = x;
  if (st != COLL_SUCCESS) std::snprintf(out.message, sizeof out.message, "%s", coll_comm_last_error(comm));
  out.done = 1;
  // Stay a moment, as a trainer would: the root keeps watching its address meanwhile.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  coll_comm_destroy(comm);
  return 0;
}

EnvList JobEnv(const std::string& transport, int port, int rank, int job, bool launcher_id) {
  EnvList env = TransportEnv(transport);
  env.push_back({"COLL_TIMEOUT_MS", std::string("3000")});
  env.push_back({"COLL_RANK", std::to_string(rank)});
  env.push_back({"COLL_SIZE", std::to_string(kRanks)});
  env.push_back({"COLL_ROOT_ADDR", "127.0.0.1:" + std::to_string(port)});
  env.push_back({"COLL_JOB_TOKEN", std::nullopt});
  for (const char* var : {"OMPI_MCA_ess_base_jobid", "OMPI_MCA_orte_ess_jobid", "OMPI_MCA_orte_hnp_uri",
                          "OMPI_MCA_pmix_namespace", "PMIX_NAMESPACE", "SLURM_JOB_ID", "SLURM_STEP_ID",
                          "TORCHELASTIC_RUN_ID", "MASTER_ADDR", "MASTER_PORT", "PBS_JOBID", "LSB_JOBID",
                          "FLUX_JOB_ID", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "PMI_RANK", "PMI_SIZE"})
    env.push_back({var, std::nullopt});
  if (launcher_id) env.push_back({"SLURM_JOB_ID", std::to_string(4100 + job)});
  return env;
}

// With a launcher job id the derived tokens differ: the jobs can never merge. Without one
// they are indistinguishable; the root catches a rank claimed twice (or a second rank 0) and
// both jobs fail saying so, but a job whose ranks all joined and finished before the
// duplicate arrived may already have computed with a rank of the other job: only the errors
// are asserted there (README: set COLL_JOB_TOKEN).
class TwoJobsTest : public ::testing::TestWithParam<std::tuple<std::string, bool>> {};

TEST_P(TwoJobsTest, NeverMergeOnOneRootAddress) {
  const std::string transport = std::get<0>(GetParam());
  const bool launcher_id = std::get<1>(GetParam());
  COLL_REQUIRE_TRANSPORT(transport);
  const int offsets_ms[] = {0, 0, 5, 20, 80};
  for (int offset : offsets_ms) {
    SharedArray<Outcome> out(2 * kRanks);
    const int port = PickFreePort();
    ProcessGroup group(std::chrono::seconds(30));
    for (int job = 0; job < 2; ++job) {
      if (job == 1) std::this_thread::sleep_for(std::chrono::milliseconds(offset));
      for (int r = 0; r < kRanks; ++r) {
        Outcome& o = out[job * kRanks + r];
        group.Spawn("job " + std::to_string(job) + " rank " + std::to_string(r), JobEnv(transport, port, r, job, launcher_id),
                    [&o, job, r] { return JobRank(o, job, r); });
      }
    }
    GroupResult result = group.Wait();
    ASSERT_FALSE(result.timed_out) << "offset " << offset << " ms\n" << result.Describe();
    int errors = 0, says_two_jobs = 0;
    std::string report;
    for (int job = 0; job < 2; ++job) {
      for (int r = 0; r < kRanks; ++r) {
        const Outcome& o = out[job * kRanks + r];
        ASSERT_EQ(o.done.load(), 1) << "job " << job << " rank " << r << " never finished\n" << result.Describe();
        const bool ok = o.init_status == COLL_SUCCESS && o.reduce_status == COLL_SUCCESS;
        report += "job " + std::to_string(job) + " rank " + std::to_string(r) + ": " +
                  (ok ? "sum " + std::to_string(o.sum.load()) : std::string(o.message)) + "\n";
        if (ok && launcher_id) {
          EXPECT_EQ(o.sum.load(), job == 0 ? 303 : 603)
              << "job " << job << " rank " << r << " computed with another job's ranks (offset " << offset << " ms)";
        } else if (!ok) {
          ++errors;
          if (std::strstr(o.message, "two jobs") != nullptr) ++says_two_jobs;
        }
      }
    }
    EXPECT_GT(errors, 0) << "both jobs succeeded on one root address (offset " << offset << " ms)\n" << report;
    if (!launcher_id) {
      EXPECT_GT(says_two_jobs, 0) << "no error says that two jobs share the address (offset " << offset << " ms)\n"
                                  << report;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Transports, TwoJobsTest,
                         ::testing::Combine(::testing::Values(std::string("tcp"), std::string("shm")),
                                            ::testing::Bool()),
                         [](const ::testing::TestParamInfo<std::tuple<std::string, bool>>& info) {
                           return std::get<0>(info.param) + (std::get<1>(info.param) ? "_launcher_id" : "_no_id");
                         });

}  // namespace
}  // namespace colltest
