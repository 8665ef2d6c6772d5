// Helpers for the softverbs spec tests: an isolated fabric per test (own COLL_SOFTVERBS_FABRIC,
// file removed afterwards), device/QP setup, RC connection, polling with a deadline, and a fork
// helper that always reaps (and on timeout kills) its child.
// Thread-safety: test-thread only.
#pragma once

#include <gtest/gtest.h>
#include <infiniband/verbs.h>
#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

namespace softverbs_test {

// Gives each test its own fabric and a clean SOFTVERBS_* environment.
class SoftverbsTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  std::string fabric_;
};

struct Endpoint {
  uint32_t qpn;
  uint16_t lid;
  uint32_t psn;
};

struct Device {
  ibv_context* ctx = nullptr;
  ibv_pd* pd = nullptr;
};

Device OpenDevice();  // returns ctx == nullptr on failure
void CloseDevice(Device* device);

ibv_qp* CreateRcQp(const Device& device, ibv_cq* cq, uint32_t max_send_wr = 16,
                   uint32_t max_recv_wr = 16, int sq_sig_all = 0, uint32_t max_inline = 64);
Endpoint EndpointOf(const Device& device, ibv_qp* qp, uint32_t psn);

int ModifyToInit(ibv_qp* qp, int access);
int ModifyToRtr(ibv_qp* qp, const Endpoint& remote, uint8_t min_rnr_timer);
int ModifyToRts(ibv_qp* qp, uint32_t psn, uint8_t rnr_retry, uint8_t timeout, uint8_t retry_cnt);

struct ConnectOptions {
  int access = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;
  uint8_t min_rnr_timer = 1;  // 10 us
  uint8_t rnr_retry = 7;
  uint8_t timeout = 8;        // ~1 ms
  uint8_t retry_cnt = 3;
};
// RESET -> INIT -> RTR -> RTS towards `remote`; returns the first failing errno, or 0.
int Connect(ibv_qp* qp, uint32_t local_psn, const Endpoint& remote,
            const ConnectOptions& options = ConnectOptions());

// A device with two QPs connected to each other (loopback), one CQ each.
struct LoopbackPair {
  Device device;
  ibv_cq* cq_a = nullptr;
  ibv_cq* cq_b = nullptr;
  ibv_qp* a = nullptr;
  ibv_qp* b = nullptr;
};
bool MakeLoopbackPair(LoopbackPair* pair, uint32_t max_send_wr = 16, uint32_t max_recv_wr = 16,
                      const ConnectOptions& options = ConnectOptions(), int cqe = 64);
void DestroyLoopbackPair(LoopbackPair* pair);

// Polls `cq` until `n` completions arrived or `timeout_ms` passed; returns how many arrived (or
// the negative poll result).
int PollUntil(ibv_cq* cq, int n, ibv_wc* out, int timeout_ms = 5000);

// Polls for `ms` milliseconds and returns how many completions arrived.
int PollFor(ibv_cq* cq, ibv_wc* out, int max, int ms);

ibv_send_wr WriteWr(uint64_t wr_id, ibv_sge* sge, ibv_wr_opcode opcode, uint64_t remote_addr,
                    uint32_t rkey, unsigned flags = IBV_SEND_SIGNALED);

// Runs `body` in a forked child and returns its exit code, or -1 when it did not finish within
// `timeout_ms` (it is then killed) or died of a signal.
int RunChild(const std::function<int()>& body, int timeout_ms);

// Starts `body` in a forked child and returns its pid (see WaitChild).
pid_t StartChild(const std::function<int()>& body);
int WaitChild(pid_t pid, int timeout_ms);

// Blocking transfer of a fixed-size value through a pipe, with a deadline; false on failure.
bool WriteAll(int fd, const void* data, size_t len);
bool ReadAll(int fd, void* data, size_t len, int timeout_ms);

}  // namespace softverbs_test
