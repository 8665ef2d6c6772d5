// Environment parsing for softverbs (see config.h and README.md).
// Thread-safety: ReadConfig only reads the environment; Logf writes one line with one call.
#include "config.h"

#include "fabric.h"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace softverbs {
namespace {

bool ReadU64(const char* name, uint64_t* out) {
  const char* text = getenv(name);
  if (text == nullptr || *text == '\0') return false;
  char* end = nullptr;
  unsigned long long value = strtoull(text, &end, 0);
  if (*end != '\0') {
    fprintf(stderr, "softverbs: ignoring %s=%s (not a number)\n", name, text);
    return false;
  }
  *out = value;
  return true;
}

}  // namespace

Config ReadConfig() {
  Config config;
  const char* fabric = getenv("COLL_SOFTVERBS_FABRIC");
  config.fabric_name = (fabric != nullptr && *fabric != '\0')
                           ? fabric
                           : "softverbs-" + std::to_string(getuid()) + "-v" + std::to_string(kFabricVersion);
  config.seeded = ReadU64("SOFTVERBS_SEED", &config.seed);
  uint64_t value = 0;
  if (ReadU64("SOFTVERBS_MAX_DELAY_US", &value)) config.max_delay_us = uint32_t(value);
  ReadU64("SOFTVERBS_FAULT_QP_ERR_AFTER", &config.qp_err_after);
  config.port_down = ReadU64("SOFTVERBS_PORT_DOWN", &value) && value != 0;
  ReadU64("SOFTVERBS_FAULT_PORT_DOWN_AFTER", &config.port_down_after);
  ReadU64("SOFTVERBS_DEREG_DELAY_US", &config.dereg_delay_us);
  config.grh_required = ReadU64("SOFTVERBS_GRH_REQUIRED", &value) && value != 0;
  ReadU64("SOFTVERBS_SUBNET_PREFIX", &config.subnet_prefix);
  if (const char* pkeys = getenv("SOFTVERBS_PKEYS"); pkeys != nullptr && *pkeys != '\0') {
    std::vector<uint16_t> table;
    for (const char* p = pkeys; *p != '\0';) {
      char* end = nullptr;
      unsigned long pkey = strtoul(p, &end, 0);
      if (end == p || pkey == 0 || pkey > 0xffff || (*end != ',' && *end != '\0') || table.size() == 16) {
        fprintf(stderr, "softverbs: ignoring SOFTVERBS_PKEYS=%s (up to 16 P_Keys 0x0001-0xffff, comma-separated)\n",
                pkeys);
        table.clear();
        break;
      }
      table.push_back(uint16_t(pkey));
      p = *end == ',' ? end + 1 : end;
    }
    if (!table.empty()) config.pkeys = table;
  }
  if (ReadU64("SOFTVERBS_FAULT_REG_MR_ENOMEM", &value) && value != 0) config.reg_mr_fail_after = 0;
  if (ReadU64("SOFTVERBS_FAULT_REG_MR_AFTER", &value)) config.reg_mr_fail_after = int64_t(value);
  if (ReadU64("SOFTVERBS_FAULT_REM_ACCESS_AFTER", &value)) config.rem_access_after = int64_t(value);
  if (ReadU64("SOFTVERBS_FAULT_RNR_AFTER", &value)) config.rnr_after = int64_t(value);
  const char* link_layer = getenv("SOFTVERBS_LINK_LAYER");
  config.roce = link_layer != nullptr && strcmp(link_layer, "ethernet") == 0;
  if (link_layer != nullptr && *link_layer != '\0' && !config.roce && strcmp(link_layer, "infiniband") != 0)
    fprintf(stderr, "softverbs: ignoring SOFTVERBS_LINK_LAYER=%s (infiniband or ethernet)\n", link_layer);
  if (ReadU64("SOFTVERBS_L2_SEGMENT", &value)) config.l2_segment = uint32_t(value);
  return config;
}

std::string FabricPath(const std::string& name) { return "/dev/shm/" + name; }

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

void Logf(const char* fmt, ...) {
  const char* debug = getenv("SOFTVERBS_DEBUG");
  if (debug == nullptr || strcmp(debug, "1") != 0) return;
  char line[512];
  int n = snprintf(line, sizeof(line), "softverbs[%d]: ", int(getpid()));
  va_list args;
  va_start(args, fmt);
  vsnprintf(line + n, sizeof(line) - size_t(n), fmt, args);
  va_end(args);
  fprintf(stderr, "%s\n", line);
}

}  // namespace softverbs
