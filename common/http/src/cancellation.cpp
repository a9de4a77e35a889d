#include "etcdmon/http/cancellation.h"

#include <utility>

namespace etcdmon::http {

void Cancellation::Cancel() {
  std::lock_guard<std::mutex> lock(mu_);
  cancelled_ = true;
  for (auto& [id, abort] : aborts_) {
    abort();
  }
}

bool Cancellation::cancelled() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cancelled_;
}

uint64_t Cancellation::Enter(std::function<void()> abort) {
  std::lock_guard<std::mutex> lock(mu_);
  if (cancelled_) {
    return 0;
  }
  const uint64_t id = next_id_++;
  aborts_.emplace(id, std::move(abort));
  return id;
}

void Cancellation::Leave(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  aborts_.erase(id);
}

}  // namespace etcdmon::http
