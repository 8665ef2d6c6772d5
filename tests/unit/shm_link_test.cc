// Unit tests of the shm Link: a send/recv pair driven directly over a socketpair (threads in
// one process, or a forked child as the peer for setup hygiene and peer-death cases).
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "support/child_exit.h"
#include "transport/shm/shm_segment.h"
#include "transport/transport.h"

namespace coll {
namespace {

constexpr int kRecvRank = 0, kSendRank = 1;

Config SmallConfig(size_t chunk_bytes, int nslots) {
  Config c;
  c.chunk_bytes = chunk_bytes;
  c.nslots = nslots;
  c.timeout_ms = 10000;
  return c;
}

LinkSetup LinkArgs(int self, int peer, const Config* config, int fd) {
  return LinkSetup{self, peer, config, Fd(fd), Deadline::In(10000), "test-host"};
}

struct SocketPair {
  int fds[2] = {-1, -1};
  SocketPair() { EXPECT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds)); }
};

// Names of this process's link segments in /dev/shm.
int CountSegments(pid_t pid) {
  std::string prefix = "coll-shm-" + std::to_string(pid) + "-";
  int n = 0;
  DIR* d = opendir("/dev/shm");
  if (d == nullptr) return -1;
  while (dirent* e = readdir(d)) n += std::strncmp(e->d_name, prefix.c_str(), prefix.size()) == 0;
  closedir(d);
  return n;
}

struct Pair {
  std::unique_ptr<SendLink> send;
  std::unique_ptr<RecvLink> recv;
};

void MakePair(const Config& config, Pair* p) {
  SocketPair sp;
  ASSERT_TRUE(shm::MakeRecvLink(LinkArgs(kRecvRank, kSendRank, &config, sp.fds[0]), &p->recv).ok());
  Status st = shm::MakeSendLink(LinkArgs(kSendRank, kRecvRank, &config, sp.fds[1]), &p->send);
  ASSERT_TRUE(st.ok()) << st.message();
  st = p->recv->finishSetup(Deadline::In(10000));
  ASSERT_TRUE(st.ok()) << st.message();
}

ChunkMeta MetaOf(uint64_t i, size_t bytes) {
  ChunkMeta m;
  m.words[0] = i;
  m.words[1] = bytes;
  m.words[2] = ~i;
  m.words[3] = 0x5eed0000 + i;
  return m;
}

uint8_t ByteOf(uint64_t i, size_t j) { return static_cast<uint8_t>(i * 31 + j * 7 + 1); }

// Spins on tryRecv until a chunk arrives or the link fails or 10 s pass.
Status RecvOne(RecvLink* link, RecvChunk* chunk) {
  Deadline deadline = Deadline::In(10000);
  for (;;) {
    bool ready = false, progressed = false;
    Status st = link->progress(&progressed);
    if (st.ok()) st = link->tryRecv(chunk, &ready);
    if (!st.ok() || ready) return st;
    if (deadline.expired()) return Timeout("no chunk within 10 s");
    std::this_thread::yield();
  }
}

// Spins until a credit is held or the link fails or 10 s pass.
Status WaitCredit(SendLink* link) {
  Deadline deadline = Deadline::In(10000);
  while (!link->hasCredit()) {
    bool progressed = false;
    Status st = link->progress(&progressed);
    if (!st.ok()) return st;
    if (deadline.expired()) return Timeout("no credit within 10 s");
    std::this_thread::yield();
  }
  return Status::OK();
}

Status PostPattern(SendLink* link, uint64_t i, size_t bytes, bool fused) {
  std::vector<uint8_t> buf(bytes);
  for (size_t j = 0; j < bytes; ++j) buf[j] = ByteOf(i, j);
  if (!fused) return link->postCopy(buf.data(), bytes, MetaOf(i, bytes));
  if (bytes) std::memcpy(link->slot(), buf.data(), bytes);
  return link->postSlot(bytes, MetaOf(i, bytes));
}

// Forks a child that runs fn and exits with its result (0 = ok); never returns in the child.
pid_t Fork(const std::function<int()>& fn) {
  pid_t pid = fork();
  if (pid == 0) {
    colltest::BeginChild();
    colltest::EndChild(fn(), -1);  // a gtest failure or a leak in the child fails it too
  }
  return pid;
}

