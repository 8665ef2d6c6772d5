/* A trainer-shaped example: every rank computes a "gradient", averages it across ranks
 * with coll_allreduce(COLL_AVG, fp32) in place, and rank 0 prints one line per step.
 * Launch N copies with COLL_RANK, COLL_SIZE and COLL_ROOT_ADDR=host:port set (or mpirun). */
#include <stdio.h>
#include <stdlib.h>

#include "collective.h"

#define GRADIENT_SIZE 4096
#define STEPS 5

static int Check(coll_status_t status, coll_comm_t comm, const char* what) {
  if (status == COLL_SUCCESS) return 0;
  fprintf(stderr, "trainer: %s failed: %s: %s\n", what, coll_status_string(status),
          coll_comm_last_error(comm));
  return 1;
}

/* Rank r's gradient at step s: element i is r + s + i % 7, so the average is exact. */
static void ComputeGradient(float* grad, int rank, int step) {
  int i;
  for (i = 0; i < GRADIENT_SIZE; ++i) grad[i] = (float)(rank + step + i % 7);
}

static int Train(coll_comm_t comm, int rank, int nranks) {
  static float grad[GRADIENT_SIZE];
  float expected0;
  int step;
  for (step = 0; step < STEPS; ++step) {
    ComputeGradient(grad, rank, step);
    if (Check(coll_allreduce(grad, grad, GRADIENT_SIZE, COLL_FLOAT32, COLL_AVG, comm), comm,
              "allreduce")) {
      return 1;
    }
    expected0 = (float)(nranks - 1) / 2.0f + (float)step;
    if (grad[0] != expected0) {
      fprintf(stderr, "trainer: rank %d step %d: grad[0] = %g, expected %g\n", rank, step,
              grad[0], expected0);
      return 1;
    }
    if (rank == 0) printf("step %d: mean gradient[0] = %g over %d ranks\n", step, grad[0], nranks);
  }
  return 0;
}

int main(void) {
  coll_comm_t comm = NULL;
  int rank = 0;
  int nranks = 0;
  int failed;
  if (Check(coll_comm_init_env(&comm), NULL, "coll_comm_init_env")) return 1;
  failed = Check(coll_comm_rank(comm, &rank), comm, "coll_comm_rank") ||
           Check(coll_comm_size(comm, &nranks), comm, "coll_comm_size") ||
           Train(comm, rank, nranks);
  if (Check(coll_comm_destroy(comm), NULL, "coll_comm_destroy")) failed = 1;
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
