"""One rank of the data-parallel test (2 or 4 ranks): model.fit with DistributedOptimizer on
this rank's shard must reach the weights a single process reaches on the whole batch (relative
1e-5, float32), with weights bitwise identical across ranks after every epoch and the loss going
down; DistributedGradientTape in a custom loop must reach the same weights as model.fit."""
import numpy as np
import tensorflow as tf
import keras

import collective.tensorflow as ct

BATCH, FEATURES, STEPS, LR = 32, 8, 12, 0.05


def make_model(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((FEATURES,)), keras.layers.Dense(16, activation="tanh"),
                             keras.layers.Dense(1)])


def rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30)


def check(cond, what):
    if not cond:
        raise AssertionError("rank %d: %s" % (ct.rank(), what))


class SameOnEveryRank(keras.callbacks.Callback):
    """After each epoch, gathers every rank's weights and compares their bits."""

    def on_epoch_end(self, epoch, logs=None):
        flat = np.concatenate([w.ravel() for w in self.model.get_weights()]).astype(np.float32)
        everyone = ct.allgather(tf.constant(flat.view(np.int32)[None, :]),
                                name="SameOnEveryRank").numpy()
        check((everyone == everyone[0]).all(), "weights differ between ranks after epoch %d" % epoch)


def main():
    ct.init()
    n, r = ct.size(), ct.rank()
    rng = np.random.RandomState(0)
    x = rng.randn(BATCH, FEATURES).astype(np.float32)
    y = (x @ rng.randn(FEATURES, 1) + 0.1 * rng.randn(BATCH, 1)).astype(np.float32)
    shard = slice(r * BATCH // n, (r + 1) * BATCH // n)

    # Every rank starts from different weights; the callback makes them rank 0's.
    model = make_model(seed=100 + r)
    root_init = [ct.broadcast(tf.constant(w), 0, name="root_init/%d" % i).numpy()
                 for i, w in enumerate(model.get_weights())]

    model.compile(optimizer=ct.DistributedOptimizer(keras.optimizers.SGD(LR)), loss="mse")
    history = model.fit(x[shard], y[shard], batch_size=BATCH // n, epochs=STEPS, shuffle=False,
                        verbose=0, callbacks=[ct.BroadcastGlobalVariablesCallback(0),
                                              ct.MetricAverageCallback(), SameOnEveryRank()])
    losses = history.history["loss"]
    check(losses[-1] < losses[0], "loss did not go down: %s" % losses)

    # One process, whole batch, same start.
    single = make_model(seed=1)
    single.set_weights(root_init)
    single.compile(optimizer=keras.optimizers.SGD(LR), loss="mse")
    single.fit(x, y, batch_size=BATCH, epochs=STEPS, shuffle=False, verbose=0)
    for got, want in zip(model.get_weights(), single.get_weights()):
        check(rel(got, want) <= 1e-5, "data-parallel vs single process: relative %.3g" % rel(got, want))

    # A custom loop with DistributedGradientTape from the same start.
    loop = make_model(seed=1)
    loop.set_weights(root_init)
    opt = keras.optimizers.SGD(LR)

    @tf.function
    def step(xb, yb):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(loop(xb, training=True) - yb))
        tape = ct.DistributedGradientTape(tape)
        grads = tape.gradient(loss, loop.trainable_variables)
        opt.apply(grads, loop.trainable_variables)
    for _ in range(STEPS):
        step(tf.constant(x[shard]), tf.constant(y[shard]))
    for got, want in zip(loop.get_weights(), model.get_weights()):
        check(rel(got, want) <= 1e-5, "DistributedGradientTape vs model.fit: relative %.3g" % rel(got, want))
    worst = max(rel(a, b) for a, b in zip(model.get_weights(), single.get_weights()))
    print("dp_worker: %d ranks, loss %.4f -> %.4f, largest relative difference to one process %.2g"
          % (n, losses[0], losses[-1], worst))
    print("dp_worker: all checks passed")


if __name__ == "__main__":
    main()
