// Attaching to, initialising, and garbage-collecting the shared-memory fabric (see fabric.h).
// Creation and removal of the file are serialised by flock() on it; everything inside it by the
// robust mutex in its header. Thread-safety: Acquire/Release are guarded by a process mutex.
#include "fabric.h"

#include <errno.h>
#include <fcntl.h>
#include <infiniband/verbs.h>
#include <net/if.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <mutex>

#include "config.h"
#include "liveness.h"

namespace softverbs {
namespace {

std::mutex* g_mu = new std::mutex();
Fabric* g_fabric = nullptr;
std::string g_name;
bool g_atfork_installed = false;

// A forked child owns no node and no object of its parent: it starts from nothing, with a
// fresh mutex (another thread of the parent may have held the old one at fork time).
void ForgetFabricInChild() {
  g_fabric = nullptr;
  g_mu = new std::mutex();
}

void InitHeader(FabricLayout* shm) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_setpshared(&attr, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attr, PTHREAD_MUTEX_ROBUST);
  pthread_mutex_init(&shm->header.lock, &attr);
  pthread_mutexattr_destroy(&attr);
  shm->header.version = kFabricVersion;
  shm->header.next_lid = 1;
  shm->header.next_pd = 1;
  AtomicStore(&shm->header.magic, kFabricMagic);
}

void FillGids(NodeEntry* node) {
  memset(node->gid, 0, sizeof(node->gid));
  memset(node->gid_type, 0, sizeof(node->gid_type));  // IBV_GID_TYPE_IB
  memset(node->gid_ifindex, 0, sizeof(node->gid_ifindex));
  // Index 0: IB link-local GID fe80::/64 + a GUID derived from the LID.
  node->gid[0][0] = 0xfe;
  node->gid[0][1] = 0x80;
  node->gid[0][8] = 0x02;
  node->gid[0][14] = uint8_t(node->lid >> 8);
  node->gid[0][15] = uint8_t(node->lid);
  // Index 1: RoCE-v2-like IPv4-mapped GID ::ffff:10.<lid hi>.<lid lo>.1.
  node->gid[1][10] = 0xff;
  node->gid[1][11] = 0xff;
  node->gid[1][12] = 10;
  node->gid[1][13] = uint8_t(node->lid >> 8);
  node->gid[1][14] = uint8_t(node->lid);
  node->gid[1][15] = 1;
}

// One address in the RoCE GID table as the kernel lays it out: a RoCE v1 entry, then v2.
void SetRocePair(NodeEntry* node, uint32_t index, const uint8_t (&gid)[16], uint32_t ifindex) {
  for (uint32_t i = index; i < index + 2; ++i) {
    memcpy(node->gid[i], gid, 16);
    node->gid_type[i] = i == index ? IBV_GID_TYPE_ROCE_V1 : IBV_GID_TYPE_ROCE_V2;
    node->gid_ifindex[i] = ifindex;
  }
}

// The GID table of a RoCE port (README.md): the link-local address first, an IPv4 address
// of another netdev (a VLAN), the IPv4 and a ULA IPv6 address of the loopback netdev, then
// empty entries.
void FillRoceGids(NodeEntry* node) {
  memset(node->gid, 0, sizeof(node->gid));
  memset(node->gid_type, 0, sizeof(node->gid_type));
  memset(node->gid_ifindex, 0, sizeof(node->gid_ifindex));
  unsigned lo = if_nametoindex("lo");
  if (lo == 0) lo = 1;
  uint8_t hi = uint8_t(node->lid >> 8), low = uint8_t(node->lid);
  const uint8_t link_local[16] = {0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x02, 0, 0, 0xff, 0xfe, 0, hi, low};
  const uint8_t vlan_v4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, hi, low, 2};
  const uint8_t lo_v4[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, hi, low, 1};
  const uint8_t ula_v6[16] = {0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, hi, low};
  SetRocePair(node, 0, link_local, lo);
  SetRocePair(node, 2, vlan_v4, kVlanIfindex);
  SetRocePair(node, 4, lo_v4, lo);
  SetRocePair(node, 6, ula_v6, lo);
}

}  // namespace

Fabric* Fabric::Acquire(const std::string& name) {
  std::lock_guard<std::mutex> lock(*g_mu);
  if (!g_atfork_installed) {
    pthread_atfork(nullptr, nullptr, ForgetFabricInChild);
    g_atfork_installed = true;
  }
  if (g_fabric != nullptr) {
    if (g_name != name) {
      errno = EBUSY;  // one fabric per process
      return nullptr;
    }
    ++g_fabric->refs_;
    return g_fabric;
  }
  Fabric* fabric = new Fabric();
  if (!fabric->Open(name)) {
    int saved = errno;
    delete fabric;
    errno = saved;
    return nullptr;
  }
  fabric->refs_ = 1;
  g_fabric = fabric;
  g_name = name;
  return fabric;
}

