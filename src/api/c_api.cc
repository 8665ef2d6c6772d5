// The extern "C" surface: argument checks before any byte moves, Status -> enum, the
// last-error sentence, and no exception ever crossing the boundary. Every collective, blocking
// or not, checks its arguments, fills an Operation and hands it to the communicator's queue:
// a blocking call runs it (inline when nothing is queued) and waits, a non-blocking one
// returns a request that coll_test / coll_wait complete.
#include <cstdlib>
#include <cstring>
#include <new>

#include "bootstrap/unique_id.h"
#include "collectives/collectives.h"
#include "comm/comm.h"
#include "collectives/op_queue.h"
#include "base/dtype.h"
#include "base/log.h"
#include "cuda/device_memory.h"
#include "cuda/driver.h"
#include "cuda/pointer_kind.h"

struct coll_comm {
  std::unique_ptr<coll::Communicator> impl;
  std::unique_ptr<coll::OperationQueue> queue;  // destroyed first: it completes what is queued
};

// A posted operation; its state outlives the communicator until the handle is waited.
struct coll_request {
  std::shared_ptr<coll::Request> state;
};

namespace coll {
namespace {

thread_local std::string t_init_error;
// The CUDA device of the call being prepared on this thread (its buffers' device), -1: host.
thread_local int t_call_device = -1;

coll_status_t InitError(const Status& st) {
  t_init_error = st.message();
  if (!st.ok()) COLL_WARN(-1, "%s", st.message().c_str());
  return st.code();
}

// Runs fn, turning a thrown exception into COLL_ERR_INTERNAL.
template <typename Fn>
Status Guard(Fn&& fn) {
  try {
    return fn();
  } catch (const std::bad_alloc&) {
    return SystemError("out of memory");
  } catch (const std::exception& e) {
    return Internal("unexpected exception: %s", e.what());
  } catch (...) {
    return Internal("unexpected exception");
  }
}

coll_status_t Finish(coll_comm_t comm, const char* op, const Status& st) {
  if (!st.ok()) comm->impl->setLastError(StrFormat("%s on rank %d: %s", op, comm->impl->rank(), st.message().c_str()));
  return st.code();
}

// The value of an enum argument as an int, without loading it as the enum: a C caller may
// pass any int, and loading an out-of-range enum is undefined behaviour in C++.
template <typename E>
int RawEnum(const E& e) {
  int v = 0;
  std::memcpy(&v, &e, sizeof v);
  return v;
}

// count * size * nranks (the largest buffer any collective touches) must fit in size_t.
Status CheckBuffers(const Communicator& c, const void* sendbuf, const void* recvbuf, size_t count, int raw_dtype,
                    bool need_send, bool need_recv) {
  if (!IsValidDtype(raw_dtype)) return InvalidArgument("dtype %d is not a coll_dtype_t", raw_dtype);
  const coll_dtype_t dtype = static_cast<coll_dtype_t>(raw_dtype);
  const size_t es = DtypeSize(dtype);
  const size_t limit = ~size_t{0} / es / static_cast<size_t>(c.nranks());
  if (count > limit) return InvalidArgument("count %zu of %s overflows the address space", count, DtypeName(dtype));
  if (count == 0) return Status::OK();
  if (need_send && sendbuf == nullptr) return InvalidArgument("sendbuf is NULL with count %zu", count);
  if (need_recv && recvbuf == nullptr) return InvalidArgument("recvbuf is NULL with count %zu", count);
  // Host, pinned and managed memory go on the CPU; device memory (the driver, when there is
  // one, says which kind each buffer is) takes the staging data path, or is refused with a
  // sentence where this build or driver cannot move it.
  const cuda::BufferArg args[] = {{"sendbuf", need_send ? sendbuf : nullptr}, {"recvbuf", need_recv ? recvbuf : nullptr}};
  bool any_device = false;
  const cuda::CudaDriver& driver = cuda::CudaDriverOnce();
  COLL_RETURN_IF_ERROR(
      cuda::CheckBufferKinds(driver, cuda::BuildDeviceSupport(), args, 2, &any_device, &t_call_device));
  if (any_device) COLL_RETURN_IF_ERROR(cuda::CheckDataPath(driver));
  return Status::OK();
}

Status CheckOp(int raw_op) {
  if (!IsValidOp(raw_op)) return InvalidArgument("op %d is not a coll_op_t", raw_op);
  return Status::OK();
}

// The two buffers of a call may be the same (in place, when `in_place` says they are
// placed as the call's in-place form) or apart; a partial overlap would let the collective
// overwrite input it has not read yet, so it is rejected.
Status CheckOverlap(const void* sendbuf, size_t send_bytes, const void* recvbuf, size_t recv_bytes, bool in_place) {
  if (in_place || send_bytes == 0 || recv_bytes == 0 || sendbuf == nullptr || recvbuf == nullptr)
    return Status::OK();
  const uintptr_t s = reinterpret_cast<uintptr_t>(sendbuf), r = reinterpret_cast<uintptr_t>(recvbuf);
  if (s + send_bytes <= r || r + recv_bytes <= s) return Status::OK();
  return InvalidArgument("sendbuf (%zu bytes) and recvbuf (%zu bytes) overlap without being in place: pass the same "
                         "buffer for in place (see the README), or buffers that do not overlap",
                         send_bytes, recv_bytes);
}

Status CheckRoot(const Communicator& c, int root) {
  if (root < 0 || root >= c.nranks())
    return InvalidArgument("root %d is out of range for %d ranks", root, c.nranks());
  return Status::OK();
}

// Checks and builders shared by each blocking collective and its non-blocking twin.
auto AllreduceChecks(const void* sendbuf, const void* recvbuf, size_t count, coll_dtype_t dtype, coll_op_t op) {
  return [=](Communicator& c) {
    COLL_RETURN_IF_ERROR(CheckOp(RawEnum(op)));
    COLL_RETURN_IF_ERROR(CheckBuffers(c, sendbuf, recvbuf, count, RawEnum(dtype), true, true));
    const size_t bytes = count * DtypeSize(dtype);
    return CheckOverlap(sendbuf, bytes, recvbuf, bytes, sendbuf == recvbuf);
  };
}
auto AllreduceBuild(const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype, coll_op_t op) {
  return [=](Operation& o) { Allreduce(o, sendbuf, recvbuf, count, dtype, op); };
}
auto ReduceScatterChecks(const void* sendbuf, const void* recvbuf, size_t recvcount, coll_dtype_t dtype,
                         coll_op_t op) {
  return [=](Communicator& c) {
    COLL_RETURN_IF_ERROR(CheckOp(RawEnum(op)));
    COLL_RETURN_IF_ERROR(CheckBuffers(c, sendbuf, recvbuf, recvcount, RawEnum(dtype), true, true));
    const size_t bytes = recvcount * DtypeSize(dtype);
    const bool in_place =
        static_cast<const char*>(recvbuf) == static_cast<const char*>(sendbuf) + static_cast<size_t>(c.rank()) * bytes;
    return CheckOverlap(sendbuf, bytes * static_cast<size_t>(c.nranks()), recvbuf, bytes, in_place);
  };
}
auto ReduceScatterBuild(const void* sendbuf, void* recvbuf, size_t recvcount, coll_dtype_t dtype, coll_op_t op) {
  return [=](Operation& o) { ReduceScatter(o, sendbuf, recvbuf, recvcount, dtype, op); };
}
auto BroadcastChecks(const void* sendbuf, const void* recvbuf, size_t count, coll_dtype_t dtype, int root) {
  return [=](Communicator& c) {
    COLL_RETURN_IF_ERROR(CheckRoot(c, root));
    COLL_RETURN_IF_ERROR(CheckBuffers(c, sendbuf, recvbuf, count, RawEnum(dtype), c.rank() == root, true));
    const size_t bytes = count * DtypeSize(dtype);
    if (c.rank() != root) return Status::OK();  // sendbuf is not read
    return CheckOverlap(sendbuf, bytes, recvbuf, bytes, sendbuf == recvbuf);
  };
}
auto BroadcastBuild(const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype, int root) {
  return [=](Operation& o) { Broadcast(o, sendbuf, recvbuf, count, dtype, root); };
}
auto AllgatherChecks(const void* sendbuf, const void* recvbuf, size_t sendcount, coll_dtype_t dtype) {
  return [=](Communicator& c) {
    COLL_RETURN_IF_ERROR(CheckBuffers(c, sendbuf, recvbuf, sendcount, RawEnum(dtype), true, true));
    const size_t bytes = sendcount * DtypeSize(dtype);
    const bool in_place =
        static_cast<const char*>(sendbuf) == static_cast<const char*>(recvbuf) + static_cast<size_t>(c.rank()) * bytes;
    return CheckOverlap(sendbuf, bytes, recvbuf, bytes * static_cast<size_t>(c.nranks()), in_place);
  };
}
auto AllgatherBuild(const void* sendbuf, void* recvbuf, size_t sendcount, coll_dtype_t dtype) {
  return [=](Operation& o) { Allgather(o, sendbuf, recvbuf, sendcount, dtype); };
}
auto ReduceChecks(const void* sendbuf, const void* recvbuf, size_t count, coll_dtype_t dtype, coll_op_t op, int root) {
  return [=](Communicator& c) {
    COLL_RETURN_IF_ERROR(CheckOp(RawEnum(op)));
    COLL_RETURN_IF_ERROR(CheckRoot(c, root));
    COLL_RETURN_IF_ERROR(CheckBuffers(c, sendbuf, recvbuf, count, RawEnum(dtype), true, c.rank() == root));
    const size_t bytes = count * DtypeSize(dtype);
    if (c.rank() != root) return Status::OK();  // recvbuf is not written
    return CheckOverlap(sendbuf, bytes, recvbuf, bytes, sendbuf == recvbuf);
  };
}
auto ReduceBuild(const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype, coll_op_t op, int root) {
  return [=](Operation& o) { Reduce(o, sendbuf, recvbuf, count, dtype, op, root); };
}
Status NoChecks(Communicator&) { return Status::OK(); }

// What every collective does before it runs: a usable communicator, the argument checks,
// then the Operation filled by `build`.
template <typename Checks, typename Build>
Status Prepare(coll_comm_t comm, Checks&& checks, Build&& build, std::unique_ptr<Operation>* op) {
  Communicator& c = *comm->impl;
  if (c.failed()) {
    Status f = c.failure();
    return Status(f.code(), "the communicator is unusable after an earlier error (destroy it): " + f.message());
  }
  t_call_device = -1;
  COLL_RETURN_IF_ERROR(Guard([&] { return checks(c); }));
  const int device = t_call_device;
  return Guard([&] {
    *op = comm->queue->acquire();
    build(**op);
    if (device >= 0) (*op)->useMemory(MemoryKind::kCudaDevice, device);
    return Status::OK();
  });
}

// A blocking collective: post + wait over the queue (inline when nothing is queued).
template <typename Checks, typename Build>
coll_status_t Collective(coll_comm_t comm, const char* name, Checks&& checks, Build&& build) {
  if (comm == nullptr || !comm->impl) return COLL_ERR_INVALID_ARGUMENT;
  std::unique_ptr<Operation> op;
  Status st = Prepare(comm, checks, build, &op);
  if (!st.ok()) return Finish(comm, name, st);
  return Finish(comm, name, Guard([&] { return comm->queue->run(std::move(op), name); }));
}

// A non-blocking collective: argument errors here; runtime errors from coll_test / coll_wait.
template <typename Checks, typename Build>
coll_status_t PostCollective(coll_comm_t comm, const char* name, coll_request_t* request, Checks&& checks,
                             Build&& build) {
  if (request == nullptr) {
    if (comm != nullptr && comm->impl) return Finish(comm, name, InvalidArgument("request is NULL"));
    return COLL_ERR_INVALID_ARGUMENT;
  }
  *request = nullptr;
  if (comm == nullptr || !comm->impl) return COLL_ERR_INVALID_ARGUMENT;
  std::unique_ptr<Operation> op;
  Status st = Prepare(comm, checks, build, &op);
  if (!st.ok()) return Finish(comm, name, st);
  return Finish(comm, name, Guard([&] {
    std::shared_ptr<Request> state;
    COLL_RETURN_IF_ERROR(comm->queue->post(std::move(op), name, &state));
    *request = new coll_request{std::move(state)};
    return Status::OK();
  }));
}

// The outcome of a finished request; frees it. Its error (already the communicator's last
// error) is also this thread's, for when the communicator is gone.
coll_status_t Retire(coll_request_t* request) {
  Status st = (*request)->state->status();
  if (!st.ok())
    t_init_error = StrFormat("%s: %s", (*request)->state->name(), st.message().c_str());
  delete *request;
  *request = nullptr;
  return st.code();
}

// A request argument error: this thread's last error (there may be no communicator to hold it).
coll_status_t RequestError(const Status& st) {
  t_init_error = st.message();
  return st.code();
}

coll_status_t CheckRequest(const char* fn, coll_request_t* request) {
  if (request == nullptr) return RequestError(InvalidArgument("%s: request is NULL", fn));
  if (*request == nullptr)
    return RequestError(InvalidArgument("%s: *request is NULL (already completed, or never posted)", fn));
  return COLL_SUCCESS;
}

// The communicator serves the CUDA device current on this thread, as NCCL's does: its NIC and
// progress thread are placed near that GPU (comm/progress_placement.h).
Status InitComm(coll_comm_t* out, int nranks, int rank, const UniqueId& id, Fd parked, const Config& env_config) {
  Config config = env_config;
  // Loading the driver (or finding there is none: a dlopen search of ~0.2 ms) is part of init,
  // so the first collective, which classifies its buffers through it, does not pay it.
  const cuda::CurrentGpu gpu = cuda::CurrentContextGpu(cuda::CudaDriverOnce());
  config.gpu_busid = gpu.pci_busid;
  if (gpu.ordinal >= 0)
    COLL_INFO(rank, "GPU: CUDA device %d (pci %s), current at init", gpu.ordinal, gpu.pci_busid.c_str());
  else
    COLL_INFO(rank, "GPU: none (%s): placing by the process's cores", gpu.why.c_str());
  std::unique_ptr<Communicator> impl;
  COLL_RETURN_IF_ERROR(Communicator::Create(nranks, rank, id, std::move(parked), config, &impl));
  auto queue = std::make_unique<OperationQueue>(*impl);
  *out = new coll_comm{std::move(impl), std::move(queue)};
  return Status::OK();
}

Status ReadRankSize(int* rank, int* nranks) {
  const char* pairs[][2] = {{"COLL_RANK", "COLL_SIZE"},
                            {"OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"},
                            {"PMI_RANK", "PMI_SIZE"}};
  for (auto& p : pairs) {
    const char* r = std::getenv(p[0]);
    const char* n = std::getenv(p[1]);
    if (r == nullptr || n == nullptr) continue;
    char* end1 = nullptr;
    char* end2 = nullptr;
    long rv = std::strtol(r, &end1, 10), nv = std::strtol(n, &end2, 10);
    if (*r == '\0' || *end1 != '\0' || *n == '\0' || *end2 != '\0' || nv < 1 || nv > (1 << 20) || rv < 0 || rv >= nv)
      return InvalidArgument("%s=%s / %s=%s is not a rank in [0, size)", p[0], r, p[1], n);
    *rank = static_cast<int>(rv);
    *nranks = static_cast<int>(nv);
    return Status::OK();
  }
  return InvalidArgument("set COLL_RANK and COLL_SIZE (or launch with mpirun / a PMI launcher)");
}

Status InitEnv(coll_comm_t* out) {
  Config config;
  COLL_RETURN_IF_ERROR(ConfigFromEnv(&config));
  int rank = 0, nranks = 0;
  COLL_RETURN_IF_ERROR(ReadRankSize(&rank, &nranks));
  const char* root = std::getenv("COLL_ROOT_ADDR");
  if (root == nullptr || *root == '\0')
    return InvalidArgument("COLL_ROOT_ADDR is not set: give every rank host:port where rank 0 listens");
  UniqueId id;
  COLL_RETURN_IF_ERROR(ParseHostPort(root, &id.root).withContext("COLL_ROOT_ADDR: "));
  if (id.root.port() == 0)  // a port the OS would pick: the other ranks could never find it
    return InvalidArgument("COLL_ROOT_ADDR: '%s': the port must be a number from 1 to 65535, got '0'", root);
  COLL_RETURN_IF_ERROR(EnvJobToken(config, root, nranks, rank == 0, &id.token));
  return InitComm(out, nranks, rank, id, Fd(), config);
}

}  // namespace
}  // namespace coll

