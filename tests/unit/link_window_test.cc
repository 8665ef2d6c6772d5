// The slot bookkeeping shared by every Link end (transport/link_window.h): credits, in-order
// hand-out, and the exact messages of misuse and of a lost peer. The transports' own
// behaviour on top of it is in link_conformance_test.
#include "transport/link_window.h"

#include <gtest/gtest.h>

namespace coll {
namespace {

TEST(SendWindowTest, CreditsWrapAroundTheSlots) {
  SendWindow w("tcp link to rank 3", 100, 2);
  for (uint64_t chunk = 0; chunk < 7; ++chunk) {
    ASSERT_TRUE(w.hasCredit()) << chunk;
    EXPECT_EQ(w.slotIndex(w.posted()), static_cast<int>(chunk % 2));
    ASSERT_TRUE(w.checkPost(100).ok());
    w.post();
    if (chunk % 2 == 0) continue;
    EXPECT_FALSE(w.hasCredit()) << "two chunks out, two slots";
    ASSERT_TRUE(w.creditsReturned(w.posted()).ok());
  }
  EXPECT_EQ(w.posted(), 7u);
  EXPECT_EQ(w.outstanding(), 1u);
}

TEST(SendWindowTest, PostWithoutACreditOrOverTheSlotIsAnInternalError) {
  SendWindow w("shm link to rank 1", 64, 1);
  Status over = w.checkPost(65);
  EXPECT_EQ(over.code(), COLL_ERR_INTERNAL);
  EXPECT_EQ(over.message(), "shm link to rank 1: post of 65 bytes without a credit or over the 64-byte slot");
  w.post();
  Status full = w.checkPost(1);
  EXPECT_EQ(full.code(), COLL_ERR_INTERNAL);
  EXPECT_EQ(full.message(), "shm link to rank 1: post of 1 bytes without a credit or over the 64-byte slot");
}

TEST(SendWindowTest, ALinkWithoutCreditOfItsOwnRefusesThePostEvenWhenTheWindowHasRoom) {
  SendWindow w("ibverbs link to rank 1", 64, 2);
  ASSERT_TRUE(w.hasCredit());
  Status st = w.checkPost(8, false);  // e.g. the receiver is not ready, or the send queue is full
  EXPECT_EQ(st.code(), COLL_ERR_INTERNAL);
  EXPECT_EQ(st.message(), "ibverbs link to rank 1: post of 8 bytes without a credit or over the 64-byte slot");
  EXPECT_TRUE(w.checkPost(8, true).ok());
}

TEST(SendWindowTest, ThePeerCannotReturnMoreThanWasPostedNorTakeCreditsBack) {
  SendWindow w("ibverbs link to rank 2", 64, 4);
  w.post();
  w.post();
  Status too_many = w.creditsReturned(3);
  EXPECT_EQ(too_many.code(), COLL_ERR_INTERNAL);
  EXPECT_EQ(too_many.message(),
            "ibverbs link to rank 2: the peer returned slots up to chunk 3, but 2 were posted and 0 returned before");
  EXPECT_EQ(w.returned(), 0u) << "a bad count changes nothing";
  ASSERT_TRUE(w.creditsReturned(2).ok());
  EXPECT_EQ(w.creditsReturned(1).code(), COLL_ERR_INTERNAL);
  EXPECT_EQ(w.returned(), 2u);
}

TEST(RecvWindowTest, ChunksAreHandedOutInOrderAndSlotsFreedByRelease) {
  RecvWindow w("tcp link from rank 0", 2);
  EXPECT_FALSE(w.hasChunk());
  w.arrive();
  w.arrive();
  EXPECT_FALSE(w.hasFreeSlot()) << "both slots hold a chunk";
  EXPECT_EQ(w.handOut(), 0u);
  EXPECT_EQ(w.handOut(), 1u);
  EXPECT_FALSE(w.hasChunk());
  EXPECT_FALSE(w.hasFreeSlot()) << "handed out is not released";
  ASSERT_TRUE(w.release().ok());
  EXPECT_TRUE(w.hasFreeSlot());
  EXPECT_EQ(w.slotIndex(w.arrived()), 0);
  EXPECT_EQ(w.released(), 1u);
}

TEST(RecvWindowTest, ReleaseWithoutAHeldChunkIsAnInternalError) {
  RecvWindow w("shm link from rank 4", 2);
  Status st = w.release();
  EXPECT_EQ(st.code(), COLL_ERR_INTERNAL);
  EXPECT_EQ(st.message(), "shm link from rank 4: release without a held chunk");
  w.arrive();
  w.handOut();
  ASSERT_TRUE(w.release().ok());
  EXPECT_EQ(w.release().code(), COLL_ERR_INTERNAL) << "one release per chunk";
}

TEST(LinkPeerLostTest, NamesThePeerWhatWasHappeningTheLinkAndTheCause) {
  Status st = LinkPeerLost(3, "receiving a chunk", "tcp from rank 3 (local 127.0.0.1:4000)", "Connection reset by peer");
  EXPECT_EQ(st.code(), COLL_ERR_PEER_LOST);
  EXPECT_EQ(st.message(),
            "lost the connection to rank 3 while receiving a chunk (tcp from rank 3 (local 127.0.0.1:4000)): "
            "Connection reset by peer");
}

}  // namespace
}  // namespace coll
