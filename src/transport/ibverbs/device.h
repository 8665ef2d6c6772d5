// An opened HCA port (context, protection domain, port attributes, GID) chosen from
// COLL_IB_HCA or as the active port nearest the process's cores, shared by every link of
// the process. Thread-safety: Open/Probe may be called from any thread; a Device is
// immutable once open (the verbs objects it hands out are used by one link each).
#pragma once

#include <infiniband/verbs.h>

#include <memory>
#include <string>

#include "base/status.h"
#include "transport/ibverbs/ib_config.h"
#include "transport/ibverbs/verbs_api.h"

namespace coll {
namespace ibverbs {

class Device {
 public:
  // The process's open Device for `config` (opened on first use, closed with its last user).
  static Status Open(const IbConfig& config, std::shared_ptr<Device>* out);
  // OK when the library loads and an active port matching `config` exists; else
  // COLL_ERR_UNSUPPORTED saying why. Opens and closes the devices it looks at.
  static Status Probe(const IbConfig& config);

  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  const VerbsApi& api() const { return *api_; }
  ibv_context* context() const { return context_; }
  ibv_pd* pd() const { return pd_; }
  uint8_t port() const { return port_; }
  const ibv_port_attr& portAttr() const { return port_attr_; }
  bool ethernet() const { return port_attr_.link_layer == IBV_LINK_LAYER_ETHERNET; }
  // GID table index used in the GRH, or -1 to address by LID alone (InfiniBand default).
  int gidIndex() const { return gid_index_; }
  const ibv_gid& gid() const { return gid_; }
  const std::string& name() const { return name_; }
  std::string describe() const;  // "mlx5_0:1 (InfiniBand, LID 7, MTU 4096)"

 private:
  Device() = default;
  static Status Create(const VerbsApi& api, const IbConfig& config, std::unique_ptr<Device>* out);
  Status openPort(const std::string& name, int port);
  Status chooseGid(const IbConfig& config);

  const VerbsApi* api_ = nullptr;
  ibv_context* context_ = nullptr;
  ibv_pd* pd_ = nullptr;
  uint8_t port_ = 0;
  ibv_port_attr port_attr_{};
  int gid_index_ = -1;
  ibv_gid gid_{};
  std::string name_;
};

}  // namespace ibverbs
}  // namespace coll
