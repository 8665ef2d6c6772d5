// What the two ends of an ibverbs link tell each other over the LinkSetup socket: queue pair
// address, and for the receiver its slot pool (address, rkey, geometry). Fixed-size, host
// byte order (both ends are the same build). Thread-compatible.
#pragma once

#include <cstdint>
#include <string>

#include "base/deadline.h"
#include "base/status.h"

namespace coll {
namespace ibverbs {

constexpr uint32_t kConnMagic = 0x33434249;  // "IBC3"
constexpr uint8_t kReadyByte = 'R';          // receiver -> sender: my QP is ready to receive

struct ConnInfo {
  uint32_t magic = kConnMagic;
  uint32_t qpn = 0;
  uint32_t psn = 0;         // first packet sequence number this end sends
  uint32_t lid = 0;
  uint8_t gid[16] = {};
  int32_t gid_index = -1;   // -1: no GRH
  uint32_t mtu = 0;         // enum ibv_mtu, the port's active MTU
  uint32_t link_layer = 0;  // IBV_LINK_LAYER_*
  uint32_t nslots = 0;
  uint64_t slot_bytes = 0;  // payload bytes per slot
  uint64_t stride = 0;      // bytes from one slot to the next (header + payload)
  uint64_t pool_addr = 0;   // receiver: remote address of slot 0; sender: 0
  uint32_t pool_rkey = 0;   // receiver: rkey of the pool; sender: 0
  int32_t gid_type = -1;    // IBV_GID_TYPE_* of the GID in use, or kGidTypeUnknown
  uint32_t flags = 0;       // kConnGrhRequired
  uint32_t pkey = 0;        // the P_Key of the partition in use
};
static_assert(sizeof(ConnInfo) == 88, "ConnInfo is a fixed wire format");
constexpr uint32_t kConnGrhRequired = 1;  // this end's port takes only packets with a GRH

Status SendConnInfo(int fd, const ConnInfo& info, const Deadline& deadline, int peer);
Status RecvConnInfo(int fd, ConnInfo* info, const Deadline& deadline, int peer);

// OK when both ends agree on the slot geometry, link layer and (RoCE) GID type and address
// family; else COLL_ERR_MISMATCH.
Status CheckPeerInfo(const ConnInfo& mine, const ConnInfo& theirs, int peer);

}  // namespace ibverbs
}  // namespace coll
