// Run-time knobs of softverbs, read from the environment when a device is opened (README.md lists
// every variable), plus the monotonic clock and the opt-in diagnostic log used by the emulator.
// Thread-safety: a Config is an immutable value copied into each context; Logf is thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace softverbs {

struct Config {
  std::string fabric_name;         // COLL_SOFTVERBS_FABRIC, default "softverbs-<uid>-v<fabric version>"
  bool seeded = false;             // SOFTVERBS_SEED set
  uint64_t seed = 0;
  uint32_t max_delay_us = 200;     // SOFTVERBS_MAX_DELAY_US (seeded mode only)
  uint64_t qp_err_after = 0;       // SOFTVERBS_FAULT_QP_ERR_AFTER, 0: off
  bool port_down = false;          // SOFTVERBS_PORT_DOWN=1
  uint64_t port_down_after = 0;    // SOFTVERBS_FAULT_PORT_DOWN_AFTER, 0: off
  uint64_t dereg_delay_us = 0;     // SOFTVERBS_DEREG_DELAY_US
  bool grh_required = false;       // SOFTVERBS_GRH_REQUIRED=1: IBV_QPF_GRH_REQUIRED
  uint64_t subnet_prefix = 0xfe80000000000000ull;  // SOFTVERBS_SUBNET_PREFIX (InfiniBand GIDs)
  std::vector<uint16_t> pkeys{0xffff};             // SOFTVERBS_PKEYS: the P_Key table
  int64_t reg_mr_fail_after = -1;  // -1: never; N: registrations after the first N fail
  int64_t rem_access_after = -1;   // SOFTVERBS_FAULT_REM_ACCESS_AFTER; -1: unset
  int64_t rnr_after = -1;          // SOFTVERBS_FAULT_RNR_AFTER; -1: unset
  bool roce = false;               // SOFTVERBS_LINK_LAYER=ethernet: a RoCE port (README.md)
  uint32_t l2_segment = 0;         // SOFTVERBS_L2_SEGMENT: RoCE v1 / link-local reach this segment only
};

Config ReadConfig();

// Path of the shared-memory file backing fabric `name`.
std::string FabricPath(const std::string& name);

uint64_t NowNs();

// Prints one line on stderr when SOFTVERBS_DEBUG=1: why a work request failed, and so on.
void Logf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));

}  // namespace softverbs
