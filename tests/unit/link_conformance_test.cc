// The Link contract (transport/link.h) checked the same way against every registered
// transport: the two ends of one link in this process (sender and receiver on their own
// threads, connected over loopback TCP; ibverbs over softverbs). Ordering, credits wrapping
// with 2 slots, every chunk size from 0 to the slot size through both post paths, misuse
// errors, and a peer that goes away with a chunk in flight.
#include <poll.h>
#include <stdlib.h>

#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/socket.h"
#include "support/ranks.h"
#include "transport/transport.h"

namespace coll {
namespace {

constexpr int kSendRank = 0, kRecvRank = 1;
constexpr int kTimeoutMs = 30000;

// Drives one end until `done` holds, like the engine: spin, then sleep on pollSpec().
template <typename End>
Status Drive(End* end, const std::function<bool()>& done) {
  Deadline deadline = Deadline::In(kTimeoutMs);
  for (int idle = 0; !done();) {
    bool progressed = false;
    COLL_RETURN_IF_ERROR(end->progress(&progressed));
    if (done()) break;
    if (deadline.expired()) return Timeout("conformance test: no progress on %s", end->describe().c_str());
    if (progressed || ++idle < 64) continue;
    idle = 0;
    PollSpec spec = end->pollSpec();
    if (spec.fd >= 0) {
      pollfd p{spec.fd, spec.events, 0};
      ::poll(&p, 1, 5);
    }
  }
  return Status::OK();
}

uint8_t Pattern(uint64_t chunk, size_t i) { return static_cast<uint8_t>(chunk * 131 + i * 7 + 1); }

ChunkMeta MetaOf(uint64_t chunk, size_t bytes) {
  ChunkMeta m;
  m.words[0] = chunk;
  m.words[1] = bytes;
  m.words[3] = ~chunk;
  return m;
}

class LinkConformanceTest : public ::testing::TestWithParam<const char*> {
 protected:
  void SetUp() override {
    transport_ = FindTransport(GetParam());
    ASSERT_NE(transport_, nullptr);
    if (std::string(GetParam()) == "ibverbs") {
      if (colltest::SoftverbsLibrary().empty()) GTEST_SKIP() << "softverbs (the emulated HCA) is not built";
      setenv("COLL_IBVERBS_LIB", colltest::SoftverbsLibrary().c_str(), 1);
    }
    std::string why;
    if (!transport_->available(config_, true, &why)) GTEST_SKIP() << GetParam() << " is unavailable here: " << why;
  }

  // Both ends of one link, made in the order link.h prescribes.
  void Connect(size_t slot_bytes, int nslots) {
    config_.chunk_bytes = slot_bytes;
    config_.nslots = nslots;
    config_.timeout_ms = kTimeoutMs;
    SockAddr addr;
    Fd listener, client, server;
    ASSERT_TRUE(ParseHostPort("127.0.0.1:0", &addr).ok());
    ASSERT_TRUE(Listen(&addr, 1, &listener).ok());
    ASSERT_TRUE(ConnectRetry(addr, Deadline::In(kTimeoutMs), "conformance", &client).ok());
    ASSERT_TRUE(AcceptOne(listener.get(), Deadline::In(kTimeoutMs), "conformance", &server).ok());
    ASSERT_TRUE(SetNonBlocking(client.get()).ok());
    ASSERT_TRUE(SetNonBlocking(server.get()).ok());
    LinkSetup rs{kRecvRank, kSendRank, &config_, std::move(server), Deadline::In(kTimeoutMs), "this-host"};
    Status st = transport_->make_recv(std::move(rs), &recv_);
    ASSERT_TRUE(st.ok()) << st.message();
    LinkSetup ss{kSendRank, kRecvRank, &config_, std::move(client), Deadline::In(kTimeoutMs), "this-host"};
    st = transport_->make_send(std::move(ss), &send_);
    ASSERT_TRUE(st.ok()) << st.message();
    st = recv_->finishSetup(Deadline::In(kTimeoutMs));
    ASSERT_TRUE(st.ok()) << st.message();
    ASSERT_EQ(send_->slotBytes(), slot_bytes);
    ASSERT_EQ(recv_->slotBytes(), slot_bytes);
    ASSERT_EQ(send_->peer(), kRecvRank);
    ASSERT_EQ(recv_->peer(), kSendRank);
  }

