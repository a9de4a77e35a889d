#pragma once

// One real etcd cluster shared by every test of a GoogleTest suite, for suites whose cases can
// run on the same cluster (starting one per case would cost seconds each).

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>

#include "etcdmon/testing/etcd_cluster.h"

namespace etcdmon::testing {

/// Base of a fixture whose tests share one EtcdCluster, started before the suite's first test
/// (SetUpTestSuite) and stopped, its directory removed, after its last (TearDownTestSuite).
///
///   class CtlClusterTest : public EtcdClusterSuite<CtlClusterTest> {
///    public:
///     static EtcdClusterOptions ClusterOptions() { ... }  // optional: 3 plain members
///   };
///   TEST_F(CtlClusterTest, X) { cluster().Stop(2); ... }
///
/// `Suite` is the fixture itself (each fixture gets a cluster of its own); `Base` is
/// ::testing::Test or a ::testing::TestWithParam<T>.
///
/// A cluster that fails to start fails every test of the suite, with the reason, in SetUp().
/// A fixture that overrides SetUp() calls EtcdClusterSuite::SetUp() first and returns when
/// HasFatalFailure(); one that does more at suite start defines its own static
/// SetUpTestSuite()/TearDownTestSuite() calling these first/last. Tests may stop and restart
/// members; a fixture whose cases need every member up restores them in its SetUp().
///
/// The cluster lives on the thread that runs the suite (the test's main thread), as
/// EtcdCluster requires.
template <typename Suite, typename Base = ::testing::Test>
class EtcdClusterSuite : public Base {
 public:
  static void SetUpTestSuite() {
    cluster_ = std::make_unique<EtcdCluster>(Suite::ClusterOptions());
    const Status started = cluster_->Start();
    start_error_ = started.ok() ? "" : started.ToString();
  }
  static void TearDownTestSuite() {
    cluster_.reset();
    start_error_.clear();
  }

  /// The suite's cluster options; a fixture hides this to change them.
  static EtcdClusterOptions ClusterOptions() { return EtcdClusterOptions{}; }

 protected:
  void SetUp() override {
    ASSERT_TRUE(start_error_.empty()) << "the suite's etcd cluster did not start: " << start_error_;
  }

  /// Starts again every member a previous case stopped, so each case begins with all of them.
  static void RestartStoppedMembers() {
    for (size_t i = 0; i < cluster_->size(); ++i) {
      if (!cluster_->IsRunning(i)) {
        ASSERT_TRUE(cluster_->Restart(i).ok()) << "member " << i << " did not start again";
      }
    }
  }

  /// The suite's cluster, between SetUpTestSuite() and TearDownTestSuite().
  static EtcdCluster& cluster() { return *cluster_; }
  /// Why the cluster did not start; empty when it did.
  static const std::string& start_error() { return start_error_; }
  /// Stops the cluster before the suite ends (e.g. when more suite-wide setup failed after it).
  static void ResetCluster(std::string reason) {
    cluster_.reset();
    start_error_ = std::move(reason);
  }

 private:
  static inline std::unique_ptr<EtcdCluster> cluster_;
  static inline std::string start_error_;
};

}  // namespace etcdmon::testing
