/* libcollective — collective communication for distributed training.
 *
 * The whole public C API. Every function returns a coll_status_t; when it is not
 * COLL_SUCCESS, coll_comm_last_error(comm) holds one sentence naming the operation,
 * the peer rank and the cause. One thread at a time may post collectives on a communicator
 * (blocking or not); any thread may test or wait a request, and coll_comm_abort may be called
 * by any thread at any time.
 */
#ifndef COLLECTIVE_H_
#define COLLECTIVE_H_

#include <stddef.h>

#if defined(_WIN32)
#define COLL_API
#elif defined(COLL_BUILDING_LIBRARY)
#define COLL_API __attribute__((visibility("default")))
#else
#define COLL_API
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define COLL_VERSION_MAJOR 0
#define COLL_VERSION_MINOR 1
#define COLL_VERSION_PATCH 0

typedef enum {
  COLL_SUCCESS = 0,
  COLL_ERR_INVALID_ARGUMENT, /* bad argument; nothing was sent */
  COLL_ERR_MISMATCH,         /* ranks called different collectives / counts / types */
  COLL_ERR_TIMEOUT,          /* a wait passed COLL_TIMEOUT_MS */
  COLL_ERR_PEER_LOST,        /* a peer process died or its connection broke */
  COLL_ERR_SYSTEM,           /* the OS or a driver refused (errno in the message) */
  COLL_ERR_UNSUPPORTED,      /* valid request this build or machine cannot do */
  COLL_ERR_AUTH,             /* a connection did not prove the job's token */
  COLL_ERR_ABORTED,          /* coll_comm_abort was called */
  COLL_ERR_INTERNAL          /* a bug in libcollective: please report it */
} coll_status_t;

typedef enum {
  COLL_INT8,
  COLL_UINT8,
  COLL_INT32,
  COLL_UINT32,
  COLL_INT64,
  COLL_UINT64,
  COLL_FLOAT16,
  COLL_BFLOAT16,
  COLL_FLOAT32,
  COLL_FLOAT64
} coll_dtype_t;

typedef enum { COLL_SUM, COLL_PROD, COLL_MIN, COLL_MAX, COLL_AVG } coll_op_t;

typedef struct coll_comm* coll_comm_t;

/* A posted non-blocking collective; completed and freed by coll_test or coll_wait. */
typedef struct coll_request* coll_request_t;

/* Opaque: the root's bootstrap address and a random 128-bit job token. Copy it to every
 * rank by any means (MPI_Bcast, a file, an environment variable as hex). */
typedef struct {
  char bytes[128];
} coll_unique_id_t;

COLL_API const char* coll_status_string(coll_status_t status);

/* The last error of this communicator, one sentence. With a NULL comm: this thread's last
 * error from coll_get_unique_id / coll_comm_init*. Never NULL; "" when there was none. */
COLL_API const char* coll_comm_last_error(coll_comm_t comm);

/* Called once (usually by rank 0); starts listening for the job's bootstrap. */
COLL_API coll_status_t coll_get_unique_id(coll_unique_id_t* id);

/* Collective over all nranks processes: each calls it with its own rank and the same id. */
COLL_API coll_status_t coll_comm_init(coll_comm_t* comm, int nranks, int rank,
                                      const coll_unique_id_t* id);

/* Reads COLL_RANK, COLL_SIZE (falling back to OMPI_COMM_WORLD_RANK/_SIZE, then
 * PMI_RANK/PMI_SIZE) and COLL_ROOT_ADDR=host:port, where rank 0 listens. */
COLL_API coll_status_t coll_comm_init_env(coll_comm_t* comm);

/* Frees the communicator. Like free(), calling it twice on one handle, or using a handle
 * after it, is undefined behaviour (the handle's memory is gone). Requests still outstanding
 * are aborted (every rank's communicator fails with COLL_ERR_ABORTED) and complete with
 * COLL_ERR_ABORTED; their handles stay valid until coll_test / coll_wait frees them. */
COLL_API coll_status_t coll_comm_destroy(coll_comm_t comm);

/* Makes every pending and later call on comm return COLL_ERR_ABORTED, and completes every
 * queued or running request with it. Any thread. The communicator must still be destroyed. */
COLL_API coll_status_t coll_comm_abort(coll_comm_t comm);

COLL_API coll_status_t coll_comm_rank(coll_comm_t comm, int* rank);
COLL_API coll_status_t coll_comm_size(coll_comm_t comm, int* nranks);

/* Semantics follow NCCL: in place when sendbuf == recvbuf; count == 0 succeeds. */
COLL_API coll_status_t coll_allreduce(const void* sendbuf, void* recvbuf, size_t count,
                                      coll_dtype_t dtype, coll_op_t op, coll_comm_t comm);
