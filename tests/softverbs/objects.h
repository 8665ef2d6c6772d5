// The process-local halves of the softverbs verbs objects. Each embeds the public verbs struct
// as its first member (the context embeds verbs_context, as real providers do), so a pointer
// handed to the application converts back with From(). Shared halves live in the fabric.
// Thread-safety: list and queue members name the mutex that guards them.
#pragma once

#include <infiniband/verbs.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <random>
#include <vector>

#include "config.h"
#include "fabric.h"

namespace softverbs {

struct SoftQp;
struct SoftCq;

struct SoftContext {
  verbs_context vctx;  // first: ibv_context is its last member
  Config config;
  Fabric* fabric = nullptr;
  int async_pipe[2] = {-1, -1};
  std::mutex mu;                        // guards events, rng
  std::deque<ibv_async_event> events;
  std::mt19937_64 rng;
  std::vector<SoftQp*> qps;             // guarded by RegistryMutex()
  std::vector<SoftCq*> cqs;             // guarded by RegistryMutex()
  std::atomic<uint64_t> registrations{0};
  uint64_t executed = 0;     // WQEs executed, for SOFTVERBS_FAULT_QP_ERR_AFTER; fabric lock
  bool fault_fired = false;  // fabric lock
  bool port_fault_fired = false;             // SOFTVERBS_FAULT_PORT_DOWN_AFTER fired; fabric lock
  std::atomic<bool> port_went_down{false};   // set by that fault
  std::atomic<bool> port_err_pending{false};  // IBV_EVENT_PORT_ERR to post from the progress thread

  // SOFTVERBS_PORT_DOWN or the port-down fault.
  bool PortDown() const { return config.port_down || port_went_down.load(); }

  static SoftContext* From(ibv_context* ctx) {
    return reinterpret_cast<SoftContext*>(reinterpret_cast<char*>(ctx) -
                                          offsetof(verbs_context, context));
  }
  ibv_context* ibv() { return &vctx.context; }
};

struct SoftPd {
  ibv_pd pd;
  uint32_t id = 0;
  std::atomic<int> users{0};  // MRs and QPs
};

struct SoftMr {
  ibv_mr mr;
  uint32_t index = kNoIndex;
  SoftPd* owner = nullptr;
};

struct SoftChannel {
  ibv_comp_channel channel;
  int write_fd = -1;
  std::mutex mu;  // guards ready
  std::deque<SoftCq*> ready;
};

struct SoftCq {
  ibv_cq cq;
  SoftContext* ctx = nullptr;
  uint32_t index = kNoIndex;
  std::atomic<int> qp_refs{0};
  bool armed = false;              // guarded by RegistryMutex()
  uint64_t armed_at = 0;           // guarded by RegistryMutex()
  bool overflow_reported = false;  // guarded by RegistryMutex()

  static SoftCq* From(ibv_cq* cq) { return reinterpret_cast<SoftCq*>(cq); }
};

struct SendWqe {
  uint64_t wr_id = 0;
  ibv_wr_opcode opcode = IBV_WR_SEND;
  bool signaled = false;
  uint32_t imm_data = 0;
  uint64_t remote_addr = 0;
  uint32_t rkey = 0;
  std::vector<ibv_sge> sges;
  bool is_inline = false;
  std::vector<uint8_t> inline_data;
  uint64_t seq = 0;
  uint64_t ready_ns = 0;         // seeded mode: not executed before this time
  uint64_t retry_ns = 0;         // RNR or transport retry: not before this time
  uint32_t rnr_retries = 0;      // RNR NAKs received so far
  uint64_t give_up_ns = 0;       // transport retries end at this time; 0: not retrying

  uint64_t Length() const;
};

struct SoftQp {
  ibv_qp qp;
  SoftContext* ctx = nullptr;
  SoftPd* pd = nullptr;
  uint32_t index = kNoIndex;
  ibv_qp_init_attr init{};
  std::mutex mu;                  // guards sq, sq_posted, attr, attr_mask
  std::deque<SendWqe> sq;
  uint64_t sq_posted = 0;
  ibv_qp_attr attr{};
  int attr_mask = 0;              // every attribute ever set
  bool fatal_reported = false;    // guarded by RegistryMutex()

  static SoftQp* From(ibv_qp* qp) { return reinterpret_cast<SoftQp*>(qp); }
  QpEntry& entry() { return ctx->fabric->shm().qps[index]; }
};

// Queues an asynchronous event for the application (ibv_get_async_event).
void PostAsyncEvent(SoftContext* ctx, const ibv_async_event& event);
// Drops the queued, unread events of a QP or CQ being destroyed (as the kernel does), so an
// application never reads an event naming a freed object.
void DropAsyncEvents(SoftContext* ctx, const void* object);

}  // namespace softverbs
