// The pipelined step/chunk engine shared by every ring and chain algorithm.
#include "collectives/engine.h"

#include <poll.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "collectives/reduce/reduce.h"
#include "collectives/stream_copy.h"
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

// Position in a sequence of chunked steps.
struct Cursor {
  size_t step = 0, chunk = 0;
};

class Engine {
 public:
  Engine(Communicator& comm, const Schedule& s, const CollDesc& d)
      : comm_(comm), s_(s), d_(d), esize_(DtypeSize(d.dtype)) {
    size_t slot = comm.nranks() > 1 ? comm.right()->slotBytes() : 1;
    // A step shorter than a few slots would leave the pipeline shallow: cut it in at least
    // kMinChunksPerStep chunks (not below kMinChunkBytes). Every rank computes the same
    // size, since the largest step is the same on every rank of a schedule.
    size_t largest = 0;
    for (const SendStep& st : s.sends) largest = std::max(largest, st.bytes);
    for (const RecvStep& st : s.recvs) largest = std::max(largest, st.bytes);
    size_t chunk = std::min(slot, std::max(kMinChunkBytes, largest / kMinChunksPerStep));
    chunk = std::max<size_t>(64, chunk / 64 * 64);
    chunk_bytes_ = esize_ > 0 ? std::max(esize_, chunk / esize_ * esize_) : chunk;
  }
  Status run();

 private:
  size_t chunks(size_t bytes) const { return (bytes + chunk_bytes_ - 1) / chunk_bytes_; }
  size_t chunkLen(size_t bytes, size_t c) const { return std::min(chunk_bytes_, bytes - c * chunk_bytes_); }
  void skipEmpty(Cursor* c, size_t nsteps, bool sends) const;
  bool recvDone(int step, size_t chunk) const;
  Status pumpRecvs(bool* progressed);
  Status pumpSends(bool* progressed);
  Status processChunk(const RecvChunk& chunk, bool* fused);
  Status checkMeta(const ChunkMeta& got) const;
  Status wait(int round);
  Status timeoutError() const;
  Status neighbourTimeout() const;

  Communicator& comm_;
  const Schedule& s_;
  const CollDesc& d_;
  size_t esize_;
  size_t chunk_bytes_;
  Cursor send_, recv_;
};

void Engine::skipEmpty(Cursor* c, size_t nsteps, bool sends) const {
  while (c->step < nsteps) {
    size_t bytes = sends ? s_.sends[c->step].bytes : s_.recvs[c->step].bytes;
    if (c->chunk < chunks(bytes)) return;
    ++c->step;
    c->chunk = 0;
  }
}

bool Engine::recvDone(int step, size_t chunk) const {
  size_t st = static_cast<size_t>(step);
  return recv_.step > st || (recv_.step == st && recv_.chunk > chunk);
}

Status Engine::checkMeta(const ChunkMeta& got) const {
  ChunkMeta want = MetaFor(d_, recv_.step, recv_.chunk);
  if (got.words[0] == want.words[0] && got.words[1] == want.words[1] && got.words[2] == want.words[2]) {
    if (got.words[3] == want.words[3]) return Status::OK();
    return Mismatch("%s: rank %d sent chunk %llu of step %llu where chunk %zu of step %zu was due: the ranks "
                    "disagree on the schedule (different COLL_* settings?)",
                    DescribeCall(d_).c_str(), comm_.left()->peer(),
                    static_cast<unsigned long long>(got.words[3] & 0xffffffff),
                    static_cast<unsigned long long>(got.words[3] >> 32), recv_.chunk, recv_.step);
  }
  CollDesc theirs = DescFromMeta(got);
  if (theirs.seq != d_.seq)
    return Mismatch("collective mismatch: rank %d is at collective #%llu while rank %d is at #%llu (%s); every rank "
                    "must call the same collectives in the same order",
                    comm_.left()->peer(), static_cast<unsigned long long>(theirs.seq), comm_.rank(),
                    static_cast<unsigned long long>(d_.seq), DescribeCall(d_).c_str());
  return Mismatch("collective mismatch at collective #%llu: rank %d called %s but rank %d called %s",
                  static_cast<unsigned long long>(d_.seq), comm_.rank(), DescribeCall(d_).c_str(),
                  comm_.left()->peer(), DescribeCall(theirs).c_str());
}

