#!/usr/bin/env python3
"""perf/tf_fit_bench.py: training steps/s on N ranks: model.fit with collective.tensorflow's
DistributedOptimizer against MultiWorkerMirroredStrategy (a custom loop: Keras 3's fit does not
take MWMS's distributed batches), same model, same per-rank batch.

  .venv/bin/python -m collective.run -np 2 .venv/bin/python perf/tf_fit_bench.py --mode ct
  .venv/bin/python -m collective.run -np 2 .venv/bin/python perf/tf_fit_bench.py --mode mwms

MWMS listens on COLL_ROOT_ADDR's port + 1 + rank. Rank 0 prints steps/s over the timed steps
(after one warm-up epoch, which traces the train function).
"""
import argparse
import json
import os
import time


class StepTimer:
    def __init__(self):
        self.start = None

    def __call__(self):
        import keras

        timer = self

        class Callback(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch, logs=None):
                timer.start = time.perf_counter()

            def on_epoch_end(self, epoch, logs=None):
                timer.seconds = time.perf_counter() - timer.start
        return Callback()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--mode", choices=["ct", "mwms"], required=True)
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--batch", type=int, default=64, help="per rank")
    p.add_argument("--width", type=int, default=1024, help="hidden units (2 hidden layers)")
    args = p.parse_args()
    rank, n = int(os.environ["COLL_RANK"]), int(os.environ["COLL_SIZE"])
    strategy = None
    if args.mode == "mwms":
        import tensorflow as tf
        port = int(os.environ["COLL_ROOT_ADDR"].rsplit(":", 1)[1])
        os.environ["TF_CONFIG"] = json.dumps({
            "cluster": {"worker": ["127.0.0.1:%d" % (port + 1 + r) for r in range(n)]},
            "task": {"type": "worker", "index": rank}})
        strategy = tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=tf.distribute.experimental.CommunicationOptions(
                implementation=tf.distribute.experimental.CommunicationImplementation.RING))
    import numpy as np
    import tensorflow as tf
    import keras

    def build():
        model = keras.Sequential([keras.Input((256,)),
                                  keras.layers.Dense(args.width, activation="relu"),
                                  keras.layers.Dense(args.width, activation="relu"),
                                  keras.layers.Dense(10)])
        return model

    rng = np.random.RandomState(0)
    x = rng.randn(args.batch * args.steps * n, 256).astype(np.float32)
    y = rng.randint(0, 10, len(x)).astype(np.int64)
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    timer = StepTimer()
    if args.mode == "ct":
        import collective.tensorflow as ct
        ct.init()
        model = build()
        model.compile(optimizer=ct.DistributedOptimizer(keras.optimizers.SGD(0.01)), loss=loss)
        shard = slice(rank, None, n)
        model.fit(x[shard], y[shard], batch_size=args.batch, epochs=2, verbose=0, shuffle=False,
                  callbacks=[ct.BroadcastGlobalVariablesCallback(0), timer()])
    else:
        # Keras 3's model.fit does not take MWMS's distributed batches here (it fails converting a
        # PerReplica to a tensor), so MWMS runs the custom loop its guide shows: strategy.run of
        # a step whose Keras 3 optimizer all-reduces the gradients under the strategy.
        with strategy.scope():
            model = build()
            opt = keras.optimizers.SGD(0.01)
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(args.batch * n)
        opts = tf.data.Options()
        opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        dist = strategy.experimental_distribute_dataset(ds.with_options(opts))
        per_example = keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction=None)

        def step(xb, yb):
            with tf.GradientTape() as tape:
                l = tf.nn.compute_average_loss(per_example(yb, model(xb, training=True)),
                                               global_batch_size=args.batch * n)
            opt.apply(tape.gradient(l, model.trainable_variables), model.trainable_variables)

        train = tf.function(lambda xb, yb: strategy.run(step, args=(xb, yb)))
        for epoch in range(2):  # the first traces, the second is timed
            start = time.perf_counter()
            for xb, yb in dist:
                train(xb, yb)
            timer.seconds = time.perf_counter() - start
    if rank == 0:
        params = model.count_params()
        print("tf_fit_bench: mode %s, %d ranks, %d parameters (%.1f MB of gradients), batch %d "
              "per rank: %.2f steps/s" % (args.mode, n, params, params * 4 / 1e6, args.batch,
                                          args.steps / timer.seconds))


if __name__ == "__main__":
    main()
