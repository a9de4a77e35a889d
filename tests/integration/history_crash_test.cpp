// Crash safety of the history file: a child process writes batches (and runs maintenance) in a
// loop, reporting each batch number through a pipe once Write has returned, which is when the
// aggregator would acknowledge it; the test SIGKILLs it mid-run, then reopens the file. Every
// reported batch must be there with all its points and its committed marker, nothing may be
// stored twice, the roll-ups must match the raw points, and PRAGMA integrity_check must say ok.
// Several rounds on the same file, killed after different delays.

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "etcdmon/aggregator/history_store.h"
#include "etcdmon/sqlite/connection.h"

namespace etcdmon::aggregator {
namespace {

using namespace std::chrono_literals;

constexpr const char* kCollector = "crash-collector";
constexpr int kSeries = 100;
constexpr int kPointsPerSeries = 3;  // 300 points per batch, like a collector's sample
constexpr int kPointsPerBatch = kSeries * kPointsPerSeries;
constexpr int64_t kT0 = 1699999200000;  // an hour boundary
constexpr int64_t kBatchSpanMs = kPointsPerSeries * 1000;

// Batch b (from 1): every series gets points at kT0 + b * 3 s + {0, 1, 2} s, all of value b.
WriteBatch MakeBatch(int64_t b) {
  WriteBatch batch;
  for (int s = 1; s <= kSeries; ++s) {
    for (int j = 0; j < kPointsPerSeries; ++j) {
      batch.points.push_back(
          {static_cast<SeriesId>(s), kT0 + b * kBatchSpanMs + j * 1000, static_cast<double>(b)});
    }
  }
  batch.committed.push_back({kCollector, static_cast<uint64_t>(b)});
  return batch;
}

// The child: what the aggregator's ingest and tick do, as fast as it can, until killed.
[[noreturn]] void RunWriter(const std::string& path, int report_fd) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);  // never outlive a failed test
  HistoryConfig config;
  config.path = path;
  auto store = HistoryStore::Open(config);
  if (!store.ok()) {
    _exit(2);
  }
  for (int s = 1; s <= kSeries; ++s) {
    auto id = (*store)->Series("default", "metric_" + std::to_string(s), "etcd-1");
    if (!id.ok() || *id != static_cast<SeriesId>(s)) {
      _exit(3);
    }
  }
  // Resume like a collector whose last acks were lost: resend the last two stored batches.
  // They are written again on purpose; storage must stay idempotent.
  const int64_t highest = static_cast<int64_t>((*store)->HighestCommitted(kCollector));
  for (int64_t b = std::max<int64_t>(1, highest - 1); b < 10'000'000; ++b) {
    if (!(*store)->Write(MakeBatch(b)).ok()) {
      _exit(4);
    }
    if (write(report_fd, &b, sizeof b) != sizeof b) {
      _exit(5);
    }
    if (b % 20 == 0) {
      const auto now = std::chrono::system_clock::time_point(
          std::chrono::milliseconds(kT0 + (b + 1) * kBatchSpanMs));
      if (!(*store)->Maintain(now, 2000).ok()) {
        _exit(6);
      }
    }
  }
  _exit(0);
}

class HistoryCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern =
        (std::filesystem::temp_directory_path() / "etcdmon_history_crash.XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    path_ = (dir_ / "history.db").string();
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  // Starts a writer, kills it after `delay`, returns the highest batch number it reported.
  int64_t RunAndKill(std::chrono::milliseconds delay) {
    int fds[2];
    if (pipe(fds) != 0) {
      ADD_FAILURE() << "pipe failed";
      return 0;
    }
    const pid_t pid = fork();
    if (pid == 0) {
      close(fds[0]);
      RunWriter(path_, fds[1]);
    }
    close(fds[1]);
    if (pid < 0) {
      close(fds[0]);
      ADD_FAILURE() << "fork failed";
      return 0;
    }
    int64_t highest_reported = 0;
    auto read_reports = [&](int timeout_ms) {
      pollfd p{fds[0], POLLIN, 0};
      if (poll(&p, 1, timeout_ms) <= 0) {
        return false;
      }
      int64_t numbers[512];
      const ssize_t n = read(fds[0], numbers, sizeof numbers);
      if (n <= 0) {
        return false;  // the writer is gone
      }
      // Reports are 8-byte writes to a pipe, hence atomic: a read never splits one.
      for (ssize_t i = 0; i < n / static_cast<ssize_t>(sizeof(int64_t)); ++i) {
        highest_reported = std::max(highest_reported, numbers[i]);
      }
      return true;
    };
    const auto deadline = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (!read_reports(static_cast<int>(std::max<int64_t>(left.count(), 1))) &&
          waitpid(pid, nullptr, WNOHANG) == pid) {
        ADD_FAILURE() << "the writer exited before it was killed";
        close(fds[0]);
        return highest_reported;
      }
    }
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        << "writer exit status " << status;
    while (read_reports(0)) {  // reports written before the kill still count
    }
    close(fds[0]);
    return highest_reported;
  }

  int64_t Sql(sqlite::Connection& db, const std::string& sql) {
    auto value = db.QueryInt64(sql);
    EXPECT_TRUE(value.ok()) << sql << ": " << value.status().ToString();
    return value.ok() ? *value : -1;
  }

  std::filesystem::path dir_;
  std::string path_;
};

