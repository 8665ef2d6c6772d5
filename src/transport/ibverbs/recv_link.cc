// IbRecvLink: owns the registered slot pool the sender RDMA-writes into, pre-posts one
// receive per slot for the write-with-immediate completions, hands slots out in order and
// returns credits with empty SEND_WITH_IMMs. One thread at a time.
#include <endian.h>

#include <algorithm>

#include "transport/ibverbs/ib_link.h"

namespace coll {
namespace ibverbs {

Status IbRecvLink::Create(LinkSetup setup, std::unique_ptr<RecvLink>* out) {
  IbConfig config;
  std::shared_ptr<Device> device;
  COLL_RETURN_IF_ERROR(OpenForLink(*setup.config, &device, &config));
  std::unique_ptr<IbRecvLink> link(
      new IbRecvLink(setup.peer_rank, SlotGeometry{setup.config->nslots, setup.config->chunk_bytes}));
  COLL_RETURN_IF_ERROR(link->start(setup, config, std::move(device)));
  *out = std::move(link);
  return Status::OK();
}

IbRecvLink::~IbRecvLink() {
  if (ep_ != nullptr) ep_->shutdown();
  pool_.reset();
}

// Must not wait for the peer (link.h): everything here is local but the one send.
Status IbRecvLink::start(LinkSetup& setup, const IbConfig& config, std::shared_ptr<Device> device) {
  const unsigned access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE;
  COLL_RETURN_IF_ERROR(device->checkMessageBytes(geo_.stride(), geo_.slot_bytes));
  COLL_RETURN_IF_ERROR(RegisteredBuffer::Create(device, geo_.poolBytes(), access,
                                                StrFormat("receive pool for rank %d", peer_), &pool_));
  Endpoint::Shape shape{geo_.nslots, geo_.nslots, access, std::max(1, geo_.nslots / 2)};
  COLL_RETURN_IF_ERROR(Endpoint::Create(device, config, std::move(setup.socket), setup.self_rank, peer_,
                                        StrFormat("from rank %d", peer_), shape, &ep_));
  for (int i = 0; i < geo_.nslots; ++i) COLL_RETURN_IF_ERROR(ep_->postRecv(static_cast<uint64_t>(i)));
  local_ = ep_->localInfo();
  local_.nslots = static_cast<uint32_t>(geo_.nslots);
  local_.slot_bytes = geo_.slot_bytes;
  local_.stride = geo_.stride();
  local_.pool_addr = pool_->address();
  local_.pool_rkey = pool_->rkey();
  return SendConnInfo(ep_->socket(), local_, setup.deadline, peer_);
}

Status IbRecvLink::finishSetup(const Deadline& deadline) {
  ConnInfo theirs;
  COLL_RETURN_IF_ERROR(RecvConnInfo(ep_->socket(), &theirs, deadline, peer_));
  COLL_RETURN_IF_ERROR(CheckPeerInfo(local_, theirs, peer_));
  COLL_RETURN_IF_ERROR(ep_->connect(theirs));  // RTS too: credits go back on this QP
  return SendAll(ep_->socket(), &kReadyByte, 1, deadline, StrFormat("rank %d (ibverbs ready)", peer_));
}

Status IbRecvLink::onArrival(const ibv_wc& wc) {
  const uint64_t seq = window_.arrived();
  const int index = window_.slotIndex(seq);
  uint32_t imm = be32toh(wc.imm_data);
  if (!(wc.wc_flags & IBV_WC_WITH_IMM) || imm != ChunkImm(seq, index))
    return Internal("%s: chunk %llu arrived out of order (immediate %08x, expected %08x)", ep_->describe().c_str(),
                    static_cast<unsigned long long>(seq), imm, ChunkImm(seq, index));
  const SlotHeader* h = reinterpret_cast<const SlotHeader*>(slotPtr(seq));
  if (h->magic != kSlotMagic || h->seq != seq || h->bytes > geo_.slot_bytes ||
      wc.byte_len != kSlotHeaderBytes + h->bytes)
    return Internal("%s: malformed chunk %llu (magic %08x, seq %llu, %u bytes, %u written)", ep_->describe().c_str(),
                    static_cast<unsigned long long>(seq), h->magic, static_cast<unsigned long long>(h->seq),
                    h->bytes, wc.byte_len);
  window_.arrive();
  return ep_->postRecv(wc.wr_id & ~kRecvTag);
}

Status IbRecvLink::onCompletion(const ibv_wc& wc, bool* made_progress) {
  if (wc.status == IBV_WC_SUCCESS) {
    if (!IsRecv(wc)) return Status::OK();
    *made_progress = true;
    return onArrival(wc);
  }
  COLL_RETURN_IF_ERROR(readControl(true));
  // The sender closed and left: its QP no longer answers our credits. Waiting for more data
  // from it is what reports the loss (tryRecv), as on tcp.
  if (ep_->peerClosed()) {
    sender_gone_ = true;
    return Status::OK();
  }
  return ep_->completionError(wc, IsRecv(wc) ? "receiving a chunk from" : "returning a slot to");
}

Status IbRecvLink::tryRecv(RecvChunk* chunk, bool* ready) {
  *ready = false;
  if (!window_.hasChunk()) {
    bool ignored = false;
    COLL_RETURN_IF_ERROR(progress(&ignored));
  }
  if (window_.hasChunk()) {
    const SlotHeader* h = reinterpret_cast<const SlotHeader*>(slotPtr(window_.handOut()));
    chunk->data = reinterpret_cast<const char*>(h) + kSlotHeaderBytes;
    chunk->bytes = h->bytes;
    chunk->meta = h->meta;
    *ready = true;
    return Status::OK();
  }
  if (ep_->peerClosed() || sender_gone_) return ep_->lost("waiting for data");
  return Status::OK();
}

Status IbRecvLink::release() {
  COLL_RETURN_IF_ERROR(window_.release());
  bool ignored = false;
  return flushCredits(&ignored);
}

Status IbRecvLink::flushCredits(bool* made_progress) {
  if (sender_gone_ || ep_->peerClosed() || credits_sent_ == window_.released() || !ep_->sendRoom()) return Status::OK();
  ibv_send_wr wr{};
  wr.opcode = IBV_WR_SEND_WITH_IMM;
  wr.num_sge = 0;
  wr.imm_data = htobe32(static_cast<uint32_t>(window_.released()));
  COLL_RETURN_IF_ERROR(ep_->postSend(&wr, "returning a slot"));
  credits_sent_ = window_.released();
  *made_progress = true;
  return Status::OK();
}

Status IbRecvLink::readControl(bool force) {
  char buf[16];
  size_t got = 0;
  COLL_RETURN_IF_ERROR(ep_->readControl(buf, sizeof buf, &got, force));
  if (got != 0)
    return Internal("rank %d sent %zu unexpected bytes on the control connection of %s", peer_, got,
                    ep_->describe().c_str());
  return Status::OK();
}

Status IbRecvLink::progress(bool* made_progress) {
  ibv_wc wc[16];
  int n = 0;
  COLL_RETURN_IF_ERROR(ep_->poll(wc, 16, &n));
  for (int i = 0; i < n; ++i) COLL_RETURN_IF_ERROR(onCompletion(wc[i], made_progress));
  COLL_RETURN_IF_ERROR(flushCredits(made_progress));
  return readControl(false);
}

}  // namespace ibverbs
}  // namespace coll
