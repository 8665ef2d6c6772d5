// The per-process progress engine of softverbs: one thread that executes every local QP's send
// queue (the emulated HCA's requester), retries RNR and transport failures on their timers,
// reports asynchronous events and completion-channel notifications.
// Thread-safety: all functions are thread-safe. Lock order: RegistryMutex -> SoftQp::mu ->
// fabric lock -> SoftContext::mu / SoftChannel::mu.
#pragma once

#include <mutex>

namespace softverbs {

struct SoftContext;

// Guards every context's qps/cqs lists and the progress thread's view of them.
std::mutex& RegistryMutex();

// Adds/removes a context; the thread runs while at least one context is registered.
void RegisterContext(SoftContext* ctx);
void UnregisterContext(SoftContext* ctx);

// Wakes the thread now (a WQE was posted, a QP changed state).
void KickProgress();

}  // namespace softverbs
