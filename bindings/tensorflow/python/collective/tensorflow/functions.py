"""Helpers over the ops: broadcast_variables and DistributedGradientTape."""
import tensorflow as tf

from collective.tensorflow.basics import Average
from collective.tensorflow.ops import _internal_name, broadcast, grouped_allreduce


def broadcast_variables(variables, root_rank=0):
    """Assigns root_rank's value to every variable, on every rank."""
    for i, v in enumerate(variables):
        v.assign(broadcast(v, root_rank, name=_internal_name("broadcast_variables/%d" % i)))


def allreduce_gradients(grads, op=Average, name="gradients"):
    """Reduces a list of gradients (None kept, IndexedSlices made dense) in one grouped op."""
    present = [i for i, g in enumerate(grads) if g is not None]
    dense = [tf.convert_to_tensor(grads[i]) for i in present]
    reduced = grouped_allreduce(dense, op=op, name=_internal_name(name)) if dense else []
    out = list(grads)
    for i, g in zip(present, reduced):
        out[i] = g
    return out


class DistributedGradientTape:
    """Wraps a tf.GradientTape: gradient() returns gradients reduced over ranks with op."""

    def __init__(self, tape, op=Average):
        self._tape = tape
        self._op = op

    def __getattr__(self, attr):
        return getattr(self._tape, attr)

    def gradient(self, target, sources, output_gradients=None, **kwargs):
        grads = self._tape.gradient(target, sources, output_gradients=output_gradients, **kwargs)
        flat = tf.nest.flatten(grads)
        return tf.nest.pack_sequence_as(grads, allreduce_gradients(flat, self._op,
                                                                   "DistributedGradientTape"))