// Each round kills the writer at a different moment; after each, the file is whole and holds
// exactly the committed batches.
TEST_F(HistoryCrashTest, SigkillLosesNothingAcknowledgedAndNeverCorrupts) {
  const std::chrono::milliseconds delays[] = {5ms, 150ms, 400ms, 700ms, 300ms, 1000ms};
  int64_t previous_highest = 0;
  int64_t acknowledged = 0;  // the highest batch number any writer reported
  for (const auto delay : delays) {
    SCOPED_TRACE("killed after " + std::to_string(delay.count()) + " ms");
    const int64_t reported = RunAndKill(delay);
    acknowledged = std::max(acknowledged, reported);

    {  // A plain connection first: integrity before the store touches the file.
      sqlite::ConnectionOptions options;
      options.create = false;
      auto db = sqlite::Connection::Open(path_, options);
      if (!db.ok() && delay < 50ms) {
        continue;  // killed before the file existed
      }
      ASSERT_TRUE(db.ok()) << db.status().ToString();
      auto integrity = (*db)->QueryText("PRAGMA integrity_check");
      ASSERT_TRUE(integrity.ok()) << integrity.status().ToString();
      EXPECT_EQ(*integrity, "ok");
    }

    HistoryConfig config;
    config.path = path_;
    auto store = HistoryStore::Open(config);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    const int64_t highest = static_cast<int64_t>((*store)->HighestCommitted(kCollector));
    // Everything reported (acknowledged) is committed; at most the one in flight beyond it.
    EXPECT_GE(highest, acknowledged);
    EXPECT_LE(highest, std::max(acknowledged, previous_highest) + 1);
    EXPECT_GE(highest, previous_highest);
    previous_highest = highest;
    store->reset();

    sqlite::ConnectionOptions options;
    options.create = false;
    options.query_only = true;
    auto db = sqlite::Connection::Open(path_, options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    // Batches 1..highest, each complete and each once ((series, ts) is the key, so a second
    // copy would show as extra rows or a wrong value).
    EXPECT_EQ(Sql(**db, "SELECT COUNT(*) FROM points_raw"), highest * kPointsPerBatch);
    EXPECT_EQ(Sql(**db, "SELECT COUNT(*) FROM points_raw WHERE value != (ts - " +
                            std::to_string(kT0) + ") / " + std::to_string(kBatchSpanMs)),
              0);
    if (highest > 0) {
      EXPECT_EQ(Sql(**db, "SELECT MIN(value) FROM points_raw"), 1);
      EXPECT_EQ(Sql(**db, "SELECT MAX(value) FROM points_raw"), highest);
      EXPECT_EQ(Sql(**db,
                    "SELECT COUNT(*) FROM (SELECT value FROM points_raw GROUP BY value"
                    " HAVING COUNT(*) != " +
                        std::to_string(kPointsPerBatch) + ")"),
                0);
    }
    EXPECT_EQ(Sql(**db, "SELECT COUNT(*) FROM committed"), highest > 0 ? 1 : 0);
    // Roll-ups below their watermark hold exactly the raw points they summarize.
    const std::string rolled = "(SELECT rolled_below FROM level_state WHERE level = 1)";
    EXPECT_EQ(Sql(**db, "SELECT COALESCE(SUM(count), 0) FROM points_1m WHERE ts < " + rolled),
              Sql(**db, "SELECT COUNT(*) FROM points_raw WHERE ts < " + rolled));
    EXPECT_EQ(Sql(**db, "SELECT COUNT(*) FROM points_1m m WHERE m.ts < " + rolled +
                            " AND (m.count, m.sum_value) != (SELECT COUNT(*), SUM(r.value)"
                            " FROM points_raw r WHERE r.series = m.series AND r.ts >= m.ts"
                            " AND r.ts < m.ts + 60000)"),
              0);
  }
  EXPECT_GT(previous_highest, 100) << "the writer made too little progress to test anything";
}

}  // namespace
}  // namespace etcdmon::aggregator
