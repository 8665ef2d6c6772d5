// The RoCE GID ranking (transport/ibverbs/gid.h) on tables as real ports have them: rxe's in
// the test VM (link-local first, then the IPv4-mapped address, then a site-local IPv6 one),
// a ConnectX port with v1/v2 pairs on two netdevs, a port with link-local GIDs only; and the
// COLL_IB_ADDR_FAMILY / COLL_IB_ADDR_RANGE parsers.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <string>
#include <vector>

#include "transport/ibverbs/gid.h"

namespace coll {
namespace ibverbs {
namespace {

GidEntry Entry(int index, const char* address, int type, uint32_t ifindex = 2) {
  GidEntry e;
  e.index = index;
  EXPECT_EQ(inet_pton(AF_INET6, address, e.gid.raw), 1) << address;
  e.type = type;
  e.ifindex = ifindex;
  return e;
}

constexpr int kV1 = IBV_GID_TYPE_ROCE_V1, kV2 = IBV_GID_TYPE_ROCE_V2;

// The GID table of rxe0 on the test VM's eth0 (tests/rxe/guest-tests prints it).
std::vector<GidEntry> RxeTable() {
  return {Entry(0, "fe80::5054:ff:fe12:3456", kV2), Entry(1, "::ffff:10.0.2.15", kV2),
          Entry(2, "fec0::5054:ff:fe12:3456", kV2)};
}

// Kernel layout on a dual-stack ConnectX: each address as a v1 and a v2 entry; eth1 (ifindex 3)
// comes before eth0 (ifindex 2).
std::vector<GidEntry> PairedTable() {
  return {Entry(0, "fe80::1", kV1, 3),          Entry(1, "fe80::1", kV2, 3),
          Entry(2, "::ffff:192.168.1.5", kV1, 3), Entry(3, "::ffff:192.168.1.5", kV2, 3),
          Entry(4, "fe80::2", kV1, 2),          Entry(5, "fe80::2", kV2, 2),
          Entry(6, "::ffff:10.1.0.5", kV1, 2),    Entry(7, "::ffff:10.1.0.5", kV2, 2),
          Entry(8, "fd00::5", kV1, 2),          Entry(9, "fd00::5", kV2, 2)};
}

GidEntry Choose(const std::vector<GidEntry>& table, const GidPolicy& policy, std::string* warning = nullptr) {
  GidEntry out;
  std::string ignored;
  Status st = ChooseRoceGid(table, policy, "dev0:1", "settings", &out, warning ? warning : &ignored);
  EXPECT_TRUE(st.ok()) << st.message();
  return out;
}

TEST(IbverbsGidTest, RxePicksTheIpv4MappedGidNotTheLinkLocalOne) {
  std::string warning;
  GidEntry e = Choose(RxeTable(), GidPolicy{}, &warning);
  EXPECT_EQ(e.index, 1);
  EXPECT_EQ(DescribeGid(e), "GID index 1 ::ffff:10.0.2.15 RoCE v2");
  EXPECT_EQ(warning, "");
}

TEST(IbverbsGidTest, RoceV2IsPreferredOverV1AndIpv4OverIpv6) {
  EXPECT_EQ(Choose(PairedTable(), GidPolicy{}).index, 3);  // the first IPv4 v2 entry
  GidPolicy v6;
  v6.family = AF_INET6;
  EXPECT_EQ(Choose(PairedTable(), v6).index, 9);  // fd00::5 v2, not a link-local one
}

TEST(IbverbsGidTest, TheBootstrapInterfacesNetdevComesFirst) {
  GidPolicy eth0;
  eth0.ifindex = 2;
  EXPECT_EQ(Choose(PairedTable(), eth0).index, 7);
  eth0.ifindex = 42;  // no GID on it: the ranking without it
  EXPECT_EQ(Choose(PairedTable(), eth0).index, 3);
}

TEST(IbverbsGidTest, AddressRangeSelectsTheSubnet) {
  GidPolicy policy;
  ASSERT_TRUE(ParseAddrRange("10.0.0.0/8", &policy.range).ok());
  EXPECT_EQ(Choose(PairedTable(), policy).index, 7);
  ASSERT_TRUE(ParseAddrRange("fd00::/8", &policy.range).ok());
  EXPECT_EQ(Choose(PairedTable(), policy).index, 9);
}

TEST(IbverbsGidTest, NothingMatchingIsAnErrorListingTheTable) {
  GidPolicy policy;
  ASSERT_TRUE(ParseAddrRange("172.16.0.0/12", &policy.range).ok());
  GidEntry out;
  std::string warning;
  Status st = ChooseRoceGid(RxeTable(), policy, "rxe0:1", "COLL_IB_ADDR_RANGE=172.16.0.0/12", &out, &warning);
  EXPECT_EQ(st.code(), COLL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(st.message(),
            "COLL_IB_ADDR_RANGE=172.16.0.0/12: no GID of rxe0:1 matches (its GIDs: 0 fe80::5054:ff:fe12:3456 "
            "RoCE v2, 1 ::ffff:10.0.2.15 RoCE v2, 2 fec0::5054:ff:fe12:3456 RoCE v2)");
}

TEST(IbverbsGidTest, LinkLocalOnlyIsUsedWithAWarning) {
  std::vector<GidEntry> table = {Entry(0, "fe80::1", kV1), Entry(1, "fe80::1", kV2)};
  std::string warning;
  EXPECT_EQ(Choose(table, GidPolicy{}, &warning).index, 1);
  EXPECT_NE(warning.find("only link-local GIDs"), std::string::npos) << warning;
  EXPECT_NE(warning.find("same L2 segment"), std::string::npos) << warning;
}

TEST(IbverbsGidTest, EmptyEntriesAreNeverChosenAndAnEmptyTableIsUnsupported) {
  std::vector<GidEntry> table = {Entry(0, "::", kV2), Entry(1, "fe80::1", kV2)};
  EXPECT_EQ(Choose(table, GidPolicy{}).index, 1);
  GidEntry out;
  std::string warning;
  Status st = ChooseRoceGid({Entry(0, "::", kV2)}, GidPolicy{}, "rxe0:1", "s", &out, &warning);
  EXPECT_EQ(st.code(), COLL_ERR_UNSUPPORTED);
  EXPECT_NE(st.message().find("rxe0:1 has no GID"), std::string::npos) << st.message();
}

TEST(IbverbsGidTest, ParsersRejectMalformedSettings) {
  int family = 0;
  EXPECT_TRUE(ParseAddrFamily("AF_INET6", &family).ok());
  EXPECT_EQ(family, AF_INET6);
  Status st = ParseAddrFamily("ipv6", &family);
  EXPECT_EQ(st.code(), COLL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(st.message(), "COLL_IB_ADDR_FAMILY=ipv6 is not AF_INET or AF_INET6");
  AddrRange range;
  EXPECT_EQ(ParseAddrRange("10.0.0.0/33", &range).code(), COLL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ParseAddrRange("not-an-address/8", &range).code(), COLL_ERR_INVALID_ARGUMENT);
  EXPECT_EQ(ParseAddrRange("10.0.0.0/x", &range).code(), COLL_ERR_INVALID_ARGUMENT);
  ASSERT_TRUE(ParseAddrRange("10.0.2.15", &range).ok());  // no prefix: the one address
  EXPECT_EQ(range.prefix, 32);
  ibv_gid gid{};
  ASSERT_EQ(inet_pton(AF_INET6, "::ffff:10.0.2.15", gid.raw), 1);
  EXPECT_TRUE(GidInRange(gid, range));
  ASSERT_EQ(inet_pton(AF_INET6, "::ffff:10.0.2.16", gid.raw), 1);
  EXPECT_FALSE(GidInRange(gid, range));
  ASSERT_TRUE(ParseAddrRange("10.0.2.0/23", &range).ok());
  EXPECT_TRUE(GidInRange(gid, range));
}

}  // namespace
}  // namespace ibverbs
}  // namespace coll
