#include "etcdmon/transport/committed_sequences.h"

namespace etcdmon::transport {

bool CommittedSequences::IsCommitted(std::string_view collector_id, uint64_t sequence) const {
  return sequence <= Highest(collector_id) && sequence != 0;
}

void CommittedSequences::MarkCommitted(std::string_view collector_id, uint64_t sequence) {
  uint64_t& highest = highest_[std::string(collector_id)];
  if (sequence > highest) {
    highest = sequence;
  }
}

uint64_t CommittedSequences::Highest(std::string_view collector_id) const {
  // C++17 unordered_map has no heterogeneous lookup; the copy is short-lived.
  auto it = highest_.find(std::string(collector_id));
  return it == highest_.end() ? 0 : it->second;
}

}  // namespace etcdmon::transport
