// Effective configuration of a communicator, read from COLL_* environment variables once
// at init. A value type; every knob is documented in README.md with its default.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace coll {

struct Config {
  std::string transport = "auto";                      // COLL_TRANSPORT, lower case (a registry
                                                       //   name, checked by comm's ConfigFromEnv)
  std::string socket_ifname;                           // COLL_SOCKET_IFNAME
  size_t chunk_bytes = 512 * 1024;                     // COLL_CHUNK_BYTES: pipeline chunk = slot
  int nslots = 4;                                      // COLL_NSLOTS: receive slots per link
  int64_t timeout_ms = 300000;                         // COLL_TIMEOUT_MS
  size_t small_bytes = 32 * 1024;                      // COLL_SMALL_BYTES: latency algorithm up to
  bool small_bytes_set = false;                        //   (unset: chosen per ring, see comm.h)
  int64_t spin_us = 50;                                // COLL_SPIN_US: busy-poll before sleeping
  std::string job_token_hex;                           // COLL_JOB_TOKEN (env bootstrap only)
  std::vector<int> progress_cpus;                      // COLL_PROGRESS_CPUS; empty: from topology
  std::string gpu_busid;                               // not a variable: set by the C API at init to
                                                       //   the PCI id of the current CUDA device ("" none)

  // Reads the environment; an unparsable value is COLL_ERR_INVALID_ARGUMENT naming it.
  static Status FromEnv(Config* out);
  std::string describe() const;  // one line for COLL_DEBUG=INFO
};

// Parses a Linux CPU list ("0-3,8,10-11", as taskset -c) into sorted, distinct PU numbers.
bool ParseCpuList(const char* text, std::vector<int>* out);

// Parses a byte size: "524288", "512K", "4M", "1G" (binary units).
bool ParseBytes(const char* text, size_t* out);

// Helpers to read a variable: unset leaves *out unchanged.
Status EnvBytes(const char* name, size_t min, size_t max, size_t* out);
Status EnvInt(const char* name, int64_t min, int64_t max, int64_t* out);

}  // namespace coll
