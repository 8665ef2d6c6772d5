// Deadlines for every wait (COLL_TIMEOUT_MS). Value type on the monotonic clock.
#pragma once

#include <chrono>
#include <cstdint>

namespace coll {

class Deadline {
 public:
  using Clock = std::chrono::steady_clock;
  static Deadline In(int64_t ms) { return Deadline(Clock::now() + std::chrono::milliseconds(ms)); }
  explicit Deadline(Clock::time_point at) : at_(at) {}

  bool expired() const { return Clock::now() >= at_; }
  // Milliseconds left, clamped to [0, cap].
  int remainingMs(int cap) const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at_ - Clock::now()).count();
    if (left < 0) return 0;
    return left > cap ? cap : static_cast<int>(left);
  }
  Deadline earlier(const Deadline& other) const { return at_ < other.at_ ? *this : other; }

 private:
  Clock::time_point at_;
};

inline int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(Deadline::Clock::now().time_since_epoch()).count();
}

}  // namespace coll
