#pragma once

// The read side of a history file: queries on read-only connections of their own, so readers
// never wait for the writer (WAL) and the writer never waits for them.

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "etcdmon/aggregator/history_store.h"
#include "etcdmon/sqlite/connection.h"
#include "etcdmon/sqlite/statement.h"

namespace etcdmon::aggregator::detail {

/// One read connection with its prepared statements. Not thread-safe: one query at a time.
class HistoryReader final {
 public:
  static Result<std::unique_ptr<HistoryReader>> Open(const std::string& path);

  HistoryReader(const HistoryReader&) = delete;
  HistoryReader& operator=(const HistoryReader&) = delete;

  /// HistoryStore::Query for a validated query (from <= to, step >= 0), max_points >= 2.
  Result<HistoryResult> Query(const HistoryQuery& query, uint32_t max_points);
  Result<std::vector<std::string>> Metrics();
  Result<std::vector<std::string>> Members(std::string_view cluster, std::string_view metric);
  Result<std::vector<std::string>> Clusters();

 private:
  HistoryReader() = default;
  Status Prepare();
  Result<int64_t> MetricId(std::string_view metric);

  // Declared first: destroyed after the statements prepared on it.
  std::unique_ptr<sqlite::Connection> db_;
  sqlite::Statement metric_id_;
  sqlite::Statement series_id_;
  sqlite::Statement level_state_;
  sqlite::Statement select_raw_;
  sqlite::Statement select_level_[3];  // [1]: points_1m, [2]: points_1h
  sqlite::Statement metrics_;
  sqlite::Statement members_;
  sqlite::Statement clusters_;
};

/// Idle readers for reuse; a query takes one (opening a new one when none is idle) and gives
/// it back. Safe for concurrent use.
class ReaderPool final {
 public:
  /// A reader on loan; goes back to the pool when destroyed.
  class Lease {
   public:
    Lease(ReaderPool* pool, std::unique_ptr<HistoryReader> reader)
        : pool_(pool), reader_(std::move(reader)) {}
    ~Lease();
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = delete;
    HistoryReader* operator->() { return reader_.get(); }

   private:
    ReaderPool* pool_;
    std::unique_ptr<HistoryReader> reader_;  // null once moved from
  };

  ReaderPool(std::string path, size_t max_idle) : path_(std::move(path)), max_idle_(max_idle) {}

  Result<Lease> Acquire();

 private:
  void Release(std::unique_ptr<HistoryReader> reader);

  const std::string path_;
  const size_t max_idle_;
  std::mutex mu_;
  std::vector<std::unique_ptr<HistoryReader>> idle_;  // guarded by mu_
};

}  // namespace etcdmon::aggregator::detail