/* sendbuf is read on root only; in place on root when sendbuf == recvbuf. */
COLL_API coll_status_t coll_broadcast(const void* sendbuf, void* recvbuf, size_t count,
                                      coll_dtype_t dtype, int root, coll_comm_t comm);
/* recvbuf holds nranks * sendcount elements, rank r's block at offset r * sendcount.
 * In place when sendbuf == recvbuf + rank * sendcount * size. */
COLL_API coll_status_t coll_allgather(const void* sendbuf, void* recvbuf, size_t sendcount,
                                      coll_dtype_t dtype, coll_comm_t comm);
/* sendbuf holds nranks * recvcount elements; rank r receives reduced block r.
 * In place when recvbuf == sendbuf + rank * recvcount * size. */
COLL_API coll_status_t coll_reduce_scatter(const void* sendbuf, void* recvbuf, size_t recvcount,
                                           coll_dtype_t dtype, coll_op_t op, coll_comm_t comm);
/* recvbuf is written on root only. */
COLL_API coll_status_t coll_reduce(const void* sendbuf, void* recvbuf, size_t count,
                                   coll_dtype_t dtype, coll_op_t op, int root, coll_comm_t comm);
COLL_API coll_status_t coll_barrier(coll_comm_t comm);

/* Non-blocking collectives: the same arguments and semantics as the blocking ones, plus a
 * request. They return at once; the communicator's progress thread runs them in posting
 * order (a blocking call posted meanwhile waits its turn). The buffers belong to the library
 * until the request completes. Argument errors are returned here (and *request is NULL);
 * errors of the run itself come from coll_test / coll_wait, with the same sentence in
 * coll_comm_last_error(comm). After a fatal error every queued request completes with it. */
COLL_API coll_status_t coll_iallreduce(const void* sendbuf, void* recvbuf, size_t count,
                                       coll_dtype_t dtype, coll_op_t op, coll_comm_t comm,
                                       coll_request_t* request);
COLL_API coll_status_t coll_ibroadcast(const void* sendbuf, void* recvbuf, size_t count,
                                       coll_dtype_t dtype, int root, coll_comm_t comm,
                                       coll_request_t* request);
COLL_API coll_status_t coll_iallgather(const void* sendbuf, void* recvbuf, size_t sendcount,
                                       coll_dtype_t dtype, coll_comm_t comm,
                                       coll_request_t* request);
COLL_API coll_status_t coll_ireduce_scatter(const void* sendbuf, void* recvbuf, size_t recvcount,
                                            coll_dtype_t dtype, coll_op_t op, coll_comm_t comm,
                                            coll_request_t* request);
COLL_API coll_status_t coll_ireduce(const void* sendbuf, void* recvbuf, size_t count,
                                    coll_dtype_t dtype, coll_op_t op, int root, coll_comm_t comm,
                                    coll_request_t* request);
COLL_API coll_status_t coll_ibarrier(coll_comm_t comm, coll_request_t* request);

/* Sets *done to 1 when the request has completed: then frees it, sets *request to NULL and
 * returns its status. Otherwise *done is 0 and it returns COLL_SUCCESS. Any thread. */
COLL_API coll_status_t coll_test(coll_request_t* request, int* done);
/* Waits for the request (spinning COLL_SPIN_US, then sleeping), frees it, sets *request to
 * NULL and returns its status. Any thread. When the communicator is already destroyed, the
 * request's sentence is in coll_comm_last_error(NULL) on the waiting thread. */
COLL_API coll_status_t coll_wait(coll_request_t* request);

/* The collective this communicator last started, for benchmarks and logs. Recorded before
 * the collective runs, so after a failed call it describes that call.
 * Can grow: set struct_size (COLL_OP_INFO_INIT does); strings live as long as comm. */
typedef struct {
  size_t struct_size;
  const char* algorithm; /* "ring", "allgather_reduce", "chain", "local" (1 rank) */
  const char* transport; /* "tcp", "shm", "ibverbs", "tcp+shm" (mixed ring), "none" (1 rank) */
  size_t chunk_bytes;    /* the slot size (COLL_CHUNK_BYTES); a chunk may be smaller */
} coll_op_info_t;
#define COLL_OP_INFO_INIT {sizeof(coll_op_info_t), NULL, NULL, 0}
COLL_API coll_status_t coll_comm_last_op_info(coll_comm_t comm, coll_op_info_t* info);

/* Size in bytes of one element of dtype; 0 for an unknown dtype. */
COLL_API size_t coll_dtype_size(coll_dtype_t dtype);

#ifdef __cplusplus
}
#endif

#endif /* COLLECTIVE_H_ */
