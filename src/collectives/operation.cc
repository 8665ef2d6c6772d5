// The Operation: chunking, the pipelined step/chunk progress shared by every ring and chain
// algorithm, and the driver loop both drivers (inline, progress thread) run.
#include "collectives/operation.h"

#include <poll.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "base/dtype.h"
#include "base/log.h"

namespace coll {
namespace {

ChunkMeta MetaFor(const CollDesc& d, size_t step, size_t chunk) {
  ChunkMeta m;
  m.words[0] = d.seq;
  m.words[1] = d.count;
  m.words[2] = uint64_t{static_cast<uint8_t>(d.kind)} | uint64_t{static_cast<uint8_t>(d.dtype)} << 8 |
               uint64_t{static_cast<uint8_t>(d.op)} << 16 | uint64_t{d.algorithm} << 24 |
               uint64_t{static_cast<uint32_t>(d.root)} << 32;
  m.words[3] = uint64_t{step} << 32 | chunk;
  return m;
}

CollDesc DescFromMeta(const ChunkMeta& m) {
  CollDesc d;
  d.seq = m.words[0];
  d.count = m.words[1];
  d.kind = static_cast<CollKind>(m.words[2] & 0xff);
  d.dtype = static_cast<coll_dtype_t>((m.words[2] >> 8) & 0xff);
  d.op = static_cast<coll_op_t>((m.words[2] >> 16) & 0xff);
  d.algorithm = static_cast<uint8_t>((m.words[2] >> 24) & 0xff);
  d.root = static_cast<int32_t>(m.words[2] >> 32);
  return d;
}

constexpr size_t kMinChunksPerStep = 4;
constexpr size_t kMinChunkBytes = 64 * 1024;

}  // namespace

void Operation::reset(const CollDesc& desc, MemoryKind memory) {
  s_.clear();
  d_ = desc;
  mem_ = &MemoryOpsFor(memory);
  device_ = -1;
  staged_sends_ = memory != MemoryKind::kHost;
  esize_ = DtypeSize(desc.dtype);
  send_ = recv_ = Cursor{};
  received_ = 0;
  right_ = nullptr;
  left_ = nullptr;
  finished_ = false;
}

void Operation::useMemory(MemoryKind memory, int device) {
  mem_ = &MemoryOpsFor(memory);
  device_ = device;
  staged_sends_ = memory != MemoryKind::kHost;
}

char* Operation::scratch(size_t bytes) {
  if (bytes > scratch_bytes_) {
    scratch_.reset();
    scratch_bytes_ = (bytes + 4095) & ~size_t{4095};
    scratch_.reset(static_cast<char*>(std::aligned_alloc(4096, scratch_bytes_)));
    if (!scratch_) {
      scratch_bytes_ = 0;
      throw std::bad_alloc();
    }
  }
  return scratch_.get();
}

Status Operation::runLocal(const LocalStep& st) const {
  const size_t n = esize_ ? st.bytes / esize_ : 0;
  switch (st.kind) {
    case LocalStep::Kind::kCopy: return mem_->copy(st.dst, st.a, st.bytes);
    case LocalStep::Kind::kCopyFinal: return mem_->copy_final(st.dst, st.a, st.bytes);
    case LocalStep::Kind::kReduce: return mem_->reduce(st.dst, st.a, st.b, n, d_.dtype, d_.op);
    case LocalStep::Kind::kReduceFinal:
      return mem_->reduce_final(st.dst, st.a, st.b, n, d_.dtype, d_.op, comm_.nranks());
  }
  return Status::OK();
}

Status Operation::start() {
  // The call's description only on failure: formatting it on every call cost ~0.7 us at 8 B.
  if (Status bound = mem_->bind(device_); !bound.ok()) return bound.withContext(DescribeCall(d_) + ": ");
  for (const LocalStep& st : s_.before) COLL_RETURN_IF_ERROR(runLocal(st));
  size_t largest = 0;
  for (const SendStep& st : s_.sends) {
    largest = std::max(largest, st.bytes);
    SendLink* link = comm_.sendLinkTo(st.peer);
    if (link == nullptr || (right_ != nullptr && link != right_))
      return Internal("%s: the schedule sends to rank %d, which this rank has no single link to",
                      DescribeCall(d_).c_str(), st.peer);
    right_ = link;
  }
  for (const RecvStep& st : s_.recvs) {
    largest = std::max(largest, st.bytes);
    RecvLink* link = comm_.recvLinkFrom(st.peer);
    if (link == nullptr || (left_ != nullptr && link != left_))
      return Internal("%s: the schedule receives from rank %d, which this rank has no single link from",
                      DescribeCall(d_).c_str(), st.peer);
    left_ = link;
  }
  // The memory-kind seam: this operation's MemoryOps read received slots and write into the
  // peer's slot (a kind's operations reach host memory too), and the send link reads the
  // buffers themselves, or host staging when sends are staged.
  const char* kind = MemoryKindName(mem_->kind);
  const LinkCaps caps = right_ != nullptr ? right_->caps() : LinkCaps{};
  auto reachable = [&](MemoryKind slot) { return slot == mem_->kind || slot == MemoryKind::kHost; };
  const MemoryKind source = staged_sends_ ? MemoryKind::kHost : mem_->kind;
  if (right_ != nullptr && (!caps.accepts(source) || !reachable(caps.slot_memory)))
    return Unsupported("%s: the link to rank %d cannot take %s memory (its slots are %s memory)",
                       DescribeCall(d_).c_str(), right_->peer(), kind, MemoryKindName(caps.slot_memory));
  writable_slot_ = caps.writable_slot;
  if (left_ != nullptr && !reachable(left_->slotMemory()))
    return Unsupported("%s: the link from rank %d delivers %s memory where %s memory was expected",
                       DescribeCall(d_).c_str(), left_->peer(), MemoryKindName(left_->slotMemory()), kind);
  // A step shorter than a few slots would leave the pipeline shallow: cut it in at least
  // kMinChunksPerStep chunks (not below kMinChunkBytes). Every rank computes the same
  // size, since the largest step is the same on every rank of a schedule.
  size_t slot = right_ ? right_->slotBytes() : left_ ? left_->slotBytes() : 1;
  size_t chunk = std::min(slot, std::max(kMinChunkBytes, largest / kMinChunksPerStep));
  chunk = std::max<size_t>(64, chunk / 64 * 64);
  chunk_bytes_ = esize_ > 0 ? std::max(esize_, chunk / esize_ * esize_) : chunk;
  if (staged_sends_ && right_ != nullptr) {
    const size_t want = static_cast<size_t>(comm_.config().nslots) * chunk_bytes_;
    if (want > staging_bytes_) {
      staging_.reset(static_cast<char*>(std::aligned_alloc(4096, (want + 4095) & ~size_t{4095})));
      if (!staging_) throw std::bad_alloc();
      staging_bytes_ = want;
    }
    staging_next_ = 0;
  }
  skipEmpty(&send_, true);
  skipEmpty(&recv_, false);
  return Status::OK();
}

void Operation::skipEmpty(Cursor* c, bool sends) const {
  const size_t nsteps = sends ? s_.sends.size() : s_.recvs.size();
  while (c->step < nsteps) {
    size_t bytes = sends ? s_.sends[c->step].bytes : s_.recvs[c->step].bytes;
    if (c->chunk < chunks(bytes)) return;
    ++c->step;
    c->chunk = 0;
  }
}

bool Operation::recvDone(int step, size_t chunk) const {
  size_t st = static_cast<size_t>(step);
  return recv_.step > st || (recv_.step == st && recv_.chunk > chunk);
}

Status Operation::checkMeta(const ChunkMeta& got) const {
  ChunkMeta want = MetaFor(d_, recv_.step, recv_.chunk);
  if (got.words[0] == want.words[0] && got.words[1] == want.words[1] && got.words[2] == want.words[2]) {
    if (got.words[3] == want.words[3]) return Status::OK();
    return Mismatch("%s: rank %d sent chunk %llu of step %llu where chunk %zu of step %zu was due: the ranks "
                    "disagree on the schedule (different COLL_* settings?)",
                    DescribeCall(d_).c_str(), left_->peer(),
                    static_cast<unsigned long long>(got.words[3] & 0xffffffff),
                    static_cast<unsigned long long>(got.words[3] >> 32), recv_.chunk, recv_.step);
  }
  CollDesc theirs = DescFromMeta(got);
  if (theirs.seq != d_.seq)
    return Mismatch("collective mismatch: rank %d is at collective #%llu while rank %d is at #%llu (%s); every rank "
                    "must call the same collectives in the same order",
                    left_->peer(), static_cast<unsigned long long>(theirs.seq), comm_.rank(),
                    static_cast<unsigned long long>(d_.seq), DescribeCall(d_).c_str());
  return Mismatch("collective mismatch at collective #%llu: rank %d called %s but rank %d called %s",
                  static_cast<unsigned long long>(d_.seq), comm_.rank(), DescribeCall(d_).c_str(),
                  left_->peer(), DescribeCall(theirs).c_str());
}

Status Operation::processChunk(const RecvChunk& chunk, bool* fused) {
  const RecvStep& r = s_.recvs[recv_.step];
  size_t off = recv_.chunk * chunk_bytes_;
  size_t len = chunkLen(r.bytes, recv_.chunk);
  if (chunk.bytes != len)
    return Mismatch("%s: rank %d sent %zu bytes where %zu were due (chunk %zu of step %zu)", DescribeCall(d_).c_str(),
                    left_->peer(), chunk.bytes, len, recv_.chunk, recv_.step);
  size_t n = esize_ ? len / esize_ : 0;
  char* out = r.dst + off;
  // Fused path: write the reduction straight into the peer's slot when the forward is next.
  *fused = !r.dst_needed && r.action == RecvAction::kReduce && r.forwarded_by >= 0 && right_ != nullptr &&
           send_.step == static_cast<size_t>(r.forwarded_by) && send_.chunk == recv_.chunk && right_->hasCredit() &&
           writable_slot_;
  if (*fused) out = static_cast<char*>(right_->slot());
  switch (r.action) {
    case RecvAction::kCopy:
      // A final copy (nothing forwards it) streams past the cache.
      if (r.forwarded_by < 0 && !*fused) COLL_RETURN_IF_ERROR(mem_->copy_final(out, chunk.data, len));
      else COLL_RETURN_IF_ERROR(mem_->copy(out, chunk.data, len));
      break;
    case RecvAction::kReduce:
      COLL_RETURN_IF_ERROR(mem_->reduce(out, r.local + off, chunk.data, n, d_.dtype, d_.op));
      break;
    case RecvAction::kReduceFinal:
      COLL_RETURN_IF_ERROR(mem_->reduce_final(out, r.local + off, chunk.data, n, d_.dtype, d_.op, comm_.nranks()));
      break;
  }
  if (*fused) {
    COLL_RETURN_IF_ERROR(right_->postSlot(len, MetaFor(d_, send_.step, send_.chunk)));
    ++send_.chunk;
    skipEmpty(&send_, true);
  }
  return Status::OK();
}

Status Operation::pumpRecvs(bool* progressed) {
  while (recv_.step < s_.recvs.size()) {
    RecvChunk chunk;
    bool ready = false;
    COLL_RETURN_IF_ERROR(left_->tryRecv(&chunk, &ready));
    if (!ready) return Status::OK();
    COLL_RETURN_IF_ERROR(checkMeta(chunk.meta));
    bool fused = false;
    COLL_RETURN_IF_ERROR(processChunk(chunk, &fused));
    COLL_RETURN_IF_ERROR(left_->release());
    *progressed = true;
    ++received_;
    ++recv_.chunk;
    skipEmpty(&recv_, false);
  }
  return Status::OK();
}

// Posts one chunk. Staged sends (device buffers) copy it to host first: into the peer's slot
// when the link has one, else into the next chunk of the staging ring, which is free again: a
// link holds at most COLL_NSLOTS posted chunks (link.h), so the chunk posted COLL_NSLOTS posts
// ago has left.
Status Operation::postChunk(const char* src, size_t len, const ChunkMeta& meta) {
  if (!staged_sends_) return right_->postCopy(src, len, meta);
  if (writable_slot_) {
    COLL_RETURN_IF_ERROR(mem_->copy(right_->slot(), src, len));
    return right_->postSlot(len, meta);
  }
  const size_t nslots = static_cast<size_t>(comm_.config().nslots);
  char* stage = staging_.get() + (staging_next_++ % nslots) * chunk_bytes_;
  COLL_RETURN_IF_ERROR(mem_->copy(stage, src, len));
  return right_->postCopy(stage, len, meta);
}

Status Operation::pumpSends(bool* progressed) {
  while (send_.step < s_.sends.size() && right_->hasCredit()) {
    const SendStep& st = s_.sends[send_.step];
    if (st.after_recv >= 0 && !recvDone(st.after_recv, send_.chunk)) return Status::OK();
    size_t off = send_.chunk * chunk_bytes_;
    const size_t len = chunkLen(st.bytes, send_.chunk);
    COLL_RETURN_IF_ERROR(postChunk(st.src + off, len, MetaFor(d_, send_.step, send_.chunk)));
    *progressed = true;
    ++send_.chunk;
    skipEmpty(&send_, true);
  }
  return Status::OK();
}

Status Operation::progress(bool* done, bool* progressed) {
  *done = finished_;
  if (finished_) return Status::OK();
  if (right_ != nullptr) COLL_RETURN_IF_ERROR(right_->progress(progressed));
  if (left_ != nullptr) COLL_RETURN_IF_ERROR(left_->progress(progressed));
  if (left_ != nullptr) COLL_RETURN_IF_ERROR(pumpRecvs(progressed));
  if (right_ != nullptr) COLL_RETURN_IF_ERROR(pumpSends(progressed));
  // Over only when this rank's last sends have drained and every slot it consumed has been
  // handed back to the sender (a link returning credits lazily must not leave the sender's
  // last chunks waiting on the next use of the link).
  if (!networkDone() || (right_ != nullptr && !right_->idle()) || (left_ != nullptr && !left_->settled()))
    return Status::OK();
  for (const LocalStep& st : s_.after) COLL_RETURN_IF_ERROR(runLocal(st));
  finished_ = *done = true;
  return Status::OK();
}

// A timeout names the ranks that have not reached this collective when the root can tell
// (a stopped or busy rank, not the innocent neighbour in between), then what this rank
// waited for.
Status Operation::timeoutError() const {
  Status waited = neighbourTimeout();
  const std::string laggards = comm_.laggards(d_.seq);
  if (laggards.empty()) return waited;
  const std::string& detail = waited.message();
  const size_t what = std::min(detail.find("waiting"), detail.size());
  return Timeout("%s timed out after %lld ms without progress on rank %d: %s (this rank was %s)",
                 DescribeCall(d_).c_str(), static_cast<long long>(comm_.config().timeout_ms), comm_.rank(),
                 laggards.c_str(), detail.substr(what).c_str());
}

Status Operation::neighbourTimeout() const {
  const long long ms = static_cast<long long>(comm_.config().timeout_ms);
  // Chunks of this collective that already came from the left neighbour say it called it
  // (they carry this call's sequence number): then the link stalled, not the peer.
  const bool called = received_ > 0;
  if (recv_.step < s_.recvs.size())
    return Timeout("%s timed out after %lld ms without progress on rank %d, waiting for rank %d to send chunk %zu of "
                   "step %zu (%s)",
                   DescribeCall(d_).c_str(), ms, comm_.rank(), left_->peer(), recv_.chunk, recv_.step,
                   called ? StrFormat("rank %d has called it: its earlier chunks of this call arrived, so the link "
                                      "between the two stalled",
                                      left_->peer())
                                .c_str()
                          : StrFormat("has rank %d called it?", left_->peer()).c_str());
  if (send_.step < s_.sends.size())
    return Timeout("%s timed out after %lld ms without progress on rank %d, waiting for rank %d to free a slot for "
                   "chunk %zu of step %zu",
                   DescribeCall(d_).c_str(), ms, comm_.rank(), right_->peer(), send_.chunk, send_.step);
  if (right_ != nullptr && !right_->idle())
    return Timeout("%s timed out after %lld ms on rank %d, waiting for its last sends to rank %d to drain",
                   DescribeCall(d_).c_str(), ms, comm_.rank(), right_->peer());
  return Timeout("%s timed out after %lld ms on rank %d, waiting to hand its last slots back to rank %d",
                 DescribeCall(d_).c_str(), ms, comm_.rank(), left_ ? left_->peer() : -1);
}

// Sleeps until a link may have news. Links with file descriptors (tcp) are poll(2)ed; a
// link without one (shm) is polled by spinning, then yielding the core (ranks may share
// cores), then sleeping with a backoff capped at 50 us. The wake eventfd ends any sleep
// when the communicator fails or is aborted.
Status Operation::waitForNews(int round) {
  pollfd fds[3];
  int n = 0;
  bool spin = false;
  PollSpec specs[2];
  int nspecs = 0;
  if (right_ != nullptr) specs[nspecs++] = right_->pollSpec();
  if (left_ != nullptr) specs[nspecs++] = left_->pollSpec();
  for (int i = 0; i < nspecs; ++i) {
    const PollSpec& p = specs[i];
    if (p.fd < 0) {
      spin = spin || p.needs_spin;
      continue;
    }
    fds[n++] = pollfd{p.fd, p.events, 0};
  }
  fds[n++] = pollfd{comm_.wakeFd(), POLLIN, 0};
  if (spin && round < 256) {
    sched_yield();
    return Status::OK();
  }
  int rc = poll(fds, static_cast<nfds_t>(n), spin ? 0 : 100);
  if (rc < 0 && errno != EINTR) return ErrnoError(errno, "poll");
  if (spin && rc == 0) {
    int shift = std::min(round - 256, 6);
    std::this_thread::sleep_for(std::chrono::microseconds(std::min(1 << (shift < 0 ? 0 : shift), 50)));
  }
  return Status::OK();
}

namespace {

Status Drive(Operation& op) {
  Communicator& comm = op.comm();
  if (comm.failed()) return comm.failure();  // queued behind the failure: never starts
  COLL_RETURN_IF_ERROR(op.start());
  // Without progress the driver first spins a few rounds, then spins yielding the core
  // until COLL_SPIN_US have passed, then sleeps (waitForNews). The deadline runs from the
  // start of each stretch without progress.
  Deadline deadline = Deadline::In(comm.config().timeout_ms);
  int idle = 0, rounds = 0;
  int64_t idle_since = 0;
  for (;;) {
    if (comm.failed()) return comm.failure();
    bool progressed = false, done = false;
    COLL_RETURN_IF_ERROR(op.progress(&done, &progressed));
    if (done) return Status::OK();
    if (progressed) {
      idle = rounds = 0;
      continue;
    }
    if (++idle < 16) continue;
    const int64_t now = NowMicros();
    if (idle == 16) {
      idle_since = now;
      deadline = Deadline::In(comm.config().timeout_ms);
      continue;
    }
    if (now - idle_since < comm.config().spin_us) {
      sched_yield();  // ranks may share cores: let a runnable one have this core
      continue;
    }
    if (deadline.expired()) return op.timeoutError();
    COLL_RETURN_IF_ERROR(op.waitForNews(rounds++));
  }
}

}  // namespace

Status RunOperation(Operation& op) {
  Communicator& comm = op.comm();
  Status st = Drive(op);
  // A link that broke (the peer closed it, or its QP went to error) is usually a symptom: the
  // peer left after an error of its own, or died, and the control channel carries the
  // reason (its own report, or the root's word that it died). Give that up to a second to
  // arrive and prefer it, so every rank reports the root cause.
  const bool symptom = st.isConsequence() || st.code() == COLL_ERR_PEER_LOST || st.code() == COLL_ERR_SYSTEM;
  // A flushed work request (a consequence) waits longer than any other symptom, so a rank that
  // saw the cause (e.g. IBV_WC_REM_ACCESS_ERR at the requester while the responder only sees its
  // receives flushed) reports first and the flushed ranks adopt that reason, not the other way.
  if (!st.ok() && symptom) {
    Deadline grace = Deadline::In(std::min<int64_t>(st.isConsequence() ? 1500 : 1000, comm.config().timeout_ms));
    while (!comm.failed() && !grace.expired()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (!st.ok() && !comm.failed()) comm.fail(st, true);
  if (!st.ok() && comm.failed()) return comm.failure();
  return st;
}

const char* CollKindName(CollKind kind) {
  switch (kind) {
    case CollKind::kAllreduce: return "allreduce";
    case CollKind::kBroadcast: return "broadcast";
    case CollKind::kAllgather: return "allgather";
    case CollKind::kReduceScatter: return "reduce_scatter";
    case CollKind::kReduce: return "reduce";
    case CollKind::kBarrier: return "barrier";
  }
  return "unknown collective";
}

std::string DescribeCall(const CollDesc& d) {
  std::string s = StrFormat("%s(count=%zu, %s", CollKindName(d.kind), d.count, DtypeName(d.dtype));
  if (d.kind == CollKind::kAllreduce || d.kind == CollKind::kReduceScatter || d.kind == CollKind::kReduce)
    s += StrFormat(", %s", OpName(d.op));
  if (d.kind == CollKind::kBroadcast || d.kind == CollKind::kReduce) s += StrFormat(", root=%d", d.root);
  return s + ")";
}

}  // namespace coll
