// Settings of the ibverbs transport, read from COLL_IBVERBS_LIB and COLL_IB_* environment
// variables (the communicator's Config holds what every transport shares). A value type.
#pragma once

#include <cstdint>
#include <string>

#include "base/status.h"

namespace coll {
namespace ibverbs {

struct IbConfig {
  std::string library = "libibverbs.so.1";  // COLL_IBVERBS_LIB
  std::string hca;                          // COLL_IB_HCA "name[:port]"; empty: nearest active
  int port = 0;                             // from COLL_IB_HCA; 0: the first active port
  int gid_index = -1;                       // COLL_IB_GID_INDEX; -1: LID on IB, a RoCE v2 GID on Ethernet
  int timeout = 14;                         // COLL_IB_TIMEOUT: ack timeout 4.096 us * 2^14 = 67 ms
  int retry_cnt = 7;                        // COLL_IB_RETRY_CNT: transport retries
  int rnr_retry = 6;                        // COLL_IB_RNR_RETRY: finite, credits make RNR a bug (7: forever)
  int min_rnr_timer = 12;                   // COLL_IB_MIN_RNR_TIMER: 12 = 0.64 ms
  int service_level = 0;                    // COLL_IB_SL
  int traffic_class = 0;                    // COLL_IB_TC (RoCE)
  int64_t spin_us = 1000;                   // COLL_IB_SPIN_US: busy-poll this long after activity

  // Reads the environment; an unparsable value is COLL_ERR_INVALID_ARGUMENT naming it.
  static Status FromEnv(IbConfig* out);
  std::string describe() const;  // for COLL_DEBUG=INFO
};

}  // namespace ibverbs
}  // namespace coll
