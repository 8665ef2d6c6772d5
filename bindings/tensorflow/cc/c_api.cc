// The few plain-C entry points the Python package calls through ctypes: init, shutdown, the
// job's shape and the fusion counters. Nothing here is exported to C users of libcollective.
#include <cstdint>
#include <cstring>
#include <string>

#include "runtime.h"

namespace {
std::string& InitError() {
  static std::string error;
  return error;
}
}  // namespace

extern "C" {

__attribute__((visibility("default"))) int coll_tf_init() {
  InitError().clear();
  return coll_tf::Runtime::Get()->Init(&InitError());
}

__attribute__((visibility("default"))) const char* coll_tf_init_error() {
  return InitError().c_str();
}

__attribute__((visibility("default"))) void coll_tf_shutdown() {
  coll_tf::Runtime::Get()->Shutdown();
}

// rank, size, local_rank, local_size; -1 each when not initialized.
__attribute__((visibility("default"))) void coll_tf_topology(int out[4]) {
  coll_tf::Runtime* rt = coll_tf::Runtime::Get();
  bool up = rt->initialized();
  out[0] = up ? rt->rank() : -1;
  out[1] = up ? rt->size() : -1;
  out[2] = up ? rt->local_rank() : -1;
  out[3] = up ? rt->local_size() : -1;
}

// rounds, collectives, tensors, fused collectives, most tensors in one collective, busy
// rounds, and nanoseconds queued, exchanging and executing (see coll_tf::Stats).
__attribute__((visibility("default"))) void coll_tf_stats(int64_t out[9]) {
  coll_tf::Stats s = coll_tf::Runtime::Get()->stats();
  int64_t v[9] = {s.rounds,      s.collectives, s.tensors,     s.fused,     s.max_fused,
                  s.busy_rounds, s.queued_ns,   s.exchange_ns, s.execute_ns};
  std::memcpy(out, v, sizeof(v));
}

}  // extern "C"
