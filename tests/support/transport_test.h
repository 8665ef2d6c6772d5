// Fixture for integration tests parametrised over (transport, nranks): tcp always runs,
// shm and ibverbs skip when the library reports COLL_ERR_UNSUPPORTED for them.
//   TEST_P(MyTest, Works) { COLL_REQUIRE_TRANSPORT(transport()); ... RunCommRanks(Options(), fn) }
//   COLL_INSTANTIATE_TRANSPORTS(MyTest, 1, 2, 3);
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <tuple>

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

}  // namespace colltest

#define COLL_INSTANTIATE_TRANSPORTS(Fixture, ...)                                     \
  INSTANTIATE_TEST_SUITE_P(                                                           \
      Transports, Fixture,                                                            \
      ::testing::Combine(::testing::Values(std::string("tcp"), std::string("shm"),    \
                                           std::string("ibverbs")),                   \
                         ::testing::Values(__VA_ARGS__)),                             \
      ::colltest::TransportRanksName)