int WaitChild(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(ShmLink, Available) { EXPECT_TRUE(shm::Available(Config())); }

TEST(ShmLink, SegmentIsUnlinkedOnceBothEndsMappedIt) {
  Config config = SmallConfig(4096, 2);
  SocketPair sp;
  std::unique_ptr<RecvLink> recv;
  std::unique_ptr<SendLink> send;
  ASSERT_TRUE(shm::MakeRecvLink(LinkArgs(kRecvRank, kSendRank, &config, sp.fds[0]), &recv).ok());
  EXPECT_EQ(1, CountSegments(getpid()));
  ASSERT_TRUE(shm::MakeSendLink(LinkArgs(kSendRank, kRecvRank, &config, sp.fds[1]), &send).ok());
  EXPECT_EQ(0, CountSegments(getpid()));
  ASSERT_TRUE(recv->finishSetup(Deadline::In(10000)).ok());
  EXPECT_EQ(0, CountSegments(getpid()));
}

TEST(ShmLink, ReceiverThatNeverMeetsItsSenderLeavesNothing) {
  Config config = SmallConfig(4096, 2);
  SocketPair sp;
  {
    std::unique_ptr<RecvLink> recv;
    ASSERT_TRUE(shm::MakeRecvLink(LinkArgs(kRecvRank, kSendRank, &config, sp.fds[0]), &recv).ok());
    close(sp.fds[1]);
    Status st = recv->finishSetup(Deadline::In(10000));
    EXPECT_EQ(COLL_ERR_PEER_LOST, st.code()) << st.message();
  }
  EXPECT_EQ(0, CountSegments(getpid()));
}

TEST(ShmLink, ChunksArriveInOrderWithExactBytesAndMeta) {
  const size_t slot = 4096 + 13;
  Config config = SmallConfig(slot, 3);
  Pair p;
  ASSERT_NO_FATAL_FAILURE(MakePair(config, &p));
  const size_t sizes[] = {0, 1, 7, slot, slot - 1, 64, 1000};
  const uint64_t n = 500;
  std::thread sender([&] {
    for (uint64_t i = 0; i < n; ++i) {
      ASSERT_TRUE(WaitCredit(p.send.get()).ok());
      ASSERT_TRUE(PostPattern(p.send.get(), i, sizes[i % 7], i % 2 == 1).ok());
    }
  });
  for (uint64_t i = 0; i < n; ++i) {
    RecvChunk c;
    Status st = RecvOne(p.recv.get(), &c);
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_EQ(sizes[i % 7], c.bytes) << "chunk " << i;
    for (int w = 0; w < 4; ++w) ASSERT_EQ(MetaOf(i, c.bytes).words[w], c.meta.words[w]) << "chunk " << i;
    const uint8_t* d = static_cast<const uint8_t*>(c.data);
    for (size_t j = 0; j < c.bytes; ++j) ASSERT_EQ(ByteOf(i, j), d[j]) << "chunk " << i << " byte " << j;
    ASSERT_TRUE(p.recv->release().ok());
  }
  sender.join();
}

TEST(ShmLink, CreditsBoundWhatIsInFlight) {
  Config config = SmallConfig(256, 3);
  Pair p;
  ASSERT_NO_FATAL_FAILURE(MakePair(config, &p));
  for (uint64_t i = 0; i < 3; ++i) {
    ASSERT_TRUE(p.send->hasCredit());
    ASSERT_TRUE(PostPattern(p.send.get(), i, 100, false).ok());
  }
  EXPECT_FALSE(p.send->hasCredit());
  EXPECT_TRUE(p.send->pollSpec().needs_spin);
  EXPECT_NE(COLL_SUCCESS, PostPattern(p.send.get(), 3, 100, false).code());
  RecvChunk c;
  ASSERT_TRUE(RecvOne(p.recv.get(), &c).ok());
  EXPECT_FALSE(p.send->hasCredit()) << "a chunk held by the receiver is not a credit";
  ASSERT_TRUE(p.recv->release().ok());
  bool progressed = false;
  ASSERT_TRUE(p.send->progress(&progressed).ok());
  EXPECT_TRUE(progressed);
  EXPECT_TRUE(p.send->hasCredit());
  EXPECT_TRUE(p.send->idle());
  EXPECT_NE(COLL_SUCCESS, p.recv->release().code()) << "released more than was handed out";
}

TEST(ShmLink, SlotIsThePeersMemoryAndCyclesThroughSlots) {
  Config config = SmallConfig(1024, 2);
  Pair p;
  ASSERT_NO_FATAL_FAILURE(MakePair(config, &p));
  std::vector<void*> slots;
  for (uint64_t i = 0; i < 6; ++i) {
    ASSERT_TRUE(p.send->hasCredit());
    void* s = p.send->slot();
    ASSERT_NE(nullptr, s);
    slots.push_back(s);
    std::memset(s, static_cast<int>(0x40 + i), 1024);
    ASSERT_TRUE(p.send->postSlot(1024, MetaOf(i, 1024)).ok());
    RecvChunk c;
    ASSERT_TRUE(RecvOne(p.recv.get(), &c).ok());
    EXPECT_EQ(0x40 + i, static_cast<const uint8_t*>(c.data)[1023]);
    EXPECT_EQ(i, c.meta.words[0]);
    ASSERT_TRUE(p.recv->release().ok());
  }
  EXPECT_NE(slots[0], slots[1]);
  EXPECT_EQ(slots[0], slots[2]);
  EXPECT_EQ(slots[1], slots[5]);
}

TEST(ShmLink, OversizedPostIsRejected) {
  Config config = SmallConfig(512, 2);
  Pair p;
  ASSERT_NO_FATAL_FAILURE(MakePair(config, &p));
  std::vector<char> big(513);
  EXPECT_EQ(COLL_ERR_INTERNAL, p.send->postCopy(big.data(), big.size(), ChunkMeta()).code());
  EXPECT_EQ(COLL_ERR_INTERNAL, p.send->postSlot(513, ChunkMeta()).code());
}

TEST(ShmLink, MismatchedGeometryFailsBothEndsWithoutHanging) {
  Config recv_config = SmallConfig(4096, 4), send_config = SmallConfig(4096, 2);
  SocketPair sp;
  std::unique_ptr<RecvLink> recv;
  std::unique_ptr<SendLink> send;
  ASSERT_TRUE(shm::MakeRecvLink(LinkArgs(kRecvRank, kSendRank, &recv_config, sp.fds[0]), &recv).ok());
  Status st = shm::MakeSendLink(LinkArgs(kSendRank, kRecvRank, &send_config, sp.fds[1]), &send);
  EXPECT_FALSE(st.ok());
  st = recv->finishSetup(Deadline::In(10000));
  EXPECT_EQ(COLL_ERR_PEER_LOST, st.code()) << st.message();
  EXPECT_EQ(0, CountSegments(getpid()));
}

// A peer that names a shm object libcollective did not make (a buggy or hostile peer that
// passed authentication) is refused before the sender opens it: the sender would unlink it.
TEST(ShmLink, ForeignSegmentNameIsRefusedAndLeftAlone) {
  const std::string victim = "/coll-test-victim-" + std::to_string(getpid());
  int vfd = shm_open(victim.c_str(), O_RDWR | O_CREAT | O_EXCL, 0600);
  ASSERT_GE(vfd, 0) << std::strerror(errno);
  close(vfd);
  for (const std::string& name : {victim, std::string("/coll-shm-1-0123456789abcdeg"),
                                  std::string("/coll-shm--0123456789abcdef"), std::string("/coll-shm-1-0123456789abcdef0"),
                                  std::string("/coll-shm-1-0123456789ABCDEF"), std::string("../coll-shm-1-0123456789abcdef")}) {
    Config config = SmallConfig(4096, 2);
    SocketPair sp;
    shm::NameMessage msg{};
    msg.magic = shm::kSegmentMagic;
    std::snprintf(msg.name, sizeof msg.name, "%s", name.c_str());
    ASSERT_EQ(static_cast<ssize_t>(sizeof msg), write(sp.fds[0], &msg, sizeof msg));
    std::unique_ptr<SendLink> send;
    Status st = shm::MakeSendLink(LinkArgs(kSendRank, kRecvRank, &config, sp.fds[1]), &send);
    EXPECT_EQ(COLL_ERR_INTERNAL, st.code()) << name << ": " << st.message();
    EXPECT_NE(std::string::npos, st.message().find("malformed shm segment name")) << st.message();
    close(sp.fds[0]);
  }
  vfd = shm_open(victim.c_str(), O_RDWR, 0600);
  EXPECT_GE(vfd, 0) << "the foreign shm object was unlinked";
  if (vfd >= 0) close(vfd);
  shm_unlink(victim.c_str());
}

// ---- a forked peer: death is noticed promptly, a clean exit after the last chunk is not an error ----

// The child runs the sender end: it posts `chunks` chunks, then exits or waits to be killed.
pid_t ForkSender(const Config& config, SocketPair& sp, int chunks, bool stay) {
  return Fork([&] {
    close(sp.fds[0]);
    std::unique_ptr<SendLink> send;
    if (!shm::MakeSendLink(LinkArgs(kSendRank, kRecvRank, &config, sp.fds[1]), &send).ok()) return 1;
    for (int i = 0; i < chunks; ++i)
      if (!WaitCredit(send.get()).ok() || !PostPattern(send.get(), i, 100, i % 2).ok()) return 2;
    while (stay) pause();
    return 0;
  });
}

// The child runs the receiver end: it consumes `chunks` chunks, then exits or waits to be killed.
pid_t ForkReceiver(const Config& config, SocketPair& sp, int chunks, bool stay) {
  return Fork([&] {
    close(sp.fds[1]);
    std::unique_ptr<RecvLink> recv;
    if (!shm::MakeRecvLink(LinkArgs(kRecvRank, kSendRank, &config, sp.fds[0]), &recv).ok()) return 1;
    if (!recv->finishSetup(Deadline::In(10000)).ok()) return 2;
    RecvChunk c;
    for (int i = 0; i < chunks; ++i)
      if (!RecvOne(recv.get(), &c).ok() || !recv->release().ok()) return 3;
    while (stay) pause();
    return 0;
  });
}

double SecondsSince(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

TEST(ShmLinkPeer, KilledSenderIsReportedPromptly) {
  Config config = SmallConfig(4096, 4);
  SocketPair sp;
  pid_t child = ForkSender(config, sp, 1, true);
  close(sp.fds[1]);
  std::unique_ptr<RecvLink> recv;
  ASSERT_TRUE(shm::MakeRecvLink(LinkArgs(kRecvRank, kSendRank, &config, sp.fds[0]), &recv).ok());
  ASSERT_TRUE(recv->finishSetup(Deadline::In(10000)).ok());
  EXPECT_EQ(0, CountSegments(getpid()));
  RecvChunk c;
  ASSERT_TRUE(RecvOne(recv.get(), &c).ok());
  ASSERT_TRUE(recv->release().ok());
  kill(child, SIGKILL);
  WaitChild(child);
  auto t0 = std::chrono::steady_clock::now();
  Status st = RecvOne(recv.get(), &c);
  EXPECT_EQ(COLL_ERR_PEER_LOST, st.code()) << st.message();
  EXPECT_NE(std::string::npos, st.message().find("rank 1")) << st.message();
  EXPECT_LT(SecondsSince(t0), 1.0);
}

TEST(ShmLinkPeer, KilledReceiverIsReportedPromptly) {
  Config config = SmallConfig(4096, 2);
  SocketPair sp;
  pid_t child = ForkReceiver(config, sp, 0, true);
  close(sp.fds[0]);
  std::unique_ptr<SendLink> send;
  ASSERT_TRUE(shm::MakeSendLink(LinkArgs(kSendRank, kRecvRank, &config, sp.fds[1]), &send).ok());
  EXPECT_EQ(0, CountSegments(child));
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(PostPattern(send.get(), i, 10, false).ok());
  kill(child, SIGKILL);
  WaitChild(child);
  auto t0 = std::chrono::steady_clock::now();
  Status st = WaitCredit(send.get());
  EXPECT_EQ(COLL_ERR_PEER_LOST, st.code()) << st.message();
  EXPECT_NE(std::string::npos, st.message().find("rank 0")) << st.message();
  EXPECT_LT(SecondsSince(t0), 1.0);
}

TEST(ShmLinkPeer, SenderThatExitsAfterItsLastChunkStillDeliversIt) {
  Config config = SmallConfig(4096, 4);
  SocketPair sp;
  pid_t child = ForkSender(config, sp, 3, false);
  close(sp.fds[1]);
  std::unique_ptr<RecvLink> recv;
  ASSERT_TRUE(shm::MakeRecvLink(LinkArgs(kRecvRank, kSendRank, &config, sp.fds[0]), &recv).ok());
  ASSERT_TRUE(recv->finishSetup(Deadline::In(10000)).ok());
  int status = WaitChild(child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  for (uint64_t i = 0; i < 3; ++i) {
    RecvChunk c;
    Status st = RecvOne(recv.get(), &c);
    ASSERT_TRUE(st.ok()) << st.message();
    EXPECT_EQ(i, c.meta.words[0]);
    EXPECT_EQ(ByteOf(i, 99), static_cast<const uint8_t*>(c.data)[99]);
    ASSERT_TRUE(recv->release().ok());
  }
  RecvChunk c;
  EXPECT_EQ(COLL_ERR_PEER_LOST, RecvOne(recv.get(), &c).code()) << "a fourth chunk will never come";
}

TEST(ShmLinkPeer, ReceiverThatLeftAfterConsumingEverythingIsNoError) {
  Config config = SmallConfig(4096, 2);
  SocketPair sp;
  pid_t child = ForkReceiver(config, sp, 3, false);
  close(sp.fds[0]);
  std::unique_ptr<SendLink> send;
  ASSERT_TRUE(shm::MakeSendLink(LinkArgs(kSendRank, kRecvRank, &config, sp.fds[1]), &send).ok());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(WaitCredit(send.get()).ok());
    ASSERT_TRUE(PostPattern(send.get(), i, 10, true).ok());
  }
  int status = WaitChild(child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  std::this_thread::sleep_for(std::chrono::milliseconds(5));  // past the socket-check interval
  bool progressed = false;
  EXPECT_TRUE(send->progress(&progressed).ok());
  EXPECT_TRUE(send->hasCredit());
  EXPECT_TRUE(send->idle());
  EXPECT_EQ(COLL_ERR_PEER_LOST, PostPattern(send.get(), 3, 10, false).code()) << "nobody will read it";
}

}  // namespace
}  // namespace coll
