// Test helpers for the softverbs spec tests (see test_util.h).
// Thread-safety: test-thread only.
#include "test_util.h"

#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace softverbs_test {
namespace {

const char* const kKnobs[] = {"SOFTVERBS_SEED",
                              "SOFTVERBS_MAX_DELAY_US",
                              "SOFTVERBS_FAULT_QP_ERR_AFTER",
                              "SOFTVERBS_PORT_DOWN",
                              "SOFTVERBS_FAULT_REG_MR_ENOMEM",
                              "SOFTVERBS_FAULT_REG_MR_AFTER",
                              "SOFTVERBS_FAULT_REM_ACCESS_AFTER",
                              "SOFTVERBS_FAULT_RNR_AFTER",
                              "SOFTVERBS_LINK_LAYER",
                              "SOFTVERBS_L2_SEGMENT",
                              "SOFTVERBS_FAULT_PORT_DOWN_AFTER",
                              "SOFTVERBS_DEREG_DELAY_US",
                              "SOFTVERBS_TRANSPORT"};

int64_t NowMs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

}  // namespace

void SoftverbsTest::SetUp() {
  static std::atomic<int> counter{0};
  fabric_ = "softverbs-test-" + std::to_string(getpid()) + "-" + std::to_string(counter++);
  setenv("COLL_SOFTVERBS_FABRIC", fabric_.c_str(), 1);
  for (const char* knob : kKnobs) unsetenv(knob);
}

void SoftverbsTest::TearDown() {
  std::string path = "/dev/shm/" + fabric_;
  EXPECT_NE(0, access(path.c_str(), F_OK)) << "fabric file left behind: " << path;
  unlink(path.c_str());
  for (const char* knob : kKnobs) unsetenv(knob);
  unsetenv("COLL_SOFTVERBS_FABRIC");
}

Device OpenDevice() {
  Device device;
  int n = 0;
  ibv_device** list = ibv_get_device_list(&n);
  if (list == nullptr || n < 1) return device;
  device.ctx = ibv_open_device(list[0]);
  ibv_free_device_list(list);
  if (device.ctx != nullptr) device.pd = ibv_alloc_pd(device.ctx);
  return device;
}

void CloseDevice(Device* device) {
  if (device->pd != nullptr) {
    EXPECT_EQ(0, ibv_dealloc_pd(device->pd));
  }
  if (device->ctx != nullptr) {
    EXPECT_EQ(0, ibv_close_device(device->ctx));
  }
  *device = Device();
}

ibv_qp* CreateRcQp(const Device& device, ibv_cq* cq, uint32_t max_send_wr, uint32_t max_recv_wr,
                   int sq_sig_all, uint32_t max_inline) {
  ibv_qp_init_attr init;
  memset(&init, 0, sizeof(init));
  init.send_cq = cq;
  init.recv_cq = cq;
  init.qp_type = IBV_QPT_RC;
  init.sq_sig_all = sq_sig_all;
  init.cap.max_send_wr = max_send_wr;
  init.cap.max_recv_wr = max_recv_wr;
  init.cap.max_send_sge = 4;
  init.cap.max_recv_sge = 4;
  init.cap.max_inline_data = max_inline;
  return ibv_create_qp(device.pd, &init);
}

Endpoint EndpointOf(const Device& device, ibv_qp* qp, uint32_t psn) {
  ibv_port_attr port;
  ibv_query_port(device.ctx, 1, &port);
  return Endpoint{qp->qp_num, port.lid, psn};
}