  // Posts chunk i of `bytes`: through slot()/postSlot when the transport has a writable slot
  // and `use_slot`, else postCopy from `src` (kept unchanged until idle()).
  Status Post(uint64_t i, size_t bytes, bool use_slot, uint8_t* src) {
    COLL_RETURN_IF_ERROR(Drive(send_.get(), [&] { return send_->hasCredit(); }));
    if (use_slot && send_->caps().writable_slot) {
      uint8_t* dst = static_cast<uint8_t*>(send_->slot());
      for (size_t b = 0; b < bytes; ++b) dst[b] = Pattern(i, b);
      return send_->postSlot(bytes, MetaOf(i, bytes));
    }
    for (size_t b = 0; b < bytes; ++b) src[b] = Pattern(i, b);
    return send_->postCopy(src, bytes, MetaOf(i, bytes));
  }

  // Receives chunk i and checks size, metadata and every byte; releases it.
  Status Expect(uint64_t i, size_t bytes) {
    RecvChunk c;
    bool ready = false;
    COLL_RETURN_IF_ERROR(Drive(recv_.get(), [&] {
      Status st = recv_->tryRecv(&c, &ready);
      if (!st.ok()) {
        failure_ = st;
        return true;
      }
      return ready;
    }));
    if (!failure_.ok()) return failure_;
    if (c.bytes != bytes) return Internal("chunk %llu: %zu bytes, expected %zu", (unsigned long long)i, c.bytes, bytes);
    if (c.meta.words[0] != i || c.meta.words[1] != bytes || c.meta.words[3] != ~i)
      return Internal("chunk %llu: wrong metadata (chunk %llu)", (unsigned long long)i,
                      (unsigned long long)c.meta.words[0]);
    const uint8_t* d = static_cast<const uint8_t*>(c.data);
    for (size_t b = 0; b < bytes; ++b)
      if (d[b] != Pattern(i, b)) return Internal("chunk %llu: byte %zu differs", (unsigned long long)i, b);
    return recv_->release();
  }

