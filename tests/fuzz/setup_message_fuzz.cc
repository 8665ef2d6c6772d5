// libFuzzer target: each transport's setup message as a peer sends it on the link socket —
// ibverbs' ConnInfo (read, then checked against this end) and shm's segment name message
// (read by the sending end, which would open and unlink the name). The first input byte
// picks the transport. Errors are fine; crashes, hangs and touching a foreign shm name are not.
#include <cstring>

#include "fuzz_socket.h"
#include "transport/ibverbs/conn_info.h"
#include "transport/shm/shm_segment.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  collfuzz::FedSocket sock(data + 1, size - 1);
  if (data[0] & 1) {
    coll::ibverbs::ConnInfo mine, theirs;
    mine.nslots = 4;
    mine.slot_bytes = 4096;
    mine.stride = 4160;
    if (coll::ibverbs::RecvConnInfo(sock.fd(), &theirs, coll::Deadline::In(200), 1).ok())
      (void)coll::ibverbs::CheckPeerInfo(mine, theirs, 1);
  } else {
    coll::shm::NameMessage msg;
    std::memset(&msg, 0, sizeof msg);
    std::memcpy(&msg, data + 1, size - 1 < sizeof msg ? size - 1 : sizeof msg);
    (void)coll::shm::CheckNameMessage(msg, 1);
  }
  return 0;
}
