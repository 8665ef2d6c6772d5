// Google Benchmark: one TCP Link's one-way streaming throughput over loopback. The sender
// posts slot-sized chunks from one buffer as fast as credits allow while a receiver thread
// consumes and releases them; reported in bytes/s per chunk (slot) size and slot count.
#include <benchmark/benchmark.h>
#include <poll.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/socket.h"
#include "base/config.h"
#include "transport/transport.h"

namespace coll {
namespace {

constexpr size_t kBytesPerIteration = size_t{64} << 20;
constexpr int64_t kSetupMs = 10000;

struct LinkPair {
  std::unique_ptr<SendLink> send;
  std::unique_ptr<RecvLink> recv;
};

LinkSetup MakeSetup(int self, int peer, const Config& config, Fd socket) {
  LinkSetup setup;
  setup.self_rank = self;
  setup.peer_rank = peer;
  setup.config = &config;
  setup.socket = std::move(socket);
  setup.deadline = Deadline::In(kSetupMs);
  setup.peer_host = "loopback";
  return setup;
}

// A connected loopback TCP pair, turned into the two ends of one link.
Status Connect(const Config& config, LinkPair* out) {
  SockAddr addr;
  Fd listener, client, server;
  COLL_RETURN_IF_ERROR(ParseHostPort("127.0.0.1:0", &addr));
  COLL_RETURN_IF_ERROR(Listen(&addr, 1, &listener));
  COLL_RETURN_IF_ERROR(ConnectRetry(addr, Deadline::In(kSetupMs), "link_bench", &client));
  COLL_RETURN_IF_ERROR(AcceptOne(listener.get(), Deadline::In(kSetupMs), "link_bench", &server));
  COLL_RETURN_IF_ERROR(SetNonBlocking(client.get()));
  COLL_RETURN_IF_ERROR(SetNonBlocking(server.get()));
  COLL_RETURN_IF_ERROR(tcp::MakeSendLink(MakeSetup(0, 1, config, std::move(client)), &out->send));
  return tcp::MakeRecvLink(MakeSetup(1, 0, config, std::move(server)), &out->recv);
}

// Sleeps in poll(2) for at most 1 ms until the link's fd is ready.
void WaitOn(const PollSpec& spec) {
  if (spec.fd < 0 || spec.events == 0) return;
  pollfd fd{spec.fd, spec.events, 0};
  poll(&fd, 1, 1);
}

Status Drain(RecvLink* link, size_t bytes) {
  for (size_t got = 0; got < bytes;) {
    bool progressed = false;
    COLL_RETURN_IF_ERROR(link->progress(&progressed));
    RecvChunk chunk;
    bool ready = false;
    COLL_RETURN_IF_ERROR(link->tryRecv(&chunk, &ready));
    if (ready) {
      got += chunk.bytes;
      COLL_RETURN_IF_ERROR(link->release());
    } else if (!progressed) {
      WaitOn(link->pollSpec());
    }
  }
  return Status::OK();
}

Status Stream(SendLink* link, const char* data, size_t bytes) {
  ChunkMeta meta;
  for (size_t sent = 0; sent < bytes || !link->idle();) {
    if (sent < bytes && link->hasCredit()) {
      size_t n = std::min(link->slotBytes(), bytes - sent);
      COLL_RETURN_IF_ERROR(link->postCopy(data, n, meta));
      sent += n;
      ++meta.words[0];
    }
    bool progressed = false;
    COLL_RETURN_IF_ERROR(link->progress(&progressed));
    if (!progressed && (sent >= bytes || !link->hasCredit())) WaitOn(link->pollSpec());
  }
  return Status::OK();
}

// Args: chunk (slot) bytes, number of slots.
void BM_TcpLinkStream(benchmark::State& state) {
  Config config;
  config.chunk_bytes = static_cast<size_t>(state.range(0));
  config.nslots = static_cast<int>(state.range(1));
  LinkPair link;
  Status status = Connect(config, &link);
  std::vector<char> data(config.chunk_bytes, 'x');
  for (auto _ : state) {
    if (!status.ok()) break;
    Status received;
    std::thread receiver([&] { received = Drain(link.recv.get(), kBytesPerIteration); });
    status = Stream(link.send.get(), data.data(), kBytesPerIteration);
    receiver.join();
    if (status.ok()) status = received;
  }
  if (!status.ok()) state.SkipWithError(status.message().c_str());
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBytesPerIteration));
}

BENCHMARK(BM_TcpLinkStream)
    ->ArgsProduct({{64 << 10, 512 << 10, 4 << 20}, {2, 4, 8}})
    ->ArgNames({"chunk", "slots"})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace coll

BENCHMARK_MAIN();
