// A mixed ring: 2 emulated hosts x 2 ranks (COLL_TEST_HOST_ID per rank, interleaved so the
// ring must reorder), COLL_TRANSPORT=auto. Each host's ranks sit next to each other in the
// ring and talk over shm; the two host boundaries use tcp. Results stay exact.
#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "collective.h"
#include "support/child_check.h"
#include "support/ranks.h"

namespace {

using colltest::EnvList;

colltest::RankOptions MixedRing(int nranks) {
  colltest::RankOptions options;
  options.nranks = nranks;
  options.env = {{"COLL_TRANSPORT", "auto"}, {"COLL_TIMEOUT_MS", "30000"}};
  // Ranks 0, 2, ... on host A; 1, 3, ... on host B.
  options.rank_env = [](int rank) {
    return EnvList{{"COLL_TEST_HOST_ID", rank % 2 == 0 ? "emulated-host-A" : "emulated-host-B"}};
  };
  return options;
}

TEST(MixedRingTest, ShmInsideEachHostTcpAcrossAndExactResults) {
  COLL_REQUIRE_TRANSPORT("shm");
  auto result = colltest::RunCommRanks(MixedRing(4), [](coll_comm_t comm, int rank, int nranks) {
    for (size_t count : {size_t{7}, size_t{1} << 20}) {  // latency and ring algorithms
      std::vector<int32_t> buf(count);
      for (size_t i = 0; i < count; ++i) buf[i] = static_cast<int32_t>(rank * 1000 + i % 977);
      CCHECK_OK(coll_allreduce(buf.data(), buf.data(), count, COLL_INT32, COLL_SUM, comm), comm);
      for (size_t i = 0; i < count; ++i) {
        const int32_t want = 1000 * nranks * (nranks - 1) / 2 + nranks * static_cast<int32_t>(i % 977);
        CCHECK_EQ(buf[i], want) << "element " << i << " count " << count;
      }
      coll_op_info_t info = COLL_OP_INFO_INIT;
      CCHECK_OK(coll_comm_last_op_info(comm, &info), comm);
      // Ring 0 -> 2 -> 1 -> 3 -> 0: every rank sends on one kind and receives on the other.
      const std::string transport = info.transport;
      CCHECK(transport.find("shm") != std::string::npos && transport.find("tcp") != std::string::npos)
          << "rank " << rank << " ran over '" << transport << "', expected shm inside the host and tcp across";
    }
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

TEST(MixedRingTest, ForcedTcpStaysTcpAcrossEmulatedHosts) {
  colltest::RankOptions options = MixedRing(4);
  options.env = {{"COLL_TRANSPORT", "tcp"}, {"COLL_TIMEOUT_MS", "30000"}};
  auto result = colltest::RunCommRanks(options, [](coll_comm_t comm, int, int nranks) {
    float x = 1.0f;
    CCHECK_OK(coll_allreduce(&x, &x, 1, COLL_FLOAT32, COLL_SUM, comm), comm);
    CCHECK_EQ(x, static_cast<float>(nranks));
    coll_op_info_t info = COLL_OP_INFO_INIT;
    CCHECK_OK(coll_comm_last_op_info(comm, &info), comm);
    CCHECK(std::strcmp(info.transport, "tcp") == 0) << "transport " << info.transport;
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

TEST(MixedRingTest, ForcedShmAcrossHostsIsUnsupportedOnEveryRank) {
  COLL_REQUIRE_TRANSPORT("shm");
  colltest::RankOptions options = MixedRing(4);
  options.env = {{"COLL_TRANSPORT", "shm"}, {"COLL_TIMEOUT_MS", "30000"}};
  auto result = colltest::RunRanks(options, [](int, int) {
    coll_comm_t comm = nullptr;
    coll_status_t st = coll_comm_init_env(&comm);
    CCHECK_EQ(st, COLL_ERR_UNSUPPORTED) << coll_comm_last_error(nullptr);
    CCHECK(std::strstr(coll_comm_last_error(nullptr), "another host") != nullptr) << coll_comm_last_error(nullptr);
    return 0;
  });
  EXPECT_TRUE(result.AllSucceeded()) << result.Describe();
}

}  // namespace
