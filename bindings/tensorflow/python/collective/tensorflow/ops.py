"""The collective ops and their gradients."""
import weakref

import tensorflow as tf
from tensorflow.python.framework import auto_control_deps as _acd

from collective.tensorflow.basics import Average, Max, Min, Product, Sum, ops_module, rank, size

# The ops are stateful (never folded, merged or pruned by grappler), but tf.function must not
# chain them in program order as it does other stateful ops: that would forbid fusion. TF treats
# its own collectives (CollectiveReduce, NcclAllReduce...) the same way, through this list; the
# background thread makes any order safe.
_ASYNC = ("LibcollAllreduce", "LibcollGroupedAllreduce", "LibcollBroadcast", "LibcollAllgather",
          "LibcollReduceScatter")
_acd.ASYNC_STATEFUL_OPS = frozenset(_acd.ASYNC_STATEFUL_OPS) | frozenset(_ASYNC)

_OP_NAMES = {Sum: "Sum", Product: "Product", Min: "Min", Max: "Max", Average: "Average"}


_NAMES_IN_GRAPH = weakref.WeakKeyDictionary()  # graph -> the collective names given in it


def _name(name, what):
    # Empty: the op's node name, unique in a graph and equal on every rank that built the same
    # graph. In eager mode ops run one at a time per thread, so the type name is enough.
    # A name given twice in one graph would put two collectives in flight under one name, which
    # the background thread refuses at run time (on whichever rank sees the second first): refuse
    # it here instead, while tracing, identically on every rank.
    if name is None:
        return ""
    name = str(name)
    if not tf.executing_eagerly():
        graph = tf.compat.v1.get_default_graph()
        used = _NAMES_IN_GRAPH.setdefault(graph, set())
        if name in used:
            raise ValueError("collective.tensorflow.%s: the name '%s' is already used by another "
                             "collective in this graph (tf.function); collectives that may run "
                             "concurrently need distinct names (or name=None)" % (what, name))
        used.add(name)
    return name


def _internal_name(name):
    # The helpers' own names: kept in eager mode (readable in errors and stall warnings), left
    # to the node name in a graph, where one step may hold several (two optimizers, two tapes).
    return name if tf.executing_eagerly() else None


def allreduce(tensor, op=Average, name=None):
    """Reduces tensor over all ranks with op (Sum, Average, Min, Max, Product)."""
    if op not in _OP_NAMES:
        raise ValueError("collective.tensorflow.allreduce: op must be Sum, Average, Min, Max or "
                         "Product, got %r" % (op,))
    if isinstance(tensor, tf.IndexedSlices):
        tensor = tf.convert_to_tensor(tensor)
    return ops_module.libcoll_allreduce(tensor, reduce_op=op,
                                        tensor_name=_name(name, "allreduce"))


def grouped_allreduce(tensors, op=Average, name=None):
    """Reduces a list of tensors in one op (fused where they share a dtype)."""
    if op not in _OP_NAMES:
        raise ValueError("collective.tensorflow.grouped_allreduce: op must be Sum, Average, Min, "
                         "Max or Product, got %r" % (op,))
    tensors = [tf.convert_to_tensor(t) for t in tensors]
    if not tensors:
        return []
    return ops_module.libcoll_grouped_allreduce(tensors, reduce_op=op,
                                                tensor_name=_name(name, "grouped_allreduce"))


def broadcast(tensor, root_rank, name=None):
    """Every rank gets root_rank's tensor."""
    return ops_module.libcoll_broadcast(tensor, root_rank=int(root_rank),
                                        tensor_name=_name(name, "broadcast"))


def allgather(tensor, name=None):
    """Concatenates every rank's tensor along the first dimension, in rank order; the first
    dimension may differ between ranks."""
    return ops_module.libcoll_allgather(tensor, tensor_name=_name(name, "allgather"))


