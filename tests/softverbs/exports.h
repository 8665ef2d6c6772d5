// Internal declarations shared by the softverbs translation units: the export macro for the
// libibverbs ABI, the data-path entry points installed in ibv_context::ops, and device limits.
// Thread-safety: the functions declared here are thread-safe as verbs require.
#pragma once

#include <infiniband/verbs.h>

#include <cstdint>

#define SV_EXPORT extern "C" __attribute__((visibility("default")))

namespace softverbs {

constexpr int kMaxQpWr = 16384;
constexpr int kMaxSge = 16;
constexpr int kMaxCqe = 262144;
constexpr uint32_t kMaxInline = 256;
constexpr uint32_t kMaxMsgSize = 1u << 31;
constexpr uint32_t kRoceMaxMsgSize = 1u << 23;  // a RoCE port's max_msg_sz, as rxe's (8 MiB)
constexpr uint64_t kMaxMrSize = 1ull << 40;

int PollCq(ibv_cq* cq, int num_entries, ibv_wc* wc);
int ReqNotifyCq(ibv_cq* cq, int solicited_only);
int PostSend(ibv_qp* qp, ibv_send_wr* wr, ibv_send_wr** bad_wr);
int PostRecv(ibv_qp* qp, ibv_recv_wr* wr, ibv_recv_wr** bad_wr);

uint64_t NodeGuid();

}  // namespace softverbs
