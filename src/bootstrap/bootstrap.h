// Job rendezvous through the root (rank 0), then the control channel that keeps every rank
// connected to the root: a watchdog thread reports a peer that dies (its socket closes
// without a goodbye) or an error another rank reported, so every survivor fails within
// moments instead of hanging. Data never moves here.
// Thread-safety: Create/peers from the owning thread; reportFatal from any thread.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap/handshake.h"
#include "base/socket.h"
#include "bootstrap/unique_id.h"
#include "base/config.h"
#include "base/status.h"

namespace coll {

struct PeerInfo {
  int rank = -1;
  SockAddr data_addr;   // where the rank accepts ring connections
  std::string host_id;  // hostname/boot_id (topo::HostIdentity)
};

class Bootstrap {
 public:
  using FatalFn = std::function<void(const Status&)>;

  // root_listener: the socket parked by coll_get_unique_id, or invalid (the root binds).
  // `shared`: the settings every rank must share, compared when each rank joins.
  static Status Create(int rank, int nranks, const UniqueId& id, Fd root_listener, const Config& config,
                       const SharedSettings& shared, const std::string& host_id, std::unique_ptr<Bootstrap>* out);
  ~Bootstrap();

  const std::vector<PeerInfo>& peers() const { return peers_; }
  int dataListener() const { return data_listener_.get(); }
  const Token& token() const { return token_; }

  // Starts the watchdog; fn is called (on its thread) with the first fatal event seen.
  void startWatchdog(FatalFn fn);
  // Tells every other rank (through the root) that this rank failed with st.
  void reportFatal(const Status& st);

 private:
  Bootstrap(int rank, int nranks) : rank_(rank), nranks_(nranks) {}
  Status rootGather(const Deadline& deadline, Fd listener);
  Status joinRoot(const SockAddr& root, const Config& config, const Deadline& deadline);
  Status openDataListener(const SockAddr& like, const Config& config);
  void watchLoop();
  bool handleFrame(size_t index);
  void forward(int type, const Status& st, int origin, int except_rank);
  void fatal(const Status& st);

  int rank_, nranks_;
  Token token_{};
  SharedSettings shared_;
  std::vector<PeerInfo> peers_;
  Fd data_listener_;
  std::vector<Fd> ctl_;            // root: index = rank (ctl_[0] unused); others: ctl_[0] = root
  std::vector<bool> ctl_closed_;   // peer said goodbye or was reported
  std::mutex write_mu_;            // serialises frames written on ctl_
  Fd wake_;                        // eventfd: stop the watchdog
  std::atomic<bool> stopping_{false};
  std::thread watchdog_;
  FatalFn on_fatal_;
  std::once_flag fatal_once_;
};

}  // namespace coll