def reducescatter(tensor, op=Average, name=None):
    """Reduces tensor over all ranks with op and gives each rank its share of the result's rows:
    the first dimension split as evenly as possible, ranks 0, 1, ... one row more when it does
    not divide (as Horovod's reducescatter). Every rank passes the same shape."""
    if op not in _OP_NAMES:
        raise ValueError("collective.tensorflow.reducescatter: op must be Sum, Average, Min, Max "
                         "or Product, got %r" % (op,))
    return ops_module.libcoll_reduce_scatter(tensor, reduce_op=op,
                                             tensor_name=_name(name, "reducescatter"))


def _reduce_grad(op, x, y, grad):
    # y = reduce over ranks of x; the loss is the sum of every rank's loss of y.
    if op in (Sum, Average):
        return allreduce(grad, op=op)
    if op in (Min, Max):  # only the ranks holding the extreme value receive the gradient
        return allreduce(grad, op=Sum) * tf.cast(tf.equal(x, y), grad.dtype)
    return allreduce(grad, op=Sum) * _product_of_others(x)


def _product_of_others(x):
    # The product of every other rank's x, element by element, without dividing by zero: the
    # product of the non-zero values and how many ranks hold a zero. One zero elsewhere makes
    # it 0; this rank's own zero leaves the product of the others' non-zero values (or 0 when
    # another rank holds a zero too).
    zero = tf.equal(x, tf.zeros_like(x))
    one = tf.ones_like(x)
    zeros = allreduce(tf.cast(zero, x.dtype), op=Sum)
    nonzero = allreduce(tf.where(zero, one, x), op=Product)
    return tf.where(zero, tf.where(tf.equal(zeros, one), nonzero, tf.zeros_like(x)),
                    tf.where(tf.equal(zeros, tf.zeros_like(x)), nonzero / tf.where(zero, one, x),
                             tf.zeros_like(x)))


@tf.RegisterGradient("LibcollAllreduce")
def _allreduce_grad(op, grad):
    return _reduce_grad(op.get_attr("reduce_op"), op.inputs[0], op.outputs[0], grad)


@tf.RegisterGradient("LibcollGroupedAllreduce")
def _grouped_allreduce_grad(op, *grads):
    reduce_op = op.get_attr("reduce_op")
    if reduce_op in (Sum, Average):
        return grouped_allreduce(list(grads), op=reduce_op)
    return [_reduce_grad(reduce_op, x, y, g) for x, y, g in zip(op.inputs, op.outputs, grads)]


@tf.RegisterGradient("LibcollReduceScatter")
def _reducescatter_grad(op, grad):
    # Every rank's x reaches every rank's share: the gradient is all ranks' upstream gradients
    # gathered back into the full shape, then as for allreduce.
    reduce_op = op.get_attr("reduce_op")
    x = op.inputs[0]
    grad = allgather(grad)
    if reduce_op == Sum:
        return grad
    if reduce_op == Average:
        return grad / tf.cast(size(), grad.dtype)
    if reduce_op in (Min, Max):
        return grad * tf.cast(tf.equal(x, allgather(op.outputs[0])), grad.dtype)
    return grad * _product_of_others(x)


@tf.RegisterGradient("LibcollBroadcast")
def _broadcast_grad(op, grad):
    # Only the root's input reaches the outputs: it receives every rank's gradient.
    reduced = allreduce(grad, op=Sum)
    if rank() == op.get_attr("root_rank"):
        return reduced
    return tf.zeros_like(reduced)


@tf.RegisterGradient("LibcollAllgather")
def _allgather_grad(op, grad):
    # This rank's rows of the summed gradient.
    grad = allreduce(grad, op=Sum)
    dim0 = tf.shape(op.inputs[0], out_type=tf.int64)[:1]
    dims = allgather(dim0)
    offsets = tf.concat([[0], tf.cumsum(dims)], 0)
    r = rank()
    return grad[offsets[r]:offsets[r + 1]]


__all__ = ["allreduce", "grouped_allreduce", "broadcast", "allgather", "reducescatter", "size"]
