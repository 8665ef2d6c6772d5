// Sending, receiving and checking ConnInfo over the authenticated link socket.
// Thread-safety: stateless.
#include "transport/ibverbs/conn_info.h"

#include <infiniband/verbs.h>

#include "base/socket.h"

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
  return Status::OK();
}

}  // namespace ibverbs
}  // namespace coll