Status Engine::processChunk(const RecvChunk& chunk, bool* fused) {
  const RecvStep& r = s_.recvs[recv_.step];
  size_t off = recv_.chunk * chunk_bytes_;
  size_t len = chunkLen(r.bytes, recv_.chunk);
  if (chunk.bytes != len)
    return Mismatch("%s: rank %d sent %zu bytes where %zu were due (chunk %zu of step %zu)", DescribeCall(d_).c_str(),
                    comm_.left()->peer(), chunk.bytes, len, recv_.chunk, recv_.step);
  size_t n = esize_ ? len / esize_ : 0;
  char* out = r.dst + off;
  SendLink* right = comm_.right();
  // Fused path: write the reduction straight into the peer's slot when the forward is next.
  *fused = !r.dst_needed && r.action == RecvAction::kReduce && r.forwarded_by >= 0 &&
           send_.step == static_cast<size_t>(r.forwarded_by) && send_.chunk == recv_.chunk && right->hasCredit() &&
           right->slot() != nullptr;
  if (*fused) out = static_cast<char*>(right->slot());
  switch (r.action) {
    case RecvAction::kCopy:
      // A final copy (nothing forwards it) streams past the cache.
      if (r.forwarded_by < 0 && !*fused) StreamCopy(out, chunk.data, len);
      else std::memcpy(out, chunk.data, len);
      break;
    case RecvAction::kReduce: ReduceInto(out, r.local + off, chunk.data, n, d_.dtype, d_.op); break;
    case RecvAction::kReduceFinal:
      ReduceFinal(out, r.local + off, chunk.data, n, d_.dtype, d_.op, comm_.nranks());
      break;
  }
  if (*fused) {
    COLL_RETURN_IF_ERROR(right->postSlot(len, MetaFor(d_, send_.step, send_.chunk)));
    ++send_.chunk;
    skipEmpty(&send_, s_.sends.size(), true);
  }
  return Status::OK();
}

Status Engine::pumpRecvs(bool* progressed) {
  RecvLink* left = comm_.left();
  while (recv_.step < s_.recvs.size()) {
    RecvChunk chunk;
    bool ready = false;
    COLL_RETURN_IF_ERROR(left->tryRecv(&chunk, &ready));
    if (!ready) return Status::OK();
    COLL_RETURN_IF_ERROR(checkMeta(chunk.meta));
    bool fused = false;
    COLL_RETURN_IF_ERROR(processChunk(chunk, &fused));
    COLL_RETURN_IF_ERROR(left->release());
    *progressed = true;
    ++recv_.chunk;
    skipEmpty(&recv_, s_.recvs.size(), false);
  }
  return Status::OK();
}

Status Engine::pumpSends(bool* progressed) {
  SendLink* right = comm_.right();
  while (send_.step < s_.sends.size() && right->hasCredit()) {
    const SendStep& st = s_.sends[send_.step];
    if (st.after_recv >= 0 && !recvDone(st.after_recv, send_.chunk)) return Status::OK();
    size_t off = send_.chunk * chunk_bytes_;
    const size_t len = chunkLen(st.bytes, send_.chunk);
    COLL_RETURN_IF_ERROR(right->postCopy(st.src + off, len, MetaFor(d_, send_.step, send_.chunk)));
    *progressed = true;
    ++send_.chunk;
    skipEmpty(&send_, s_.sends.size(), true);
  }
  return Status::OK();
}

// A timeout names the ranks that have not reached this collective when the root can tell
// (a stopped or busy rank, not the innocent neighbour in between), then what this rank
// waited for.
Status Engine::timeoutError() const {
  Status waited = neighbourTimeout();
  const std::string laggards = comm_.laggards(d_.seq);
  if (laggards.empty()) return waited;
  const std::string& detail = waited.message();
  const size_t what = std::min(detail.find("waiting"), detail.size());
  return Timeout("%s timed out after %lld ms without progress on rank %d: %s (this rank was %s)",
                 DescribeCall(d_).c_str(), static_cast<long long>(comm_.config().timeout_ms), comm_.rank(),
                 laggards.c_str(), detail.substr(what).c_str());
}

