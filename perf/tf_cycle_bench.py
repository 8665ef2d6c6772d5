#!/usr/bin/env python3
"""perf/tf_cycle_bench.py: what COLL_TF_CYCLE_MS costs and buys, on N ranks (run once per value):

  late     a rank submits an allreduce 3-13 ms after the others (a slow rank): the time from its
           submission to its result (the others have been waiting, cycling every COLL_TF_CYCLE_MS)
  cpu      CPU time per wall second of rank 0 while it waits for that late rank
  eager    one 4 KiB allreduce, all ranks submitting together (eager, one at a time)
  fused    200 allreduces of 16 KiB in one tf.function

  for c in 0.5 1 2 5; do COLL_TF_CYCLE_MS=$c .venv/bin/python -m collective.run -np 2 \\
      .venv/bin/python perf/tf_cycle_bench.py; done

Rank 0 prints one line per run (milliseconds; cpu in cores).
"""
import json
import os
import random
import resource
import time


def cpu_seconds():
    u = resource.getrusage(resource.RUSAGE_SELF)
    return u.ru_utime + u.ru_stime


def main():
    import tensorflow as tf
    import collective.tensorflow as ct
    ct.init()
    r, n = ct.rank(), ct.size()
    x = tf.ones([1024], tf.float32)
    for _ in range(20):  # warm-up
        ct.allreduce(x, op=ct.Sum, name="warm")

    late_rank = n - 1
    rng = random.Random(7)  # the same delays on every rank
    late, waiting_cpu, waiting_wall = [], 0.0, 0.0
    for i in range(40):
        delay = rng.uniform(0.003, 0.013)
        if r == late_rank:
            time.sleep(delay)
            t = time.perf_counter()
            ct.allreduce(x, op=ct.Sum, name="late")
            late.append(time.perf_counter() - t)
        else:
            c, t = cpu_seconds(), time.perf_counter()
            ct.allreduce(x, op=ct.Sum, name="late")
            waiting_cpu += cpu_seconds() - c
            waiting_wall += time.perf_counter() - t
    late_ms = sorted(late)[len(late) // 2] * 1e3 if late else 0.0
    late_ms = float(ct.allreduce(tf.constant(late_ms, tf.float64), op=ct.Max, name="late_ms"))

    t = time.perf_counter()
    for _ in range(200):
        ct.allreduce(x, op=ct.Sum, name="eager")
    eager_ms = (time.perf_counter() - t) / 200 * 1e3

    small = [tf.ones([4096], tf.float32) * i for i in range(200)]
    fused = tf.function(lambda ts: [ct.allreduce(v, op=ct.Sum) for v in ts])
    fused(small)
    t = time.perf_counter()
    for _ in range(10):
        fused(small)
    fused_ms = (time.perf_counter() - t) / 10 * 1e3

    if r == 0:
        load = os.getloadavg()[0]
        print(json.dumps({"cycle_ms": float(os.environ.get("COLL_TF_CYCLE_MS", "nan")), "ranks": n,
                          "late_median_ms": round(late_ms, 3),
                          "waiting_cpu_cores": round(waiting_cpu / max(waiting_wall, 1e-9), 3),
                          "eager_4KiB_ms": round(eager_ms, 3), "fused_200x16KiB_ms": round(fused_ms, 2),
                          "load_avg_1min": load}), flush=True)


if __name__ == "__main__":
    main()
