// Choosing and opening the HCA port: COLL_IB_HCA, else the active port nearest the process's
// cores (topology), else the first active one; the process-wide cache of open Devices.
// Thread-safety: the cache is mutex-guarded; everything else works on local objects.
#include "transport/ibverbs/device.h"

#include <unistd.h>

#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "base/log.h"
#include "topology/topology.h"

namespace coll {
namespace ibverbs {
namespace {

struct PortRef {
  std::string name;
  int port = 0;
};

// Active ports of one device (all of them, or config.port only).
void ActivePortsOf(const VerbsApi& api, ibv_device* dev, const IbConfig& config, std::vector<PortRef>* out,
                   std::string* seen) {
  const char* name = api.get_device_name(dev);
  ibv_context* ctx = api.open_device(dev);
  if (ctx == nullptr) {
    *seen += StrFormat(" %s: cannot open (%s);", name, std::strerror(errno));
    return;
  }
  ibv_device_attr attr{};
  int nports = api.query_device(ctx, &attr) == 0 ? attr.phys_port_cnt : 1;
  for (int p = 1; p <= nports; ++p) {
    if (config.port != 0 && p != config.port) continue;
    ibv_port_attr pa{};
    if (api.QueryPort(ctx, static_cast<uint8_t>(p), &pa) != 0) continue;
    *seen += StrFormat(" %s:%d %s;", name, p, api.port_state_str(pa.state));
    if (pa.state == IBV_PORT_ACTIVE) out->push_back(PortRef{name, p});
  }
  api.close_device(ctx);
}

Status ListActivePorts(const VerbsApi& api, const IbConfig& config, std::vector<PortRef>* out) {
  int n = 0;
  ibv_device** list = api.get_device_list(&n);
  if (list == nullptr || n == 0) {
    if (list != nullptr) api.free_device_list(list);
    return Unsupported("%s finds no RDMA device", api.path.c_str());
  }
  std::string seen;
  for (int i = 0; i < n; ++i) {
    if (!config.hca.empty() && config.hca != api.get_device_name(list[i])) continue;
    ActivePortsOf(api, list[i], config, out, &seen);
  }
  api.free_device_list(list);
  if (!out->empty()) return Status::OK();
  if (!config.hca.empty() && seen.empty())
    return Unsupported("COLL_IB_HCA=%s%s: %s has no such device or port", config.hca.c_str(),
                       config.port ? StrFormat(":%d", config.port).c_str() : "", api.path.c_str());
  return Unsupported("no ACTIVE RDMA port (via %s):%s", api.path.c_str(), seen.c_str());
}

// The candidate nearest the cores this process may run on; the first when topology is silent.
PortRef Nearest(const std::vector<PortRef>& ports) {
  std::unique_ptr<topo::Topology> topology;
  topo::CpuSet cpus;
  if (ports.size() < 2 || !topo::Topology::Load(&topology).ok() || !topology->currentAffinity(&cpus).ok())
    return ports.front();
  const PortRef* best = &ports.front();
  std::optional<topo::Proximity> best_prox;
  for (const PortRef& p : ports) {
    std::optional<topo::Device> nic = topology->findNic(p.name);
    if (!nic) continue;
    topo::Proximity prox = topology->proximityToCpuset(*nic, cpus);
    if (best_prox && *best_prox <= prox) continue;
    best = &p;
    best_prox = prox;
  }
  return *best;
}

std::string CacheKey(const IbConfig& c) {
  return StrFormat("%s|%s|%d|%d", c.library.c_str(), c.hca.c_str(), c.port, c.gid_index);
}

}  // namespace

Device::~Device() {
  if (pd_ != nullptr) api_->dealloc_pd(pd_);
  if (context_ != nullptr) api_->close_device(context_);
}

Status Device::Probe(const IbConfig& config) {
  const VerbsApi* api = nullptr;
  COLL_RETURN_IF_ERROR(LoadVerbs(config.library, &api));
  std::vector<PortRef> ports;
  return ListActivePorts(*api, config, &ports);
}

Status Device::Create(const VerbsApi& api, const IbConfig& config, std::unique_ptr<Device>* out) {
  std::vector<PortRef> ports;
  COLL_RETURN_IF_ERROR(ListActivePorts(api, config, &ports));
  PortRef pick = Nearest(ports);
  std::unique_ptr<Device> d(new Device());
  d->api_ = &api;
  COLL_RETURN_IF_ERROR(d->openPort(pick.name, pick.port));
  COLL_RETURN_IF_ERROR(d->chooseGid(config));
  *out = std::move(d);
  return Status::OK();
}

Status Device::openPort(const std::string& name, int port) {
  name_ = name;
  port_ = static_cast<uint8_t>(port);
  int n = 0;
  ibv_device** list = api_->get_device_list(&n);
  for (int i = 0; list != nullptr && i < n && context_ == nullptr; ++i)
    if (name == api_->get_device_name(list[i])) context_ = api_->open_device(list[i]);
  int err = errno;
  if (list != nullptr) api_->free_device_list(list);
  if (context_ == nullptr) return ErrnoError(err, "ibv_open_device(" + name + ")");
  if (api_->QueryPort(context_, port_, &port_attr_) != 0) return ErrnoError(errno, "ibv_query_port(" + name + ")");
  if (port_attr_.state != IBV_PORT_ACTIVE)
    return Unsupported("%s port %d went %s", name.c_str(), port, api_->port_state_str(port_attr_.state));
  pd_ = api_->alloc_pd(context_);
  if (pd_ == nullptr) return ErrnoError(errno, "ibv_alloc_pd(" + name + ")");
  return Status::OK();
}

Status Device::chooseGid(const IbConfig& config) {
  gid_index_ = config.gid_index;
  if (gid_index_ < 0 && ethernet()) {
    gid_index_ = 0;  // without ibv_query_gid_ex, assume the first entry routes
    for (int i = 0; api_->query_gid_ex != nullptr && i < port_attr_.gid_tbl_len; ++i) {
      ibv_gid_entry e{};
      if (api_->query_gid_ex(context_, port_, static_cast<uint32_t>(i), &e, 0, sizeof e) != 0) continue;
      if (e.gid_type != IBV_GID_TYPE_ROCE_V2) continue;
      gid_index_ = i;
      break;
    }
  }
  if (gid_index_ < 0) return Status::OK();
  if (gid_index_ >= port_attr_.gid_tbl_len)
    return InvalidArgument("COLL_IB_GID_INDEX=%d but %s port %d has %d GIDs", gid_index_, name_.c_str(), port_,
                           port_attr_.gid_tbl_len);
  if (api_->query_gid(context_, port_, gid_index_, &gid_) != 0)
    return ErrnoError(errno, StrFormat("ibv_query_gid(%s, index %d)", name_.c_str(), gid_index_));
  return Status::OK();
}

std::string Device::describe() const {
  std::string addr = gid_index_ >= 0 ? StrFormat("GID index %d", gid_index_) : StrFormat("LID %u", port_attr_.lid);
  return StrFormat("%s:%d (%s, %s, MTU %d)", name_.c_str(), port_, ethernet() ? "RoCE" : "InfiniBand", addr.c_str(),
                   128 << static_cast<int>(port_attr_.active_mtu));
}

Status Device::Open(const IbConfig& config, std::shared_ptr<Device>* out) {
  struct Entry {
    pid_t pid;
    std::weak_ptr<Device> device;
  };
  static std::mutex mu;
  static auto* cache = new std::map<std::string, Entry>();
  const VerbsApi* api = nullptr;
  COLL_RETURN_IF_ERROR(LoadVerbs(config.library, &api));
  std::lock_guard<std::mutex> lock(mu);
  Entry& e = (*cache)[CacheKey(config)];
  // A forked child must not use its parent's verbs objects: open its own.
  if (e.pid == getpid() && (*out = e.device.lock())) return Status::OK();
  std::unique_ptr<Device> d;
  COLL_RETURN_IF_ERROR(Create(*api, config, &d));
  COLL_INFO(-1, "ibverbs: using %s", d->describe().c_str());
  *out = std::shared_ptr<Device>(d.release());
  e = Entry{getpid(), *out};
  return Status::OK();
}

}  // namespace ibverbs
}  // namespace coll
