// Choosing and opening the HCA port: COLL_IB_HCA, else the active port nearest the process's
// cores (topology), else the first active one; the process-wide cache of open Devices.
// Thread-safety: the cache is mutex-guarded; everything else works on local objects.
#include "transport/ibverbs/device.h"

#include <endian.h>
#include <unistd.h>

#include <cstdio>
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

// Active ports of one device that COLL_IB_HCA allows.
void ActivePortsOf(const VerbsApi& api, ibv_device* dev, const IbConfig& config, std::vector<PortRef>* out,
                   std::string* seen) {
  const char* name = api.get_device_name(dev);
  if (!config.hcaMayAllow(name)) return;
  if (dev->transport_type == IBV_TRANSPORT_IWARP) {  // RC over iWARP has no RDMA write with immediate
    *seen += StrFormat(" %s: iWARP (the links need RDMA write with immediate, which iWARP lacks);", name);
    return;
  }
  ibv_context* ctx = api.open_device(dev);
  if (ctx == nullptr) {
    *seen += StrFormat(" %s: cannot open (%s);", name, std::strerror(errno));
    return;
  }
  ibv_device_attr attr{};
  int nports = api.query_device(ctx, &attr) == 0 ? attr.phys_port_cnt : 1;
  for (int p = 1; p <= nports; ++p) {
    if (!config.hcaAllows(name, p)) continue;
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
  std::string seen, devices;
  for (int i = 0; i < n; ++i) {
    devices += StrFormat("%s%s", devices.empty() ? "" : ", ", api.get_device_name(list[i]));
    ActivePortsOf(api, list[i], config, out, &seen);
  }
  api.free_device_list(list);
  if (!out->empty()) return Status::OK();
  if (!config.hca.empty() && seen.empty())
    return Unsupported("COLL_IB_HCA=%s matches no device or port of %s (its devices: %s)", config.hca.c_str(),
                       api.path.c_str(), devices.c_str());
  return Unsupported("no ACTIVE RDMA port (via %s):%s", api.path.c_str(), seen.c_str());
}

// The candidate nearest the communicator's GPU (same PCIe switch, host bridge, NUMA node, ...),
// else nearest the cores this process may run on; the first when topology is silent.
PortRef Nearest(const std::vector<PortRef>& ports, const std::string& gpu_busid) {
  std::unique_ptr<topo::Topology> topology;
  topo::CpuSet cpus;
  if (ports.size() < 2 || !topo::Topology::Load(&topology).ok() || !topology->currentAffinity(&cpus).ok())
    return ports.front();
  std::vector<std::string> names;
  for (const PortRef& p : ports) names.push_back(p.name);
  const std::optional<topo::Device> gpu = gpu_busid.empty() ? std::nullopt : topology->findGpu(gpu_busid);
  topo::Proximity proximity = topo::Proximity::kSystem;
  const std::optional<topo::Device> nic = topology->nearestNicAmong(gpu, cpus, names, &proximity);
  for (const PortRef& p : ports)
    for (const std::string& name : nic ? nic->os_names : std::vector<std::string>())
      if (p.name == name) return p;
  return ports.front();
}

std::string CacheKey(const IbConfig& c) {
  return StrFormat("%s|%s|%d|%s|%s|%s|%d|%s", c.library.c_str(), c.hca.c_str(), c.gid_index,
                   c.addr_family.c_str(), c.addr_range.c_str(), c.socket_ifname.c_str(), c.pkey, c.gpu_busid.c_str());
}

}  // namespace

Device::~Device() {
  events_.reset();
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
  PortRef pick = Nearest(ports, config.gpu_busid);
  std::unique_ptr<Device> d(new Device());
  d->api_ = &api;
  COLL_RETURN_IF_ERROR(d->openPort(pick.name, pick.port));
  COLL_RETURN_IF_ERROR(d->chooseGid(config));
  COLL_RETURN_IF_ERROR(d->choosePkey(config));
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
  return AsyncEvents::Start(*api_, context_, StrFormat("%s:%d", name.c_str(), port), port, &events_);
}

// Every non-empty entry of the port's GID table, with its type and netdev when the library
// can say (ibv_query_gid_table / ibv_query_gid_ex, rdma-core 32+), else from sysfs.
void Device::readGidTable(std::vector<GidEntry>* table) const {
  table->clear();
  const int len = port_attr_.gid_tbl_len;
  if (api_->query_gid_table != nullptr && len > 0) {
    std::vector<ibv_gid_entry> entries(static_cast<size_t>(len) * 8);  // room for every port's
    ssize_t n = api_->query_gid_table(context_, entries.data(), entries.size(), 0, sizeof(ibv_gid_entry));
    for (ssize_t i = 0; i < n; ++i) {
      const ibv_gid_entry& e = entries[static_cast<size_t>(i)];
      if (e.port_num != port_) continue;
      table->push_back(GidEntry{static_cast<int>(e.gid_index), e.gid, static_cast<int>(e.gid_type), e.ndev_ifindex});
    }
    if (n >= 0) return;
  }
  for (int i = 0; i < len && i < 1024; ++i) {
    GidEntry g;
    g.index = i;
    if (api_->query_gid_ex != nullptr) {
      ibv_gid_entry e{};
      if (api_->query_gid_ex(context_, port_, static_cast<uint32_t>(i), &e, 0, sizeof e) != 0) continue;
      g = GidEntry{i, e.gid, static_cast<int>(e.gid_type), e.ndev_ifindex};
    } else {
      if (api_->query_gid(context_, port_, i, &g.gid) != 0) continue;
      g.type = ethernet() ? sysfsGidType(i) : IBV_GID_TYPE_IB;
    }
    if (!GidEmpty(g.gid)) table->push_back(g);
  }
}