bool Fabric::Open(const std::string& name) {
  path_ = FabricPath(name);
  for (int attempt = 0; attempt < 16; ++attempt) {
    int fd = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    flock(fd, LOCK_EX);
    struct stat st;
    bool fresh = fstat(fd, &st) == 0 && st.st_size == 0;
    if (fresh && ftruncate(fd, off_t(sizeof(FabricLayout))) != 0) {
      close(fd);
      return false;
    }
    if (!fresh && size_t(st.st_size) != sizeof(FabricLayout)) {
      Logf("fabric %s has size %lld, expected %zu", path_.c_str(), (long long)st.st_size,
           sizeof(FabricLayout));
      close(fd);
      errno = EPROTO;
      return false;
    }
    void* map = mmap(nullptr, sizeof(FabricLayout), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) {
      close(fd);
      return false;
    }
    shm_ = static_cast<FabricLayout*>(map);
    if (fresh) InitHeader(shm_);
    if (!fresh && shm_->header.magic != kFabricMagic) {
      munmap(map, sizeof(FabricLayout));
      close(fd);
      errno = EPROTO;
      return false;
    }
    if (shm_->header.unlinked) {  // lost a race with the last process leaving: reopen
      munmap(map, sizeof(FabricLayout));
      close(fd);
      continue;
    }
    bool ok = RegisterNode();
    flock(fd, LOCK_UN);
    close(fd);
    if (!ok) munmap(map, sizeof(FabricLayout));
    return ok;
  }
  errno = EAGAIN;
  return false;
}

bool Fabric::RegisterNode() {
  start_time_ = ProcessStartTime(getpid());
  FabricGuard guard(this);
  CollectDead();
  for (uint32_t i = 0; i < kMaxNodes; ++i) {
    NodeEntry& node = shm_->nodes[i];
    if (node.in_use) continue;
    memset(&node, 0, sizeof(node));
    node.rem_access_after = -1;
    node.rnr_after = -1;
    node.in_use = 1;
    node.pid = getpid();
    node.start_time = start_time_;
    node.lid = shm_->header.next_lid;
    shm_->header.next_lid = shm_->header.next_lid % 0xbfff + 1;  // unicast LIDs 1..0xbfff
    FillGids(&node);
    node_ = i;
    return true;
  }
  errno = ENOSPC;
  return false;
}

void Fabric::SetPortModel(bool roce, uint32_t l2_segment, uint64_t subnet_prefix) {
  FabricGuard guard(this);
  NodeEntry& node = shm_->nodes[node_];
  node.roce = roce;
  node.l2_segment = l2_segment;
  if (roce) {
    FillRoceGids(&node);
    return;
  }
  FillGids(&node);
  for (int i = 0; i < 8; ++i) node.gid[0][i] = uint8_t(subnet_prefix >> (56 - 8 * i));
}

void Fabric::Release(Fabric* fabric) {
  std::lock_guard<std::mutex> lock(*g_mu);
  if (fabric != g_fabric || --fabric->refs_ > 0) return;
  int fd = open(fabric->path_.c_str(), O_RDWR | O_CLOEXEC);
  if (fd >= 0) flock(fd, LOCK_EX);
  bool anyone_left = false;
  {
    FabricGuard guard(fabric);
    fabric->ReleaseEntriesOf(getpid());
    fabric->shm_->nodes[fabric->node_].in_use = 0;
    fabric->CollectDead();
    for (const NodeEntry& node : fabric->shm_->nodes) anyone_left |= node.in_use != 0;
    if (!anyone_left && fd >= 0) {
      fabric->shm_->header.unlinked = 1;
      unlink(fabric->path_.c_str());
    }
  }
  if (fd >= 0) close(fd);
  munmap(fabric->shm_, sizeof(FabricLayout));
  delete fabric;
  g_fabric = nullptr;
}

uint32_t Fabric::lid() const { return shm_->nodes[node_].lid; }

void Fabric::Lock() {
  int rc = pthread_mutex_lock(&shm_->header.lock);
  if (rc == EOWNERDEAD) {
    // A process died inside the lock; the tables may hold one half-made entry of it, which
    // CollectDead will free. Carry on.
    pthread_mutex_consistent(&shm_->header.lock);
  }
}

void Fabric::CollectDead() {
  for (NodeEntry& node : shm_->nodes) {
    if (!node.in_use || node.pid == getpid()) continue;
    if (ProcessAlive(node.pid, node.start_time)) continue;
    Logf("collecting objects of dead process %d", int(node.pid));
    ReleaseEntriesOf(node.pid);
    node.in_use = 0;
  }
}

void Fabric::ReleaseEntriesOf(int32_t pid) {
  for (QpEntry& qp : shm_->qps) {
    if (!qp.in_use || qp.pid != pid) continue;
    HeapFree(qp.rq_heap, qp.rq_pages);
    AtomicStore(&qp.in_use, 0u);
  }
  for (MrEntry& mr : shm_->mrs) {
    if (mr.in_use && mr.pid == pid) mr.in_use = 0;
  }
  for (CqEntry& cq : shm_->cqs) {
    if (!cq.in_use || cq.pid != pid) continue;
    HeapFree(cq.heap, cq.pages);
    cq.in_use = 0;
  }
}

uint64_t Fabric::HeapAlloc(size_t bytes, uint32_t* pages) {
  uint32_t need = uint32_t((bytes + kHeapPageSize - 1) / kHeapPageSize);
  if (need == 0) need = 1;
  uint32_t run = 0;
  for (uint32_t i = 0; i < kHeapPages; ++i) {
    run = shm_->heap_used[i] ? 0 : run + 1;
    if (run < need) continue;
    uint32_t first = i + 1 - need;
    memset(shm_->heap_used + first, 1, need);
    *pages = need;
    return uint64_t(first) * kHeapPageSize;
  }
  return UINT64_MAX;
}

void Fabric::HeapFree(uint64_t offset, uint32_t pages) {
  if (pages == 0) return;
  memset(shm_->heap_used + offset / kHeapPageSize, 0, pages);
}

}  // namespace softverbs
