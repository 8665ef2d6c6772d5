/* Compiles collective.h as C99 (-pedantic) and calls every function of the API on a
 * 1-rank communicator in this one process (via coll_get_unique_id and via the environment),
 * checking results. Exit 0 on success; prints the failed check otherwise. */
#define _POSIX_C_SOURCE 200112L

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collective.h"

static int failures = 0;

#define EXPECT(cond)                                                       \
  do {                                                                     \
    if (!(cond)) {                                                         \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      ++failures;                                                          \
    }                                                                      \
  } while (0)

#define EXPECT_OK(expr, comm)                                                    \
  do {                                                                           \
    coll_status_t s_ = (expr);                                                   \
    if (s_ != COLL_SUCCESS) {                                                    \
      fprintf(stderr, "%s:%d: %s returned %s: %s\n", __FILE__, __LINE__, #expr,  \
              coll_status_string(s_), coll_comm_last_error(comm));               \
      ++failures;                                                                \
    }                                                                            \
  } while (0)

static void CheckStrings(void) {
  int s;
  for (s = COLL_SUCCESS; s <= COLL_ERR_INTERNAL; ++s) {
    const char* text = coll_status_string((coll_status_t)s);
    EXPECT(text != NULL && text[0] != '\0');
  }
  EXPECT(coll_status_string((coll_status_t)1000) != NULL);
  EXPECT(coll_comm_last_error(NULL) != NULL);
}

static void CheckDtypeSizes(void) {
  EXPECT(coll_dtype_size(COLL_INT8) == 1 && coll_dtype_size(COLL_UINT8) == 1);
  EXPECT(coll_dtype_size(COLL_INT32) == 4 && coll_dtype_size(COLL_UINT32) == 4);
  EXPECT(coll_dtype_size(COLL_INT64) == 8 && coll_dtype_size(COLL_UINT64) == 8);
  EXPECT(coll_dtype_size(COLL_FLOAT16) == 2 && coll_dtype_size(COLL_BFLOAT16) == 2);
  EXPECT(coll_dtype_size(COLL_FLOAT32) == 4 && coll_dtype_size(COLL_FLOAT64) == 8);
  EXPECT(coll_dtype_size((coll_dtype_t)99) == 0);
}

static void CheckCollectives(coll_comm_t comm) {
  float send[4] = {1.5f, -2.0f, 3.0f, 4.0f};
  float recv[4] = {0, 0, 0, 0};
  int i;
  EXPECT_OK(coll_allreduce(send, recv, 4, COLL_FLOAT32, COLL_SUM, comm), comm);
  for (i = 0; i < 4; ++i) EXPECT(recv[i] == send[i]);
  EXPECT_OK(coll_allreduce(send, send, 4, COLL_FLOAT32, COLL_AVG, comm), comm);
  EXPECT(send[0] == 1.5f);
  memset(recv, 0, sizeof(recv));
  EXPECT_OK(coll_broadcast(send, recv, 4, COLL_FLOAT32, 0, comm), comm);
  EXPECT(recv[1] == -2.0f);
  memset(recv, 0, sizeof(recv));
  EXPECT_OK(coll_allgather(send, recv, 4, COLL_FLOAT32, comm), comm);
  EXPECT(recv[3] == 4.0f);
  memset(recv, 0, sizeof(recv));
  EXPECT_OK(coll_reduce_scatter(send, recv, 4, COLL_FLOAT32, COLL_MAX, comm), comm);
  EXPECT(recv[2] == 3.0f);
  memset(recv, 0, sizeof(recv));
  EXPECT_OK(coll_reduce(send, recv, 4, COLL_FLOAT32, COLL_MIN, 0, comm), comm);
  EXPECT(recv[0] == 1.5f);
  EXPECT_OK(coll_barrier(comm), comm);
  EXPECT(coll_allreduce(send, recv, 4, (coll_dtype_t)99, COLL_SUM, comm) == COLL_ERR_INVALID_ARGUMENT);
  EXPECT(coll_comm_last_error(comm)[0] != '\0');
}