// The type of GID `index` as the kernel's sysfs says ("IB/RoCE v1", "RoCE v2").
int Device::sysfsGidType(int index) const {
  std::string path =
      StrFormat("/sys/class/infiniband/%s/ports/%d/gid_attrs/types/%d", name_.c_str(), port_, index);
  FILE* f = std::fopen(path.c_str(), "r");
  if (f == nullptr) return kGidTypeUnknown;
  char text[32] = {};
  bool got = std::fgets(text, sizeof text, f) != nullptr;
  std::fclose(f);
  if (!got) return kGidTypeUnknown;
  if (std::strncmp(text, "RoCE v2", 7) == 0) return IBV_GID_TYPE_ROCE_V2;
  if (std::strncmp(text, "IB/RoCE v1", 10) == 0) return IBV_GID_TYPE_ROCE_V1;
  return kGidTypeUnknown;
}

// InfiniBand addresses by LID unless a GID index is forced; RoCE needs a GID: the forced one
// (which must exist and not be empty) or the best by gid.h's ranking.
Status Device::chooseGid(const IbConfig& config) {
  gid_index_ = -1;
  if (config.gid_index < 0 && !ethernet()) {
    // LID routing; the port GID tells the peer our subnet (a GRH is needed across subnets).
    gid_.index = 0;
    gid_.type = IBV_GID_TYPE_IB;
    if (api_->query_gid(context_, port_, 0, &gid_.gid) != 0)
      return ErrnoError(errno, StrFormat("ibv_query_gid(%s:%d, index 0)", name_.c_str(), port_));
    return Status::OK();
  }
  if (config.gid_index >= port_attr_.gid_tbl_len)
    return InvalidArgument("COLL_IB_GID_INDEX=%d but %s port %d has %d GIDs", config.gid_index, name_.c_str(), port_,
                           port_attr_.gid_tbl_len);
  std::vector<GidEntry> table;
  readGidTable(&table);
  const std::string port = StrFormat("%s:%d", name_.c_str(), port_);
  if (config.gid_index >= 0) {
    for (const GidEntry& e : table)
      if (e.index == config.gid_index) gid_ = e;
    if (gid_.index != config.gid_index)
      return InvalidArgument("COLL_IB_GID_INDEX=%d: entry %d of %s's GID table is empty (its GIDs: %s); unset "
                             "COLL_IB_GID_INDEX to choose one automatically",
                             config.gid_index, config.gid_index, port.c_str(), DescribeTable(table).c_str());
  } else {
    std::string warning;
    COLL_RETURN_IF_ERROR(ChooseRoceGid(table, config.gid_policy, port, config.gidSettings(), &gid_, &warning));
    if (!warning.empty()) COLL_WARN(-1, "ibverbs: %s", warning.c_str());
  }
  gid_index_ = gid_.index;
  return Status::OK();
}

// COLL_IB_PKEY: its index in the port's P_Key table (the membership bit aside, full member
// preferred); unset, entry 0 (the default partition).
Status Device::choosePkey(const IbConfig& config) {
  std::string seen;
  int partial = -1;
  for (int i = 0; i < port_attr_.pkey_tbl_len && i < 1024; ++i) {
    __be16 raw = 0;
    if (api_->query_pkey(context_, port_, i, &raw) != 0) continue;
    uint16_t pkey = be16toh(raw);
    if (i == 0 && config.pkey == 0) {
      pkey_ = pkey;
      return Status::OK();
    }
    if (pkey == 0) continue;
    seen += StrFormat("%s0x%04x", seen.empty() ? "" : ", ", pkey);
    if ((pkey & 0x7fff) != (config.pkey & 0x7fff)) continue;
    if (pkey & 0x8000) {
      pkey_index_ = i;
      pkey_ = pkey;
      return Status::OK();
    }
    if (partial < 0) partial = i;
  }
  if (config.pkey == 0) return ErrnoError(errno, StrFormat("ibv_query_pkey(%s:%d, index 0)", name_.c_str(), port_));
  if (partial < 0)
    return InvalidArgument("COLL_IB_PKEY=0x%04x: %s:%d is not in that partition (its P_Keys: %s); use one of those, "
                           "or ask the subnet manager's administrator to add the port",
                           config.pkey, name_.c_str(), port_, seen.empty() ? "none" : seen.c_str());
  pkey_index_ = partial;
  __be16 raw = 0;
  api_->query_pkey(context_, port_, partial, &raw);
  pkey_ = be16toh(raw);
  return Status::OK();
}

Status Device::checkMessageBytes(size_t bytes, size_t chunk_bytes) const {
  if (bytes <= port_attr_.max_msg_sz) return Status::OK();
  return InvalidArgument("COLL_CHUNK_BYTES=%zu: a chunk and its header (%zu bytes) exceed the largest message %s:%d "
                         "can send (max_msg_sz %u bytes); set COLL_CHUNK_BYTES to at most %zu",
                         chunk_bytes, bytes, name_.c_str(), port_, port_attr_.max_msg_sz,
                         static_cast<size_t>(port_attr_.max_msg_sz) - (bytes - chunk_bytes));
}

std::string Device::describe() const {
  std::string addr = gid_index_ >= 0 ? DescribeGid(gid_) : StrFormat("LID %u", port_attr_.lid);
  if (pkey_index_ != 0) addr += StrFormat(", P_Key 0x%04x", pkey_);
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
