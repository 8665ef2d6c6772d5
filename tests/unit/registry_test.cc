// Unit tests of the transport registry, COLL_TRANSPORT lookup, and the shared-settings
// comparison of the handshake (driven over a socketpair, client on a thread).
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <thread>

#include "bootstrap/handshake.h"
#include "comm/settings.h"
#include "transport/transport.h"

namespace coll {
namespace {

TEST(RegistryTest, RowsHaveUniqueNamesBitsAndOrders) {
  std::set<std::string> names;
  std::set<int> bits, same_orders, remote_orders;
  for (const TransportInfo& t : Transports()) {
    EXPECT_TRUE(names.insert(t.name).second) << t.name;
    EXPECT_LT(t.wire_bit, 8) << t.name << ": the capability byte has 8 bits";
    EXPECT_TRUE(bits.insert(t.wire_bit).second) << t.name << " reuses wire bit " << int{t.wire_bit};
    if (t.same_host_order >= 0) {
      EXPECT_TRUE(same_orders.insert(t.same_host_order).second) << t.name;
    }
    if (t.remote_order >= 0) {
      EXPECT_TRUE(remote_orders.insert(t.remote_order).second) << t.name;
    }
    EXPECT_TRUE(t.available != nullptr && t.make_send != nullptr && t.make_recv != nullptr) << t.name;
  }
  EXPECT_EQ(names.count("auto"), 0u) << "\"auto\" is the COLL_TRANSPORT default, not a transport";
  EXPECT_FALSE(remote_orders.empty()) << "no transport reaches another host automatically";
}

TEST(RegistryTest, WireBitsAreStable) {
  // Peers of other builds read these bits: a change here is a wire protocol change.
  EXPECT_EQ(FindTransport("tcp")->wire_bit, 0);
  EXPECT_EQ(FindTransport("shm")->wire_bit, 1);
  EXPECT_EQ(FindTransport("ibverbs")->wire_bit, 2);
}

TEST(RegistryTest, LookupIgnoresCaseAndRejectsUnknownNames) {
  ASSERT_NE(FindTransport("TCP"), nullptr);
  EXPECT_STREQ(FindTransport("TCP")->name, "tcp");
  EXPECT_EQ(FindTransport("auto"), nullptr);
  EXPECT_EQ(FindTransport("carrier-pigeon"), nullptr);
  EXPECT_EQ(TransportNames(), "tcp, shm, ibverbs");
}

TEST(RegistryTest, TcpIsAlwaysAvailableAndShmNeverAcrossHosts) {
  Config config;
  std::string why;
  EXPECT_TRUE(FindTransport("tcp")->available(config, false, &why));
  EXPECT_FALSE(FindTransport("shm")->available(config, false, &why));
  EXPECT_EQ(why, "the peer is on another host");
}

class EnvVar {
 public:
  EnvVar(const char* name, const char* value) : name_(name) { setenv(name, value, 1); }
  ~EnvVar() { unsetenv(name_); }

 private:
  const char* name_;
};

TEST(SettingsTest, TransportIsLookedUpByName) {
  Config config;
  {
    EnvVar v("COLL_TRANSPORT", "Shm");
    ASSERT_TRUE(ConfigFromEnv(&config).ok());
    EXPECT_EQ(config.transport, "shm");
  }
  EnvVar v("COLL_TRANSPORT", "carrier-pigeon");
  Status st = ConfigFromEnv(&config);
  EXPECT_EQ(st.code(), COLL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(st.message(), "COLL_TRANSPORT=carrier-pigeon is not one of auto, tcp, shm, ibverbs");
}

TEST(SettingsTest, SharedSettingsShowWhatTheUserWrote) {
  Config config;
  config.transport = "ibverbs";
  SharedSettings s = SharedSettingsOf(config);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].name, "COLL_CHUNK_BYTES");
  EXPECT_EQ(s[0].value, config.chunk_bytes);
  EXPECT_EQ(s[2].name, "COLL_TRANSPORT");
  EXPECT_EQ(s[2].show(s[2].value), "ibverbs");
  EXPECT_EQ(s[2].show(0), "auto");
  EXPECT_EQ(s[3].name, "COLL_SMALL_BYTES");
  EXPECT_EQ(s[3].show(s[3].value), "unset");
}

// Runs a ring-link handshake between a client and a server holding these settings.
void Handshake(const SharedSettings& client_settings, const SharedSettings& server_settings, Status* client_st,
               Status* server_st) {
  int fds[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds));
  Token token{};
  token[0] = 7;
  Deadline d = Deadline::In(10000);
  std::thread client([&] {
    ClientHandshake c(fds[0], token, ConnPurpose::kRingLink, 1, 2, 0, client_settings, "rank 0");
    *client_st = c.run(d);
  });
  ServerHandshake server(fds[1], token, ConnPurpose::kRingLink, 0, 2, server_settings);
  *server_st = server.run(d, 1);
  client.join();
  close(fds[0]);
  close(fds[1]);
}

TEST(HandshakeTest, EqualSettingsAreAccepted) {
  Config config;
  Status c, s;
  Handshake(SharedSettingsOf(config), SharedSettingsOf(config), &c, &s);
  EXPECT_TRUE(c.ok()) << c.message();
  EXPECT_TRUE(s.ok()) << s.message();
}

TEST(HandshakeTest, ADifferentSettingIsNamedWithBothValuesOnBothSides) {
  Config a, b;
  a.transport = "tcp";
  b.transport = "shm";
  Status c, s;
  Handshake(SharedSettingsOf(a), SharedSettingsOf(b), &c, &s);
  EXPECT_EQ(c.code(), COLL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(c.message(), "COLL_TRANSPORT is tcp on rank 1 but shm on rank 0: set it the same on every rank");
  EXPECT_EQ(s.code(), COLL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(s.message(), "COLL_TRANSPORT is shm on rank 0 but tcp on rank 1: set it the same on every rank");
}

TEST(HandshakeTest, SettingListsOfDifferentLengthAreRejected) {
  Config config;
  SharedSettings longer = SharedSettingsOf(config);
  longer.push_back({"COLL_SOMETHING_NEW", 1, nullptr});
  Status c, s;
  Handshake(longer, SharedSettingsOf(config), &c, &s);
  EXPECT_EQ(c.code(), COLL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(c.message(), "rank 1 compares 5 settings at init but rank 0 compares 4: every rank must run the same "
                         "libcollective");
  EXPECT_EQ(s.code(), COLL_ERR_INVALID_ARGUMENT);
}

TEST(HandshakeTest, AWrongTokenIsStillAnAuthError) {
  Config config;
  int fds[2];
  ASSERT_EQ(0, socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds));
  Token mine{}, theirs{};
  theirs[0] = 1;
  Deadline d = Deadline::In(10000);
  SharedSettings settings = SharedSettingsOf(config);
  Status c;
  std::thread client([&] {
    ClientHandshake h(fds[0], mine, ConnPurpose::kRingLink, 1, 2, 0, settings, "rank 0");
    c = h.run(d);
    close(fds[0]);
  });
  ServerHandshake server(fds[1], theirs, ConnPurpose::kRingLink, 0, 2, settings);
  Status s = server.run(d, 1);
  client.join();
  close(fds[1]);
  EXPECT_EQ(c.code(), COLL_ERR_AUTH);
  EXPECT_EQ(s.code(), COLL_ERR_AUTH) << s.message();
}

}  // namespace
}  // namespace coll
