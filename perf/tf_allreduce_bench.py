#!/usr/bin/env python3
"""perf/tf_allreduce_bench.py: float32 sum allreduce from TensorFlow, three ways, in one run:

  op    collective.tensorflow.allreduce (eager, through the background thread)
  capi  coll_allreduce on its own libcollective communicator (ctypes, numpy buffers)
  mwms  MultiWorkerMirroredStrategy's all_reduce (TF collective ops, RING over gRPC)

plus 200 allreduces of 16 KiB in one tf.function (fused) against one allreduce of 3.2 MB.
Launch with the launcher (or mpirun with COLL_ROOT_ADDR set):

  .venv/bin/python -m collective.run -np 2 .venv/bin/python perf/tf_allreduce_bench.py --json out/tf.json
  COLL_TRANSPORT=tcp ... (TCP loopback instead of shared memory for op and capi)

Rank 0 prints the table (time per call, busbw = 2(n-1)/n * bytes / time, as nccl-tests) and
writes JSON. MWMS listens on ports COLL_ROOT_ADDR's port + 1 + rank (--mwms-port to move them).
"""
import argparse
import ctypes
import json
import os
import sys
import time

import numpy as np


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--min-bytes", type=int, default=4 << 10)
    p.add_argument("--max-bytes", type=int, default=256 << 20)
    p.add_argument("--seconds", type=float, default=0.5, help="time per size and method, about")
    p.add_argument("--methods", default="op,capi,mwms")
    p.add_argument("--mwms-port", type=int, default=0, help="first MWMS port (default root port + 1)")
    p.add_argument("--json", help="write the results here (rank 0)")
    return p.parse_args()


def sizes(lo, hi):
    s = lo
    while s <= hi:
        yield s
        s *= 4


def make_mwms(rank, n, port0):
    import tensorflow as tf
    workers = ["127.0.0.1:%d" % (port0 + r) for r in range(n)]
    os.environ["TF_CONFIG"] = json.dumps({"cluster": {"worker": workers},
                                          "task": {"type": "worker", "index": rank}})
    opts = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING)
    return tf.distribute.MultiWorkerMirroredStrategy(communication_options=opts)


def iterations(nbytes, seconds, busbw_guess=1e9):
    return int(max(3, min(1000, seconds * busbw_guess / max(nbytes, 1))))


def timed(fn, iters):
    fn()  # warm-up (and tf.function tracing)
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    return (time.perf_counter() - start) / iters


def capi_comm(ct, lib, tf):
    """A second communicator for the C API, its unique id broadcast through the op."""
    uid = (ctypes.c_char * 128)()
    if ct.rank() == 0 and lib.coll_get_unique_id(uid) != 0:
        sys.exit("coll_get_unique_id: " + lib.coll_comm_last_error(None).decode())
    raw = np.frombuffer(bytes(uid), np.uint8)
    raw = ct.broadcast(tf.constant(raw), 0, name="bench_unique_id").numpy()
    ctypes.memmove(uid, raw.tobytes(), 128)
    comm = ctypes.c_void_p()
    if lib.coll_comm_init(ctypes.byref(comm), ct.size(), ct.rank(), uid) != 0:
        sys.exit("coll_comm_init: " + lib.coll_comm_last_error(None).decode())
    return comm


