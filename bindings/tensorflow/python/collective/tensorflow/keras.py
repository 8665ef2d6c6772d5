"""Keras 3 integration: DistributedOptimizer for model.fit, and the callbacks that keep ranks
in step (initial weights from one rank, metrics averaged over ranks)."""
import keras
import numpy as np
import tensorflow as tf

from collective.tensorflow.basics import Average
from collective.tensorflow.functions import allreduce_gradients, broadcast_variables
from collective.tensorflow.ops import allreduce


def DistributedOptimizer(optimizer, op=Average):
    """Returns a copy of a Keras 3 optimizer whose apply() (and so apply_gradients and
    model.fit) first reduces the gradients over all ranks with op. Keras 3 funnels every update
    through Optimizer.apply, so overriding it there is enough."""
    base = optimizer.__class__

    def apply(self, grads, trainable_variables=None):
        grads = allreduce_gradients(list(grads), op, "DistributedOptimizer")
        return base.apply(self, grads, trainable_variables)

    cls = type("Distributed" + base.__name__, (base,), {"apply": apply})
    return cls.from_config(optimizer.get_config())


class BroadcastGlobalVariablesCallback(keras.callbacks.Callback):
    """Sets every rank's model and optimizer variables to root_rank's when training starts."""

    def __init__(self, root_rank=0):
        super().__init__()
        self.root_rank = root_rank

    def on_train_begin(self, logs=None):
        variables = list(self.model.variables)
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is not None:
            if not optimizer.built:
                optimizer.build(self.model.trainable_variables)
            variables += list(optimizer.variables)
        broadcast_variables(variables, self.root_rank)


class MetricAverageCallback(keras.callbacks.Callback):
    """At each epoch's end replaces every numeric log (loss, metrics) by its average over ranks,
    so every rank's logs, checkpoints and early stopping see the same numbers."""

    def on_epoch_end(self, epoch, logs=None):
        if not logs:
            return
        for key in sorted(logs):
            value = logs[key]
            if isinstance(value, (int, float, np.floating, np.integer)) or (
                    hasattr(value, "shape") and np.ndim(value) == 0):
                avg = allreduce(tf.constant(float(value), tf.float64), op=Average,
                                name="MetricAverageCallback/" + key)
                logs[key] = float(avg.numpy())
