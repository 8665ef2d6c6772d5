// GID helpers and the RoCE GID ranking (see gid.h). Thread-safety: pure functions.
#include "transport/ibverbs/gid.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <cstdlib>
#include <cstring>
#include <tuple>

namespace coll {
namespace ibverbs {
namespace {

int FamilyOf(const ibv_gid& gid) { return GidIpv4Mapped(gid) ? AF_INET : AF_INET6; }

int VersionRank(int type) {
  switch (type) {
    case IBV_GID_TYPE_ROCE_V2: return 0;
    case kGidTypeUnknown: return 1;
    case IBV_GID_TYPE_ROCE_V1: return 2;
    default: return 3;
  }
}

bool PrefixEqual(const uint8_t* a, const uint8_t* b, int bits) {
  int bytes = bits / 8, rest = bits % 8;
  if (std::memcmp(a, b, static_cast<size_t>(bytes)) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[bytes] & mask) == (b[bytes] & mask);
}

}  // namespace

bool GidEmpty(const ibv_gid& gid) {
  static const uint8_t kZero[16] = {};
  return std::memcmp(gid.raw, kZero, sizeof kZero) == 0;
}

bool GidLinkLocal(const ibv_gid& gid) { return gid.raw[0] == 0xfe && (gid.raw[1] & 0xc0) == 0x80; }

bool GidIpv4Mapped(const ibv_gid& gid) {
  static const uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(gid.raw, kPrefix, sizeof kPrefix) == 0;
}

uint64_t GidSubnetPrefix(const ibv_gid& gid) {
  uint64_t prefix = 0;
  for (int i = 0; i < 8; ++i) prefix = prefix << 8 | gid.raw[i];
  return prefix;
}

std::string GidString(const ibv_gid& gid) {
  char text[INET6_ADDRSTRLEN] = {};
  if (inet_ntop(AF_INET6, gid.raw, text, sizeof text) == nullptr) return "(unprintable GID)";
  return text;
}

const char* GidTypeName(int type) {
  switch (type) {
    case IBV_GID_TYPE_IB: return "IB";
    case IBV_GID_TYPE_ROCE_V1: return "RoCE v1";
    case IBV_GID_TYPE_ROCE_V2: return "RoCE v2";
    default: return "type unknown";
  }
}

std::string DescribeGid(const GidEntry& e) {
  return StrFormat("GID index %d %s %s", e.index, GidString(e.gid).c_str(), GidTypeName(e.type));
}

std::string DescribeTable(const std::vector<GidEntry>& table) {
  std::string s;
  for (const GidEntry& e : table) {
    if (GidEmpty(e.gid)) continue;
    s += StrFormat("%s%d %s %s", s.empty() ? "" : ", ", e.index, GidString(e.gid).c_str(), GidTypeName(e.type));
  }
  return s.empty() ? "none" : s;
}

Status ParseAddrFamily(const std::string& text, int* family) {
  if (text == "AF_INET") *family = AF_INET;
  else if (text == "AF_INET6") *family = AF_INET6;
  else return InvalidArgument("COLL_IB_ADDR_FAMILY=%s is not AF_INET or AF_INET6", text.c_str());
  return Status::OK();
}

Status ParseAddrRange(const std::string& text, AddrRange* out) {
  size_t slash = text.find('/');
  std::string addr = text.substr(0, slash);
  AddrRange r;
  uint8_t v4[4];
  if (inet_pton(AF_INET, addr.c_str(), v4) == 1) {
    r.family = AF_INET;
    std::memcpy(r.addr, v4, sizeof v4);
  } else if (inet_pton(AF_INET6, addr.c_str(), r.addr) == 1) {
    r.family = AF_INET6;
  } else {
    return InvalidArgument("COLL_IB_ADDR_RANGE=%s is not <address>/<prefix length> (example: 10.0.0.0/8 or fd00::/8)",
                           text.c_str());
  }
  int max = r.family == AF_INET ? 32 : 128;
  r.prefix = max;
  if (slash != std::string::npos) {
    char* end = nullptr;
    const char* digits = text.c_str() + slash + 1;
    long prefix = std::strtol(digits, &end, 10);
    if (end == digits || *end != '\0' || prefix < 0 || prefix > max)
      return InvalidArgument("COLL_IB_ADDR_RANGE=%s: the prefix length must be 0-%d", text.c_str(), max);
    r.prefix = static_cast<int>(prefix);
  }
  *out = r;
  return Status::OK();
}

bool GidInRange(const ibv_gid& gid, const AddrRange& range) {
  if (range.family == 0) return true;
  if (FamilyOf(gid) != range.family) return false;
  const uint8_t* addr = range.family == AF_INET ? gid.raw + 12 : gid.raw;
  return PrefixEqual(addr, range.addr, range.prefix);
}

Status ChooseRoceGid(const std::vector<GidEntry>& table, const GidPolicy& policy, const std::string& port,
                     const std::string& settings, GidEntry* out, std::string* warning) {
  warning->clear();
  using Rank = std::tuple<int, int, int, int, int>;
  const GidEntry* best = nullptr;
  Rank best_rank{};
  bool any = false;
  for (const GidEntry& e : table) {
    if (GidEmpty(e.gid)) continue;
    any = true;
    int family = FamilyOf(e.gid);
    if (policy.family != 0 && family != policy.family) continue;
    if (!GidInRange(e.gid, policy.range)) continue;
    int family_rank = family == AF_INET ? 0 : 1;
    int netdev_rank = policy.ifindex != 0 && e.ifindex != policy.ifindex ? 1 : 0;
    Rank rank{GidLinkLocal(e.gid) ? 1 : 0, VersionRank(e.type), family_rank, netdev_rank, e.index};
    if (best != nullptr && best_rank <= rank) continue;
    best = &e;
    best_rank = rank;
  }
  if (!any) return Unsupported("%s has no GID (is its netdev up with an address?)", port.c_str());
  if (best == nullptr)
    return InvalidArgument("%s: no GID of %s matches (its GIDs: %s)", settings.c_str(), port.c_str(),
                           DescribeTable(table).c_str());
  if (GidLinkLocal(best->gid))
    *warning = StrFormat("%s has only link-local GIDs (%s): RDMA reaches the same L2 segment only; give its "
                         "netdev an IPv4 or global IPv6 address for a GID that routes",
                         port.c_str(), DescribeTable(table).c_str());
  *out = *best;
  return Status::OK();
}

}  // namespace ibverbs
}  // namespace coll
