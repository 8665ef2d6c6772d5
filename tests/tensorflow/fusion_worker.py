"""One rank of the no-fusion test (2 ranks, COLL_TF_FUSION_BYTES=0, launched by
test_binding.py): every tensor then runs as its own library allreduce, separate ops and a
grouped op alike, with the right values. Raises (exit 1) on the first wrong answer."""
import os

import numpy as np
import tensorflow as tf

import collective.tensorflow as ct


def check(cond, what):
    if not cond:
        raise AssertionError("rank %d: %s" % (ct.rank(), what))


def main():
    check(os.environ.get("COLL_TF_FUSION_BYTES") == "0", "run with COLL_TF_FUSION_BYTES=0")
    ct.init()
    n, r = ct.size(), ct.rank()
    xs = [tf.constant(np.full(100, float(i + r), np.float32)) for i in range(20)]
    before = ct.stats()
    outs = tf.function(lambda ts: [ct.allreduce(t, op=ct.Sum) for t in ts])(xs)
    outs += ct.grouped_allreduce(xs[:5], op=ct.Max)
    after = ct.stats()
    for i, o in enumerate(outs[:20]):
        check(np.array_equal(o.numpy(), np.full(100, float(n * i + sum(range(n))))),
              "allreduce %d: %s" % (i, o.numpy()[:3]))
    for i, o in enumerate(outs[20:]):
        check(np.array_equal(o.numpy(), np.full(100, float(i + n - 1))), "grouped %d" % i)
    calls = after["collectives"] - before["collectives"]
    print("no fusion: 25 allreduces of 400 B ran as %d collectives (fused: %d)"
          % (calls, after["fused"]))
    check(calls == 25 and after["fused"] == 0 and after["max_fused"] == 1,
          "COLL_TF_FUSION_BYTES=0 still fused: %s" % after)
    print("fusion_worker: all checks passed")


if __name__ == "__main__":
    main()
