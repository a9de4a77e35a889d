#include "etcdmon/alerter/alert.h"

#include <gtest/gtest.h>

namespace etcdmon::alerter {
namespace {

TEST(Fingerprint, IsStableAndDistinguishesEveryField) {
  const AlertKey key{"NoLeader", "prod", ""};
  const std::string fp = Fingerprint(key);
  EXPECT_EQ(fp.size(), 16u);
  EXPECT_EQ(fp, Fingerprint(AlertKey{"NoLeader", "prod", ""}));
  // SHA-256("NoLeader\0prod\0"), first 8 bytes: computed once with `printf 'NoLeader\0prod\0' |
  // sha256sum`; a change here breaks every receiver's deduplication.
  EXPECT_EQ(fp, "5c812eaa12673ba2");
  EXPECT_NE(fp, Fingerprint(AlertKey{"NoLeader", "prod", "etcd-1"}));
  EXPECT_NE(fp, Fingerprint(AlertKey{"NoLeader", "staging", ""}));
  // The separator keeps ("ab", "c") and ("a", "bc") apart.
  EXPECT_NE(Fingerprint(AlertKey{"ab", "c", ""}), Fingerprint(AlertKey{"a", "bc", ""}));
}

TEST(Names, RoundTrip) {
  for (Severity s : {Severity::kWarning, Severity::kCritical}) {
    EXPECT_EQ(*ParseSeverity(SeverityName(s)), s);
  }
  for (AlertState s : {AlertState::kPending, AlertState::kFiring, AlertState::kResolved}) {
    EXPECT_EQ(*ParseAlertState(AlertStateName(s)), s);
  }
  EXPECT_EQ(*ParseSeverity("CRITICAL"), Severity::kCritical);
  EXPECT_FALSE(ParseSeverity("page").ok());
  EXPECT_FALSE(ParseAlertState("").ok());
  EXPECT_EQ(NotificationKindName(NotificationKind::kRepeat), "repeat");
}

}  // namespace
}  // namespace etcdmon::alerter