Status Engine::neighbourTimeout() const {
  const long long ms = static_cast<long long>(comm_.config().timeout_ms);
  if (recv_.step < s_.recvs.size())
    return Timeout("%s timed out after %lld ms without progress on rank %d, waiting for rank %d to send chunk %zu of "
                   "step %zu (has rank %d called it?)",
                   DescribeCall(d_).c_str(), ms, comm_.rank(), comm_.left()->peer(), recv_.chunk, recv_.step,
                   comm_.left()->peer());
  if (send_.step < s_.sends.size())
    return Timeout("%s timed out after %lld ms without progress on rank %d, waiting for rank %d to free a slot for "
                   "chunk %zu of step %zu",
                   DescribeCall(d_).c_str(), ms, comm_.rank(), comm_.right()->peer(), send_.chunk, send_.step);
  if (!comm_.right()->idle())
    return Timeout("%s timed out after %lld ms on rank %d, waiting for its last sends to rank %d to drain",
                   DescribeCall(d_).c_str(), ms, comm_.rank(), comm_.right()->peer());
  return Timeout("%s timed out after %lld ms on rank %d, waiting to hand its last slots back to rank %d",
                 DescribeCall(d_).c_str(), ms, comm_.rank(), comm_.left()->peer());
}

// Sleeps until a link may have news. Links with file descriptors (tcp) are poll(2)ed; a
// link without one (shm) is polled by spinning, then yielding the core (ranks may share
// cores), then sleeping with a backoff capped at 50 us. The wake eventfd ends any sleep
// when the communicator fails or is aborted.
Status Engine::wait(int round) {
  pollfd fds[3];
  int n = 0;
  bool spin = false;
  for (PollSpec p : {comm_.right()->pollSpec(), comm_.left()->pollSpec()}) {
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

Status Engine::run() {
  skipEmpty(&send_, s_.sends.size(), true);
  skipEmpty(&recv_, s_.recvs.size(), false);
  // Without progress the engine first spins a few rounds, then spins yielding the core
  // until COLL_SPIN_US have passed, then sleeps (wait). The deadline runs from the start of each
  // stretch without progress.
  Deadline deadline = Deadline::In(comm_.config().timeout_ms);
  int idle = 0, rounds = 0;
  int64_t idle_since = 0;
  for (;;) {
    if (comm_.failed()) return comm_.failure();
    bool progressed = false;
    COLL_RETURN_IF_ERROR(comm_.right()->progress(&progressed));
    COLL_RETURN_IF_ERROR(comm_.left()->progress(&progressed));
    COLL_RETURN_IF_ERROR(pumpRecvs(&progressed));
    COLL_RETURN_IF_ERROR(pumpSends(&progressed));
    if (send_.step >= s_.sends.size() && recv_.step >= s_.recvs.size() && comm_.right()->idle() &&
        comm_.left()->settled())
      return Status::OK();
    if (progressed) {
      idle = rounds = 0;
      continue;
    }
    if (++idle < 16) continue;
    const int64_t now = NowMicros();
    if (idle == 16) {
      idle_since = now;
      deadline = Deadline::In(comm_.config().timeout_ms);
      continue;
    }
    if (now - idle_since < comm_.config().spin_us) {
      sched_yield();  // ranks may share cores: let a runnable one have this core
      continue;
    }
    if (deadline.expired()) return timeoutError();
    COLL_RETURN_IF_ERROR(wait(rounds++));
  }
}

}  // namespace

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

Schedule& ReusableSchedule() {
  thread_local Schedule schedule;
  schedule.sends.clear();
  schedule.recvs.clear();
  return schedule;
}

Status RunSchedule(Communicator& comm, const Schedule& schedule, const CollDesc& desc) {
  if (comm.nranks() == 1) return Status::OK();
  Engine engine(comm, schedule, desc);
  Status st = engine.run();
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

}  // namespace coll
