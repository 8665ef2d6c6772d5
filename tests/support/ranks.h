// Runs N ranks as N forked processes with the environment bootstrap of coll_comm_init_env
// (COLL_RANK, COLL_SIZE, COLL_ROOT_ADDR=127.0.0.1:<free port>) plus per-test and per-rank
// variables; and a transport probe that tests use to skip shm/ibverbs where unsupported.
#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "collective.h"
#include "support/process_group.h"

namespace colltest {

using RankFn = std::function<int(int rank, int nranks)>;
using CommFn = std::function<int(coll_comm_t comm, int rank, int nranks)>;

struct RankOptions {
  int nranks = 2;
  EnvList env;                                  // for every rank, applied first
  std::function<EnvList(int rank)> rank_env;    // optional, applied after env
  std::chrono::milliseconds deadline = std::chrono::seconds(60);
  bool bootstrap_env = true;                    // set COLL_RANK / COLL_SIZE / COLL_ROOT_ADDR
};

// Spawns ranks 0..nranks-1 into group (process index == rank) and returns at once.
void StartRanks(ProcessGroup& group, const RankOptions& options, const RankFn& fn);

// Spawns, waits (with options.deadline), returns per-rank results.
GroupResult RunRanks(const RankOptions& options, const RankFn& fn);

// Each rank: coll_comm_init_env, checks coll_comm_rank/size, runs fn, coll_comm_destroy.
// A rank whose init returns COLL_ERR_UNSUPPORTED exits with kExitUnsupported.
int RunWithComm(int rank, int nranks, const CommFn& fn);
GroupResult RunCommRanks(const RankOptions& options, const CommFn& fn);

// $COLL_SOFTVERBS_LIB, else the softverbs path compiled in by tests/extra.cmake, else "".
std::string SoftverbsLibrary();

// $COLL_TEST_IBVERBS_LIB: a real verbs library (e.g. libibverbs.so.1 in the rxe VM of
// tests/rxe/run) that the ibverbs tests run against instead of softverbs; "" when unset.
std::string RealVerbsLibrary();

// The library the ibverbs tests load: RealVerbsLibrary(), else SoftverbsLibrary().
std::string IbverbsTestLibrary();

// The variables that select a transport: COLL_TRANSPORT, and for "ibverbs"
// COLL_IBVERBS_LIB=IbverbsTestLibrary(). Also bounds every wait (COLL_TIMEOUT_MS=30000).
EnvList TransportEnv(const std::string& transport);

struct ProbeResult {
  bool available = false;
  bool unsupported = false;  // skip: the library or this machine cannot do it
  std::string detail;        // why not, for the skip or failure message
};

// A 2-rank init + barrier with TransportEnv(transport). Cached per transport per process.
ProbeResult ProbeTransport(const std::string& transport);

// True for tcp and for every transport named in $COLL_TEST_REQUIRE_TRANSPORTS (a comma
// list, e.g. "tcp,shm,ibverbs", set by scripts/test): a required transport that cannot
// run fails its tests instead of skipping them, so CI cannot pass with it missing.
bool TransportRequired(const std::string& transport);

}  // namespace colltest

// In a TEST body: skip when the transport is unsupported and not required, fail when the
// probe broke or a required transport is missing.
#define COLL_REQUIRE_TRANSPORT(transport)                                                   \
  do {                                                                                      \
    ::colltest::ProbeResult coll_probe_ = ::colltest::ProbeTransport(transport);            \
    if (coll_probe_.unsupported && !::colltest::TransportRequired(transport))               \
      GTEST_SKIP() << coll_probe_.detail;                                                   \
    ASSERT_TRUE(coll_probe_.available)                                                      \
        << coll_probe_.detail                                                               \
        << (coll_probe_.unsupported ? " (required by COLL_TEST_REQUIRE_TRANSPORTS)" : ""); \
  } while (0)

// For tests that need the softverbs library itself (its fault injection): skip without it
// unless ibverbs is required, and skip when the ibverbs tests run against a real verbs
// library (COLL_TEST_IBVERBS_LIB, tests/rxe/run).
#define COLL_REQUIRE_SOFTVERBS()                                                       \
  do {                                                                                 \
    if (!::colltest::RealVerbsLibrary().empty())                                       \
      GTEST_SKIP() << "injects faults through softverbs; COLL_TEST_IBVERBS_LIB="       \
                   << ::colltest::RealVerbsLibrary() << " is a real verbs stack";      \
    if (::colltest::SoftverbsLibrary().empty()) {                                      \
      if (!::colltest::TransportRequired("ibverbs"))                                   \
        GTEST_SKIP() << "softverbs is not built";                                      \
      FAIL() << "softverbs is not built, and COLL_TEST_REQUIRE_TRANSPORTS lists ibverbs"; \
    }                                                                                  \
  } while (0)
