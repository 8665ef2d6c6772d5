// IbSendLink: connects to the receiver's pool, fills registered staging slots (directly via
// slot() for the fused reduction, or by memcpy in postCopy) and RDMA-writes them with an
// immediate; credits come back as receive completions. One thread at a time.
#include <endian.h>

#include <cstring>

#include "transport/ibverbs/ib_link.h"

namespace coll {
namespace ibverbs {

Status IbSendLink::Create(LinkSetup setup, std::unique_ptr<SendLink>* out) {
  IbConfig config;
  std::shared_ptr<Device> device;
  COLL_RETURN_IF_ERROR(OpenForLink(*setup.config, &device, &config));
  std::unique_ptr<IbSendLink> link(
      new IbSendLink(setup.peer_rank, SlotGeometry{setup.config->nslots, setup.config->chunk_bytes}));
  COLL_RETURN_IF_ERROR(link->connect(setup, config, std::move(device)));
  *out = std::move(link);
  return Status::OK();
}

IbSendLink::~IbSendLink() {
  if (ep_ != nullptr) ep_->shutdown();
  staging_.reset();
}

// May wait: the receiver sent its ConnInfo when its RecvLink was made (link.h setup order).
Status IbSendLink::connect(LinkSetup& setup, const IbConfig& config, std::shared_ptr<Device> device) {
  COLL_RETURN_IF_ERROR(device->checkMessageBytes(geo_.stride(), geo_.slot_bytes));
  ConnInfo theirs;
  COLL_RETURN_IF_ERROR(RecvConnInfo(setup.socket.get(), &theirs, setup.deadline, peer_));
  COLL_RETURN_IF_ERROR(RegisteredBuffer::Create(device, geo_.poolBytes(), IBV_ACCESS_LOCAL_WRITE,
                                                StrFormat("send staging pool for rank %d", peer_), &staging_));
  Endpoint::Shape shape{2 * geo_.nslots, geo_.nslots, 0, geo_.nslots};
  COLL_RETURN_IF_ERROR(Endpoint::Create(device, config, std::move(setup.socket), setup.self_rank, peer_,
                                        StrFormat("to rank %d", peer_), shape, &ep_));
  ConnInfo mine = ep_->localInfo();
  mine.nslots = static_cast<uint32_t>(geo_.nslots);
  mine.slot_bytes = geo_.slot_bytes;
  mine.stride = geo_.stride();
  COLL_RETURN_IF_ERROR(CheckPeerInfo(mine, theirs, peer_));
  for (int i = 0; i < geo_.nslots; ++i) COLL_RETURN_IF_ERROR(ep_->postRecv(static_cast<uint64_t>(i)));
  COLL_RETURN_IF_ERROR(ep_->connect(theirs));
  remote_addr_ = theirs.pool_addr;
  remote_rkey_ = theirs.pool_rkey;
  return SendConnInfo(ep_->socket(), mine, setup.deadline, peer_);
}

bool IbSendLink::hasCredit() {
  bool has = ready_ && window_.hasCredit() && ep_->sendRoom();
  want_credit_ = !has;
  return has;
}

void* IbSendLink::slot() {
  return staging_->data() + static_cast<size_t>(window_.slotIndex(window_.posted())) * geo_.stride() +
         kSlotHeaderBytes;
}

Status IbSendLink::postSlot(size_t bytes, const ChunkMeta& meta) {
  if (ep_->peerClosed()) return ep_->lost("sending");
  COLL_RETURN_IF_ERROR(window_.checkPost(bytes, hasCredit()));  // ready_ and send room included
  const uint64_t seq = window_.posted();
  const int index = window_.slotIndex(seq);
  char* base = staging_->data() + index * geo_.stride();
  SlotHeader* h = reinterpret_cast<SlotHeader*>(base);
  h->magic = kSlotMagic;
  h->bytes = static_cast<uint32_t>(bytes);
  h->seq = seq;
  h->meta = meta;
  ibv_sge sge{reinterpret_cast<uintptr_t>(base), static_cast<uint32_t>(kSlotHeaderBytes + bytes), staging_->lkey()};
  ibv_send_wr wr{};
  wr.opcode = IBV_WR_RDMA_WRITE_WITH_IMM;
  wr.sg_list = &sge;
  wr.num_sge = 1;
  wr.imm_data = htobe32(ChunkImm(seq, index));
  wr.wr.rdma.remote_addr = remote_addr_ + index * geo_.stride();
  wr.wr.rdma.rkey = remote_rkey_;
  COLL_RETURN_IF_ERROR(ep_->postSend(&wr, "writing a chunk"));
  window_.post();
  return Status::OK();
}

Status IbSendLink::postCopy(const void* src, size_t bytes, const ChunkMeta& meta) {
  COLL_RETURN_IF_ERROR(window_.checkPost(bytes, hasCredit()));
  std::memcpy(slot(), src, bytes);
  return postSlot(bytes, meta);
}

Status IbSendLink::onCompletion(const ibv_wc& wc, bool* made_progress) {
  if (wc.status != IBV_WC_SUCCESS) {
    COLL_RETURN_IF_ERROR(readControl(true));
    return ep_->completionError(wc, IsRecv(wc) ? "receiving a credit from" : "an RDMA write of a chunk to");
  }
  if (!IsRecv(wc)) return Status::OK();
  // imm = the receiver's running count of released chunks (mod 2^32).
  uint32_t count = be32toh(wc.imm_data);
  uint64_t delta = static_cast<uint32_t>(count - static_cast<uint32_t>(window_.returned()));
  COLL_RETURN_IF_ERROR(window_.creditsReturned(window_.returned() + delta));
  *made_progress = true;
  return ep_->postRecv(wc.wr_id & ~kRecvTag);
}

Status IbSendLink::readControl(bool force) {
  char buf[16];
  size_t got = 0;
  COLL_RETURN_IF_ERROR(ep_->readControl(buf, sizeof buf, &got, force || !ready_));
  if (got == 1 && !ready_ && buf[0] == static_cast<char>(kReadyByte)) {
    ready_ = true;
    return Status::OK();
  }
  if (got != 0)
    return Internal("rank %d sent %zu unexpected bytes on the control connection of %s", peer_, got,
                    ep_->describe().c_str());
  return Status::OK();
}

Status IbSendLink::progress(bool* made_progress) {
  ibv_wc wc[16];
  int n = 0;
  COLL_RETURN_IF_ERROR(ep_->poll(wc, 16, &n));
  for (int i = 0; i < n; ++i) COLL_RETURN_IF_ERROR(onCompletion(wc[i], made_progress));
  bool was_ready = ready_;
  COLL_RETURN_IF_ERROR(readControl(false));
  if (ready_ != was_ready) *made_progress = true;
  bool starved = !ready_ || (want_credit_ && !window_.hasCredit());
  if (ep_->peerClosed() && starved) return ep_->lost("waiting for a free slot");
  return Status::OK();
}

}  // namespace ibverbs
}  // namespace coll
