"""Data-parallel Keras training with libcollective, on synthetic data (nothing to download).

    python -m collective.run -np 2 python examples/tensorflow/train.py
    mpirun -np 2 -x COLL_ROOT_ADDR=$(hostname):29500 python examples/tensorflow/train.py

Each rank trains on its own shard; DistributedOptimizer averages the gradients inside
model.fit, BroadcastGlobalVariablesCallback starts every rank from rank 0's weights, and
MetricAverageCallback makes the logged loss the average over ranks.
"""
import argparse

import keras
import numpy as np

import collective.tensorflow as ct


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--samples", type=int, default=4096, help="whole dataset, all ranks")
    parser.add_argument("--batch-size", type=int, default=64, help="per rank")
    args = parser.parse_args()

    ct.init()
    rng = np.random.RandomState(1234)  # the same dataset on every rank
    x = rng.randn(args.samples, 20).astype(np.float32)
    y = (x @ rng.randn(20, 1) > 0).astype(np.float32)
    shard = slice(ct.rank(), None, ct.size())  # every size()-th sample is this rank's

    model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.Dense(1, activation="sigmoid")])
    # The learning rate grows with the number of ranks, as the global batch does.
    opt = ct.DistributedOptimizer(keras.optimizers.SGD(0.05 * ct.size()))
    model.compile(optimizer=opt, loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x[shard], y[shard], batch_size=args.batch_size, epochs=args.epochs,
              verbose=2 if ct.rank() == 0 else 0,
              callbacks=[ct.BroadcastGlobalVariablesCallback(0), ct.MetricAverageCallback()])
    if ct.rank() == 0:
        loss, acc = model.evaluate(x, y, verbose=0)
        print("rank 0: loss %.4f, accuracy %.3f on the whole dataset" % (loss, acc))


if __name__ == "__main__":
    main()
