// An opened HCA port (context, protection domain, port attributes, GID) chosen from
// COLL_IB_HCA or as the active port nearest the process's cores, shared by every link of
// the process. Thread-safety: Open/Probe may be called from any thread; a Device is
// immutable once open (the verbs objects it hands out are used by one link each).
#pragma once

#include <infiniband/verbs.h>

#include <memory>
#include <string>
#include <vector>

#include "base/status.h"
#include "transport/ibverbs/async_events.h"
#include "transport/ibverbs/gid.h"
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
  // GID table index used in the GRH, or -1 to address by LID alone (InfiniBand default;
  // gid() is then the port GID, index 0, which a GRH uses when one is needed after all).
  int gidIndex() const { return gid_index_; }
  // The port accepts only packets with a GRH (IBV_QPF_GRH_REQUIRED).
  bool grhRequired() const { return (port_attr_.flags & IBV_QPF_GRH_REQUIRED) != 0; }
  int pkeyIndex() const { return pkey_index_; }
  uint16_t pkey() const { return pkey_; }
  const ibv_gid& gid() const { return gid_.gid; }
  int gidType() const { return gid_.type; }  // IBV_GID_TYPE_* or kGidTypeUnknown
  const GidEntry& gidEntry() const { return gid_; }
  // COLL_ERR_INVALID_ARGUMENT when one message of `bytes` (a chunk and its header) exceeds the
  // port's max_msg_sz.
  Status checkMessageBytes(size_t bytes, size_t chunk_bytes) const;
  const std::string& name() const { return name_; }
  // The device's asynchronous events (port down, device fatal, QP and CQ errors).
  AsyncEvents& events() const { return *events_; }
  // "mlx5_0:1 (InfiniBand, LID 7, MTU 4096)", "rxe0:1 (RoCE, GID index 1 ::ffff:10.0.2.15 RoCE v2, MTU 1024)"
  std::string describe() const;

 private:
  Device() = default;
  static Status Create(const VerbsApi& api, const IbConfig& config, std::unique_ptr<Device>* out);
  Status openPort(const std::string& name, int port);
  Status chooseGid(const IbConfig& config);
  Status choosePkey(const IbConfig& config);
  void readGidTable(std::vector<GidEntry>* table) const;
  int sysfsGidType(int index) const;

  const VerbsApi* api_ = nullptr;
  ibv_context* context_ = nullptr;
  ibv_pd* pd_ = nullptr;
  uint8_t port_ = 0;
  ibv_port_attr port_attr_{};
  int gid_index_ = -1;
  GidEntry gid_;
  int pkey_index_ = 0;
  uint16_t pkey_ = 0;
  std::string name_;
  std::unique_ptr<AsyncEvents> events_;  // stopped before the context closes
};

}  // namespace ibverbs
}  // namespace coll
