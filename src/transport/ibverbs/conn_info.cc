// Sending, receiving and checking ConnInfo over the authenticated link socket.
// Thread-safety: stateless.
#include "transport/ibverbs/conn_info.h"

#include <infiniband/verbs.h>

#include <cstring>

#include "base/socket.h"
#include "transport/ibverbs/gid.h"

namespace coll {
namespace ibverbs {

Status SendConnInfo(int fd, const ConnInfo& info, const Deadline& deadline, int peer) {
  return SendAll(fd, &info, sizeof info, deadline, StrFormat("rank %d (ibverbs connection info)", peer));
}

Status RecvConnInfo(int fd, ConnInfo* info, const Deadline& deadline, int peer) {
  COLL_RETURN_IF_ERROR(RecvAll(fd, info, sizeof *info, deadline, StrFormat("rank %d (ibverbs connection info)", peer)));
  if (info->magic != kConnMagic)
    return Internal("rank %d sent malformed ibverbs connection info (magic %08x)", peer, info->magic);
  return Status::OK();
}

static std::string PortKind(const ConnInfo& info) {
  return std::string(info.link_layer == IBV_LINK_LAYER_ETHERNET ? "Ethernet" : "InfiniBand") +
         (info.gid_index < 0 ? "" : " with GRH");
}

static std::string GidOf(const ConnInfo& info) {
  GidEntry e;
  e.index = info.gid_index;
  std::memcpy(e.gid.raw, info.gid, sizeof info.gid);
  e.type = info.gid_type;
  return DescribeGid(e);
}

// A RoCE v1 frame is not a v2 packet, and an IPv4 header is not an IPv6 one: the two ends
// must speak the same kind, or every packet is dropped.
static Status CheckRoceGids(const ConnInfo& mine, const ConnInfo& theirs, int peer) {
  ibv_gid a, b;
  std::memcpy(a.raw, mine.gid, sizeof a.raw);
  std::memcpy(b.raw, theirs.gid, sizeof b.raw);
  if (mine.gid_type == theirs.gid_type && GidIpv4Mapped(a) == GidIpv4Mapped(b)) return Status::OK();
  return Mismatch("ibverbs link with rank %d: this rank uses %s, rank %d uses %s; RoCE needs the same GID type and "
                  "address family on both ends (set COLL_IB_GID_INDEX or COLL_IB_ADDR_FAMILY alike everywhere)",
                  peer, GidOf(mine).c_str(), peer, GidOf(theirs).c_str());
}

Status CheckPeerInfo(const ConnInfo& mine, const ConnInfo& theirs, int peer) {
  if (mine.nslots != theirs.nslots || mine.slot_bytes != theirs.slot_bytes || mine.stride != theirs.stride)
    return Mismatch("ibverbs link with rank %d: this rank has %u slots of %llu bytes, rank %d has %u of %llu (set "
                    "the same COLL_NSLOTS and COLL_CHUNK_BYTES everywhere)",
                    peer, mine.nslots, static_cast<unsigned long long>(mine.slot_bytes), peer, theirs.nslots,
                    static_cast<unsigned long long>(theirs.slot_bytes));
  if (mine.link_layer != theirs.link_layer || (mine.gid_index < 0) != (theirs.gid_index < 0))
    return Mismatch("ibverbs link with rank %d: the ports differ in link layer or GID use (this rank: %s, rank %d: "
                    "%s); set COLL_IB_HCA / COLL_IB_GID_INDEX consistently",
                    peer, PortKind(mine).c_str(), peer, PortKind(theirs).c_str());
  if (mine.link_layer == IBV_LINK_LAYER_ETHERNET) COLL_RETURN_IF_ERROR(CheckRoceGids(mine, theirs, peer));
  if ((mine.pkey & 0x7fff) != (theirs.pkey & 0x7fff))
    return Mismatch("ibverbs link with rank %d: this rank is in partition P_Key 0x%04x, rank %d in 0x%04x (set the "
                    "same COLL_IB_PKEY everywhere)",
                    peer, mine.pkey, peer, theirs.pkey);
  return Status::OK();
}

}  // namespace ibverbs
}  // namespace coll
