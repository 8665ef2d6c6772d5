// libFuzzer target: the bytes a stranger sends to a listening root (bootstrap purpose) or
// to a rank's ring listener, through ServerHandshake. Whatever they are, the handshake
// must end in an error (nobody without the token can prove it) and never crash or hang.
// The first input byte picks the listener kind and the expected client rank.
#include <cstdio>
#include <cstdlib>

#include "bootstrap/handshake.h"
#include "fuzz_socket.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool ring = data[0] & 1;
  const int expected = ring ? 1 : -1;  // a ring listener expects its left neighbour
  collfuzz::FedSocket sock(data + 1, size - 1);
  coll::Token token{};
  for (size_t i = 0; i < token.size(); ++i) token[i] = static_cast<uint8_t>(0xa5 ^ i);
  const coll::SharedSettings settings = {{"COLL_CHUNK_BYTES", 4096, nullptr}, {"COLL_NSLOTS", 4, nullptr}};
  coll::ServerHandshake server(sock.fd(), token, ring ? coll::ConnPurpose::kRingLink : coll::ConnPurpose::kBootstrap,
                               ring ? 2 : 0, 4, settings);
  coll::Status st = server.run(coll::Deadline::In(200), expected);
  if (st.ok()) {
    std::fprintf(stderr, "a stranger passed the %s handshake\n", ring ? "ring" : "bootstrap");
    std::abort();
  }
  return 0;
}
