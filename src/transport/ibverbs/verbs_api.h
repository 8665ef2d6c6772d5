// The libibverbs entry points the transport uses, bound at run time with dlopen + dlvsym so
// libcollective never links libibverbs (COLL_IBVERBS_LIB names another build, e.g. softverbs).
// Thread-safe: LoadVerbs may be called from any thread; a loaded table is immutable.
#pragma once

#include <infiniband/verbs.h>

#include <string>

#include "base/status.h"

namespace coll {
namespace ibverbs {

// Every pointer below is non-null after a successful load except the optional ones marked.
// Types come from <infiniband/verbs.h> (decltype is unevaluated: no symbol is referenced).
struct VerbsApi {
  std::string path;  // as given to dlopen

  decltype(&::ibv_get_device_list) get_device_list;
  decltype(&::ibv_free_device_list) free_device_list;
  decltype(&::ibv_get_device_name) get_device_name;
  decltype(&::ibv_open_device) open_device;
  decltype(&::ibv_close_device) close_device;
  decltype(&::ibv_query_device) query_device;
  decltype(&::ibv_query_port) query_port_compat;  // short struct: see QueryPort()
  decltype(&::ibv_query_gid) query_gid;
  decltype(&::ibv_query_pkey) query_pkey;
  decltype(&::ibv_alloc_pd) alloc_pd;
  decltype(&::ibv_dealloc_pd) dealloc_pd;
  decltype(&::ibv_reg_mr) reg_mr;
  decltype(&::ibv_dereg_mr) dereg_mr;
  decltype(&::ibv_create_comp_channel) create_comp_channel;  // IBVERBS_1.0
  decltype(&::ibv_destroy_comp_channel) destroy_comp_channel;  // IBVERBS_1.0
  decltype(&::ibv_create_cq) create_cq;
  decltype(&::ibv_destroy_cq) destroy_cq;
  decltype(&::ibv_get_cq_event) get_cq_event;
  decltype(&::ibv_ack_cq_events) ack_cq_events;
  decltype(&::ibv_create_qp) create_qp;
  decltype(&::ibv_destroy_qp) destroy_qp;
  decltype(&::ibv_modify_qp) modify_qp;
  decltype(&::ibv_fork_init) fork_init;
  decltype(&::ibv_wc_status_str) wc_status_str;
  decltype(&::ibv_port_state_str) port_state_str;
  decltype(&::ibv_get_async_event) get_async_event;
  decltype(&::ibv_ack_async_event) ack_async_event;
  decltype(&::ibv_event_type_str) event_type_str;

  decltype(&::ibv_reg_mr_iova2) reg_mr_iova2 = nullptr;    // optional, IBVERBS_1.8
  decltype(&::ibv_reg_dmabuf_mr) reg_dmabuf_mr = nullptr;  // optional, IBVERBS_1.12
  decltype(&::_ibv_query_gid_ex) query_gid_ex = nullptr;   // optional, IBVERBS_1.11
  decltype(&::_ibv_query_gid_table) query_gid_table = nullptr;  // optional, IBVERBS_1.11

  // ibv_query_port without the <infiniband/verbs.h> macro (which binds to libibverbs).
  int QueryPort(ibv_context* context, uint8_t port, ibv_port_attr* attr) const;
  // ibv_reg_mr without the macro: iova2 when the library has it.
  ibv_mr* RegMr(ibv_pd* pd, void* addr, size_t bytes, unsigned access) const;
  // "IBV_WC_REM_ACCESS_ERR (remote access error)"-style name of a completion status.
  std::string StatusName(ibv_wc_status status) const;
};

// Loads `path` once per process (later calls return the same table or the same error) and
// calls ibv_fork_init through it. The error names the path, the missing symbol or dlerror().
Status LoadVerbs(const std::string& path, const VerbsApi** out);

}  // namespace ibverbs
}  // namespace coll
