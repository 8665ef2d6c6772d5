// Test names for (transport, nranks) parameters: "tcp_4ranks".
#include "support/transport_test.h"

namespace colltest {

std::string TransportRanksName(const ::testing::TestParamInfo<TransportRanks>& info) {
  return std::get<0>(info.param) + "_" + std::to_string(std::get<1>(info.param)) + "ranks";
}

std::vector<TransportRanks> TransportRanksList(std::initializer_list<int> sizes) {
  std::vector<TransportRanks> list;
  for (const char* transport : {"tcp", "shm", "ibverbs"}) {
    for (int n : sizes) {
      if (n > 1 || std::string(transport) == "tcp") list.emplace_back(transport, n);
    }
  }
  return list;
}

}  // namespace colltest
