// Spec tests of softverbs across processes (fork): RDMA_WRITE_WITH_IMM into another process's
// memory with the receive completion checked there, two processes flooding each other with
// writes under receive back-pressure (RNR) without deadlock, a dead peer (reaped or zombie)
// failing work with IBV_WC_RETRY_EXC_ERR, and SOFTVERBS_FAULT_REM_ACCESS_AFTER set in one
// process failing the writes into it only. Every child has a deadline and is killed after it.
// Thread-safety: single-threaded tests.
#include <arpa/inet.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "test_util.h"

namespace softverbs_test {
namespace {

constexpr int kChildTimeoutMs = 20000;
constexpr int kRw = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ;

struct Info {
  uint32_t qpn;
  uint16_t lid;
  uint32_t psn;
  uint64_t addr;
  uint32_t rkey;
};

// One process's end: device, CQ, QP and a registered buffer.
struct Side {
  Device device;
  ibv_cq* cq = nullptr;
  ibv_qp* qp = nullptr;
  std::vector<char> buf;
  ibv_mr* mr = nullptr;

  bool Open(size_t bytes, uint32_t psn, Info* info) {
    device = OpenDevice();
    if (device.ctx == nullptr) return false;
    cq = ibv_create_cq(device.ctx, 1024, nullptr, nullptr, 0);
    qp = cq == nullptr ? nullptr : CreateRcQp(device, cq, 64, 64);
    buf.assign(bytes, 0);
    mr = ibv_reg_mr(device.pd, buf.data(), bytes, kRw);
    if (qp == nullptr || mr == nullptr) return false;
    Endpoint e = EndpointOf(device, qp, psn);
    *info = Info{e.qpn, e.lid, psn, uint64_t(uintptr_t(buf.data())), mr->rkey};
    return true;
  }
  bool Connect(const Info& mine, const Info& peer, uint8_t timeout = 8) {
    ConnectOptions options;
    options.timeout = timeout;
    return softverbs_test::Connect(qp, mine.psn, Endpoint{peer.qpn, peer.lid, peer.psn},
                                   options) == 0;
  }
  bool PostRecv(uint64_t wr_id) {
    ibv_recv_wr wr;
    memset(&wr, 0, sizeof(wr));
    wr.wr_id = wr_id;
    ibv_recv_wr* bad = nullptr;
    return ibv_post_recv(qp, &wr, &bad) == 0;
  }
  bool WriteImm(uint64_t wr_id, size_t offset, size_t len, const Info& peer, uint32_t imm) {
    ibv_sge sge{uint64_t(uintptr_t(buf.data() + offset)), uint32_t(len), mr->lkey};
    ibv_send_wr wr = WriteWr(wr_id, &sge, IBV_WR_RDMA_WRITE_WITH_IMM, peer.addr + offset,
                             peer.rkey);
    wr.imm_data = htonl(imm);
    ibv_send_wr* bad = nullptr;
    return ibv_post_send(qp, &wr, &bad) == 0;
  }
  void Close() {
    if (qp != nullptr) ibv_destroy_qp(qp);
    if (mr != nullptr) ibv_dereg_mr(mr);
    if (cq != nullptr) ibv_destroy_cq(cq);
    qp = nullptr;
    mr = nullptr;
    cq = nullptr;
    CloseDevice(&device);
  }
  ~Side() { Close(); }
};

// Reaps the child when the test ends, killing it if an assertion ended the test early.
struct ChildGuard {
  pid_t pid = -1;
  int Wait() {
    int rc = WaitChild(pid, kChildTimeoutMs);
    pid = -1;
    return rc;
  }
  ~ChildGuard() {
    if (pid > 0) WaitChild(pid, 2000);
  }
};

// Pipes between parent and child: to_child and to_parent.
struct Link {
  int to_child[2];
  int to_parent[2];
  Link() {
    EXPECT_EQ(0, pipe(to_child));
    EXPECT_EQ(0, pipe(to_parent));
  }
  ~Link() {
    for (int fd : {to_child[0], to_child[1], to_parent[0], to_parent[1]}) close(fd);
  }
};

using MultiProcessTest = SoftverbsTest;

int ChildEchoesWriteWithImm(Link& link) {
  Side side;
  Info mine, peer;
  if (!side.Open(4096, 7, &mine)) return 10;
  WriteAll(link.to_parent[1], &mine, sizeof(mine));
  if (!ReadAll(link.to_child[0], &peer, sizeof(peer), 10000)) return 12;
  if (!side.Connect(mine, peer)) return 13;
  if (!side.PostRecv(1)) return 11;
  ibv_wc wc;
  if (PollUntil(side.cq, 1, &wc, 10000) != 1 || wc.status != IBV_WC_SUCCESS) return 14;
  if (wc.opcode != IBV_WC_RECV_RDMA_WITH_IMM || wc.byte_len != 1000) return 15;
  if (ntohl(wc.imm_data) != 0xabcd || wc.wr_id != 1 || wc.src_qp != peer.qpn) return 16;
  for (int i = 0; i < 1000; ++i) {
    if (side.buf[size_t(i)] != char(i % 251)) return 17;
  }
  for (int i = 0; i < 1000; ++i) side.buf[size_t(i)] = char(i % 13);
  if (!side.WriteImm(2, 0, 1000, peer, 0x1234)) return 18;
  if (PollUntil(side.cq, 1, &wc, 10000) != 1 || wc.status != IBV_WC_SUCCESS) return 19;
  char done = 0;
  ReadAll(link.to_child[0], &done, 1, 10000);  // keep the MR alive until the parent checked
  side.Close();
  return 0;
}

TEST_F(MultiProcessTest, WriteWithImmIntoAnotherProcess) {
  ChildGuard child;
  Link link;
  child.pid = StartChild([&] { return ChildEchoesWriteWithImm(link); });
  Side side;
  Info mine, peer;
  ASSERT_TRUE(side.Open(4096, 3, &mine));
  ASSERT_TRUE(ReadAll(link.to_parent[0], &peer, sizeof(peer), 10000));
  WriteAll(link.to_child[1], &mine, sizeof(mine));
  ASSERT_TRUE(side.Connect(mine, peer));
  ASSERT_TRUE(side.PostRecv(9));
  for (int i = 0; i < 1000; ++i) side.buf[size_t(i)] = char(i % 251);
  ASSERT_TRUE(side.WriteImm(5, 0, 1000, peer, 0xabcd));
  ibv_wc wc[2];
  ASSERT_EQ(2, PollUntil(side.cq, 2, wc, 10000));
  int recv = wc[0].opcode == IBV_WC_RECV_RDMA_WITH_IMM ? 0 : 1;
  EXPECT_EQ(IBV_WC_SUCCESS, wc[0].status);
  EXPECT_EQ(IBV_WC_SUCCESS, wc[1].status);
  EXPECT_EQ(5u, wc[1 - recv].wr_id);
  EXPECT_EQ(9u, wc[recv].wr_id);
  EXPECT_EQ(1000u, wc[recv].byte_len);
  EXPECT_EQ(0x1234u, ntohl(wc[recv].imm_data));
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(char(i % 13), side.buf[size_t(i)]) << i;
  WriteAll(link.to_child[1], "x", 1);
  EXPECT_EQ(0, child.Wait());
  side.Close();
}

constexpr int kFloodMessages = 300;
constexpr int kFloodDepth = 8;

// Posts kFloodMessages writes-with-imm to the peer while keeping only kFloodDepth receives
// posted, re-posting one per arrival; returns 0 when everything arrived in order.
int Flood(Side& side, const Info& peer) {
  for (int i = 0; i < kFloodDepth; ++i) {
    if (!side.PostRecv(uint64_t(i))) return 20;
  }
  int sent = 0, acked = 0, received = 0;
  uint32_t next_imm = 0;
  ibv_wc wc[16];
  while (acked < kFloodMessages || received < kFloodMessages) {
    while (sent < kFloodMessages && sent - acked < 32) {
      size_t offset = size_t(sent % 64) * 8;
      if (!side.WriteImm(uint64_t(sent), offset, 8, peer, uint32_t(sent))) return 21;
      ++sent;
    }
    int n = PollUntil(side.cq, 1, wc, 10000);
    if (n != 1) return 22;
    if (wc[0].status != IBV_WC_SUCCESS) return 23;
    if (wc[0].opcode == IBV_WC_RDMA_WRITE) {
      ++acked;
      continue;
    }
    if (ntohl(wc[0].imm_data) != next_imm++) return 24;
    if (++received + kFloodDepth <= kFloodMessages && !side.PostRecv(uint64_t(received))) {
      return 25;
    }
  }
  return 0;
}

TEST_F(MultiProcessTest, TwoProcessesFloodEachOtherWithoutDeadlock) {
  ChildGuard child;
  Link link;
  child.pid = StartChild([&] {
    Side side;
    Info mine, peer;
    if (!side.Open(4096, 11, &mine)) return 10;
    WriteAll(link.to_parent[1], &mine, sizeof(mine));
    if (!ReadAll(link.to_child[0], &peer, sizeof(peer), 10000)) return 12;
    if (!side.Connect(mine, peer)) return 13;
    int rc = Flood(side, peer);
    char done = 0;
    WriteAll(link.to_parent[1], &done, 1);
    ReadAll(link.to_child[0], &done, 1, 10000);
    side.Close();
    return rc;
  });
  Side side;
  Info mine, peer;
  ASSERT_TRUE(side.Open(4096, 12, &mine));
  ASSERT_TRUE(ReadAll(link.to_parent[0], &peer, sizeof(peer), 10000));
  WriteAll(link.to_child[1], &mine, sizeof(mine));
  ASSERT_TRUE(side.Connect(mine, peer));
  EXPECT_EQ(0, Flood(side, peer));
  char done = 0;
  EXPECT_TRUE(ReadAll(link.to_parent[0], &done, 1, 10000));
  WriteAll(link.to_child[1], &done, 1);
  EXPECT_EQ(0, child.Wait());
}

void ExpectDeadPeerFails(bool reap) {
  ChildGuard child;
  Link link;
  child.pid = StartChild([&] {
    Side side;
    Info mine, peer;
    if (!side.Open(4096, 21, &mine)) return 10;
    WriteAll(link.to_parent[1], &mine, sizeof(mine));
    if (!ReadAll(link.to_child[0], &peer, sizeof(peer), 10000)) return 12;
    if (!side.Connect(mine, peer)) return 13;
    for (int i = 0; i < 4; ++i) side.PostRecv(uint64_t(i));
    char ready = 1;
    WriteAll(link.to_parent[1], &ready, 1);
    ReadAll(link.to_child[0], &ready, 1, 10000);
    return 0;  // dies without cleaning up, like a crashed rank
  });
  Side side;
  Info mine, peer;
  ASSERT_TRUE(side.Open(4096, 22, &mine));
  ASSERT_TRUE(ReadAll(link.to_parent[0], &peer, sizeof(peer), 10000));
  WriteAll(link.to_child[1], &mine, sizeof(mine));
  ASSERT_TRUE(side.Connect(mine, peer));
  char ready = 0;
  ASSERT_TRUE(ReadAll(link.to_parent[0], &ready, 1, 10000));
  ASSERT_TRUE(side.WriteImm(1, 0, 8, peer, 1));
  ibv_wc wc;
  ASSERT_EQ(1, PollUntil(side.cq, 1, &wc, 10000));
  EXPECT_EQ(IBV_WC_SUCCESS, wc.status) << "the peer is alive";
  WriteAll(link.to_child[1], &ready, 1);
  if (reap) {
    EXPECT_EQ(0, child.Wait());
  } else {
    siginfo_t info;
    ASSERT_EQ(0, waitid(P_PID, id_t(child.pid), &info, WEXITED | WNOWAIT));  // a zombie now
  }
  ASSERT_TRUE(side.WriteImm(2, 0, 8, peer, 2));
  ASSERT_EQ(1, PollUntil(side.cq, 1, &wc, 10000));
  EXPECT_EQ(2u, wc.wr_id);
  EXPECT_EQ(IBV_WC_RETRY_EXC_ERR, wc.status);
  if (!reap) {
    EXPECT_EQ(0, child.Wait());
  }
  side.Close();
}

TEST_F(MultiProcessTest, DeadPeerIsRetryExceeded) { ExpectDeadPeerFails(true); }

TEST_F(MultiProcessTest, ZombiePeerIsRetryExceeded) { ExpectDeadPeerFails(false); }

// The victim: refuses the second RDMA write into it, while its own write into the parent works.
int ChildRefusesSecondWrite(Link& link) {
  setenv("SOFTVERBS_FAULT_REM_ACCESS_AFTER", "1", 1);
  Side side;
  Info mine, peer;
  if (!side.Open(4096, 31, &mine)) return 10;
  WriteAll(link.to_parent[1], &mine, sizeof(mine));
  if (!ReadAll(link.to_child[0], &peer, sizeof(peer), 10000)) return 12;
  if (!side.Connect(mine, peer)) return 13;
  if (!side.WriteImm(1, 0, 8, peer, 1)) return 18;
  ibv_wc wc;
  if (PollUntil(side.cq, 1, &wc, 10000) != 1 || wc.status != IBV_WC_SUCCESS) return 19;
  char done = 0;
  ReadAll(link.to_child[0], &done, 1, 10000);  // the parent's writes into us are over
  side.Close();
  return 0;
}

TEST_F(MultiProcessTest, RemoteAccessFaultFailsWritesIntoTheVictimOnly) {
  ChildGuard child;
  Link link;
  child.pid = StartChild([&] { return ChildRefusesSecondWrite(link); });
  Side side;
  Info mine, peer;
  ASSERT_TRUE(side.Open(4096, 32, &mine));
  ASSERT_TRUE(ReadAll(link.to_parent[0], &peer, sizeof(peer), 10000));
  WriteAll(link.to_child[1], &mine, sizeof(mine));
  ASSERT_TRUE(side.Connect(mine, peer));
  ASSERT_TRUE(side.PostRecv(9));  // an earlier write from the child is RNR-retried until now
  ibv_wc wc[2];
  ASSERT_EQ(1, PollUntil(side.cq, 1, wc, 10000));
  EXPECT_EQ(IBV_WC_SUCCESS, wc[0].status) << "writes into the parent are not affected";
  ibv_sge sge{uint64_t(uintptr_t(side.buf.data())), 8, side.mr->lkey};
  ibv_send_wr wrs[2] = {WriteWr(1, &sge, IBV_WR_RDMA_WRITE, peer.addr, peer.rkey),
                        WriteWr(2, &sge, IBV_WR_RDMA_WRITE, peer.addr + 8, peer.rkey)};
  wrs[0].next = &wrs[1];
  ibv_send_wr* bad = nullptr;
  ASSERT_EQ(0, ibv_post_send(side.qp, &wrs[0], &bad));
  ASSERT_EQ(2, PollUntil(side.cq, 2, wc, 10000));
  EXPECT_EQ(IBV_WC_SUCCESS, wc[0].status);
  EXPECT_EQ(IBV_WC_REM_ACCESS_ERR, wc[1].status);
  WriteAll(link.to_child[1], "x", 1);
  EXPECT_EQ(0, child.Wait());
  side.Close();
}

}  // namespace
}  // namespace softverbs_test
