// Settings of the ibverbs transport, read from COLL_IBVERBS_LIB and COLL_IB_* environment
// variables (the communicator's Config holds what every transport shares). A value type.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"
#include "transport/ibverbs/gid.h"

namespace coll {
namespace ibverbs {

struct IbConfig {
  std::string library = "libibverbs.so.1";  // COLL_IBVERBS_LIB
  // COLL_IB_HCA, as NCCL_IB_HCA: "mlx5_0:1,mlx5_1" (device-name prefixes, each with an optional
  // port), "=mlx5_0" (exact names), "^mlx5_2" (every device but those); empty: any device,
  // the active port nearest the process's cores.
  struct HcaSpec {
    std::string name;
    int port = 0;  // 0: every port
  };
  std::string hca;                          // COLL_IB_HCA as given
  std::vector<HcaSpec> hcas;                // its entries
  bool hca_exclude = false;                 // leading '^'
  bool hca_exact = false;                   // leading '=' (after any '^')
  int gid_index = -1;                       // COLL_IB_GID_INDEX; -1: LID on IB, chosen by gid.h on Ethernet
  std::string addr_family;                  // COLL_IB_ADDR_FAMILY text ("" unset)
  std::string addr_range;                   // COLL_IB_ADDR_RANGE text ("" unset)
  std::string socket_ifname;                // COLL_SOCKET_IFNAME: its netdev's GIDs come first
  GidPolicy gid_policy;                     // the three above, parsed
  int timeout = 20;                         // COLL_IB_TIMEOUT: ack timeout 4.096 us * 2^20 = 4.3 s, as NCCL
  int retry_cnt = 7;                        // COLL_IB_RETRY_CNT: transport retries
  int rnr_retry = 6;                        // COLL_IB_RNR_RETRY: finite, credits make RNR a bug (7: forever)
  int min_rnr_timer = 12;                   // COLL_IB_MIN_RNR_TIMER: 12 = 0.64 ms
  int pkey = 0;                             // COLL_IB_PKEY: partition; 0: P_Key table entry 0
  std::string gpu_busid;                    // not a variable: the communicator's GPU (Config::gpu_busid);
                                            //   without COLL_IB_HCA the active port nearest it is used
  int service_level = 0;                    // COLL_IB_SL
  int traffic_class = 0;                    // COLL_IB_TC (RoCE)
  int64_t spin_us = 1000;                   // COLL_IB_SPIN_US: busy-poll this long after activity

  // Reads the environment; an unparsable value is COLL_ERR_INVALID_ARGUMENT naming it.
  static Status FromEnv(IbConfig* out);
  std::string describe() const;  // for COLL_DEBUG=INFO
  std::string gidSettings() const;
  // Whether COLL_IB_HCA lets the links use `port` of device `device`.
  bool hcaAllows(const std::string& device, int port) const;
  // Whether COLL_IB_HCA may allow some port of `device` (an excluded whole device: no).
  bool hcaMayAllow(const std::string& device) const;  // "COLL_IB_ADDR_FAMILY=AF_INET6 COLL_IB_ADDR_RANGE=fd00::/8", for messages
};

}  // namespace ibverbs
}  // namespace coll
