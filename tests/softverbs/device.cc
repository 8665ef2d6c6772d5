// Device discovery, open/close and the query verbs of softverbs: one device "softverbs0" with
// one ACTIVE InfiniBand port (4096 MTU, a LID per process, a 2-entry GID table).
// Thread-safety: every entry point may be called from any thread.
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "exports.h"
#include "fabric.h"
#include "objects.h"
#include "progress.h"
#include "responder_faults.h"

namespace softverbs {
namespace {

ibv_device* TheDevice() {
  static ibv_device device = [] {
    ibv_device d;
    memset(&d, 0, sizeof(d));
    d.node_type = IBV_NODE_CA;
    d.transport_type = IBV_TRANSPORT_IB;
    strcpy(d.name, "softverbs0");
    strcpy(d.dev_name, "uverbs-softverbs0");
    strcpy(d.dev_path, "/sys/class/infiniband_verbs/uverbs-softverbs0");
    strcpy(d.ibdev_path, "/sys/class/infiniband/softverbs0");
    return d;
  }();
  return &device;
}

ibv_device* TheIwarpDevice() {
  static ibv_device device = [] {
    ibv_device d = *TheDevice();
    d.node_type = IBV_NODE_RNIC;
    d.transport_type = IBV_TRANSPORT_IWARP;
    return d;
  }();
  return &device;
}

int QueryPortFull(ibv_context* context, uint8_t port_num, ibv_port_attr* attr) {
  if (port_num != 1) return EINVAL;
  SoftContext* ctx = SoftContext::From(context);
  memset(attr, 0, sizeof(*attr));
  bool down = ctx->PortDown();
  bool roce = ctx->config.roce;
  attr->state = down ? IBV_PORT_DOWN : IBV_PORT_ACTIVE;
  attr->max_mtu = IBV_MTU_4096;
  attr->active_mtu = roce ? IBV_MTU_1024 : IBV_MTU_4096;  // RoCE: as rxe on a 1500-byte netdev
  attr->gid_tbl_len = roce ? kGidCount : kIbGidCount;
  attr->max_msg_sz = roce ? kRoceMaxMsgSize : kMaxMsgSize;
  attr->pkey_tbl_len = uint16_t(ctx->config.pkeys.size());
  attr->flags = ctx->config.grh_required ? IBV_QPF_GRH_REQUIRED : 0;
  attr->lid = roce ? 0 : uint16_t(ctx->fabric->lid());  // RoCE addresses by GID only
  attr->sm_lid = 1;
  attr->max_vl_num = 1;
  attr->active_width = 2;   // 4x
  attr->active_speed = 32;  // EDR
  attr->phys_state = down ? 3 : 5;  // Disabled : LinkUp
  attr->link_layer = roce ? IBV_LINK_LAYER_ETHERNET : IBV_LINK_LAYER_INFINIBAND;
  return 0;
}

int QueryPortEx(ibv_context* context, uint8_t port_num, ibv_port_attr* attr, size_t len) {
  ibv_port_attr full;
  int rc = QueryPortFull(context, port_num, &full);
  if (rc == 0) memcpy(attr, &full, len < sizeof(full) ? len : sizeof(full));
  return rc;
}

uint32_t GidTableLength(SoftContext* ctx) { return ctx->config.roce ? kGidCount : kIbGidCount; }

// False for an empty (all-zero) entry.
bool FillGidEntry(SoftContext* ctx, uint32_t index, ibv_gid_entry* entry) {
  static const uint8_t kZero[16] = {};
  FabricGuard guard(ctx->fabric);
  const NodeEntry& node = ctx->fabric->shm().nodes[ctx->fabric->node()];
  if (memcmp(node.gid[index], kZero, 16) == 0) return false;
  memset(entry, 0, sizeof(*entry));
  memcpy(entry->gid.raw, node.gid[index], 16);
  entry->gid_index = index;
  entry->port_num = 1;
  entry->gid_type = node.gid_type[index];
  entry->ndev_ifindex = node.gid_ifindex[index];
  return true;
}

void InstallOps(SoftContext* ctx, ibv_device* device) {
  memset(&ctx->vctx, 0, sizeof(ctx->vctx));
  ctx->vctx.sz = sizeof(verbs_context);
  ctx->vctx.query_port = QueryPortEx;
  ibv_context& c = ctx->vctx.context;
  c.device = device;
  c.cmd_fd = -1;
  c.async_fd = ctx->async_pipe[0];
  c.num_comp_vectors = 1;
  pthread_mutex_init(&c.mutex, nullptr);
  c.abi_compat = __VERBS_ABI_IS_EXTENDED;
  c.ops.poll_cq = PollCq;
  c.ops.req_notify_cq = ReqNotifyCq;
  c.ops.post_send = PostSend;
  c.ops.post_recv = PostRecv;
}

}  // namespace

uint64_t NodeGuid() { return 0x0002c90300000000ull | uint64_t(getpid()); }

}  // namespace softverbs