def main():
    args = parse_args()
    rank, n = int(os.environ.get("COLL_RANK", "0")), int(os.environ.get("COLL_SIZE", "1"))
    methods = args.methods.split(",")
    root_port = int(os.environ.get("COLL_ROOT_ADDR", "127.0.0.1:29500").rsplit(":", 1)[1])
    strategy = make_mwms(rank, n, args.mwms_port or root_port + 1) if "mwms" in methods else None

    import tensorflow as tf
    import collective.tensorflow as ct
    ct.init()
    lib = ctypes.CDLL(os.path.join(os.path.dirname(ct.__file__), "libcollective.so.0"))
    lib.coll_comm_last_error.restype = ctypes.c_char_p
    lib.coll_allreduce.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
                                   ctypes.c_int, ctypes.c_int, ctypes.c_void_p]
    comm = capi_comm(ct, lib, tf) if "capi" in methods else None
    COLL_FLOAT32, COLL_SUM = 8, 0

    rows = []
    for nbytes in sizes(args.min_bytes, args.max_bytes):
        count = nbytes // 4
        iters = iterations(nbytes, args.seconds)
        row = {"bytes": nbytes, "iters": iters}
        x = tf.ones([count], tf.float32)
        if "op" in methods:
            before = ct.stats()
            row["op_s"] = timed(lambda: ct.allreduce(x, op=ct.Sum, name="bench"), iters)
            after = ct.stats()
            # Where one call's time goes: queued before its round, coordinating, in the library.
            for k in ("queued_s", "exchange_s", "execute_s"):
                row["op_" + k] = (after[k] - before[k]) / (iters + 1)
            row["op_rounds"] = (after["rounds"] - before["rounds"]) / (iters + 1)
        if "capi" in methods:
            src = np.ones(count, np.float32)
            dst = np.empty_like(src)

            def call():
                st = lib.coll_allreduce(src.ctypes.data, dst.ctypes.data, count, COLL_FLOAT32,
                                        COLL_SUM, comm)
                if st != 0:
                    sys.exit("coll_allreduce: " + lib.coll_comm_last_error(comm).decode())
            row["capi_s"] = timed(call, iters)
        if strategy is not None:
            def replica_fn(t):
                # all_reduce needs a tensor placed on the worker's device.
                with tf.device(strategy.extended.worker_devices[0]):
                    t = tf.identity(t)
                return tf.distribute.get_replica_context().all_reduce(
                    tf.distribute.ReduceOp.SUM, t)
            mwms_step = tf.function(lambda v: strategy.run(replica_fn, args=(v,)))
            per_replica = strategy.experimental_distribute_values_from_function(lambda _: x)
            row["mwms_s"] = timed(lambda: mwms_step(per_replica), max(3, iters // 4))
        del x
        factor = 2.0 * (n - 1) / n if n > 1 else 1.0
        for m in ("op", "capi", "mwms"):
            if m + "_s" in row:
                row[m + "_busbw_GBs"] = factor * nbytes / row[m + "_s"] / 1e9
        rows.append(row)
        if rank == 0:
            print(" ".join("%s=%.4g" % kv for kv in row.items()), flush=True)

    fusion = {}
    if "op" in methods:
        small = [tf.ones([4096], tf.float32) * i for i in range(200)]
        big = tf.ones([200 * 4096], tf.float32)
        fused = tf.function(lambda ts: [ct.allreduce(t, op=ct.Sum) for t in ts])
        one = tf.function(lambda t: ct.allreduce(t, op=ct.Sum))
        before = ct.stats()
        fusion = {"tensors": 200, "tensor_bytes": 16384, "fused_s": timed(lambda: fused(small), 20)}
        after = ct.stats()
        for k in ("rounds", "busy_rounds", "collectives"):  # per call of the 200
            fusion[k] = (after[k] - before[k]) / 21
        for k in ("queued_s", "exchange_s", "execute_s"):  # per tensor, queued; per call, others
            fusion[k] = (after[k] - before[k]) / 21 / (200 if k == "queued_s" else 1)
        fusion["one_s"] = timed(lambda: one(big), 20)
        fusion["ratio"] = fusion["fused_s"] / fusion["one_s"]
        if rank == 0:
            print(" ".join("%s=%.4g" % kv for kv in fusion.items()), flush=True)

    if rank == 0:
        transport = os.environ.get("COLL_TRANSPORT", "auto")
        print("\nTF allreduce, float32 sum, %d ranks, COLL_TRANSPORT=%s, busbw GB/s" % (n, transport))
        print("%12s %10s %10s %10s %10s %10s" % ("bytes", "op", "capi", "op/capi", "mwms", "op/mwms"))
        for r in rows:
            op, capi, mw = (r.get(k + "_busbw_GBs", float("nan")) for k in ("op", "capi", "mwms"))
            print("%12d %10.3f %10.3f %10.2f %10.3f %10.2f" % (r["bytes"], op, capi, op / capi, mw, op / mw))
        if fusion:
            print("\n200 x 16 KiB fused: %.3f ms; one 3.2 MB allreduce: %.3f ms; ratio %.2f"
                  % (fusion["fused_s"] * 1e3, fusion["one_s"] * 1e3, fusion["ratio"]))
        if args.json:
            os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
            with open(args.json, "w") as f:
                json.dump({"ranks": n, "transport": transport, "rows": rows, "fusion": fusion}, f,
                          indent=1)
    if comm is not None:
        lib.coll_comm_destroy(comm)


if __name__ == "__main__":
    main()
