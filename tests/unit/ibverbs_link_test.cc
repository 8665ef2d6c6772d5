// An ibverbs SendLink/RecvLink pair over softverbs in two forked processes, with a
// socketpair as the LinkSetup socket: data and metadata arrive intact through both the
// fused slot() path and postCopy, credits wrap many times, and a peer that dies or
// disagrees on geometry is a clean error on the survivor.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "base/socket.h"
#include "support/child_check.h"
#include "support/process_group.h"
#include "support/ranks.h"
#include "transport/transport.h"

namespace coll {
namespace {

constexpr int kSender = 0, kReceiver = 1;

// Drives one link until `done` holds, like the engine: spin, then sleep on pollSpec().
template <typename Link>
Status Drive(Link* link, const std::function<bool()>& done, int timeout_ms = 20000) {
  Deadline deadline = Deadline::In(timeout_ms);
  for (int idle = 0; !done();) {
    bool progressed = false;
    COLL_RETURN_IF_ERROR(link->progress(&progressed));
    if (done()) break;
    if (deadline.expired()) return Timeout("link test: no progress on %s", link->describe().c_str());
    if (progressed || ++idle < 64) continue;
    idle = 0;
    PollSpec spec = link->pollSpec();
    if (spec.fd >= 0) {
      pollfd p{spec.fd, spec.events, 0};
      ::poll(&p, 1, 10);
    }
  }
  return Status::OK();
}

uint8_t Pattern(uint64_t chunk, size_t i) { return static_cast<uint8_t>(chunk * 31 + i * 7 + 1); }
size_t ChunkSize(uint64_t chunk, size_t slot) { return chunk % 5 == 4 ? 0 : (chunk * 977) % (slot + 1); }

struct PairOptions {
  int nchunks = 200;
  int sender_pause_ms = 0;       // sleep before each chunk (the receiver must sleep too)
  bool sleepy_receiver = false;  // wait in poll(2) on pollSpec() only, 5 s at a time
  Config sender, receiver;
  int sender_dies_after = -1;    // SIGKILL itself after posting this many chunks
  int receiver_dies_after = -1;  // SIGKILL itself after consuming this many chunks
  std::string describe_has;      // both links' describe() must contain this once set up
  colltest::EnvList sender_env, receiver_env;  // on top of RunPair's env
  bool receiver_leaves = false;  // destroys its link right after setup, then stays 1 s
};

LinkSetup SetupFor(int self, int fd, const Config* config) {
  LinkSetup s;
  s.self_rank = self;
  s.peer_rank = 1 - self;
  s.config = config;
  s.socket = Fd(fd);
  s.deadline = Deadline::In(20000);
  s.peer_host = "this-host";
  return s;
}

int RunSender(int fd, const PairOptions& o, Status* result) {
  std::unique_ptr<SendLink> link;
  *result = ibverbs::MakeSendLink(SetupFor(kSender, fd, &o.sender), &link);
  if (!result->ok()) return 0;
  CCHECK(link->describe().find(o.describe_has) != std::string::npos) << link->describe();
  std::vector<uint8_t> src(o.sender.chunk_bytes);
  for (int c = 0; c < o.nchunks; ++c) {
    if (c == o.sender_dies_after) raise(SIGKILL);
    if (o.sender_pause_ms > 0) usleep(static_cast<useconds_t>(o.sender_pause_ms) * 1000);
    *result = Drive(link.get(), [&] { return link->hasCredit(); });
    if (!result->ok()) return 0;
    size_t n = ChunkSize(c, o.sender.chunk_bytes);
    ChunkMeta meta;
    meta.words[0] = static_cast<uint64_t>(c);
    meta.words[3] = n ^ 0xabcdef;
    uint8_t* dst = c % 2 ? static_cast<uint8_t*>(link->slot()) : src.data();
    CCHECK(dst != nullptr);
    for (size_t i = 0; i < n; ++i) dst[i] = Pattern(c, i);
    *result = c % 2 ? link->postSlot(n, meta) : link->postCopy(src.data(), n, meta);
    if (!result->ok()) return 0;
  }
  *result = Drive(link.get(), [&] { return link->idle(); });
  return 0;
}

int CheckChunk(const RecvChunk& chunk, int c, size_t slot) {
  size_t n = ChunkSize(c, slot);
  CCHECK_EQ(chunk.bytes, n) << "chunk " << c;
  CCHECK_EQ(chunk.meta.words[0], static_cast<uint64_t>(c));
  CCHECK_EQ(chunk.meta.words[3], n ^ 0xabcdef);
  const uint8_t* p = static_cast<const uint8_t*>(chunk.data);
  for (size_t i = 0; i < n; ++i) CCHECK(p[i] == Pattern(c, i)) << "chunk " << c << " byte " << i;
  return 0;
}

// Waits for the next chunk by sleeping on pollSpec() alone: a completion (or the peer's
// EOF) must wake the poll long before its 5 s timeout.
int SleepUntilChunk(RecvLink* link, RecvChunk* chunk, Status* result) {
  for (;;) {
    bool ready = false;
    *result = link->tryRecv(chunk, &ready);
    if (ready || !result->ok()) return 0;
    PollSpec spec = link->pollSpec();
    if (spec.fd < 0) continue;  // completions slipped in while arming
    int64_t start = NowMicros();
    pollfd p{spec.fd, spec.events, 0};
    CCHECK(::poll(&p, 1, 5000) == 1) << "the completion channel never woke the poll";
    CCHECK(NowMicros() - start < 2000000) << "woken only after " << (NowMicros() - start) << " us";
  }
}

int RunReceiver(int fd, const PairOptions& o, Status* result) {
  std::unique_ptr<RecvLink> link;
  *result = ibverbs::MakeRecvLink(SetupFor(kReceiver, fd, &o.receiver), &link);
  if (result->ok()) *result = link->finishSetup(Deadline::In(20000));
  if (!result->ok()) return 0;
  CCHECK(link->describe().find(o.describe_has) != std::string::npos) << link->describe();
  if (o.receiver_leaves) {
    link.reset();
    usleep(1000000);
    return 0;
  }
  for (int c = 0; c < o.nchunks; ++c) {
    if (c == o.receiver_dies_after) raise(SIGKILL);
    RecvChunk chunk;
    bool ready = false;
    Status st;
    if (o.sleepy_receiver) {
      if (int rc = SleepUntilChunk(link.get(), &chunk, result)) return rc;
      if (!result->ok()) return 0;
      ready = true;
    }
    *result = Drive(link.get(), [&] {
      if (ready || !st.ok()) return true;
      st = link->tryRecv(&chunk, &ready);
      return ready || !st.ok();
    });
    if (result->ok()) *result = st;
    if (!result->ok()) return 0;
    if (int rc = CheckChunk(chunk, c, o.receiver.chunk_bytes)) return rc;
    *result = link->release();
    if (!result->ok()) return 0;
  }
  return 0;
}

// Expectation on one end's final status; "" means OK.
using Expect = std::function<int(const Status&)>;

int Ok(const Status& st) {
  CCHECK(st.ok()) << st.message();
  return 0;
}

void RunPair(const PairOptions& o, Expect sender, Expect receiver, bool sender_killed = false,
             bool receiver_killed = false, colltest::EnvList env = {}) {
  COLL_REQUIRE_SOFTVERBS();
  int fds[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  env.push_back({"COLL_IBVERBS_LIB", colltest::SoftverbsLibrary()});
  colltest::ProcessGroup group(std::chrono::seconds(40));
  colltest::EnvList sender_env = env, receiver_env = env;
  sender_env.insert(sender_env.end(), o.sender_env.begin(), o.sender_env.end());
  receiver_env.insert(receiver_env.end(), o.receiver_env.begin(), o.receiver_env.end());
  group.Spawn("sender", sender_env, [&] {
    close(fds[1]);
    Status st;
    if (int rc = RunSender(fds[0], o, &st)) return rc;
    return sender(st);
  });
  group.Spawn("receiver", receiver_env, [&] {
    close(fds[0]);
    Status st;
    if (int rc = RunReceiver(fds[1], o, &st)) return rc;
    return receiver(st);
  });
  close(fds[0]);
  close(fds[1]);
  colltest::GroupResult r = group.Wait();
  ASSERT_EQ(r.procs.size(), 2u);
  EXPECT_FALSE(r.timed_out) << r.Describe();
  EXPECT_TRUE(sender_killed ? r.procs[0].term_signal == SIGKILL : r.procs[0].Succeeded()) << r.Describe();
  EXPECT_TRUE(receiver_killed ? r.procs[1].term_signal == SIGKILL : r.procs[1].Succeeded()) << r.Describe();
}

Config SmallSlots(int nslots, size_t bytes) {
  Config c;
  c.nslots = nslots;
  c.chunk_bytes = bytes;
  return c;
}

TEST(IbverbsLinkTest, ChunksArriveIntactThroughSlotAndCopy) {
  PairOptions o;
  o.nchunks = 64;
  RunPair(o, Ok, Ok);
}

TEST(IbverbsLinkTest, CreditsWrapWithTwoSmallSlots) {
  PairOptions o;
  o.nchunks = 3000;
  o.sender = o.receiver = SmallSlots(2, 4096);
  RunPair(o, Ok, Ok);
}

TEST(IbverbsLinkTest, ManySlotsInFlight) {
  PairOptions o;
  o.nchunks = 2000;
  o.sender = o.receiver = SmallSlots(64, 8192);
  RunPair(o, Ok, Ok);
}

int PeerLostNaming(const Status& st, const char* who) {
  CCHECK(st.code() == COLL_ERR_PEER_LOST) << st.message();
  CCHECK(st.message().find(who) != std::string::npos) << st.message();
  return 0;
}

// softverbs ports have 2 GIDs (index 0 link-local, 1 IPv4-mapped): index 1 is the one in
// use on both ends (and every packet carries a GRH whose DGID softverbs checks), index 2
// does not exist and is refused.
TEST(IbverbsLinkTest, GlobalRoutingHeaderWithGidIndex) {
  PairOptions o;
  o.nchunks = 100;
  o.sender = o.receiver = SmallSlots(4, 16384);
  o.describe_has = "GID index 1";
  RunPair(o, Ok, Ok, false, false, {{"COLL_IB_GID_INDEX", std::string("1")}});
}

TEST(IbverbsLinkTest, GidIndexPastTheTableIsRefused) {
  PairOptions o;
  o.sender = o.receiver = SmallSlots(4, 16384);
  auto refused = [](const Status& st) {
    CCHECK(st.code() == COLL_ERR_INVALID_ARGUMENT) << st.message();
    CCHECK(st.message().find("COLL_IB_GID_INDEX=2") != std::string::npos) << st.message();
    CCHECK(st.message().find("has 2 GIDs") != std::string::npos) << st.message();
    return 0;
  };
  RunPair(o, refused, refused, false, false, {{"COLL_IB_GID_INDEX", std::string("2")}});
}

// softverbs' RoCE port (tests/softverbs/README.md): GID table as the kernel lays it out, with
// the link-local pair first, an IPv4 pair on a VLAN netdev, an IPv4 and a ULA IPv6 pair on lo,
// then empty entries; RoCE v1 and link-local GIDs reach the same L2 segment only.
colltest::EnvList Roce(colltest::EnvList more = {}) {
  more.push_back({"SOFTVERBS_LINK_LAYER", std::string("ethernet")});
  return more;
}

TEST(IbverbsLinkTest, RoceChoosesARoutableV2GidNeverTheLinkLocalOne) {
  PairOptions o;
  o.nchunks = 50;
  o.sender = o.receiver = SmallSlots(4, 16384);
  o.describe_has = "(RoCE, GID index 3 ::ffff:10.";
  // Different L2 segments: only a routable (IPv4 or global IPv6, RoCE v2) GID gets through.
  o.sender_env = {{"SOFTVERBS_L2_SEGMENT", std::string("1")}};
  o.receiver_env = {{"SOFTVERBS_L2_SEGMENT", std::string("2")}};
  RunPair(o, Ok, Ok, false, false, Roce());
}

TEST(IbverbsLinkTest, RoceGidOfTheBootstrapInterfaceAndFamilyAndRange) {
  PairOptions o;
  o.nchunks = 20;
  o.sender = o.receiver = SmallSlots(4, 16384);
  o.describe_has = "GID index 5 ::ffff:10.";  // lo's IPv4 pair, not the VLAN's
  RunPair(o, Ok, Ok, false, false, Roce({{"COLL_SOCKET_IFNAME", std::string("lo")}}));
  o.describe_has = "GID index 7 fd00::";
  RunPair(o, Ok, Ok, false, false, Roce({{"COLL_IB_ADDR_FAMILY", std::string("AF_INET6")}}));
  o.describe_has = "GID index 3 ::ffff:10.";
  RunPair(o, Ok, Ok, false, false, Roce({{"COLL_IB_ADDR_RANGE", std::string("10.0.0.0/8")}}));
  auto nothing = [](const Status& st) {
    CCHECK(st.code() == COLL_ERR_INVALID_ARGUMENT) << st.message();
    CCHECK(st.message().find("COLL_IB_ADDR_RANGE=192.168.0.0/16: no GID of softverbs0:1 matches (its GIDs: 0 fe80::") !=
           std::string::npos)
        << st.message();
    return 0;
  };
  RunPair(o, nothing, nothing, false, false, Roce({{"COLL_IB_ADDR_RANGE", std::string("192.168.0.0/16")}}));
}

TEST(IbverbsLinkTest, RoceEmptyForcedGidIndexIsRefusedAtSetup) {
  PairOptions o;
  o.sender = o.receiver = SmallSlots(4, 16384);
  auto refused = [](const Status& st) {
    CCHECK(st.code() == COLL_ERR_INVALID_ARGUMENT) << st.message();
    CCHECK(st.message().find("COLL_IB_GID_INDEX=12: entry 12 of softverbs0:1's GID table is empty (its GIDs: 0 fe80::") !=
           std::string::npos)
        << st.message();
    CCHECK(st.message().find("unset COLL_IB_GID_INDEX") != std::string::npos) << st.message();
    return 0;
  };
  RunPair(o, refused, refused, false, false, Roce({{"COLL_IB_GID_INDEX", std::string("12")}}));
}

TEST(IbverbsLinkTest, RoceGidTypesMustAgree) {
  PairOptions o;
  o.sender = o.receiver = SmallSlots(4, 16384);
  o.sender_env = {{"COLL_IB_GID_INDEX", std::string("2")}};  // the VLAN IPv4 GID as RoCE v1
  auto mismatch = [](const Status& st) {
    CCHECK(st.code() == COLL_ERR_MISMATCH) << st.message();
    CCHECK(st.message().find("RoCE v1") != std::string::npos && st.message().find("RoCE v2") != std::string::npos)
        << st.message();
    return 0;
  };
  // The sender checks first and leaves; the receiver then only sees it go.
  RunPair(o, mismatch, [](const Status& st) { return st.ok() ? 1 : 0; }, false, false, Roce());
}

// A forced link-local GID between two L2 segments: the sender's writes are never
// acknowledged while the receiver lives. That is a path failure naming both ranks, with what
// to check, not a lost peer.
TEST(IbverbsLinkTest, RetryExceededWhileThePeerLivesIsAPathFailure) {
  PairOptions o;
  o.nchunks = 4;
  o.sender = o.receiver = SmallSlots(4, 16384);
  o.sender_env = {{"SOFTVERBS_L2_SEGMENT", std::string("1")}};
  o.receiver_env = {{"SOFTVERBS_L2_SEGMENT", std::string("2")}};
  auto path = [](const Status& st) {
    CCHECK(st.code() == COLL_ERR_SYSTEM) << st.message();
    CCHECK(st.message().find("the RDMA path from rank 0 to rank 1 failed while an RDMA write of a chunk to rank 1: "
                             "IBV_WC_RETRY_EXC_ERR") != std::string::npos)
        << st.message();
    CCHECK(st.message().find("rank 1's control connection is still open") != std::string::npos) << st.message();
    CCHECK(st.message().find("COLL_IB_TC") != std::string::npos) << st.message();
    return 0;
  };
  auto lost = [](const Status& st) { return PeerLostNaming(st, "rank 0"); };
  RunPair(o, path, lost, false, false,
          Roce({{"COLL_IB_GID_INDEX", std::string("1")}, {"COLL_IB_TIMEOUT", std::string("8")}}));
}

TEST(IbverbsLinkTest, ChunkOverTheMaxMessageSizeIsRefusedAtSetup) {
  PairOptions o;
  o.sender = o.receiver = SmallSlots(2, size_t{8} << 20);  // + the 64-byte header > rxe's 8 MiB
  auto refused = [](const Status& st) {
    CCHECK(st.code() == COLL_ERR_INVALID_ARGUMENT) << st.message();
    CCHECK(st.message() ==
           "COLL_CHUNK_BYTES=8388608: a chunk and its header (8388672 bytes) exceed the largest message "
           "softverbs0:1 can send (max_msg_sz 8388608 bytes); set COLL_CHUNK_BYTES to at most 8388544")
        << st.message();
    return 0;
  };
  RunPair(o, refused, refused, false, false, Roce());
}

// The sender's port goes down after 20 work requests: its writes would retry for half a
// minute (COLL_IB_TIMEOUT=20), but the port's asynchronous event fails the link at once.
TEST(IbverbsLinkTest, PortDownEventFailsTheLinkAtOnce) {
  PairOptions o;
  o.nchunks = 200;
  o.sender = o.receiver = SmallSlots(4, 16384);
  o.sender_env = {{"SOFTVERBS_FAULT_PORT_DOWN_AFTER", std::string("20")}};
  auto down = [](const Status& st) {
    CCHECK(st.code() == COLL_ERR_SYSTEM) << st.message();
    CCHECK(st.message().find("softverbs0:1 went down (IBV_EVENT_PORT_ERR)") != std::string::npos) << st.message();
    CCHECK(st.message().find("ibverbs to rank 1") != std::string::npos) << st.message();
    return 0;
  };
  auto start = std::chrono::steady_clock::now();
  RunPair(o, down, [](const Status& st) { return PeerLostNaming(st, "rank 0"); });
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

// Teardown order: the receiver destroys its link while the sender's writes are still on their
// way (each starts up to 200 ms late) and its deregistration takes 500 ms. The QP goes first,
// so those writes find no QP and the sender sees the socket close: the peer left. Deregistering
// first would fail them the remote access check of a live QP (IBV_WC_REM_ACCESS_ERR).
TEST(IbverbsLinkTest, ALeavingReceiverNeverFailsTheSendersAccessCheck) {
  PairOptions o;
  o.nchunks = 8;
  o.sender = o.receiver = SmallSlots(4, 16384);
  o.receiver_leaves = true;
  o.sender_env = {{"SOFTVERBS_SEED", std::string("7")}, {"SOFTVERBS_MAX_DELAY_US", std::string("200000")}};
  o.receiver_env = {{"SOFTVERBS_DEREG_DELAY_US", std::string("500000")}};
  RunPair(o, [](const Status& st) { return PeerLostNaming(st, "rank 1"); }, Ok);
}

// InfiniBand addresses by LID, but a port that requires a GRH (IBV_QPF_GRH_REQUIRED: softverbs
// refuses an address vector without one) and a peer in another subnet (softverbs drops its
// packets without one) get a GRH from the port GID, without COLL_IB_GID_INDEX.
TEST(IbverbsLinkTest, GrhWhenThePortRequiresItOrTheSubnetsDiffer) {
  PairOptions o;
  o.nchunks = 30;
  o.sender = o.receiver = SmallSlots(4, 16384);
  o.describe_has = "(InfiniBand, LID ";
  RunPair(o, Ok, Ok);  // the same subnet: no GRH
  o.describe_has = ", GRH from the port GID)";
  o.receiver_env = {{"SOFTVERBS_GRH_REQUIRED", std::string("1")}};  // one end requires it: both send one
  RunPair(o, Ok, Ok);
  o.receiver_env = {{"SOFTVERBS_SUBNET_PREFIX", std::string("0xfe80000000000007")}};
  RunPair(o, Ok, Ok);
}

TEST(IbverbsLinkTest, PartitionKeyPicksItsTableEntry) {
  PairOptions o;
  o.nchunks = 30;
  o.sender = o.receiver = SmallSlots(4, 16384);
  colltest::EnvList env = {{"SOFTVERBS_PKEYS", std::string("0xffff,0x0005,0x8005")}};
  env.push_back({"COLL_IB_PKEY", std::string("0x5")});
  o.describe_has = ", P_Key 0x8005, ";  // the full member, not the limited one
  RunPair(o, Ok, Ok, false, false, env);
  env.back().second = std::string("0x6");
  auto refused = [](const Status& st) {
    CCHECK(st.code() == COLL_ERR_INVALID_ARGUMENT) << st.message();
    CCHECK(st.message() ==
           "COLL_IB_PKEY=0x0006: softverbs0:1 is not in that partition (its P_Keys: 0xffff, 0x0005, 0x8005); use "
           "one of those, or ask the subnet manager's administrator to add the port")
        << st.message();
    return 0;
  };
  RunPair(o, refused, refused, false, false, env);
  // Ends in different partitions never reach each other: refused at setup.
  o.describe_has = "";
  o.sender_env = {{"COLL_IB_PKEY", std::string("0x5")}};
  auto mismatch = [](const Status& st) {
    CCHECK(st.code() == COLL_ERR_MISMATCH && st.message().find("P_Key") != std::string::npos) << st.message();
    return 0;
  };
  RunPair(o, mismatch, [](const Status& st) { return st.ok() ? 1 : 0; }, false, false,
          {{"SOFTVERBS_PKEYS", std::string("0xffff,0x8005")}});
}

TEST(IbverbsLinkTest, CompletionChannelWakesASleepingReceiver) {
  PairOptions o;
  o.nchunks = 4;
  o.sender_pause_ms = 300;
  o.sleepy_receiver = true;
  RunPair(o, Ok, Ok);
}

TEST(IbverbsLinkTest, PeerExitWakesASleepingReceiver) {
  PairOptions o;
  o.nchunks = 4;
  o.sender_pause_ms = 300;
  o.sender_dies_after = 2;
  o.sleepy_receiver = true;
  RunPair(o, Ok, [](const Status& st) { return PeerLostNaming(st, "rank 0"); }, true, false);
}

TEST(IbverbsLinkTest, SenderKilledIsPeerLostAtTheReceiver) {
  PairOptions o;
  o.nchunks = 50;
  o.sender_dies_after = 10;
  RunPair(o, Ok, [](const Status& st) { return PeerLostNaming(st, "rank 0"); }, true, false);
}

TEST(IbverbsLinkTest, ReceiverKilledIsPeerLostAtTheSender) {
  PairOptions o;
  o.nchunks = 50;
  o.receiver_dies_after = 3;
  RunPair(o, [](const Status& st) { return PeerLostNaming(st, "rank 1"); }, Ok, false, true);
}

TEST(IbverbsLinkTest, GeometryMismatchIsAnErrorOnBothEnds) {
  PairOptions o;
  o.sender = SmallSlots(4, 8192);
  o.receiver = SmallSlots(2, 8192);
  RunPair(
      o,
      [](const Status& st) {
        CCHECK(st.code() == COLL_ERR_MISMATCH && st.message().find("COLL_NSLOTS") != std::string::npos)
            << st.message();
        return 0;
      },
      [](const Status& st) {
        CCHECK(!st.ok());
        return 0;
      });
}

}  // namespace
}  // namespace coll
