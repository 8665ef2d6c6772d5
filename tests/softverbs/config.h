// Run-time knobs of softverbs, read from the environment when a device is opened (README.md lists
// every variable), plus the monotonic clock and the opt-in diagnostic log used by the emulator.
// Thread-safety: a Config is an immutable value copied into each context; Logf is thread-safe.
#pragma once

#include <cstdint>
#include <string>

namespace softverbs {

struct Config {
  std::string fabric_name;         // COLL_SOFTVERBS_FABRIC, default "softverbs-<uid>"
  bool seeded = false;             // SOFTVERBS_SEED set
  uint64_t seed = 0;
  uint32_t max_delay_us = 200;     // SOFTVERBS_MAX_DELAY_US (seeded mode only)
  uint64_t qp_err_after = 0;       // SOFTVERBS_FAULT_QP_ERR_AFTER, 0: off
  bool port_down = false;          // SOFTVERBS_PORT_DOWN=1
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
