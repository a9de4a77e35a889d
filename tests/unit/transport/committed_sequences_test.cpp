// CommittedSequences: the per-collector high-water mark a handler uses to skip duplicates.

#include "etcdmon/transport/committed_sequences.h"

#include <gtest/gtest.h>

namespace etcdmon::transport {
namespace {

// Nothing is committed for an unknown collector.
TEST(CommittedSequencesTest, UnknownCollectorHasNothingCommitted) {
  CommittedSequences committed;
  EXPECT_EQ(committed.Highest("c1"), 0u);
  EXPECT_FALSE(committed.IsCommitted("c1", 0));
  EXPECT_FALSE(committed.IsCommitted("c1", 1));
}

// Everything at or below the highest mark is committed, per collector; the mark never falls.
TEST(CommittedSequencesTest, TracksHighestPerCollector) {
  CommittedSequences committed;
  committed.MarkCommitted("c1", 10);
  committed.MarkCommitted("c1", 7);  // a late duplicate does not lower the mark
  committed.MarkCommitted("c2", 3);
  EXPECT_EQ(committed.Highest("c1"), 10u);
  EXPECT_TRUE(committed.IsCommitted("c1", 1));
  EXPECT_TRUE(committed.IsCommitted("c1", 10));
  EXPECT_FALSE(committed.IsCommitted("c1", 11));
  EXPECT_TRUE(committed.IsCommitted("c2", 3));
  EXPECT_FALSE(committed.IsCommitted("c2", 4));
  EXPECT_EQ(committed.size(), 2u);
}

}  // namespace
}  // namespace etcdmon::transport
