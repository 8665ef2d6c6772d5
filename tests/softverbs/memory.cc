// Protection domains and memory registration of softverbs. A registration is an MR-table entry
// in the fabric (owner pid, address, length, access, keys) so that any process can check an
// rkey. lkey and rkey differ (rkey has bit 31 set) so a swapped key is caught.
// Thread-safety: entry points are thread-safe; the table is guarded by the fabric lock.
#include <errno.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "exports.h"
#include "objects.h"

using namespace softverbs;

namespace {

constexpr unsigned kSupportedAccess = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
                                      IBV_ACCESS_REMOTE_READ | IBV_ACCESS_REMOTE_ATOMIC |
                                      IBV_ACCESS_RELAXED_ORDERING;

ibv_mr* Fail(int error) {
  errno = error;
  return nullptr;
}

// Real registration pins the pages and fails on an unmapped range.
bool RangeMapped(const void* addr, size_t length) {
  long page = sysconf(_SC_PAGESIZE);
  uintptr_t start = reinterpret_cast<uintptr_t>(addr) & ~uintptr_t(page - 1);
  uintptr_t end = reinterpret_cast<uintptr_t>(addr) + length;
  size_t span = end - start;
  std::vector<unsigned char> pages((span + size_t(page) - 1) / size_t(page));
  return mincore(reinterpret_cast<void*>(start), span, pages.data()) == 0;
}

int CheckRegistration(SoftContext* ctx, void* addr, size_t length, unsigned access) {
  if (access & ~kSupportedAccess) return EINVAL;
  bool remote_write = access & (IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_ATOMIC);
  if (remote_write && !(access & IBV_ACCESS_LOCAL_WRITE)) return EINVAL;
  if (length == 0 || length > kMaxMrSize) return EINVAL;
  uint64_t count = ctx->registrations.fetch_add(1);
  int64_t fail_after = ctx->config.reg_mr_fail_after;
  if (fail_after >= 0 && count >= uint64_t(fail_after)) {
    Logf("ibv_reg_mr: injected ENOMEM (registration %llu)", (unsigned long long)count + 1);
    return ENOMEM;
  }
  if (!RangeMapped(addr, length)) return EFAULT;
  return 0;
}

uint32_t AllocMrEntry(Fabric* fabric, SoftPd* pd, void* addr, size_t length, uint64_t iova,
                      unsigned access) {
  FabricGuard guard(fabric);
  FabricLayout& shm = fabric->shm();
  for (uint32_t n = 0; n < kMaxMrs; ++n) {
    uint32_t i = (shm.header.next_mr_hint + n) % kMaxMrs;
    MrEntry& mr = shm.mrs[i];
    if (mr.in_use) continue;
    shm.header.next_mr_hint = i + 1;
    mr.generation = (mr.generation + 1) & 0x1ffff;
    if (mr.generation == 0) mr.generation = 1;
    mr.lkey = (mr.generation << kMrIndexBits) | i;
    mr.rkey = mr.lkey | kRemoteKeyBit;
    mr.pid = getpid();
    mr.pd_id = pd->id;
    mr.access = access;
    mr.addr = reinterpret_cast<uint64_t>(addr);
    mr.length = length;
    mr.iova = iova;
    mr.in_use = 1;
    return i;
  }
  return kNoIndex;
}

ibv_mr* Register(ibv_pd* pd_in, void* addr, size_t length, uint64_t iova, unsigned access) {
  SoftPd* pd = reinterpret_cast<SoftPd*>(pd_in);
  SoftContext* ctx = SoftContext::From(pd_in->context);
  int rc = CheckRegistration(ctx, addr, length, access);
  if (rc != 0) return Fail(rc);
  uint32_t index = AllocMrEntry(ctx->fabric, pd, addr, length, iova, access);
  if (index == kNoIndex) return Fail(ENOMEM);
  auto* mr = new SoftMr();
  const MrEntry& entry = ctx->fabric->shm().mrs[index];
  mr->mr.context = pd_in->context;
  mr->mr.pd = pd_in;
  mr->mr.addr = addr;
  mr->mr.length = length;
  mr->mr.handle = index;
  mr->mr.lkey = entry.lkey;
  mr->mr.rkey = entry.rkey;
  mr->index = index;
  mr->owner = pd;
  pd->users.fetch_add(1);
  return &mr->mr;
}

}  // namespace

SV_EXPORT ibv_pd* ibv_alloc_pd(ibv_context* context) {
  SoftContext* ctx = SoftContext::From(context);
  auto* pd = new SoftPd();
  pd->pd.context = context;
  {
    FabricGuard guard(ctx->fabric);
    pd->id = ctx->fabric->shm().header.next_pd++;
  }
  pd->pd.handle = pd->id;
  return &pd->pd;
}

SV_EXPORT int ibv_dealloc_pd(ibv_pd* pd_in) {
  SoftPd* pd = reinterpret_cast<SoftPd*>(pd_in);
  if (pd->users.load() != 0) return EBUSY;
  delete pd;
  return 0;
}

// Parenthesised names: verbs.h defines ibv_reg_mr() and ibv_reg_mr_iova() macros.
SV_EXPORT ibv_mr*(ibv_reg_mr)(ibv_pd* pd, void* addr, size_t length, int access) {
  return Register(pd, addr, length, reinterpret_cast<uint64_t>(addr), unsigned(access));
}

SV_EXPORT ibv_mr*(ibv_reg_mr_iova)(ibv_pd* pd, void* addr, size_t length, uint64_t iova,
                                   int access) {
  return Register(pd, addr, length, iova, unsigned(access));
}

SV_EXPORT ibv_mr* ibv_reg_mr_iova2(ibv_pd* pd, void* addr, size_t length, uint64_t iova,
                                   unsigned int access) {
  return Register(pd, addr, length, iova, access);
}

SV_EXPORT int ibv_dereg_mr(ibv_mr* mr_in) {
  SoftMr* mr = reinterpret_cast<SoftMr*>(mr_in);
  SoftContext* ctx = SoftContext::From(mr_in->context);
  {
    FabricGuard guard(ctx->fabric);
    ctx->fabric->shm().mrs[mr->index].in_use = 0;
  }
  // SOFTVERBS_DEREG_DELAY_US: the key is already invalid; stay in the call a while, so the
  // window between deregistering and whatever the program does next is wide enough to hit.
  if (ctx->config.dereg_delay_us != 0) usleep(useconds_t(ctx->config.dereg_delay_us));
  mr->owner->users.fetch_sub(1);
  delete mr;
  return 0;
}
