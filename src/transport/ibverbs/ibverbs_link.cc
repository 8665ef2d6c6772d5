// Entry points of the ibverbs transport (transport.h): availability, cached per process and
// per library/HCA setting, and the link factories.
// Thread-safety: Available may be called from any thread (mutex-guarded cache).
#include <map>
#include <mutex>

#include "base/log.h"
#include "transport/ibverbs/ib_link.h"

namespace coll {
namespace ibverbs {

Status OpenForLink(const Config& base, std::shared_ptr<Device>* device, IbConfig* config) {
  COLL_RETURN_IF_ERROR(IbConfig::FromEnv(config));
  config->gpu_busid = base.gpu_busid;
  return Device::Open(*config, device);
}

Status Unavailability() {
  IbConfig config;
  Status st = IbConfig::FromEnv(&config);
  if (!st.ok()) return st;
  static std::mutex mu;
  static auto* cache = new std::map<std::string, Status>();
  std::lock_guard<std::mutex> lock(mu);
  std::string key = config.library + "|" + config.hca;
  auto it = cache->find(key);
  if (it != cache->end()) return it->second;
  st = Device::Probe(config);
  if (st.ok()) COLL_INFO(-1, "ibverbs available: %s", config.describe().c_str());
  else COLL_INFO(-1, "ibverbs unavailable: %s", st.message().c_str());
  cache->emplace(key, st);
  return st;
}

bool Available(const Config& config) {
  Status st = Unavailability();
  if (!st.ok() && config.transport == "ibverbs") {
    static std::once_flag warned;
    std::call_once(warned, [&] { COLL_WARN(-1, "COLL_TRANSPORT=ibverbs but %s", st.message().c_str()); });
  }
  return st.ok();
}

Status MakeSendLink(LinkSetup setup, std::unique_ptr<SendLink>* out) {
  return IbSendLink::Create(std::move(setup), out);
}

Status MakeRecvLink(LinkSetup setup, std::unique_ptr<RecvLink>* out) {
  return IbRecvLink::Create(std::move(setup), out);
}

}  // namespace ibverbs
}  // namespace coll
