// COLL_IBVERBS_LIB / COLL_IB_* parsing with the range checks of base/config.h.
// Thread-safety: FromEnv only reads the environment.
#include "transport/ibverbs/ib_config.h"

#include <net/if.h>

#include <algorithm>
#include <cstdlib>

#include "base/config.h"

namespace coll {
namespace ibverbs {
namespace {

Status ReadInt(const char* name, int min, int max, int* out) {
  int64_t v = *out;
  COLL_RETURN_IF_ERROR(EnvInt(name, min, max, &v));
  *out = static_cast<int>(v);
  return Status::OK();
}

// "[^][=]name[:port][,name[:port]...]".
Status ParseHca(const char* text, IbConfig* c) {
  std::string s = text;
  c->hca = s;
  size_t at = 0;
  if (at < s.size() && s[at] == '^') c->hca_exclude = true, ++at;
  if (at < s.size() && s[at] == '=') c->hca_exact = true, ++at;
  while (at <= s.size()) {
    size_t comma = std::min(s.find(',', at), s.size());
    std::string entry = s.substr(at, comma - at);
    size_t colon = entry.rfind(':');
    IbConfig::HcaSpec spec{entry.substr(0, colon), 0};
    if (colon != std::string::npos) {
      char* end = nullptr;
      const char* digits = entry.c_str() + colon + 1;
      long port = std::strtol(digits, &end, 10);
      if (end == digits || *end != '\0' || port < 1 || port > 255) spec.name.clear();
      spec.port = static_cast<int>(port);
    }
    if (spec.name.empty())
      return InvalidArgument("COLL_IB_HCA=%s: \"%s\" is not <device>[:<port>] (examples: mlx5_0:1, mlx5_0,mlx5_1, "
                             "^mlx5_2, =mlx5_1)",
                             text, entry.c_str());
    c->hcas.push_back(spec);
    at = comma + 1;
  }
  return Status::OK();
}

// COLL_IB_PKEY in hex (0x8001) or decimal.
Status ParsePkey(int* out) {
  const char* v = std::getenv("COLL_IB_PKEY");
  if (v == nullptr || *v == '\0') return Status::OK();
  char* end = nullptr;
  long pkey = std::strtol(v, &end, 0);
  if (end == v || *end != '\0' || pkey < 0 || pkey > 0xffff)
    return InvalidArgument("COLL_IB_PKEY=%s is not a partition key 0x0000-0xffff", v);
  *out = static_cast<int>(pkey);
  return Status::OK();
}

}  // namespace

Status IbConfig::FromEnv(IbConfig* out) {
  IbConfig c;
  if (const char* v = std::getenv("COLL_IBVERBS_LIB"); v != nullptr && *v != '\0') c.library = v;
  if (const char* v = std::getenv("COLL_IB_HCA"); v != nullptr && *v != '\0') COLL_RETURN_IF_ERROR(ParseHca(v, &c));
  COLL_RETURN_IF_ERROR(ReadInt("COLL_IB_GID_INDEX", -1, 255, &c.gid_index));
  if (const char* v = std::getenv("COLL_IB_ADDR_FAMILY"); v != nullptr && *v != '\0') {
    c.addr_family = v;
    COLL_RETURN_IF_ERROR(ParseAddrFamily(c.addr_family, &c.gid_policy.family));
  }
  if (const char* v = std::getenv("COLL_IB_ADDR_RANGE"); v != nullptr && *v != '\0') {
    c.addr_range = v;
    COLL_RETURN_IF_ERROR(ParseAddrRange(c.addr_range, &c.gid_policy.range));
  }
  if (const char* v = std::getenv("COLL_SOCKET_IFNAME"); v != nullptr && *v != '\0') {
    c.socket_ifname = v;
    c.gid_policy.ifindex = if_nametoindex(v);  // 0 (none preferred) when there is no such netdev
  }
  COLL_RETURN_IF_ERROR(ReadInt("COLL_IB_TIMEOUT", 1, 31, &c.timeout));
  COLL_RETURN_IF_ERROR(ReadInt("COLL_IB_RETRY_CNT", 0, 7, &c.retry_cnt));
  COLL_RETURN_IF_ERROR(ReadInt("COLL_IB_RNR_RETRY", 0, 7, &c.rnr_retry));
  COLL_RETURN_IF_ERROR(ReadInt("COLL_IB_MIN_RNR_TIMER", 0, 31, &c.min_rnr_timer));
  COLL_RETURN_IF_ERROR(ParsePkey(&c.pkey));
  COLL_RETURN_IF_ERROR(ReadInt("COLL_IB_SL", 0, 15, &c.service_level));
  COLL_RETURN_IF_ERROR(ReadInt("COLL_IB_TC", 0, 255, &c.traffic_class));
  COLL_RETURN_IF_ERROR(EnvInt("COLL_IB_SPIN_US", 0, 60000000, &c.spin_us));
  *out = c;
  return Status::OK();
}

static bool NameMatches(const IbConfig& c, const IbConfig::HcaSpec& h, const std::string& device) {
  return c.hca_exact ? device == h.name : device.compare(0, h.name.size(), h.name) == 0;
}

bool IbConfig::hcaAllows(const std::string& device, int port) const {
  bool listed = false;
  for (const HcaSpec& h : hcas) listed = listed || (NameMatches(*this, h, device) && (h.port == 0 || h.port == port));
  return hcas.empty() || listed != hca_exclude;
}

bool IbConfig::hcaMayAllow(const std::string& device) const {
  bool named = false, whole = false;
  for (const HcaSpec& h : hcas) {
    named = named || NameMatches(*this, h, device);
    whole = whole || (NameMatches(*this, h, device) && h.port == 0);
  }
  return hcas.empty() || (hca_exclude ? !whole : named);
}

std::string IbConfig::gidSettings() const {
  std::string s;
  if (!addr_family.empty()) s += "COLL_IB_ADDR_FAMILY=" + addr_family;
  if (!addr_range.empty()) s += std::string(s.empty() ? "" : " ") + "COLL_IB_ADDR_RANGE=" + addr_range;
  return s.empty() ? "the automatic GID choice" : s;
}

std::string IbConfig::describe() const {
  return StrFormat("COLL_IBVERBS_LIB=%s COLL_IB_HCA=%s COLL_IB_GID_INDEX=%d COLL_IB_ADDR_FAMILY=%s "
                   "COLL_IB_ADDR_RANGE=%s COLL_IB_TIMEOUT=%d COLL_IB_RETRY_CNT=%d "
                   "COLL_IB_RNR_RETRY=%d COLL_IB_MIN_RNR_TIMER=%d COLL_IB_PKEY=0x%x COLL_IB_SL=%d COLL_IB_TC=%d "
                   "COLL_IB_SPIN_US=%lld",
                   library.c_str(), hca.empty() ? "(auto)" : hca.c_str(), gid_index,
                   addr_family.empty() ? "(auto)" : addr_family.c_str(), addr_range.empty() ? "(any)" : addr_range.c_str(),
                   timeout, retry_cnt, rnr_retry, min_rnr_timer, pkey, service_level, traffic_class,
                   static_cast<long long>(spin_us));
}

}  // namespace ibverbs
}  // namespace coll
