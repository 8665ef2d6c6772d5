// The transport registry: one row per transport built into the library.
#include "transport/transport.h"

#include <strings.h>

namespace coll {
namespace {

bool TcpAvailable(const Config&, bool, std::string*) { return true; }

bool ShmAvailable(const Config& config, bool same_host, std::string* why) {
  if (same_host && shm::Available(config)) return true;
  if (why != nullptr)
    *why = same_host ? "shared memory (shm_open in /dev/shm) does not work in this process"
                     : "the peer is on another host";
  return false;
}

bool IbverbsAvailable(const Config& config, bool, std::string* why) {
  if (ibverbs::Available(config)) return true;
  if (why != nullptr) *why = ibverbs::Unavailability().message();
  return false;
}

}  // namespace

const std::vector<TransportInfo>& Transports() {
  //                                     name   bit same remote  available  factories
  static const std::vector<TransportInfo> rows = {
      {"tcp", 0, 2, 1, TcpAvailable, tcp::MakeSendLink, tcp::MakeRecvLink},
      {"shm", 1, 0, -1, ShmAvailable, shm::MakeSendLink, shm::MakeRecvLink},
      {"ibverbs", 2, 1, 0, IbverbsAvailable, ibverbs::MakeSendLink, ibverbs::MakeRecvLink},
  };
  return rows;
}

const TransportInfo* FindTransport(const std::string& name) {
  for (const TransportInfo& t : Transports())
    if (strcasecmp(t.name, name.c_str()) == 0) return &t;
  return nullptr;
}

std::string TransportNames() {
  std::string s;
  for (const TransportInfo& t : Transports()) s += (s.empty() ? "" : ", ") + std::string(t.name);
  return s;
}

}  // namespace coll
