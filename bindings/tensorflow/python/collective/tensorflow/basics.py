"""Loading the op library, init/shutdown and the job's shape (through ctypes on the same .so)."""
import atexit
import ctypes
import os

import tensorflow as tf

# Reduce operations; the values are libcollective's coll_op_t.
Sum, Product, Min, Max, Average = 0, 1, 2, 3, 4

_LIB_PATH = os.path.join(os.path.dirname(__file__), "_collective_ops.so")
ops_module = tf.load_op_library(_LIB_PATH)
_lib = ctypes.CDLL(_LIB_PATH)
_lib.coll_tf_init.restype = ctypes.c_int
_lib.coll_tf_init_error.restype = ctypes.c_char_p
_lib.coll_tf_topology.argtypes = [ctypes.POINTER(ctypes.c_int)]
_lib.coll_tf_stats.argtypes = [ctypes.POINTER(ctypes.c_int64)]

_STATUS = ["success", "invalid argument", "mismatch", "timeout", "peer lost", "system error",
           "unsupported", "authentication failed", "aborted", "internal error"]


def init():
    """Joins the job described by COLL_RANK/COLL_SIZE/COLL_ROOT_ADDR (or mpirun's variables),
    as coll_comm_init_env does, and starts the background thread. Idempotent."""
    st = _lib.coll_tf_init()
    if st != 0:
        why = _lib.coll_tf_init_error().decode(errors="replace")
        name = _STATUS[st] if st < len(_STATUS) else str(st)
        raise RuntimeError("collective.tensorflow.init failed (%s): %s" % (name, why))


def shutdown():
    """Stops the background thread on every rank (pending collectives fail) and destroys the
    communicator. Called at exit; after it, collectives raise FailedPreconditionError."""
    _lib.coll_tf_shutdown()


atexit.register(shutdown)


def _topology():
    out = (ctypes.c_int * 4)()
    _lib.coll_tf_topology(out)
    if out[0] < 0:
        raise ValueError("collective.tensorflow is not initialized: call collective.tensorflow.init() first")
    return list(out)


def is_initialized():
    out = (ctypes.c_int * 4)()
    _lib.coll_tf_topology(out)
    return out[0] >= 0


def rank():
    return _topology()[0]


def size():
    return _topology()[1]


def local_rank():
    return _topology()[2]


def local_size():
    return _topology()[3]


def stats():
    """Counters of the background thread: coordination rounds, data collectives, tensors they
    carried, collectives that fused more than one tensor, most tensors fused in one, rounds in
    which some rank announced something, and the seconds requests spent queued before their
    round (summed over requests), in coordination and in data collectives."""
    out = (ctypes.c_int64 * 9)()
    _lib.coll_tf_stats(out)
    counts = dict(zip(["rounds", "collectives", "tensors", "fused", "max_fused", "busy_rounds"],
                      out[:6]))
    counts.update(zip(["queued_s", "exchange_s", "execute_s"], (v * 1e-9 for v in out[6:])))
    return counts
