// CPU AsyncOpKernels: each turns its tensors into Requests for the Runtime's background thread.
// done is called exactly once: by the Group when its last request finishes, or at once when
// the inputs are refused before anything is enqueued.
#include <atomic>
#include <memory>
#include <mutex>

#include "runtime.h"
#include "tensorflow/core/framework/op_kernel.h"
#include "tensorflow/core/framework/tensor.h"

namespace coll_tf {
namespace {

using tensorflow::AsyncOpKernel;
using tensorflow::OpKernelConstruction;
using tensorflow::OpKernelContext;
using tensorflow::Tensor;

bool ToCollDtype(tensorflow::DataType t, uint8_t* out) {
  switch (t) {
    case tensorflow::DT_HALF: *out = COLL_FLOAT16; return true;
    case tensorflow::DT_BFLOAT16: *out = COLL_BFLOAT16; return true;
    case tensorflow::DT_FLOAT: *out = COLL_FLOAT32; return true;
    case tensorflow::DT_DOUBLE: *out = COLL_FLOAT64; return true;
    case tensorflow::DT_INT32: *out = COLL_INT32; return true;
    case tensorflow::DT_INT64: *out = COLL_INT64; return true;
    case tensorflow::DT_INT8: *out = COLL_INT8; return true;
    case tensorflow::DT_UINT8: *out = COLL_UINT8; return true;
    default: return false;
  }
}

// The requests of one kernel invocation: the first error wins, the last finish calls done.
class Group {
 public:
  static std::shared_ptr<Group> Make(OpKernelContext* ctx, AsyncOpKernel::DoneCallback done,
                                     int n) {
    auto g = std::make_shared<Group>();
    g->ctx_ = ctx;
    g->done_ = std::move(done);
    g->remaining_ = n;
    return g;
  }
  void Finish(const absl::Status& s) {
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      if (status_.ok()) status_ = s;
    }
    if (--remaining_ != 0) return;
    ctx_->SetStatus(status_);
    AsyncOpKernel::DoneCallback done = std::move(done_);
    done();
  }

 private:
  OpKernelContext* ctx_ = nullptr;
  AsyncOpKernel::DoneCallback done_;
  std::atomic<int> remaining_{0};
  std::mutex mu_;
  absl::Status status_;
};

// The reduce_op attribute of the reducing ops (allreduce, reduce-scatter), checked.
void ReadReduceOp(OpKernelConstruction* c, int* op) {
  OP_REQUIRES_OK(c, c->GetAttr("reduce_op", op));
  OP_REQUIRES(c, *op >= COLL_SUM && *op <= COLL_AVG,
              absl::InvalidArgumentError("collective.tensorflow: reduce_op " + std::to_string(*op) +
                                         " is not Sum, Product, Min, Max or Average"));
}

class CollectiveKernel : public AsyncOpKernel {
 public:
  explicit CollectiveKernel(OpKernelConstruction* c) : AsyncOpKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("tensor_name", &tensor_name_));
    if (tensor_name_.empty()) tensor_name_ = name();
  }

 protected:
  // A request for input i, not yet enqueued; false (and ctx's status set) when refused.
  bool MakeRequest(OpKernelContext* ctx, int i, Kind kind, const std::string& name,
                   const std::shared_ptr<Group>& group, std::unique_ptr<Request>* out) {
    const Tensor& in = ctx->input(i);
    auto r = std::make_unique<Request>();
    if (!ToCollDtype(in.dtype(), &r->a.dtype)) {
      ctx->SetStatus(absl::InvalidArgumentError("collective.tensorflow: unsupported dtype " +
                                                tensorflow::DataTypeString(in.dtype()) +
                                                " (tensor '" + name + "')"));
      return false;
    }
    if ((kind == Kind::kAllgather || kind == Kind::kReduceScatter) && in.dims() == 0) {
      ctx->SetStatus(absl::InvalidArgumentError(
          std::string("collective.tensorflow: ") +
          (kind == Kind::kAllgather ? "allgather" : "reducescatter") +
          " needs a tensor of rank >= 1, got a scalar (tensor '" + name + "')"));
      return false;
    }
    r->a.name = name;
    r->a.kind = kind;
    for (int d = 0; d < in.dims(); ++d) r->a.shape.push_back(in.dim_size(d));
    r->input = in;
    r->ctx = ctx;
    r->output_index = i;
    if (kind != Kind::kAllgather) {
      Tensor* output = nullptr;
      tensorflow::TensorShape shape = in.shape();
      if (kind == Kind::kReduceScatter) {  // this rank's rows (a job of 1 before init: refused)
        Runtime* rt = Runtime::Get();
        shape.set_dim(0, ScatterRows(in.dim_size(0), std::max(rt->size(), 1), rt->rank()));
      }
      absl::Status s = kind == Kind::kReduceScatter
                           ? ctx->allocate_output(i, shape, &output)
                           : ctx->forward_input_or_allocate_output({i}, i, shape, &output);
      if (!s.ok()) {
        ctx->SetStatus(s);
        return false;
      }
      r->output = *output;
      if (!output->SharesBufferWith(in))
        AdviseHugePages(const_cast<char*>(output->tensor_data().data()), output->TotalBytes());
    }
    r->finish = [group](const absl::Status& s) { group->Finish(s); };
    *out = std::move(r);
    return true;
  }

  std::string tensor_name_;
};