int ModifyToInit(ibv_qp* qp, int access) {
  ibv_qp_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.qp_state = IBV_QPS_INIT;
  attr.port_num = 1;
  attr.qp_access_flags = access;
  return ibv_modify_qp(qp, &attr,
                       IBV_QP_STATE | IBV_QP_PKEY_INDEX | IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
}

int ModifyToRtr(ibv_qp* qp, const Endpoint& remote, uint8_t min_rnr_timer) {
  ibv_qp_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.qp_state = IBV_QPS_RTR;
  attr.path_mtu = IBV_MTU_4096;
  attr.dest_qp_num = remote.qpn;
  attr.rq_psn = remote.psn;
  attr.max_dest_rd_atomic = 1;
  attr.min_rnr_timer = min_rnr_timer;
  attr.ah_attr.dlid = remote.lid;
  attr.ah_attr.port_num = 1;
  return ibv_modify_qp(qp, &attr,
                       IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
                           IBV_QP_RQ_PSN | IBV_QP_MAX_DEST_RD_ATOMIC | IBV_QP_MIN_RNR_TIMER);
}

int ModifyToRts(ibv_qp* qp, uint32_t psn, uint8_t rnr_retry, uint8_t timeout, uint8_t retry_cnt) {
  ibv_qp_attr attr;
  memset(&attr, 0, sizeof(attr));
  attr.qp_state = IBV_QPS_RTS;
  attr.sq_psn = psn;
  attr.timeout = timeout;
  attr.retry_cnt = retry_cnt;
  attr.rnr_retry = rnr_retry;
  attr.max_rd_atomic = 1;
  return ibv_modify_qp(qp, &attr,
                       IBV_QP_STATE | IBV_QP_SQ_PSN | IBV_QP_TIMEOUT | IBV_QP_RETRY_CNT |
                           IBV_QP_RNR_RETRY | IBV_QP_MAX_QP_RD_ATOMIC);
}

int Connect(ibv_qp* qp, uint32_t local_psn, const Endpoint& remote,
            const ConnectOptions& options) {
  // remote.psn is the peer's send PSN, i.e. the PSN we must expect on our receive side.
  int rc = ModifyToInit(qp, options.access);
  if (rc == 0) rc = ModifyToRtr(qp, remote, options.min_rnr_timer);
  if (rc == 0) {
    rc = ModifyToRts(qp, local_psn, options.rnr_retry, options.timeout, options.retry_cnt);
  }
  return rc;
}

bool MakeLoopbackPair(LoopbackPair* pair, uint32_t max_send_wr, uint32_t max_recv_wr,
                      const ConnectOptions& options, int cqe) {
  pair->device = OpenDevice();
  if (pair->device.ctx == nullptr) return false;
  pair->cq_a = ibv_create_cq(pair->device.ctx, cqe, nullptr, nullptr, 0);
  pair->cq_b = ibv_create_cq(pair->device.ctx, cqe, nullptr, nullptr, 0);
  if (pair->cq_a == nullptr || pair->cq_b == nullptr) return false;
  pair->a = CreateRcQp(pair->device, pair->cq_a, max_send_wr, max_recv_wr);
  pair->b = CreateRcQp(pair->device, pair->cq_b, max_send_wr, max_recv_wr);
  if (pair->a == nullptr || pair->b == nullptr) return false;
  Endpoint ea = EndpointOf(pair->device, pair->a, 100);
  Endpoint eb = EndpointOf(pair->device, pair->b, 200);
  return Connect(pair->a, 100, eb, options) == 0 && Connect(pair->b, 200, ea, options) == 0;
}

void DestroyLoopbackPair(LoopbackPair* pair) {
  if (pair->a != nullptr) {
    EXPECT_EQ(0, ibv_destroy_qp(pair->a));
  }
  if (pair->b != nullptr) {
    EXPECT_EQ(0, ibv_destroy_qp(pair->b));
  }
  if (pair->cq_a != nullptr) {
    EXPECT_EQ(0, ibv_destroy_cq(pair->cq_a));
  }
  if (pair->cq_b != nullptr) {
    EXPECT_EQ(0, ibv_destroy_cq(pair->cq_b));
  }
  CloseDevice(&pair->device);
  *pair = LoopbackPair();
}

int PollUntil(ibv_cq* cq, int n, ibv_wc* out, int timeout_ms) {
  int got = 0;
  int64_t deadline = NowMs() + timeout_ms;
  while (got < n && NowMs() < deadline) {
    int rc = ibv_poll_cq(cq, n - got, out + got);
    if (rc < 0) return rc;
    got += rc;
    if (rc == 0) usleep(50);
  }
  return got;
}

int PollFor(ibv_cq* cq, ibv_wc* out, int max, int ms) {
  int got = 0;
  int64_t deadline = NowMs() + ms;
  while (NowMs() < deadline && got < max) {
    int rc = ibv_poll_cq(cq, max - got, out + got);
    if (rc < 0) return rc;
    got += rc;
    usleep(100);
  }
  return got;
}

ibv_send_wr WriteWr(uint64_t wr_id, ibv_sge* sge, ibv_wr_opcode opcode, uint64_t remote_addr,
                    uint32_t rkey, unsigned flags) {
  ibv_send_wr wr;
  memset(&wr, 0, sizeof(wr));
  wr.wr_id = wr_id;
  wr.sg_list = sge;
  wr.num_sge = sge == nullptr ? 0 : 1;
  wr.opcode = opcode;
  wr.send_flags = flags;
  wr.wr.rdma.remote_addr = remote_addr;
  wr.wr.rdma.rkey = rkey;
  return wr;
}

pid_t StartChild(const std::function<int()>& body) {
  fflush(nullptr);
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  return pid;
}

int WaitChild(pid_t pid, int timeout_ms) {
  if (pid < 0) return -1;
  int64_t deadline = NowMs() + timeout_ms;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (NowMs() >= deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    usleep(1000);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int RunChild(const std::function<int()>& body, int timeout_ms) {
  return WaitChild(StartChild(body), timeout_ms);
}

bool WriteAll(int fd, const void* data, size_t len) {
  const char* p = static_cast<const char*>(data);
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= size_t(n);
  }
  return true;
}

bool ReadAll(int fd, void* data, size_t len, int timeout_ms) {
  char* p = static_cast<char*>(data);
  int64_t deadline = NowMs() + timeout_ms;
  while (len > 0) {
    pollfd pfd{fd, POLLIN, 0};
    int left = int(deadline - NowMs());
    if (left <= 0 || poll(&pfd, 1, left) <= 0) return false;
    ssize_t n = read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= size_t(n);
  }
  return true;
}

}  // namespace softverbs_test
