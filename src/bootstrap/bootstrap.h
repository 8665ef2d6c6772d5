// Job rendezvous through the root (rank 0), then the control channel that keeps every rank
// connected to the root: a watchdog thread reports a peer that dies (its socket closes
// without a goodbye) or an error another rank reported, so every survivor fails within
// moments instead of hanging. Data never moves here.
// The root takes joiners concurrently (acceptor.h): a stranger's connection is dropped and
// logged, never waited on. It keeps its listener until the communicator is destroyed: a
// process that proves this job's token and claims a rank already taken is a second job on
// the same address, and both jobs fail saying so. A rank that dies, or a root that fails,
// during the rendezvous is reported to every joined rank at once, with the reason.
// Thread-safety: Create/peers from the owning thread; reportFatal from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bootstrap/acceptor.h"
#include "bootstrap/control_frame.h"
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

  // Where every rank is, for a timeout's blame: the sequence number of the latest collective
  // each rank started (as its `progress` function, set before startWatchdog, says), or -1 for
  // a rank that did not answer within wait_ms (stopped or hung). False when the root did not
  // answer. Any thread but the watchdog's; one query at a time per process is enough.
  bool rankProgress(int64_t wait_ms, std::vector<int64_t>* seqs);
  void setProgressFn(std::function<int64_t()> fn) { progress_fn_ = std::move(fn); }

 private:
  Bootstrap(int rank, int nranks) : rank_(rank), nranks_(nranks) {}
  Status rootGather(const Config& config, const Deadline& deadline);
  Status admit(Acceptor::Result& joiner, int* joined);
  void joinHandshake(int fd, const Deadline& d, Acceptor::Outcome* out);
  bool claim(int rank);
  void tellJoined(const Status& st);
  Status joinRoot(const SockAddr& root, const Config& config, const Deadline& deadline);
  Status openDataListener(const SockAddr& like, const Config& config);
  void watchLoop();
  bool handleFrame(size_t index);
  void serveLateJoiners();
  void startProgressQuery(int requester, int64_t wait_ms);  // root; progress_mu_ held
  void finishProgressQuery();                                // root; progress_mu_ held
  void onProgressFrame(int peer, const FrameHeader& h, const std::string& payload);
  int watchTimeoutMs();
  void forward(int type, const Status& st, int origin, int except_rank);
  void fatal(const Status& st);

  int rank_, nranks_;
  Token token_{};
  SharedSettings shared_;
  std::string root_text_;          // COLL_ROOT_ADDR / the id's address, for messages
  std::vector<PeerInfo> peers_;
  Fd data_listener_;
  Fd root_listener_;               // root: kept open to catch a second job on the address
  std::unique_ptr<Acceptor> acceptor_;  // root: handshakes on root_listener_
  std::mutex claim_mu_;
  std::vector<bool> claimed_;      // root: ranks that proved the token; guarded by claim_mu_
  std::vector<Fd> ctl_;            // root: index = rank (ctl_[0] unused); others: ctl_[0] = root
  std::vector<bool> ctl_closed_;   // peer said goodbye or was reported
  std::mutex write_mu_;            // serialises frames written on ctl_
  Fd wake_;                        // eventfd: stop the watchdog
  std::atomic<bool> stopping_{false};
  std::thread watchdog_;
  FatalFn on_fatal_;
  std::once_flag fatal_once_;

  std::function<int64_t()> progress_fn_;
  std::mutex progress_mu_;
  std::condition_variable progress_cv_;
  bool collecting_ = false;                  // root: a progress query is out; guarded by progress_mu_
  int64_t collect_until_us_ = 0;             // root
  std::vector<int64_t> collected_;           // root: answers so far
  std::vector<int> requesters_;              // root: who asked (0: this process)
  bool progress_ready_ = false;              // the answer for this process arrived
  std::vector<int64_t> progress_;            // that answer
};

}  // namespace coll