class AllreduceOp : public CollectiveKernel {
 public:
  explicit AllreduceOp(OpKernelConstruction* c) : CollectiveKernel(c) {
    ReadReduceOp(c, &op_);
  }

  void ComputeAsync(OpKernelContext* ctx, DoneCallback done) override {
    const int n = ctx->num_inputs();
    if (n == 0) {  // an empty group
      done();
      return;
    }
    auto group = Group::Make(ctx, done, n);
    std::vector<std::unique_ptr<Request>> requests(n);
    for (int i = 0; i < n; ++i) {
      std::string name = n_is_group_ ? tensor_name_ + "/" + std::to_string(i) : tensor_name_;
      if (!MakeRequest(ctx, i, Kind::kAllreduce, name, group, &requests[i])) {
        done();  // nothing enqueued yet: the group's callbacks are never called
        return;
      }
      requests[i]->a.op = static_cast<uint8_t>(op_);
    }
    Runtime::Get()->Enqueue(std::move(requests));
  }

 protected:
  int op_ = 0;
  bool n_is_group_ = false;
};

class GroupedAllreduceOp : public AllreduceOp {
 public:
  explicit GroupedAllreduceOp(OpKernelConstruction* c) : AllreduceOp(c) { n_is_group_ = true; }
};

class BroadcastOp : public CollectiveKernel {
 public:
  explicit BroadcastOp(OpKernelConstruction* c) : CollectiveKernel(c) {
    OP_REQUIRES_OK(c, c->GetAttr("root_rank", &root_));
  }

  void ComputeAsync(OpKernelContext* ctx, DoneCallback done) override {
    int size = Runtime::Get()->size();
    OP_REQUIRES_ASYNC(ctx, root_ >= 0 && (root_ < size || !Runtime::Get()->initialized()),
                      absl::InvalidArgumentError(
                          "collective.tensorflow: broadcast root_rank " + std::to_string(root_) +
                          " is not a rank of this job of " + std::to_string(size) +
                          " (tensor '" + tensor_name_ + "')"),
                      done);
    auto group = Group::Make(ctx, done, 1);
    std::vector<std::unique_ptr<Request>> requests(1);
    if (!MakeRequest(ctx, 0, Kind::kBroadcast, tensor_name_, group, &requests[0])) {
      done();
      return;
    }
    requests[0]->a.root = root_;
    Runtime::Get()->Enqueue(std::move(requests));
  }

 private:
  int root_ = 0;
};

class AllgatherOp : public CollectiveKernel {
 public:
  explicit AllgatherOp(OpKernelConstruction* c) : CollectiveKernel(c) {}

  void ComputeAsync(OpKernelContext* ctx, DoneCallback done) override {
    auto group = Group::Make(ctx, done, 1);
    std::vector<std::unique_ptr<Request>> requests(1);
    if (!MakeRequest(ctx, 0, Kind::kAllgather, tensor_name_, group, &requests[0])) {
      done();
      return;
    }
    Runtime::Get()->Enqueue(std::move(requests));
  }
};

class ReduceScatterOp : public CollectiveKernel {
 public:
  explicit ReduceScatterOp(OpKernelConstruction* c) : CollectiveKernel(c) {
    ReadReduceOp(c, &op_);
  }

  void ComputeAsync(OpKernelContext* ctx, DoneCallback done) override {
    auto group = Group::Make(ctx, done, 1);
    std::vector<std::unique_ptr<Request>> requests(1);
    if (!MakeRequest(ctx, 0, Kind::kReduceScatter, tensor_name_, group, &requests[0])) {
      done();
      return;
    }
    requests[0]->a.op = static_cast<uint8_t>(op_);
    Runtime::Get()->Enqueue(std::move(requests));
  }

 private:
  int op_ = 0;
};

REGISTER_KERNEL_BUILDER(Name("LibcollAllreduce").Device(tensorflow::DEVICE_CPU), AllreduceOp);
REGISTER_KERNEL_BUILDER(Name("LibcollGroupedAllreduce").Device(tensorflow::DEVICE_CPU),
                        GroupedAllreduceOp);
REGISTER_KERNEL_BUILDER(Name("LibcollBroadcast").Device(tensorflow::DEVICE_CPU), BroadcastOp);
REGISTER_KERNEL_BUILDER(Name("LibcollAllgather").Device(tensorflow::DEVICE_CPU), AllgatherOp);
REGISTER_KERNEL_BUILDER(Name("LibcollReduceScatter").Device(tensorflow::DEVICE_CPU),
                        ReduceScatterOp);

}  // namespace
}  // namespace coll_tf
