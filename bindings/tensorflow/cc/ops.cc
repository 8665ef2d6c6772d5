// The op definitions: allreduce, grouped allreduce, broadcast, allgather and reducescatter over
// libcollective.
// tensor_name names the collective across ranks; empty means the op's node name.
#include "tensorflow/core/framework/common_shape_fns.h"
#include "tensorflow/core/framework/op.h"
#include "tensorflow/core/framework/shape_inference.h"

namespace coll_tf {

using tensorflow::shape_inference::InferenceContext;
using tensorflow::shape_inference::ShapeHandle;

#define COLL_TF_TYPES "{half, bfloat16, float, double, int32, int64, int8, uint8}"

REGISTER_OP("LibcollAllreduce")
    .Attr("T: " COLL_TF_TYPES)
    .Attr("reduce_op: int")
    .Attr("tensor_name: string = ''")
    .Input("tensor: T")
    .Output("reduced: T")
    .SetIsStateful()
    .SetIsDistributedCommunication()  // errors keep their code (Unavailable) inside tf.function
    .SetShapeFn(tensorflow::shape_inference::UnchangedShape);

REGISTER_OP("LibcollGroupedAllreduce")
    .Attr("T: list(" COLL_TF_TYPES ")")
    .Attr("reduce_op: int")
    .Attr("tensor_name: string = ''")
    .Input("tensors: T")
    .Output("reduced: T")
    .SetIsStateful()
    .SetIsDistributedCommunication()  // errors keep their code (Unavailable) inside tf.function
    .SetShapeFn([](InferenceContext* c) {
      for (int i = 0; i < c->num_inputs(); ++i) c->set_output(i, c->input(i));
      return absl::OkStatus();
    });

REGISTER_OP("LibcollBroadcast")
    .Attr("T: " COLL_TF_TYPES)
    .Attr("root_rank: int")
    .Attr("tensor_name: string = ''")
    .Input("tensor: T")
    .Output("broadcast: T")
    .SetIsStateful()
    .SetIsDistributedCommunication()  // errors keep their code (Unavailable) inside tf.function
    .SetShapeFn(tensorflow::shape_inference::UnchangedShape);

REGISTER_OP("LibcollAllgather")
    .Attr("T: " COLL_TF_TYPES)
    .Attr("tensor_name: string = ''")
    .Input("tensor: T")
    .Output("gathered: T")
    .SetIsStateful()
    .SetIsDistributedCommunication()  // errors keep their code (Unavailable) inside tf.function
    .SetShapeFn([](InferenceContext* c) {
      ShapeHandle in = c->input(0), out;
      TF_RETURN_IF_ERROR(c->WithRankAtLeast(in, 1, &in));
      TF_RETURN_IF_ERROR(c->ReplaceDim(in, 0, c->UnknownDim(), &out));
      c->set_output(0, out);
      return absl::OkStatus();
    });

REGISTER_OP("LibcollReduceScatter")
    .Attr("T: " COLL_TF_TYPES)
    .Attr("reduce_op: int")
    .Attr("tensor_name: string = ''")
    .Input("tensor: T")
    .Output("scattered: T")
    .SetIsStateful()
    .SetIsDistributedCommunication()  // errors keep their code (Unavailable) inside tf.function
    .SetShapeFn([](InferenceContext* c) {  // this rank's share of the first dimension
      ShapeHandle in = c->input(0), out;
      TF_RETURN_IF_ERROR(c->WithRankAtLeast(in, 1, &in));
      TF_RETURN_IF_ERROR(c->ReplaceDim(in, 0, c->UnknownDim(), &out));
      c->set_output(0, out);
      return absl::OkStatus();
    });

}  // namespace coll_tf