using namespace softverbs;

SV_EXPORT ibv_device** ibv_get_device_list(int* num_devices) {
  auto** list = static_cast<ibv_device**>(calloc(2, sizeof(ibv_device*)));
  if (list == nullptr) {
    errno = ENOMEM;
    return nullptr;
  }
  // SOFTVERBS_TRANSPORT=iwarp: the same device described as an iWARP RNIC.
  const char* transport = getenv("SOFTVERBS_TRANSPORT");
  list[0] = transport != nullptr && strcmp(transport, "iwarp") == 0 ? TheIwarpDevice() : TheDevice();
  if (num_devices != nullptr) *num_devices = 1;
  return list;
}

SV_EXPORT void ibv_free_device_list(ibv_device** list) { free(list); }

SV_EXPORT const char* ibv_get_device_name(ibv_device* device) { return device->name; }

SV_EXPORT __be64 ibv_get_device_guid(ibv_device*) { return htobe64(NodeGuid()); }

SV_EXPORT ibv_context* ibv_open_device(ibv_device* device) {
  if (device != TheDevice() && device != TheIwarpDevice()) {
    errno = ENODEV;
    return nullptr;
  }
  auto* ctx = new SoftContext();
  ctx->config = ReadConfig();
  ctx->fabric = Fabric::Acquire(ctx->config.fabric_name);
  if (ctx->fabric == nullptr || pipe2(ctx->async_pipe, O_CLOEXEC) != 0) {
    int saved = errno;
    if (ctx->fabric != nullptr) Fabric::Release(ctx->fabric);
    delete ctx;
    errno = saved;
    return nullptr;
  }
  // Let peers of any ancestry move data into this process (process_vm_writev) under Yama.
  prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
  ctx->fabric->SetPortModel(ctx->config.roce, ctx->config.l2_segment, ctx->config.subnet_prefix);
  ArmResponderFaults(ctx->fabric, ctx->config);
  InstallOps(ctx, device);
  ctx->rng.seed(ctx->config.seed * 0x9e3779b97f4a7c15ull + ctx->fabric->lid());
  RegisterContext(ctx);
  if (ctx->config.port_down) {
    ibv_async_event event;
    memset(&event, 0, sizeof(event));
    event.event_type = IBV_EVENT_PORT_ERR;
    event.element.port_num = 1;
    PostAsyncEvent(ctx, event);
  }
  return ctx->ibv();
}

SV_EXPORT int ibv_close_device(ibv_context* context) {
  SoftContext* ctx = SoftContext::From(context);
  UnregisterContext(ctx);
  Fabric::Release(ctx->fabric);
  close(ctx->async_pipe[0]);
  close(ctx->async_pipe[1]);
  pthread_mutex_destroy(&context->mutex);
  delete ctx;
  return 0;
}

