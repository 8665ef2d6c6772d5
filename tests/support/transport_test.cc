// Test names for (transport, nranks) parameters: "tcp_4ranks".
#include "support/transport_test.h"

namespace colltest {

std::string TransportRanksName(const ::testing::TestParamInfo<TransportRanks>& info) {
  return std::get<0>(info.param) + "_" + std::to_string(std::get<1>(info.param)) + "ranks";
}

}  // namespace colltest
