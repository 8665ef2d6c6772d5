"""TensorFlow binding of libcollective, Horovod-style.

    import collective.tensorflow as ct
    ct.init()
    grad = ct.allreduce(grad, op=ct.Average)

Every collective is an asynchronous TF op handed to one background thread per process, which
agrees with the other ranks on the order of execution and fuses small allreduces, so ops may run
in any order TensorFlow's executor picks. Errors are TF errors: tf.errors.UnavailableError (a
rank died), InvalidArgumentError (ranks disagree on a tensor, or a bad argument),
DeadlineExceededError (COLL_TIMEOUT_MS passed), FailedPreconditionError (not initialized or shut
down), each with libcollective's sentence and the tensor's name.
"""
from collective.tensorflow.basics import (Average, Max, Min, Product, Sum, init, is_initialized,
                                          local_rank, local_size, rank, shutdown, size, stats)
from collective.tensorflow.ops import (allgather, allreduce, broadcast, grouped_allreduce,
                                       reducescatter)
from collective.tensorflow.functions import (DistributedGradientTape, broadcast_variables)
from collective.tensorflow import keras  # noqa: F401  (ct.keras.DistributedOptimizer, callbacks)
from collective.tensorflow.keras import (BroadcastGlobalVariablesCallback, DistributedOptimizer,
                                         MetricAverageCallback)

__all__ = [
    "Average", "Sum", "Min", "Max", "Product", "init", "shutdown", "is_initialized", "rank",
    "size", "local_rank", "local_size", "allreduce", "grouped_allreduce", "broadcast",
    "allgather", "reducescatter", "broadcast_variables", "DistributedGradientTape", "DistributedOptimizer",
    "BroadcastGlobalVariablesCallback", "MetricAverageCallback",
]
