// RunRanks / RunCommRanks / ProbeTransport: the env bootstrap on top of ProcessGroup.
#include "support/ranks.h"

#include <cstdio>
#include <cstdlib>
#include <map>

#include "support/child_check.h"

namespace colltest {

void StartRanks(ProcessGroup& group, const RankOptions& options, const RankFn& fn) {
  std::string root = "127.0.0.1:" + std::to_string(PickFreePort());
  for (int rank = 0; rank < options.nranks; ++rank) {
    EnvList env = options.env;
    if (options.bootstrap_env) {
      env.push_back({"COLL_RANK", std::to_string(rank)});
      env.push_back({"COLL_SIZE", std::to_string(options.nranks)});
      env.push_back({"COLL_ROOT_ADDR", root});
    }
    if (options.rank_env) {
      for (const EnvVar& var : options.rank_env(rank)) env.push_back(var);
    }
    int nranks = options.nranks;
    group.Spawn("rank " + std::to_string(rank), env, [fn, rank, nranks] { return fn(rank, nranks); });
  }
}

GroupResult RunRanks(const RankOptions& options, const RankFn& fn) {
  ProcessGroup group(options.deadline);
  StartRanks(group, options, fn);
  return group.Wait();
}

int RunWithComm(int rank, int nranks, const CommFn& fn) {
  coll_comm_t comm = nullptr;
  coll_status_t status = coll_comm_init_env(&comm);
  if (status == COLL_ERR_UNSUPPORTED) {
    std::fprintf(stderr, "[rank %d] coll_comm_init_env: unsupported: %s\n", rank,
                 coll_comm_last_error(nullptr));
    return kExitUnsupported;
  }
  CCHECK_OK(status, nullptr);
  CCHECK(comm != nullptr);
  int got_rank = -1;
  int got_size = -1;
  CCHECK_OK(coll_comm_rank(comm, &got_rank), comm);
  CCHECK_OK(coll_comm_size(comm, &got_size), comm);
  CCHECK_EQ(got_rank, rank);
  CCHECK_EQ(got_size, nranks);
  int rc = fn(comm, rank, nranks);
  CCHECK_OK(coll_comm_destroy(comm), nullptr);
  return rc;
}

GroupResult RunCommRanks(const RankOptions& options, const CommFn& fn) {
  return RunRanks(options, [fn](int rank, int nranks) { return RunWithComm(rank, nranks, fn); });
}

std::string SoftverbsLibrary() {
  const char* lib = std::getenv("COLL_SOFTVERBS_LIB");
  if (lib != nullptr && *lib != '\0') return lib;
#ifdef COLL_TEST_SOFTVERBS_LIB
  return COLL_TEST_SOFTVERBS_LIB;  // tests/extra.cmake: the path of the built softverbs
#else
  return "";
#endif
}

std::string RealVerbsLibrary() {
  const char* lib = std::getenv("COLL_TEST_IBVERBS_LIB");
  return lib != nullptr ? lib : "";
}

std::string IbverbsTestLibrary() {
  std::string real = RealVerbsLibrary();
  return real.empty() ? SoftverbsLibrary() : real;
}

EnvList TransportEnv(const std::string& transport) {
  EnvList env = {{"COLL_TRANSPORT", transport}, {"COLL_TIMEOUT_MS", std::string("30000")}};
  if (transport == "ibverbs") env.push_back({"COLL_IBVERBS_LIB", IbverbsTestLibrary()});
  return env;
}

namespace {

ProbeResult Probe(const std::string& transport) {
  ProbeResult result;
  if (transport == "ibverbs" && IbverbsTestLibrary().empty()) {
    result.unsupported = true;
    result.detail = "COLL_SOFTVERBS_LIB is empty: the emulated HCA library is not built";
    return result;
  }
  RankOptions options;
  options.nranks = 2;
  options.env = TransportEnv(transport);
  options.deadline = std::chrono::seconds(30);
  GroupResult run = RunCommRanks(options, [](coll_comm_t comm, int, int) {
    CCHECK_OK(coll_barrier(comm), comm);
    return 0;
  });
  result.available = run.AllSucceeded();
  for (const ProcessResult& p : run.procs) {
    if (p.Exited() && p.exit_code == kExitUnsupported) result.unsupported = true;
  }
  if (!result.available) {
    result.detail = "probe of transport " + transport + " (2 ranks, init + barrier):\n" + run.Describe();
  }
  return result;
}

}  // namespace

bool TransportRequired(const std::string& transport) {
  if (transport == "tcp") return true;
  const char* list = std::getenv("COLL_TEST_REQUIRE_TRANSPORTS");
  std::string padded = "," + std::string(list == nullptr ? "" : list) + ",";
  return padded.find("," + transport + ",") != std::string::npos;
}

ProbeResult ProbeTransport(const std::string& transport) {
  static std::map<std::string, ProbeResult> cache;
  auto it = cache.find(transport);
  if (it == cache.end()) it = cache.emplace(transport, Probe(transport)).first;
  return it->second;
}

}  // namespace colltest
