// all_reduce_perf --overlap: what a non-blocking allreduce buys. Per size, on the same
// buffers: the blocking call, the same call as coll_iallreduce + coll_wait (the post + wait
// overhead), a computation calibrated to last as long as the blocking call, and the
// computation run while an iallreduce is in flight (overlap = total / max(compute, comm)).
#pragma once

namespace coll::perf {

// main() of all_reduce_perf when argv holds --overlap (which it removes before parsing the
// usual options: -b -e -f -i -n -w -d -o).
int RunOverlapPerf(int argc, char** argv);

// True (and --overlap removed from argv) when argv asks for the overlap benchmark.
bool TakeOverlapFlag(int* argc, char** argv);

}  // namespace coll::perf