using namespace coll;

extern "C" {

const char* coll_status_string(coll_status_t status) {
  switch (status) {
    case COLL_SUCCESS: return "success";
    case COLL_ERR_INVALID_ARGUMENT: return "invalid argument";
    case COLL_ERR_MISMATCH: return "collective mismatch between ranks";
    case COLL_ERR_TIMEOUT: return "timed out";
    case COLL_ERR_PEER_LOST: return "peer lost";
    case COLL_ERR_SYSTEM: return "system error";
    case COLL_ERR_UNSUPPORTED: return "unsupported";
    case COLL_ERR_AUTH: return "authentication failed";
    case COLL_ERR_ABORTED: return "aborted";
    case COLL_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}

const char* coll_comm_last_error(coll_comm_t comm) {
  if (comm == nullptr || !comm->impl) return t_init_error.c_str();
  return comm->impl->lastError();
}

coll_status_t coll_get_unique_id(coll_unique_id_t* id) {
  if (id == nullptr) return InitError(InvalidArgument("coll_get_unique_id: id is NULL"));
  return InitError(Guard([&] {
    Config config;
    COLL_RETURN_IF_ERROR(ConfigFromEnv(&config));
    return NewUniqueId(config, id).withContext("coll_get_unique_id: ");
  }));
}

coll_status_t coll_comm_init(coll_comm_t* comm, int nranks, int rank, const coll_unique_id_t* id) {
  if (comm == nullptr) return InitError(InvalidArgument("coll_comm_init: comm is NULL"));
  *comm = nullptr;
  if (id == nullptr) return InitError(InvalidArgument("coll_comm_init: id is NULL"));
  if (nranks < 1) return InitError(InvalidArgument("coll_comm_init: nranks %d must be at least 1", nranks));
  if (rank < 0 || rank >= nranks)
    return InitError(InvalidArgument("coll_comm_init: rank %d is out of range for %d ranks", rank, nranks));
  return InitError(Guard([&] {
    Config config;
    COLL_RETURN_IF_ERROR(ConfigFromEnv(&config));
    UniqueId uid;
    COLL_RETURN_IF_ERROR(DecodeUniqueId(id, &uid));
    Fd parked = rank == 0 ? TakeParkedListener(uid.token) : Fd();
    return InitComm(comm, nranks, rank, uid, std::move(parked), config)
        .withContext(StrFormat("coll_comm_init (rank %d of %d): ", rank, nranks));
  }));
}

coll_status_t coll_comm_init_env(coll_comm_t* comm) {
  if (comm == nullptr) return InitError(InvalidArgument("coll_comm_init_env: comm is NULL"));
  *comm = nullptr;
  return InitError(Guard([&] { return InitEnv(comm).withContext("coll_comm_init_env: "); }));
}

coll_status_t coll_comm_destroy(coll_comm_t comm) {
  if (comm == nullptr) return COLL_ERR_INVALID_ARGUMENT;
  delete comm;  // the queue first: it aborts and completes any outstanding requests
  return COLL_SUCCESS;
}

coll_status_t coll_comm_abort(coll_comm_t comm) {
  if (comm == nullptr || !comm->impl) return COLL_ERR_INVALID_ARGUMENT;
  comm->impl->abort();
  return COLL_SUCCESS;
}

coll_status_t coll_comm_rank(coll_comm_t comm, int* rank) {
  if (comm == nullptr || rank == nullptr) return COLL_ERR_INVALID_ARGUMENT;
  *rank = comm->impl->rank();
  return COLL_SUCCESS;
}

coll_status_t coll_comm_size(coll_comm_t comm, int* nranks) {
  if (comm == nullptr || nranks == nullptr) return COLL_ERR_INVALID_ARGUMENT;
  *nranks = comm->impl->nranks();
  return COLL_SUCCESS;
}

coll_status_t coll_allreduce(const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype, coll_op_t op,
                             coll_comm_t comm) {
  return Collective(comm, "allreduce", AllreduceChecks(sendbuf, recvbuf, count, dtype, op),
                    AllreduceBuild(sendbuf, recvbuf, count, dtype, op));
}

coll_status_t coll_iallreduce(const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype, coll_op_t op,
                              coll_comm_t comm, coll_request_t* request) {
  return PostCollective(comm, "iallreduce", request, AllreduceChecks(sendbuf, recvbuf, count, dtype, op),
                        AllreduceBuild(sendbuf, recvbuf, count, dtype, op));
}

coll_status_t coll_broadcast(const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype, int root,
                             coll_comm_t comm) {
  return Collective(comm, "broadcast", BroadcastChecks(sendbuf, recvbuf, count, dtype, root),
                    BroadcastBuild(sendbuf, recvbuf, count, dtype, root));
}

coll_status_t coll_ibroadcast(const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype, int root,
                              coll_comm_t comm, coll_request_t* request) {
  return PostCollective(comm, "ibroadcast", request, BroadcastChecks(sendbuf, recvbuf, count, dtype, root),
                        BroadcastBuild(sendbuf, recvbuf, count, dtype, root));
}

coll_status_t coll_allgather(const void* sendbuf, void* recvbuf, size_t sendcount, coll_dtype_t dtype,
                             coll_comm_t comm) {
  return Collective(comm, "allgather", AllgatherChecks(sendbuf, recvbuf, sendcount, dtype),
                    AllgatherBuild(sendbuf, recvbuf, sendcount, dtype));
}

coll_status_t coll_iallgather(const void* sendbuf, void* recvbuf, size_t sendcount, coll_dtype_t dtype,
                              coll_comm_t comm, coll_request_t* request) {
  return PostCollective(comm, "iallgather", request, AllgatherChecks(sendbuf, recvbuf, sendcount, dtype),
                        AllgatherBuild(sendbuf, recvbuf, sendcount, dtype));
}

coll_status_t coll_reduce_scatter(const void* sendbuf, void* recvbuf, size_t recvcount, coll_dtype_t dtype,
                                  coll_op_t op, coll_comm_t comm) {
  return Collective(comm, "reduce_scatter", ReduceScatterChecks(sendbuf, recvbuf, recvcount, dtype, op),
                    ReduceScatterBuild(sendbuf, recvbuf, recvcount, dtype, op));
}

coll_status_t coll_ireduce_scatter(const void* sendbuf, void* recvbuf, size_t recvcount, coll_dtype_t dtype,
                                   coll_op_t op, coll_comm_t comm, coll_request_t* request) {
  return PostCollective(comm, "ireduce_scatter", request, ReduceScatterChecks(sendbuf, recvbuf, recvcount, dtype, op),
                        ReduceScatterBuild(sendbuf, recvbuf, recvcount, dtype, op));
}

coll_status_t coll_reduce(const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype, coll_op_t op, int root,
                          coll_comm_t comm) {
  return Collective(comm, "reduce", ReduceChecks(sendbuf, recvbuf, count, dtype, op, root),
                    ReduceBuild(sendbuf, recvbuf, count, dtype, op, root));
}

coll_status_t coll_ireduce(const void* sendbuf, void* recvbuf, size_t count, coll_dtype_t dtype, coll_op_t op,
                           int root, coll_comm_t comm, coll_request_t* request) {
  return PostCollective(comm, "ireduce", request, ReduceChecks(sendbuf, recvbuf, count, dtype, op, root),
                        ReduceBuild(sendbuf, recvbuf, count, dtype, op, root));
}

coll_status_t coll_barrier(coll_comm_t comm) {
  return Collective(comm, "barrier", NoChecks, [](Operation& o) { Barrier(o); });
}

coll_status_t coll_ibarrier(coll_comm_t comm, coll_request_t* request) {
  return PostCollective(comm, "ibarrier", request, NoChecks, [](Operation& o) { Barrier(o); });
}

coll_status_t coll_test(coll_request_t* request, int* done) {
  if (done == nullptr) return RequestError(InvalidArgument("coll_test: done is NULL"));
  *done = 0;
  if (coll_status_t st = CheckRequest("coll_test", request); st != COLL_SUCCESS) return st;
  if (!(*request)->state->done()) return COLL_SUCCESS;
  *done = 1;
  return Retire(request);
}

coll_status_t coll_wait(coll_request_t* request) {
  if (coll_status_t st = CheckRequest("coll_wait", request); st != COLL_SUCCESS) return st;
  (*request)->state->wait();
  return Retire(request);
}

coll_status_t coll_comm_last_op_info(coll_comm_t comm, coll_op_info_t* info) {
  if (comm == nullptr || info == nullptr || info->struct_size < sizeof(coll_op_info_t))
    return COLL_ERR_INVALID_ARGUMENT;
  info->algorithm = comm->impl->last_op.algorithm;
  info->transport = comm->impl->last_op.transport;
  info->chunk_bytes = comm->impl->last_op.chunk_bytes;
  return COLL_SUCCESS;
}

size_t coll_dtype_size(coll_dtype_t dtype) { return IsValidDtype(RawEnum(dtype)) ? DtypeSize(dtype) : 0; }

}  // extern "C"
