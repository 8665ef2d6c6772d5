"""One rank of the op tests (launched on 3 ranks by test_binding.py through collective.run):
every op x dtype x reduce op against numpy, grouped, broadcast from every root, allgather with
different first dimensions, reducescatter with even and uneven splits, gradients against their analytic values, order independence,
fusion, mismatches and a stall warning. Raises (exit 1) on the first wrong answer."""
import os
import sys
import threading
import time

import numpy as np
import tensorflow as tf

import collective.tensorflow as ct

DTYPES = [tf.float16, tf.bfloat16, tf.float32, tf.float64, tf.int32, tf.int64, tf.int8, tf.uint8]
OPS = {"Sum": ct.Sum, "Average": ct.Average, "Min": ct.Min, "Max": ct.Max, "Product": ct.Product}


def check(cond, what):
    if not cond:
        raise AssertionError("rank %d: %s" % (ct.rank(), what))


def close(got, want, dtype, what):
    got = tf.cast(got, tf.float64).numpy()
    tol = {tf.float16: 1e-3, tf.bfloat16: 8e-3, tf.float32: 1e-6}.get(dtype, 0.0)
    check(got.shape == np.shape(want), "%s: shape %s, want %s" % (what, got.shape, np.shape(want)))
    check(np.allclose(got, want, rtol=tol, atol=0), "%s: got %s, want %s" % (what, got, want))


def value(r, shape=(3, 4)):
    # Small positive integers: exact in every dtype, products of 3 ranks fit in int8.
    return (np.arange(np.prod(shape)).reshape(shape) % 3 + r % 2 + 1).astype(np.float64)


def reference(op, values):
    stack = np.stack(values)
    if op == "Sum":
        return stack.sum(0)
    if op == "Product":
        return stack.prod(0)
    if op == "Min":
        return stack.min(0)
    if op == "Max":
        return stack.max(0)
    return stack.sum(0) / len(values)


def expect_error(fn, error, words, what):
    start = time.monotonic()
    try:
        fn()
    except error as e:
        for w in words:
            check(w in e.message, "%s: message %r lacks %r" % (what, e.message, w))
        return time.monotonic() - start
    raise AssertionError("rank %d: %s: no %s" % (ct.rank(), what, error.__name__))


def test_not_initialized():
    expect_error(lambda: ct.allreduce(tf.ones([2])), tf.errors.FailedPreconditionError,
                 ["not initialized", "init()"], "allreduce before init")


def test_allreduce(n):
    values = [value(r) for r in range(n)]
    for dtype in DTYPES:
        for opname, op in OPS.items():
            want = reference(opname, values)
            if opname == "Average" and dtype.is_integer:
                want = np.trunc(want)
            got = ct.allreduce(tf.cast(values[ct.rank()], dtype), op=op)
            check(got.dtype == dtype, "allreduce %s dtype" % dtype.name)
            close(got, want, dtype, "allreduce %s %s" % (opname, dtype.name))
    # Inside a tf.function too, and an empty tensor.
    f = tf.function(lambda x: ct.allreduce(x, op=ct.Sum))
    close(f(tf.constant(values[ct.rank()], tf.float32)), reference("Sum", values), tf.float32,
          "allreduce in tf.function")
    close(ct.allreduce(tf.zeros([0, 3])), np.zeros([0, 3]), tf.float32, "empty allreduce")


def test_grouped(n):
    shapes = [(), (5,), (2, 3), (0,), (7,)]
    tensors = [tf.cast(value(ct.rank(), s), d)
               for s, d in zip(shapes, [tf.float32, tf.int32, tf.float64, tf.float32, tf.float16])]
    out = ct.grouped_allreduce(tensors, op=ct.Sum)
    check(len(out) == len(shapes), "grouped: %d outputs" % len(out))
    for s, t, o in zip(shapes, tensors, out):
        close(o, reference("Sum", [value(r, s) for r in range(n)]), t.dtype, "grouped %s" % (s,))
    out = tf.function(lambda ts: ct.grouped_allreduce(ts, op=ct.Max))(tensors)
    for s, t, o in zip(shapes, tensors, out):
        close(o, reference("Max", [value(r, s) for r in range(n)]), t.dtype, "grouped Max %s" % (s,))


