#pragma once

// The alerter's durable state in SQLite: open alerts (so a restart neither forgets what fires nor
// re-sends what was sent), the alert history, every notification with its delivery per channel
// (an outbox: a delivery not yet done when the process died is resumed after the restart), every
// delivery attempt, silences, and the rules' trailing histories (so a restart does not empty them).

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "etcdmon/alerter/alert.h"
#include "etcdmon/alerter/engine.h"
#include "etcdmon/alerter/notifier.h"
#include "etcdmon/status/status.h"

namespace etcdmon::sqlite {
class Connection;
}

namespace etcdmon::alerter {

struct AlertStoreOptions {
  /// Resolved alerts (with their notifications and attempts) older than this are deleted.
  std::chrono::milliseconds history_retention{std::chrono::hours(24 * 30)};
  /// At most this many resolved alerts are kept; the oldest go first.
  int64_t max_history_alerts = 100000;
  /// Expired silences are kept this long for the record, then deleted.
  std::chrono::milliseconds silence_retention{std::chrono::hours(24 * 7)};
};

/// One notification to hand to one channel.
struct PendingDelivery {
  Notification notification;
  std::string channel;
};

/// A delivery's state as stored ("pending", "delivered", "failed", "silenced").
struct DeliveryRecord {
  int64_t notification_id = 0;
  NotificationKind kind = NotificationKind::kFiring;
  std::string channel;
  std::string state;
  uint32_t attempts = 0;
  int64_t last_attempt_unix_ms = 0;
  std::string last_error;
};

/// One alert instance from the history, with its deliveries.
struct AlertHistoryEntry {
  int64_t id = 0;
  Alert alert;
  std::vector<DeliveryRecord> deliveries;
};

struct AlertHistoryFilter {
  std::string rule;          // empty: any
  std::string severity;      // "warning" | "critical"; empty: any
  std::string member;        // empty: any
  std::string cluster;       // empty: any
  std::string state;         // "pending" | "firing" | "resolved"; empty: any
  int64_t from_unix_ms = 0;  // alerts active at some point in [from, to]; 0: unbounded
  int64_t to_unix_ms = 0;
  uint32_t page_size = 100;  // 1..1000
  int64_t before_id = 0;     // page token: only ids below this; 0: from the newest
};

struct AlertHistoryPage {
  std::vector<AlertHistoryEntry> entries;  // newest first
  int64_t next_before_id = 0;              // 0: no more pages
};

/// Thread-safe (one connection behind a mutex: the evaluation thread writes after each
/// snapshot, the channels' threads record attempts, gRPC threads read).
class AlertStore final {
 public:
  /// Opens or creates the database (the directory must exist). FailedPrecondition for a file of
  /// a newer schema or not a database.
  static Result<std::unique_ptr<AlertStore>> Open(const std::string& path,
                                                  AlertStoreOptions options = {});
  ~AlertStore();
  AlertStore(const AlertStore&) = delete;
  AlertStore& operator=(const AlertStore&) = delete;

  /// The open (pending and firing) alerts, for AlertEngine::Restore after a restart.
  Result<std::vector<Alert>> LoadActive();

  /// Replaces the saved rule histories of each cluster in `by_cluster` (each cluster's
  /// AlertEngine::SaveRuleStates; an empty list deletes that cluster's), in one transaction.
  /// Clusters not named keep theirs: an engine not created since the start (no snapshot of its
  /// cluster yet) must not lose what it will restore.
  Status SaveRuleStates(const std::map<std::string, std::vector<RuleState>>& by_cluster,
                        int64_t now_unix_ms);
  /// The rule histories saved last, by cluster, for AlertEngine::RestoreRuleStates after a
  /// restart. Cluster "": the histories a version before clusters had names saved (schema 1),
  /// of the one cluster it watched; the service decides whose they are.
  Result<std::map<std::string, std::vector<RuleState>>> LoadRuleStates();

  /// Persists one evaluation in one transaction: the changed alerts, the dropped pending ones,
  /// the notifications (their ids assigned in place) with a pending delivery for each channel
  /// they go to (the alert's channels among `channels`, or all of `channels`), and the silenced
  /// ones for the record. Returns the deliveries to hand to the channels; nothing is delivered
  /// before it is stored, so a crash can repeat a delivery but never lose one.
  Result<std::vector<PendingDelivery>> Record(Evaluation& evaluation,
                                              const std::vector<std::string>& channels);

  /// Deliveries still pending (after a restart: what was queued but not done).
  Result<std::vector<PendingDelivery>> PendingDeliveries();

  /// Records one attempt; a final one settles the delivery as delivered or failed.
  Status RecordAttempt(const DeliveryAttempt& attempt);

  Result<AlertHistoryPage> QueryHistory(const AlertHistoryFilter& filter);

  /// Adds a silence (its id and created time set by the caller).
  Status AddSilence(const Silence& silence);
  /// Silences not yet expired at `now_unix_ms`, soonest expiry first. A non-empty `cluster`:
  /// only those that apply to it (its own and the every-cluster ones).
  Result<std::vector<Silence>> ActiveSilences(int64_t now_unix_ms, std::string_view cluster = {});
  /// Every stored silence, expired ones too (until Prune deletes them), newest created first
  /// (ties: by id), at most `limit`; `cluster` as for ActiveSilences.
  Result<std::vector<Silence>> AllSilences(int64_t limit, std::string_view cluster = {});
  /// Ends silence `id` at `now_unix_ms`: its expiry becomes `now_unix_ms` and the row stays, for
  /// the record. One already expired is left as it is. Returns the silence as stored afterwards;
  /// NotFound for an unknown id.
  Result<Silence> ExpireSilence(const std::string& id, int64_t now_unix_ms);

  /// Retention: deletes resolved alerts (and their notifications and attempts) and expired
  /// silences past their retention, at most `max_rows` alerts per call.
  Status Prune(int64_t now_unix_ms, int64_t max_rows = 1000);

 private:
  struct Impl;
  explicit AlertStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace etcdmon::alerter
