/* Header-only MPI bootstrap for libcollective: MPI moves only the 128-byte unique id.
 * libcollective itself never links MPI; the program including this header does. */
#ifndef COLLECTIVE_MPI_H_
#define COLLECTIVE_MPI_H_

#include <mpi.h>

#include "collective.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Collective over comm: rank 0 of comm makes the id, MPI_Bcast gives it to all, and each
 * process calls coll_comm_init with its MPI rank. Every rank returns the same status when
 * the id cannot be made (the failure is broadcast with it). */
static inline coll_status_t coll_comm_init_mpi(coll_comm_t* out, MPI_Comm comm) {
  int rank = 0, nranks = 0;
  if (MPI_Comm_rank(comm, &rank) != MPI_SUCCESS || MPI_Comm_size(comm, &nranks) != MPI_SUCCESS)
    return COLL_ERR_INVALID_ARGUMENT;
  struct {
    int status;
    coll_unique_id_t id;
  } msg;
  msg.status = COLL_SUCCESS;
  if (rank == 0) msg.status = (int)coll_get_unique_id(&msg.id);
  if (MPI_Bcast(&msg, (int)sizeof msg, MPI_BYTE, 0, comm) != MPI_SUCCESS) return COLL_ERR_SYSTEM;
  if (msg.status != COLL_SUCCESS) return (coll_status_t)msg.status;
  return coll_comm_init(out, nranks, rank, &msg.id);
}

#ifdef __cplusplus
}
#endif

#endif /* COLLECTIVE_MPI_H_ */
