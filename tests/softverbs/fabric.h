// The shared-memory "fabric" of softverbs: one file in /dev/shm that every process of a job maps.
// It holds the node (process/LID), QP, MR and CQ tables and a page heap for receive and
// completion rings, so any process can check a remote key and deliver a remote completion.
// Thread-safety: fields are read and written under the fabric lock (FabricGuard: a robust,
// process-shared mutex), except those accessed through the Atomic* helpers below.
#pragma once

#include <pthread.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace softverbs {

constexpr uint64_t kFabricMagic = 0x31304256544f53ull;  // "SOTVB01"
constexpr uint32_t kFabricVersion = 3;
constexpr uint32_t kMaxNodes = 256;
constexpr uint32_t kQpIndexBits = 12;
constexpr uint32_t kMaxQps = 1u << kQpIndexBits;
constexpr uint32_t kMrIndexBits = 14;
constexpr uint32_t kMaxMrs = 1u << kMrIndexBits;
constexpr uint32_t kMaxCqs = 4096;
constexpr uint32_t kHeapPageSize = 4096;
constexpr uint32_t kHeapPages = 65536;          // 256 MiB, sparse: only touched pages use memory
constexpr uint32_t kRemoteKeyBit = 0x80000000u;  // set in every rkey, clear in every lkey
constexpr uint32_t kNoIndex = UINT32_MAX;
constexpr uint32_t kGidCount = 16;   // GID table capacity (a RoCE port uses all of it)
constexpr uint32_t kIbGidCount = 2;  // gid_tbl_len of an InfiniBand port
constexpr uint32_t kVlanIfindex = 0x7ffe;  // the ndev_ifindex of a RoCE port's VLAN GIDs (no such netdev)

struct NodeEntry {
  uint32_t in_use;
  int32_t pid;
  uint64_t start_time;
  uint32_t lid;
  uint32_t refs;
  uint8_t gid[kGidCount][16];          // all-zero: an empty entry
  uint32_t roce;                        // the port's link layer is Ethernet (SOFTVERBS_LINK_LAYER)
  uint32_t l2_segment;                  // SOFTVERBS_L2_SEGMENT
  uint32_t gid_type[kGidCount];         // enum ibv_gid_type
  uint32_t gid_ifindex[kGidCount];      // the netdev of a RoCE GID
  // Responder faults of this process (responder_faults.h), checked by every requester.
  int64_t rem_access_after;  // SOFTVERBS_FAULT_REM_ACCESS_AFTER; -1: off
  int64_t rnr_after;         // SOFTVERBS_FAULT_RNR_AFTER; -1: off
  uint64_t writes_in;        // RDMA writes into this process that succeeded since armed
  uint64_t recvs_consumed;   // receives consumed on this process's QPs since armed
};

struct QpEntry {
  uint32_t in_use;
  uint32_t generation;
  uint32_t qpn;
  int32_t pid;
  uint64_t start_time;
  uint32_t node;
  uint32_t pd_id;
  uint32_t state;  // enum ibv_qp_state; atomic
  uint32_t access_flags;
  uint32_t dest_qpn;
  uint32_t dlid;
  uint32_t is_global;
  uint32_t sgid_index;
  uint32_t pkey;  // the P_Key of pkey_index
  uint8_t dgid[16];
  uint32_t path_mtu;
  uint32_t rq_psn;
  uint32_t sq_psn;
  uint32_t min_rnr_timer;
  uint32_t max_dest_rd_atomic;
  uint32_t send_cq;        // CQ table index
  uint32_t recv_cq;        // CQ table index
  uint32_t async_pending;  // ibv_event_type + 1 for the owner to report; 0: none
  uint64_t sq_retired;     // send WQEs whose completion was polled; atomic
  uint64_t rq_heap;        // heap byte offset of the receive ring
  uint32_t rq_pages;
  uint32_t rq_cap;
  uint32_t rq_max_sge;
  uint32_t rq_stride;
  uint64_t rq_posted;
  uint64_t rq_consumed;
  uint64_t rq_retired;  // atomic
};

struct MrEntry {
  uint32_t in_use;
  uint32_t generation;
  uint32_t lkey;
  uint32_t rkey;
  int32_t pid;
  uint32_t pd_id;
  uint32_t access;
  uint32_t pad;
  uint64_t addr;    // host virtual address in the owner process
  uint64_t length;
  uint64_t iova;    // address the keys are used with (== addr unless reg_mr_iova2)
};

struct CqEntry {
  uint32_t in_use;
  int32_t pid;
  uint32_t cap;
  uint32_t overflow;  // set once a completion was lost; atomic
  uint64_t heap;      // heap byte offset of the ring
  uint32_t pages;
  uint32_t pad;
  uint64_t produced;  // atomic
  uint64_t consumed;  // atomic
};

struct FabricHeader {
  uint64_t magic;
  uint32_t version;
  uint32_t unlinked;  // the file was removed from /dev/shm: reopen by name
  pthread_mutex_t lock;
  uint32_t next_lid;
  uint32_t next_pd;
  uint32_t next_qp_hint;
  uint32_t next_mr_hint;
};

struct FabricLayout {
  FabricHeader header;
  NodeEntry nodes[kMaxNodes];
  QpEntry qps[kMaxQps];
  MrEntry mrs[kMaxMrs];
  CqEntry cqs[kMaxCqs];
  uint8_t heap_used[kHeapPages];
  alignas(kHeapPageSize) uint8_t heap[size_t(kHeapPages) * kHeapPageSize];
};

template <typename T>
T AtomicLoad(const T* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
template <typename T>
void AtomicStore(T* p, T v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

// The process's attachment to one fabric: reference-counted by open device contexts.
class Fabric {
 public:
  // Maps the fabric `name` (creating and initialising it if needed) and registers this process
  // as a node with its own LID. Returns nullptr and sets errno on failure.
  static Fabric* Acquire(const std::string& name);
  // Drops one reference; the last one deregisters the node and, when no live node remains,
  // removes the file.
  static void Release(Fabric* fabric);

  FabricLayout& shm() { return *shm_; }
  uint32_t node() const { return node_; }
  // Sets this process's port to InfiniBand or RoCE (and its L2 segment) and refills its GIDs.
  void SetPortModel(bool roce, uint32_t l2_segment, uint64_t subnet_prefix);
  uint32_t lid() const;
  uint64_t start_time() const { return start_time_; }

  void Lock();
  void Unlock() { pthread_mutex_unlock(&shm_->header.lock); }

  // Heap of 4 KiB pages for rings: returns a byte offset, or UINT64_MAX when full. Lock held.
  uint64_t HeapAlloc(size_t bytes, uint32_t* pages);
  void HeapFree(uint64_t offset, uint32_t pages);
  uint8_t* HeapAt(uint64_t offset) { return shm_->heap + offset; }

  // Frees every table entry of processes that died. Lock held.
  void CollectDead();

 private:
  Fabric() = default;
  bool Open(const std::string& name);
  bool RegisterNode();
  void ReleaseEntriesOf(int32_t pid);

  std::string path_;
  FabricLayout* shm_ = nullptr;
  uint32_t node_ = kNoIndex;
  uint64_t start_time_ = 0;
  int refs_ = 0;
};

class FabricGuard {
 public:
  explicit FabricGuard(Fabric* fabric) : fabric_(fabric) { fabric_->Lock(); }
  ~FabricGuard() { fabric_->Unlock(); }
  FabricGuard(const FabricGuard&) = delete;
  FabricGuard& operator=(const FabricGuard&) = delete;

 private:
  Fabric* fabric_;
};

}  // namespace softverbs
