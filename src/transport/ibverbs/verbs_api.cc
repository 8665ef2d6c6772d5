// Binding the VerbsApi table: dlopen once per path, dlvsym each symbol at the version
// libibverbs.so.1 exports it under, ibv_fork_init before anything is registered.
// Thread-safety: the cache is guarded by a mutex; tables are never freed or changed.
#include "transport/ibverbs/verbs_api.h"

#include <dlfcn.h>

#include <cstring>
#include <map>
#include <memory>
#include <mutex>

#include "base/log.h"

namespace coll {
namespace ibverbs {
namespace {

constexpr const char* kV10 = "IBVERBS_1.0";
constexpr const char* kV11 = "IBVERBS_1.1";

template <typename Fn>
bool Bind(void* lib, const char* name, const char* version, Fn* out) {
  void* sym = dlvsym(lib, name, version);
  *out = reinterpret_cast<Fn>(sym);
  return sym != nullptr;
}

struct Binder {
  void* lib;
  const std::string& path;
  Status status;

  template <typename Fn>
  void need(const char* name, const char* version, Fn* out) {
    if (!status.ok() || Bind(lib, name, version, out)) return;
    status = Unsupported("%s has no symbol %s@%s: it is not a libibverbs.so.1 (rdma-core) build", path.c_str(), name,
                         version);
  }
};

Status BindAll(void* lib, VerbsApi* api) {
  Binder b{lib, api->path, Status::OK()};
  b.need("ibv_get_device_list", kV11, &api->get_device_list);
  b.need("ibv_free_device_list", kV11, &api->free_device_list);
  b.need("ibv_get_device_name", kV11, &api->get_device_name);
  b.need("ibv_open_device", kV11, &api->open_device);
  b.need("ibv_close_device", kV11, &api->close_device);
  b.need("ibv_query_device", kV11, &api->query_device);
  b.need("ibv_query_port", kV11, &api->query_port_compat);
  b.need("ibv_query_gid", kV11, &api->query_gid);
  b.need("ibv_query_pkey", kV11, &api->query_pkey);
  b.need("ibv_alloc_pd", kV11, &api->alloc_pd);
  b.need("ibv_dealloc_pd", kV11, &api->dealloc_pd);
  b.need("ibv_reg_mr", kV11, &api->reg_mr);
  b.need("ibv_dereg_mr", kV11, &api->dereg_mr);
  b.need("ibv_create_comp_channel", kV10, &api->create_comp_channel);
  b.need("ibv_destroy_comp_channel", kV10, &api->destroy_comp_channel);
  b.need("ibv_create_cq", kV11, &api->create_cq);
  b.need("ibv_destroy_cq", kV11, &api->destroy_cq);
  b.need("ibv_get_cq_event", kV11, &api->get_cq_event);
  b.need("ibv_ack_cq_events", kV11, &api->ack_cq_events);
  b.need("ibv_create_qp", kV11, &api->create_qp);
  b.need("ibv_destroy_qp", kV11, &api->destroy_qp);
  b.need("ibv_modify_qp", kV11, &api->modify_qp);
  b.need("ibv_fork_init", kV11, &api->fork_init);
  b.need("ibv_wc_status_str", kV11, &api->wc_status_str);
  b.need("ibv_port_state_str", kV11, &api->port_state_str);
  b.need("ibv_get_async_event", kV11, &api->get_async_event);
  b.need("ibv_ack_async_event", kV11, &api->ack_async_event);
  b.need("ibv_event_type_str", kV11, &api->event_type_str);
  Bind(lib, "ibv_reg_mr_iova2", "IBVERBS_1.8", &api->reg_mr_iova2);
  Bind(lib, "ibv_reg_dmabuf_mr", "IBVERBS_1.12", &api->reg_dmabuf_mr);
  Bind(lib, "_ibv_query_gid_ex", "IBVERBS_1.11", &api->query_gid_ex);
  Bind(lib, "_ibv_query_gid_table", "IBVERBS_1.11", &api->query_gid_table);
  return b.status;
}

Status Load(const std::string& path, std::unique_ptr<VerbsApi>* out) {
  void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    const char* why = dlerror();
    return Unsupported("cannot load the verbs library %s (set COLL_IBVERBS_LIB to its path): %s", path.c_str(),
                       why ? why : "unknown dlopen error");
  }
  std::unique_ptr<VerbsApi> api(new VerbsApi());
  api->path = path;
  Status st = BindAll(lib, api.get());
  if (!st.ok()) {
    dlclose(lib);
    return st;
  }
  // Registered pages must not be shared copy-on-write with a forked child (the HCA would keep
  // writing the parent's copy). Needed before the first registration; a no-op on kernels
  // that handle it themselves.
  if (int rc = api->fork_init())
    COLL_WARN(-1, "ibverbs: ibv_fork_init failed (%s); do not fork while communicators exist", std::strerror(rc));
  *out = std::move(api);  // the library stays loaded for the life of the process
  return Status::OK();
}

struct LoadResult {
  std::unique_ptr<VerbsApi> api;
  Status status;
};

}  // namespace

Status LoadVerbs(const std::string& path, const VerbsApi** out) {
  static std::mutex mu;
  static auto* cache = new std::map<std::string, LoadResult>();
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache->find(path);
  if (it == cache->end()) {
    LoadResult r;
    r.status = Load(path, &r.api);
    it = cache->emplace(path, std::move(r)).first;
  }
  *out = it->second.api.get();
  return it->second.status;
}

int VerbsApi::QueryPort(ibv_context* context, uint8_t port, ibv_port_attr* attr) const {
  verbs_context* vctx = verbs_get_ctx(context);
  bool has_op = vctx != nullptr && vctx->sz >= sizeof(*vctx) - offsetof(verbs_context, query_port) &&
                vctx->query_port != nullptr;
  if (has_op) return vctx->query_port(context, port, attr, sizeof(*attr));
  std::memset(attr, 0, sizeof(*attr));
  return query_port_compat(context, port, reinterpret_cast<_compat_ibv_port_attr*>(attr));
}

ibv_mr* VerbsApi::RegMr(ibv_pd* pd, void* addr, size_t bytes, unsigned access) const {
  if (reg_mr_iova2 != nullptr) return reg_mr_iova2(pd, addr, bytes, reinterpret_cast<uintptr_t>(addr), access);
  return reg_mr(pd, addr, bytes, static_cast<int>(access));
}

std::string VerbsApi::StatusName(ibv_wc_status status) const {
  static const char* const kNames[] = {
      "IBV_WC_SUCCESS",        "IBV_WC_LOC_LEN_ERR",       "IBV_WC_LOC_QP_OP_ERR",    "IBV_WC_LOC_EEC_OP_ERR",
      "IBV_WC_LOC_PROT_ERR",   "IBV_WC_WR_FLUSH_ERR",      "IBV_WC_MW_BIND_ERR",      "IBV_WC_BAD_RESP_ERR",
      "IBV_WC_LOC_ACCESS_ERR", "IBV_WC_REM_INV_REQ_ERR",   "IBV_WC_REM_ACCESS_ERR",   "IBV_WC_REM_OP_ERR",
      "IBV_WC_RETRY_EXC_ERR",  "IBV_WC_RNR_RETRY_EXC_ERR", "IBV_WC_LOC_RDD_VIOL_ERR", "IBV_WC_REM_INV_RD_REQ_ERR",
      "IBV_WC_REM_ABORT_ERR",  "IBV_WC_INV_EECN_ERR",      "IBV_WC_INV_EEC_STATE_ERR", "IBV_WC_FATAL_ERR",
      "IBV_WC_RESP_TIMEOUT_ERR", "IBV_WC_GENERAL_ERR",     "IBV_WC_TM_ERR",           "IBV_WC_TM_RNDV_INCOMPLETE"};
  size_t i = static_cast<size_t>(status);
  std::string name = i < sizeof(kNames) / sizeof(kNames[0]) ? kNames[i] : StrFormat("status %zu", i);
  return StrFormat("%s (%s)", name.c_str(), wc_status_str(status));
}

}  // namespace ibverbs
}  // namespace coll