  Config config_;
  const TransportInfo* transport_ = nullptr;
  std::unique_ptr<SendLink> send_;
  std::unique_ptr<RecvLink> recv_;
  Status failure_;
};

TEST_P(LinkConformanceTest, EverySizeArrivesInOrderWithTwoSlots) {
  constexpr size_t kSlot = 4096;
  ASSERT_NO_FATAL_FAILURE(Connect(kSlot, 2));
  const size_t n = kSlot + 1;  // sizes 0..kSlot, so credits wrap ~2000 times
  std::vector<uint8_t> sources(n * kSlot);  // postCopy sources stay untouched until idle()
  Status sent;
  std::thread sender([&] {
    for (uint64_t i = 0; i < n && sent.ok(); ++i) sent = Post(i, i, i % 2 == 1, &sources[i * kSlot]);
    if (sent.ok()) sent = Drive(send_.get(), [&] { return send_->idle(); });
  });
  Status received;
  for (uint64_t i = 0; i < n && received.ok(); ++i) received = Expect(i, i);
  sender.join();
  EXPECT_TRUE(sent.ok()) << sent.message();
  EXPECT_TRUE(received.ok()) << received.message();
}

TEST_P(LinkConformanceTest, PostOverTheSlotIsAnInternalErrorNamingThePeer) {
  ASSERT_NO_FATAL_FAILURE(Connect(4096, 2));
  std::vector<uint8_t> src(8192);
  Status st = send_->postCopy(src.data(), 4097, MetaOf(0, 4097));
  EXPECT_EQ(st.code(), COLL_ERR_INTERNAL);
  EXPECT_NE(st.message().find("rank 1"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find("slot"), std::string::npos) << st.message();
}

TEST_P(LinkConformanceTest, PostWithoutCreditIsAnInternalError) {
  ASSERT_NO_FATAL_FAILURE(Connect(65536, 2));
  std::vector<uint8_t> src(65536);
  // The receiver reads nothing: credits (tcp: its queue, once the socket buffers are full)
  // run out after a bounded number of chunks.
  Deadline deadline = Deadline::In(kTimeoutMs);
  uint64_t posted = 0;
  for (; !deadline.expired(); ++posted) {
    bool progressed = false;
    ASSERT_TRUE(send_->progress(&progressed).ok());
    if (!send_->hasCredit()) break;
    ASSERT_TRUE(send_->postCopy(src.data(), src.size(), MetaOf(posted, src.size())).ok());
  }
  ASSERT_FALSE(send_->hasCredit()) << "still had credit after " << posted << " unread chunks";
  Status st = send_->postCopy(src.data(), 16, MetaOf(posted, 16));
  EXPECT_EQ(st.code(), COLL_ERR_INTERNAL);
  EXPECT_NE(st.message().find("rank 1"), std::string::npos) << st.message();
}

TEST_P(LinkConformanceTest, ReleaseWithoutAHeldChunkIsAnInternalError) {
  ASSERT_NO_FATAL_FAILURE(Connect(4096, 2));
  Status st = recv_->release();
  EXPECT_EQ(st.code(), COLL_ERR_INTERNAL);
  EXPECT_NE(st.message().find("release without a held chunk"), std::string::npos) << st.message();
  std::vector<uint8_t> src(4096);
  ASSERT_TRUE(Post(0, 100, false, src.data()).ok());
  ASSERT_TRUE(Expect(0, 100).ok());  // releases it
  st = recv_->release();
  EXPECT_EQ(st.code(), COLL_ERR_INTERNAL);
}

TEST_P(LinkConformanceTest, SenderGoneWithChunksInFlightIsPeerLostAfterWholeChunks) {
  constexpr size_t kSlot = 65536;
  ASSERT_NO_FATAL_FAILURE(Connect(kSlot, 2));
  std::vector<uint8_t> sources(64 * kSlot);
  // As many chunks as there are slots (waiting for the credits), then as many more as the
  // sender takes without waiting (tcp: into its queue, so some are only partly sent).
  uint64_t posted = 0;
  for (; posted < 2; ++posted) ASSERT_TRUE(Post(posted, kSlot, posted % 2 == 1, &sources[posted * kSlot]).ok());
  for (; posted < 64; ++posted) {
    bool progressed = false;
    ASSERT_TRUE(send_->progress(&progressed).ok());
    if (!send_->hasCredit()) break;
    ASSERT_TRUE(Post(posted, kSlot, posted % 2 == 1, &sources[posted * kSlot]).ok());
  }
  ASSERT_GT(posted, 0u);
  send_.reset();  // leaves, maybe in the middle of a chunk (tcp: unsent bytes)
  // Every chunk the receiver gets is whole and in order; then the loss names the sender.
  Status st;
  uint64_t got = 0;
  while ((st = Expect(got, kSlot)).ok()) ++got;
  EXPECT_LE(got, posted);
  EXPECT_EQ(st.code(), COLL_ERR_PEER_LOST) << "after " << got << " of " << posted << " chunks: " << st.message();
  EXPECT_NE(st.message().find("rank 0"), std::string::npos) << st.message();
}

TEST_P(LinkConformanceTest, ReceiverGoneIsPeerLostForASenderWaitingForCredit) {
  ASSERT_NO_FATAL_FAILURE(Connect(65536, 2));
  std::vector<uint8_t> src(65536);
  uint64_t i = 0;
  for (; i < 2; ++i) ASSERT_TRUE(Post(i, src.size(), false, src.data()).ok());
  Deadline deadline = Deadline::In(kTimeoutMs);
  for (; send_->hasCredit() && !deadline.expired(); ++i) {
    bool progressed = false;
    ASSERT_TRUE(send_->progress(&progressed).ok());
    if (send_->hasCredit()) {
      ASSERT_TRUE(send_->postCopy(src.data(), src.size(), MetaOf(i, src.size())).ok());
    }
  }
  recv_.reset();
  Status st = Drive(send_.get(), [&] { return send_->hasCredit(); });
  EXPECT_EQ(st.code(), COLL_ERR_PEER_LOST) << st.message();
  EXPECT_NE(st.message().find("rank 1"), std::string::npos) << st.message();
}

INSTANTIATE_TEST_SUITE_P(Transports, LinkConformanceTest, ::testing::Values("tcp", "shm", "ibverbs"),
                         [](const ::testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

}  // namespace
}  // namespace coll
