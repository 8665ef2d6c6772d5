// Data movement of softverbs: copies between this process and any process's registered memory
// with process_vm_readv/process_vm_writev (plain memcpy within this process). This is why peers
// make themselves ptraceable (PR_SET_PTRACER) when they open the device.
// Thread-safety: stateless.
#pragma once

#include <sys/types.h>
#include <sys/uio.h>

#include <vector>

namespace softverbs {

// Copies the bytes described by `local` (in this process) to `remote` (in `pid`), or the other
// way for CopyFromProcess. Both lists describe the same total length. Returns 0, ESRCH when the
// process is gone, or EFAULT when an address is not mapped.
int CopyToProcess(pid_t pid, const std::vector<iovec>& local, const std::vector<iovec>& remote);
int CopyFromProcess(pid_t pid, const std::vector<iovec>& local,
                    const std::vector<iovec>& remote);

}  // namespace softverbs