SV_EXPORT int ibv_query_device(ibv_context*, ibv_device_attr* attr) {
  memset(attr, 0, sizeof(*attr));
  strcpy(attr->fw_ver, "softverbs 1.0");
  attr->node_guid = htobe64(NodeGuid());
  attr->sys_image_guid = attr->node_guid;
  attr->max_mr_size = kMaxMrSize;
  attr->page_size_cap = 4096;
  attr->vendor_id = 0x5356;
  attr->vendor_part_id = 1;
  attr->hw_ver = 1;
  attr->max_qp = int(kMaxQps);
  attr->max_qp_wr = kMaxQpWr;
  attr->device_cap_flags = IBV_DEVICE_RC_RNR_NAK_GEN | IBV_DEVICE_PORT_ACTIVE_EVENT;
  attr->max_sge = kMaxSge;
  attr->max_sge_rd = kMaxSge;
  attr->max_cq = int(kMaxCqs);
  attr->max_cqe = kMaxCqe;
  attr->max_mr = int(kMaxMrs);
  attr->max_pd = 1 << 16;
  attr->max_qp_rd_atom = 16;
  attr->max_qp_init_rd_atom = 16;
  attr->max_res_rd_atom = 16 * int(kMaxQps);
  attr->atomic_cap = IBV_ATOMIC_NONE;
  attr->max_pkeys = 1;
  attr->local_ca_ack_delay = 16;
  attr->phys_port_cnt = 1;
  return 0;
}

// The exported symbol takes the short pre-1.1 port struct: fill only the fields it has (all
// those before `flags`), as the inline ibv_query_port() wrapper zeroes the rest.
// The name is parenthesised because verbs.h defines an ibv_query_port() macro.
SV_EXPORT int(ibv_query_port)(ibv_context* context, uint8_t port_num,
                              _compat_ibv_port_attr* attr) {
  return QueryPortEx(context, port_num, reinterpret_cast<ibv_port_attr*>(attr),
                     offsetof(ibv_port_attr, flags));
}

SV_EXPORT int ibv_query_gid(ibv_context* context, uint8_t port_num, int index, ibv_gid* gid) {
  SoftContext* ctx = SoftContext::From(context);
  if (port_num != 1 || index < 0 || index >= int(GidTableLength(ctx))) {
    errno = EINVAL;
    return -1;
  }
  memcpy(gid->raw, ctx->fabric->shm().nodes[ctx->fabric->node()].gid[index], 16);
  return 0;
}

// As rdma-core: 0, EINVAL for a bad port or index or flags, ENODATA for an empty entry.
SV_EXPORT int _ibv_query_gid_ex(ibv_context* context, uint32_t port_num, uint32_t gid_index,
                                ibv_gid_entry* entry, uint32_t flags, size_t entry_size) {
  SoftContext* ctx = SoftContext::From(context);
  if (port_num != 1 || gid_index >= GidTableLength(ctx) || flags != 0 || entry_size < sizeof(*entry))
    return EINVAL;
  if (!FillGidEntry(ctx, gid_index, entry)) return ENODATA;
  return 0;
}

// Every non-empty entry of every port, as rdma-core; the count or a negative errno.
SV_EXPORT ssize_t _ibv_query_gid_table(ibv_context* context, ibv_gid_entry* entries,
                                       size_t max_entries, uint32_t flags, size_t entry_size) {
  SoftContext* ctx = SoftContext::From(context);
  if (flags != 0 || entry_size < sizeof(*entries)) return -EINVAL;
  size_t n = 0;
  for (uint32_t i = 0; i < GidTableLength(ctx); ++i) {
    ibv_gid_entry e;
    if (!FillGidEntry(ctx, i, &e)) continue;
    if (n == max_entries) return -EINVAL;
    entries[n++] = e;
  }
  return ssize_t(n);
}

SV_EXPORT int ibv_query_pkey(ibv_context* context, uint8_t port_num, int index, __be16* pkey) {
  SoftContext* ctx = SoftContext::From(context);
  if (port_num != 1 || index < 0 || size_t(index) >= ctx->config.pkeys.size()) {
    errno = EINVAL;
    return -1;
  }
  *pkey = htobe16(ctx->config.pkeys[size_t(index)]);
  return 0;
}

SV_EXPORT int ibv_fork_init(void) { return 0; }

SV_EXPORT enum ibv_fork_status ibv_is_fork_initialized(void) { return IBV_FORK_UNNEEDED; }