def test_broadcast(n):
    for dtype in DTYPES:
        for root in range(n):
            got = ct.broadcast(tf.cast(value(ct.rank()) + ct.rank(), dtype), root)
            close(got, value(root) + root, dtype, "broadcast %s root %d" % (dtype.name, root))
    expect_error(lambda: ct.broadcast(tf.ones([2]), n), tf.errors.InvalidArgumentError,
                 ["root_rank %d" % n], "broadcast to a root out of range")


def test_allgather(n):
    for dtype in DTYPES:
        rows = [2 * r + 1 if r != 1 else 0 for r in range(n)]  # rank 1 gives no rows
        parts = [value(r, (rows[r], 2, 3)) for r in range(n)]
        got = ct.allgather(tf.cast(parts[ct.rank()], dtype))
        close(got, np.concatenate(parts), dtype, "allgather %s rows %s" % (dtype.name, rows))
        same = [value(r, (2, 2)) for r in range(n)]
        close(ct.allgather(tf.cast(same[ct.rank()], dtype)), np.concatenate(same), dtype,
              "allgather %s equal rows" % dtype.name)


def scatter_rows(dim0, n):
    # Horovod's split: as even as possible, the first ranks one row more.
    return [dim0 // n + (q < dim0 % n) for q in range(n)]


def test_reducescatter(n):
    r = ct.rank()
    for dim0 in (2 * n, 2 * n + 1, 1, 0):  # even, uneven, fewer rows than ranks, none
        rows = scatter_rows(dim0, n)
        lo = sum(rows[:r])
        values = [value(q, (dim0, 2)) for q in range(n)]
        for dtype in DTYPES:
            for opname, op in OPS.items():
                want = reference(opname, values)[lo:lo + rows[r]]
                if opname == "Average" and dtype.is_integer:
                    want = np.trunc(want)
                got = ct.reducescatter(tf.cast(values[r], dtype), op=op)
                close(got, want, dtype, "reducescatter %s %s of %d rows" % (opname, dtype.name, dim0))
    f = tf.function(lambda x: ct.reducescatter(x, op=ct.Sum, name="rs_fn"))
    values = [value(q, (2 * n + 1, 3)) for q in range(n)]
    rows = scatter_rows(2 * n + 1, n)
    close(f(tf.constant(values[r], tf.float32)),
          reference("Sum", values)[sum(rows[:r]):sum(rows[:r + 1])], tf.float32,
          "reducescatter in tf.function")
    expect_error(lambda: ct.reducescatter(tf.constant(1.0)), tf.errors.InvalidArgumentError,
                 ["reducescatter needs a tensor of rank >= 1"], "reducescatter of a scalar")
    # Its gradient: every rank's upstream gradient gathered back into the full shape.
    dim0 = 2 * n + 1
    rows = scatter_rows(dim0, n)
    w = [np.arange(rows[q] * 2.0).reshape(rows[q], 2) + q for q in range(n)]
    full = np.concatenate(w)
    xs = [value(q, (dim0, 2)) * (q + 1) for q in range(n)]
    for opname, op in OPS.items():
        x = tf.Variable(xs[r])
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(ct.reducescatter(x, op=op) * w[r])
        if opname == "Sum":
            want = full
        elif opname == "Average":
            want = full / n
        elif opname == "Product":
            want = full * np.prod([xs[q] for q in range(n) if q != r], 0)
        else:
            y = reference(opname, xs)
            want = full * (xs[r] == y)
        close(tape.gradient(loss, x), want, tf.float64, "gradient of reducescatter %s" % opname)


def test_gradients(n):
    r = ct.rank()
    w = [np.arange(4.0) + q for q in range(n)]  # rank q's upstream weights
    c = r + 2.0
    for opname, op in [("Sum", ct.Sum), ("Average", ct.Average)]:
        x = tf.Variable(np.ones(4) * (r + 1))
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(ct.allreduce(x * c, op=op) * w[r])
        want = c * (np.sum(w, 0) / (n if opname == "Average" else 1))
        close(tape.gradient(loss, x), want, tf.float64, "gradient of allreduce %s" % opname)
    for opname, op in [("Min", ct.Min), ("Max", ct.Max)]:
        x = tf.Variable(np.array([1.0, 5.0, 3.0, 2.0]) * (r + 1))
        with tf.GradientTape() as tape:
            y = ct.allreduce(x, op=op)
            loss = tf.reduce_sum(y * w[r])
        extreme = (0 if opname == "Min" else n - 1)
        want = np.sum(w, 0) * (1.0 if r == extreme else 0.0)
        close(tape.gradient(loss, x), want, tf.float64, "gradient of allreduce %s" % opname)
    # Product: each rank's gradient is the summed upstream gradient times the product of the
    # other ranks' values, zeros included (rank 0 holds a zero in column 1, ranks 0 and 1 in
    # column 2).
    xs = [np.array([1.5, 0.0 if q == 0 else 2.0, 0.0 if q < 2 else 3.0, -1.0]) * (q + 1)
          for q in range(n)]
    for grouped in (False, True):
        x = tf.Variable(xs[r])
        with tf.GradientTape() as tape:
            y = (ct.grouped_allreduce([x], op=ct.Product)[0] if grouped
                 else ct.allreduce(x, op=ct.Product))
            loss = tf.reduce_sum(y * w[r])
        others = np.prod([xs[q] for q in range(n) if q != r], 0)
        close(tape.gradient(loss, x), np.sum(w, 0) * others, tf.float64,
              "gradient of %sallreduce Product" % ("grouped " if grouped else ""))
    x = tf.Variable(np.ones(4) * (r + 1))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(ct.broadcast(x, 1) * w[r])
    close(tape.gradient(loss, x), np.sum(w, 0) if r == 1 else np.zeros(4), tf.float64,
          "gradient of broadcast")
    rows = [q + 1 for q in range(n)]
    x = tf.Variable(np.ones((rows[r], 2)))
    big = [np.arange(sum(rows) * 2.0).reshape(-1, 2) * (q + 1) for q in range(n)]
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(ct.allgather(x) * big[r])
    lo = sum(rows[:r])
    close(tape.gradient(loss, x), np.sum(big, 0)[lo:lo + rows[r]], tf.float64,
          "gradient of allgather")
    # Differentiated inside a tf.function as well.
    x = tf.Variable(np.ones(4) * (r + 1))

    @tf.function
    def grad_fn():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(ct.allreduce(x * c, op=ct.Average) * w[r])
        return tape.gradient(loss, x)
    close(grad_fn(), c * np.mean(w, 0), tf.float64, "gradient of allreduce in tf.function")


def delayed(t, seconds):
    # An identity that runs only after a sleep: forces the order in which ops are submitted.
    sleep = tf.py_function(lambda: time.sleep(seconds) or 0, [], tf.int32)
    with tf.control_dependencies([sleep]):
        return tf.identity(t)


def test_order(n, k):
    # Even ranks submit allreduce 0 first and k-1 last, odd ranks the opposite order; all
    # tensors have one shape, so executing them in submission order would swap values.
    even = ct.rank() % 2 == 0

    @tf.function
    def f(xs):
        outs = []
        for i, x in enumerate(xs):
            pos = i if even else k - 1 - i
            outs.append(ct.allreduce(delayed(x, 0.05 * pos), op=ct.Sum))
        return outs
    xs = [tf.constant(value(ct.rank(), (6,)) * (i + 1)) for i in range(k)]
    outs = f(xs)
    for i in range(k):
        want = reference("Sum", [value(q, (6,)) * (i + 1) for q in range(n)])
        close(outs[i], want, tf.float64, "order independence %d of %d" % (i, k))


def test_fusion(n):
    before = ct.stats()

    @tf.function
    def f(xs):
        return [ct.allreduce(x, op=ct.Sum) for x in xs]
    xs = [tf.constant(np.full(100, float(i + ct.rank()), np.float32)) for i in range(100)]
    outs = f(xs)
    after = ct.stats()
    for i, o in enumerate(outs):
        close(o, np.full(100, float(n * i + sum(range(n)))), tf.float32, "fused allreduce %d" % i)
    calls = after["collectives"] - before["collectives"]
    print("fusion: 100 allreduces of 400 B ran as %d collectives (most in one: %d)"
          % (calls, after["max_fused"]))
    check(after["tensors"] - before["tensors"] == 100, "fusion: tensors counted")
    check(calls <= 25 and after["max_fused"] >= 10,
          "fusion: 100 small allreduces took %d collectives" % calls)


def test_mismatch(n):
    shape = [5] if ct.rank() == 1 else [4]
    took = expect_error(lambda: ct.allreduce(tf.ones(shape), op=ct.Sum, name="mm"),
                        tf.errors.InvalidArgumentError,
                        ["'mm'", "float32[4] on ranks 0, 2", "float32[5] on rank 1"],
                        "shape mismatch")
    check(took < 5, "mismatch took %.1f s" % took)
    dtype = tf.int32 if ct.rank() == 0 else tf.float32
    expect_error(lambda: ct.broadcast(tf.ones([3], dtype), 0, name="mm2"),
                 tf.errors.InvalidArgumentError, ["'mm2'", "int32[3] on rank 0"], "dtype mismatch")
    # The job goes on: a mismatch is found before any byte moves.
    close(ct.allreduce(tf.ones([2]), op=ct.Sum), np.full(2, n), tf.float32, "allreduce after mismatch")


def test_same_name(n):
    # Two collectives under one name in one tf.function: refused while tracing, on every rank,
    # before anything is submitted; the job goes on.
    @tf.function
    def twice(x):
        return ct.allreduce(x, op=ct.Sum, name="dup"), ct.allreduce(x * 2, op=ct.Sum, name="dup")
    try:
        twice(tf.ones([3]))
        raise AssertionError("rank %d: the same name twice in a tf.function was accepted" % ct.rank())
    except ValueError as e:
        check("'dup' is already used by another collective in this graph" in str(e),
              "same name in a graph: message %r" % str(e))
    # Eager, from two threads at once on rank 0: the second submission of a name still in flight
    # fails at once with the rank and the name, the first completes when the other ranks submit.
    results = [None, None]

    def submit(i, delay):
        time.sleep(delay)
        try:
            results[i] = ct.allreduce(tf.fill([3], float(i + 1)), op=ct.Sum, name="dup").numpy()
        except tf.errors.InvalidArgumentError as e:
            results[i] = e.message
    if ct.rank() == 0:
        threads = [threading.Thread(target=submit, args=(i, 0.5 * i)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        check(not any(t.is_alive() for t in threads), "same name from two threads: hung")
        refused = [x for x in results if isinstance(x, str)]
        done = [x for x in results if not isinstance(x, str)]
        check(len(refused) == 1 and len(done) == 1, "same name from two threads: %r" % results)
        check("a collective with this name is already in flight on rank 0" in refused[0] and
              "(tensor 'dup')" in refused[0], "same name from two threads: message %r" % refused[0])
        first = 1.0 if results[0] is done[0] else 2.0
        close(done[0], np.full(3, first + n - 1), tf.float32, "same name: the one that ran")
    else:
        time.sleep(3)
        got = ct.allreduce(tf.ones([3]), op=ct.Sum, name="dup").numpy()
        check(got[0] in (n, n + 1), "same name: got %r" % got)
    close(ct.allreduce(tf.ones([2]), op=ct.Sum, name="after_dup"), np.full(2, n), tf.float32,
          "allreduce after the same name twice")


def test_stall(n):
    if ct.rank() == n - 1:
        time.sleep(5)
    close(ct.allreduce(tf.ones([2]), op=ct.Sum, name="stall"), np.full(2, n), tf.float32, "stall")


def main():
    test_not_initialized()
    ct.init()
    n = ct.size()
    check(n >= 3, "run on 3 or more ranks")
    check(ct.local_size() == n and ct.local_rank() == ct.rank(), "local rank/size")
    for test in [test_allreduce, test_grouped, test_broadcast, test_allgather, test_reducescatter,
                 test_gradients,
                 lambda n: test_order(n, 2), lambda n: test_order(n, 10), test_fusion,
                 test_mismatch, test_same_name, test_stall]:
        test(n)
    print("ops_worker: all checks passed")
    ct.shutdown()
    expect_error(lambda: ct.allreduce(tf.ones([2])), tf.errors.FailedPreconditionError,
                 ["shut down"], "allreduce after shutdown")


if __name__ == "__main__":
    main()
