// Fixture for integration tests parametrised over (transport, nranks): tcp always runs,
// shm and ibverbs skip when the library reports COLL_ERR_UNSUPPORTED for them.
//   TEST_P(MyTest, Works) { COLL_REQUIRE_TRANSPORT(transport()); ... RunCommRanks(Options(), fn) }
//   COLL_INSTANTIATE_TRANSPORTS(MyTest, 1, 2, 3);
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <tuple>
#include <vector>

#include "support/ranks.h"

namespace colltest {

using TransportRanks = std::tuple<std::string, int>;

class TransportRanksTest : public ::testing::TestWithParam<TransportRanks> {
 protected:
  const std::string& transport() const { return std::get<0>(GetParam()); }
  int nranks() const { return std::get<1>(GetParam()); }

  RankOptions Options() const {
    RankOptions options;
    options.nranks = nranks();
    options.env = TransportEnv(transport());
    return options;
  }
};

std::string TransportRanksName(const ::testing::TestParamInfo<TransportRanks>& info);

// (tcp, shm, ibverbs) x sizes, without (shm, 1) and (ibverbs, 1).
std::vector<TransportRanks> TransportRanksList(std::initializer_list<int> sizes);

}  // namespace colltest

// Every transport at every listed size, except 1 rank over shm or ibverbs: a 1-rank
// communicator touches no transport, so those would pass without testing one (1 rank runs
// once, as tcp_1ranks).
#define COLL_INSTANTIATE_TRANSPORTS(Fixture, ...)                                    \
  INSTANTIATE_TEST_SUITE_P(Transports, Fixture,                                      \
                           ::testing::ValuesIn(::colltest::TransportRanksList({__VA_ARGS__})), \
                           ::colltest::TransportRanksName)