/* Every non-blocking call, completed by coll_wait and by coll_test. */
static void CheckNonBlocking(coll_comm_t comm) {
  float send[4] = {1.5f, -2.0f, 3.0f, 4.0f};
  float recv[6][4];
  coll_request_t req[6];
  int i, done = 0;
  memset(recv, 0, sizeof(recv));
  EXPECT_OK(coll_iallreduce(send, recv[0], 4, COLL_FLOAT32, COLL_SUM, comm, &req[0]), comm);
  EXPECT_OK(coll_ibroadcast(send, recv[1], 4, COLL_FLOAT32, 0, comm, &req[1]), comm);
  EXPECT_OK(coll_iallgather(send, recv[2], 4, COLL_FLOAT32, comm, &req[2]), comm);
  EXPECT_OK(coll_ireduce_scatter(send, recv[3], 4, COLL_FLOAT32, COLL_MAX, comm, &req[3]), comm);
  EXPECT_OK(coll_ireduce(send, recv[4], 4, COLL_FLOAT32, COLL_MIN, 0, comm, &req[4]), comm);
  EXPECT_OK(coll_ibarrier(comm, &req[5]), comm);
  for (i = 0; i < 5; ++i) {
    EXPECT_OK(coll_wait(&req[i]), comm);
    EXPECT(req[i] == NULL);
    EXPECT(recv[i][1] == -2.0f);
  }
  while (!done) EXPECT_OK(coll_test(&req[5], &done), comm);
  EXPECT(req[5] == NULL);
  EXPECT(coll_wait(&req[5]) == COLL_ERR_INVALID_ARGUMENT);
  EXPECT(coll_iallreduce(send, recv[0], 4, (coll_dtype_t)99, COLL_SUM, comm, &req[0]) ==
         COLL_ERR_INVALID_ARGUMENT);
  EXPECT(req[0] == NULL);
}

static void CheckComm(coll_comm_t comm) {
  int rank = -1;
  int size = -1;
  coll_op_info_t info = COLL_OP_INFO_INIT;
  EXPECT_OK(coll_comm_rank(comm, &rank), comm);
  EXPECT_OK(coll_comm_size(comm, &size), comm);
  EXPECT(rank == 0 && size == 1);
  EXPECT(coll_comm_last_error(comm) != NULL);
  CheckCollectives(comm);
  CheckNonBlocking(comm);
  EXPECT_OK(coll_comm_last_op_info(comm, &info), comm);
  EXPECT(info.algorithm != NULL && info.transport != NULL);
  if (info.transport != NULL) EXPECT(strcmp(info.transport, "none") == 0);
}

static int FreePort(void) {
  struct sockaddr_in addr;
  socklen_t len = sizeof(addr);
  int port = -1;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  memset(&addr, 0, sizeof(addr));
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd >= 0 && bind(fd, (struct sockaddr*)&addr, sizeof(addr)) == 0 &&
      getsockname(fd, (struct sockaddr*)&addr, &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) close(fd);
  return port;
}

static void CheckInitEnv(void) {
  char root[64];
  coll_comm_t comm = NULL;
  sprintf(root, "127.0.0.1:%d", FreePort());
  setenv("COLL_RANK", "0", 1);
  setenv("COLL_SIZE", "1", 1);
  setenv("COLL_ROOT_ADDR", root, 1);
  EXPECT_OK(coll_comm_init_env(&comm), NULL);
  if (comm == NULL) return;
  CheckComm(comm);
  EXPECT_OK(coll_comm_destroy(comm), NULL);
}

int main(void) {
  coll_unique_id_t id;
  coll_comm_t comm = NULL;
  float x = 1.0f;
  CheckStrings();
  CheckDtypeSizes();
  EXPECT_OK(coll_get_unique_id(&id), NULL);
  EXPECT_OK(coll_comm_init(&comm, 1, 0, &id), NULL);
  if (comm != NULL) {
    CheckComm(comm);
    EXPECT_OK(coll_comm_abort(comm), comm);
    EXPECT(coll_allreduce(&x, &x, 1, COLL_FLOAT32, COLL_SUM, comm) == COLL_ERR_ABORTED);
    EXPECT_OK(coll_comm_destroy(comm), NULL);
  }
  CheckInitEnv();
  if (failures != 0) fprintf(stderr, "%d check(s) failed\n", failures);
  return failures == 0 ? 0 : 1;
}
