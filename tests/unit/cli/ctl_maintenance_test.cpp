#include "etcdmon/cli/ctl_maintenance.h"

#include <gtest/gtest.h>
#include <openssl/sha.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "etcdmon/testing/fake_etcd_client.h"
#include "etcdmon/testing/temp_dir.h"

namespace etcdmon::cli {
namespace {

using testing::FakeEtcdClient;
using testing::TempDir;

etcd::EndpointStatus StatusOf(uint64_t id, uint64_t leader, int64_t revision = 10) {
  etcd::EndpointStatus s;
  s.member_id = id;
  s.leader = leader;
  s.revision = revision;
  s.db_size = 40960;
  s.version = "3.4.23";
  return s;
}

etcd::MemberListResult Members(size_t n) {
  etcd::MemberListResult list;
  for (size_t i = 1; i <= n; ++i) {
    list.members.push_back(
        {i, "m" + std::to_string(i), {}, {"http://e" + std::to_string(i) + ":1"}, false});
  }
  return list;
}

// A three-member cluster behind endpoints e1:1, e2:1, e3:1; member 1 leads.
struct ThreeMembers {
  FakeEtcdClient client{{"e1:1", "e2:1", "e3:1"}};
  ThreeMembers() {
    for (uint64_t i = 1; i <= 3; ++i) {
      const std::string endpoint = "e" + std::to_string(i) + ":1";
      client.SetStatus(endpoint, StatusOf(i, 1));
      client.SetMemberList(endpoint, Members(3));
      client.SetDefragment(endpoint, etcd::ResponseHeader{});
      etcd::RangeResult read;
      read.header.revision = 100;
      client.SetRange(endpoint, read);
    }
  }
};

const Confirmation kYes{true, false, nullptr};
const Confirmation kNoTerminal{false, false, nullptr};

// --yes consents; without a terminal nothing is asked and the refusal says to pass --yes; on a
// terminal only y/yes consent.
TEST(ConfirmTest, ConsentRules) {
  std::ostringstream err;
  EXPECT_TRUE(Confirm(kYes, "defragment x", err).ok());
  Status refused = Confirm(kNoTerminal, "defragment x", err);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("--yes"), std::string::npos) << refused.message();
  EXPECT_EQ(err.str(), "");

  struct Case {
    std::string typed;
    bool consents;
  } cases[] = {{"y\n", true}, {"YES\n", true}, {" yes \n", true}, {"n\n", false},
               {"\n", false}, {"", false},     {"yess\n", false}};
  for (const auto& c : cases) {
    std::istringstream in(c.typed);
    std::ostringstream prompt;
    Status s = Confirm({false, true, &in}, "compact", prompt);
    EXPECT_EQ(s.ok(), c.consents) << "typed: " << c.typed;
    EXPECT_NE(prompt.str().find("About to compact. Continue? [y/N]"), std::string::npos);
  }
}

// Quorum arithmetic: with one of three voters down, defragmenting another would leave one of
// three; learners do not count; a healthy three-member cluster can spare one.
TEST(QuorumGuardTest, CountsHealthyVotersOtherThanTheBusyOne) {
  auto member = [](uint64_t id, bool healthy, bool voter = true) {
    MemberHealth m;
    m.id = id;
    m.name = "m" + std::to_string(id);
    m.healthy = healthy;
    m.voter = voter;
    m.problem = healthy ? "" : "connection refused";
    return m;
  };
  EXPECT_TRUE(CheckQuorumWithout({member(1, true), member(2, true), member(3, true)}, 1).ok());
  Status refused = CheckQuorumWithout({member(1, true), member(2, true), member(3, false)}, 1);
  EXPECT_EQ(refused.code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.message().find("lose quorum"), std::string::npos) << refused.message();
  EXPECT_NE(refused.message().find("m3 (3): connection refused"), std::string::npos)
      << refused.message();
  // The unhealthy member itself may be defragmented: the other two are a quorum.
  EXPECT_TRUE(CheckQuorumWithout({member(1, true), member(2, true), member(3, false)}, 3).ok());
  // A learner neither helps nor hurts.
  EXPECT_FALSE(
      CheckQuorumWithout({member(1, true), member(2, false), member(3, true, false)}, 1).ok());
  EXPECT_TRUE(
      CheckQuorumWithout({member(1, true), member(2, true), member(3, false, false)}, 3).ok());
  // A single member cannot be spared.
  EXPECT_FALSE(CheckQuorumWithout({member(1, true)}, 1).ok());
}

// --cluster order: followers first, the leader last, one at a time, each followed by a health
// check (a read) before the next.
TEST(DefragTest, WalksFollowersThenLeader) {
  ThreeMembers c;
  std::ostringstream out, err;
  DefragOptions options;
  options.targets = {"e1:1", "e2:1", "e3:1"};
  ASSERT_EQ(RunDefrag(c.client, options, kYes, OutputFormat::kJson, out, err), kExitOk)
      << err.str();
  std::vector<std::string> defrags;
  for (const auto& call : c.client.maintenance_calls()) {
    if (call.rfind("defragment", 0) == 0) {
      defrags.push_back(call);
    }
  }
  EXPECT_EQ(defrags,
            (std::vector<std::string>{"defragment e2:1", "defragment e3:1", "defragment e1:1"}));
  auto rows = nlohmann::json::parse(out.str());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[2]["endpoint"], "e1:1");
  EXPECT_EQ(rows[2]["ok"], true);
  EXPECT_EQ(rows[2]["db_size_before_bytes"], 40960);
  EXPECT_NE(err.str().find("defragmenting e2:1 (member 2, 1 of 3)"), std::string::npos)
      << err.str();
  EXPECT_EQ(c.client.calls().range, 3);  // one health read per member
}

// With a member down, defragmenting a healthy one is refused before anything is sent.
TEST(DefragTest, RefusesWhenQuorumWouldBeLost) {
  ThreeMembers c;
  c.client.SetStatus("e3:1", Status::Unavailable("endpoint e3:1: connection refused"));
  std::ostringstream out, err;
  DefragOptions options;
  options.targets = {"e2:1"};
  EXPECT_EQ(RunDefrag(c.client, options, kYes, OutputFormat::kTable, out, err), kExitFailed);
  EXPECT_NE(err.str().find("refusing to defragment e2:1: the cluster would lose quorum"),
            std::string::npos)
      << err.str();
  EXPECT_NE(err.str().find("endpoint e3:1: connection refused"), std::string::npos) << err.str();
  EXPECT_TRUE(c.client.maintenance_calls().empty());

  // --skip-quorum-check overrides the guard.
  options.skip_quorum_check = true;
  std::ostringstream out2, err2;
  EXPECT_EQ(RunDefrag(c.client, options, kYes, OutputFormat::kTable, out2, err2), kExitOk)
      << err2.str();
}

// A failed health check after a member's defrag stops the walk: later members are untouched.
TEST(DefragTest, StopsWhenHealthCheckFails) {
  ThreeMembers c;
  c.client.SetRange("e2:1", Status::DeadlineExceeded("endpoint e2:1: Range: deadline exceeded"));
  std::ostringstream out, err;
  DefragOptions options;
  options.targets = {"e1:1", "e2:1", "e3:1"};
  EXPECT_EQ(RunDefrag(c.client, options, kYes, OutputFormat::kSimple, out, err), kExitFailed);
  EXPECT_NE(err.str().find("health check failed"), std::string::npos) << err.str();
  EXPECT_NE(err.str().find("2 member(s) not defragmented"), std::string::npos) << err.str();
  EXPECT_EQ(c.client.maintenance_calls(), std::vector<std::string>{"defragment e2:1"});
}

// Without a terminal and without --yes, mutating commands refuse at once (exit 2) and change
// nothing.
TEST(MutatingCommandsTest, RefuseWithoutConfirmation) {
  ThreeMembers c;
  c.client.SetAlarms("e1:1", std::vector<etcd::Alarm>{{1, etcd::AlarmType::kNoSpace}});
  c.client.SetMoveLeader("e1:1", etcd::ResponseHeader{});
  std::ostringstream out, err;
  DefragOptions defrag;
  defrag.targets = {"e2:1"};
  EXPECT_EQ(RunDefrag(c.client, defrag, kNoTerminal, OutputFormat::kTable, out, err),
            kExitNotConfirmed);
  EXPECT_EQ(RunAlarmDisarm(c.client, kNoTerminal, OutputFormat::kTable, out, err),
            kExitNotConfirmed);
  EXPECT_EQ(RunMoveLeader(c.client, "m2", kNoTerminal, OutputFormat::kTable, out, err),
            kExitNotConfirmed);
  CompactOptions compact;
  compact.keep = 5;
  EXPECT_EQ(RunCompact(c.client, compact, kNoTerminal, OutputFormat::kTable, out, err),
            kExitNotConfirmed);
  EXPECT_TRUE(c.client.maintenance_calls().empty());
  EXPECT_NE(err.str().find("pass --yes"), std::string::npos) << err.str();
}

// Disarm lists the alarms and deactivates each one exactly as listed.
TEST(AlarmDisarmTest, DeactivatesEachListedAlarm) {
  FakeEtcdClient client({"e1:1"});
  client.SetAlarms("e1:1", std::vector<etcd::Alarm>{{7, etcd::AlarmType::kNoSpace},
                                                    {9, etcd::AlarmType::kCorrupt}});
  std::ostringstream out, err;
  ASSERT_EQ(RunAlarmDisarm(client, kYes, OutputFormat::kSimple, out, err), kExitOk) << err.str();
  EXPECT_EQ(client.maintenance_calls(),
            (std::vector<std::string>{"alarm e1:1 deactivate 7 1", "alarm e1:1 deactivate 9 2"}));
}

// compact --keep counts back from the current revision; a future revision is refused before
// anything is sent; etcd's own refusal is passed on.
TEST(CompactTest, RevisionRules) {
  FakeEtcdClient client({"e1:1"});
  etcd::RangeResult read;
  read.header.revision = 100;
  client.SetRange("e1:1", read);
  client.SetCompact("e1:1", etcd::ResponseHeader{});
  std::ostringstream out, err;
  CompactOptions keep;
  keep.keep = 30;
  keep.physical = true;
  ASSERT_EQ(RunCompact(client, keep, kYes, OutputFormat::kJson, out, err), kExitOk) << err.str();
  EXPECT_EQ(client.maintenance_calls(), std::vector<std::string>{"compact e1:1 70 physical"});
  auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["revision"], 70);
  EXPECT_EQ(j["current_revision"], 100);
  EXPECT_EQ(j["physical"], true);

  CompactOptions future;
  future.revision = 101;
  std::ostringstream err2;
  EXPECT_EQ(RunCompact(client, future, kYes, OutputFormat::kTable, out, err2), kExitFailed);
  EXPECT_NE(err2.str().find("revision 101 is in the future (current revision 100)"),
            std::string::npos)
      << err2.str();

  client.SetCompact("e1:1",
                    Status::FailedPrecondition(
                        "endpoint e1:1: Compact: mvcc: required revision has been compacted"));
  CompactOptions old;
  old.revision = 5;
  std::ostringstream err3;
  EXPECT_EQ(RunCompact(client, old, kYes, OutputFormat::kTable, out, err3), kExitFailed);
  EXPECT_NE(err3.str().find("has been compacted"), std::string::npos) << err3.str();
}

// move-leader accepts a hex id or a name, sends the request to the leader's endpoint, refuses an
// unknown member, and does nothing when the member already leads.
TEST(MoveLeaderTest, TargetsAndRefusals) {
  ThreeMembers c;
  c.client.SetMoveLeader("e1:1", etcd::ResponseHeader{});
  std::ostringstream out, err;
  ASSERT_EQ(RunMoveLeader(c.client, "m3", kYes, OutputFormat::kTable, out, err), kExitOk)
      << err.str();
  ASSERT_EQ(RunMoveLeader(c.client, "2", kYes, OutputFormat::kTable, out, err), kExitOk)
      << err.str();
  EXPECT_EQ(c.client.maintenance_calls(),
            (std::vector<std::string>{"move-leader e1:1 3", "move-leader e1:1 2"}));

  std::ostringstream err2;
  EXPECT_EQ(RunMoveLeader(c.client, "nobody", kYes, OutputFormat::kTable, out, err2), kExitFailed);
  EXPECT_NE(err2.str().find("no member \"nobody\" in the cluster"), std::string::npos)
      << err2.str();

  std::ostringstream out3, err3;
  EXPECT_EQ(RunMoveLeader(c.client, "m1", kNoTerminal, OutputFormat::kJson, out3, err3), kExitOk)
      << err3.str();
  EXPECT_EQ(nlohmann::json::parse(out3.str())["moved"], false);
}

// A database of `pages` 4 KiB pages followed by its SHA-256, as etcd streams it.
std::string SnapshotStream(size_t pages, bool corrupt = false) {
  std::string db(pages * 4096, '\0');
  for (size_t i = 0; i < db.size(); ++i) {
    db[i] = static_cast<char>(i * 31 % 251);
  }
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(db.data()), db.size(), digest);
  std::string stream = db + std::string(reinterpret_cast<char*>(digest), sizeof digest);
  if (corrupt) {
    stream[100] ^= 1;
  }
  return stream;
}

size_t FilesIn(const std::string& dir) {
  size_t n = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir)) {
    ++n;
  }
  return n;
}

// The checksum is verified whatever the chunking (chunks smaller than the checksum included),
// the file holds the whole stream with mode 0600, and size and revision are reported.
TEST(SnapshotTest, VerifiesChecksumAcrossChunkSizes) {
  for (size_t chunk : {1u, 7u, 32u, 33u, 4096u, 100000u}) {
    TempDir dir;
    FakeEtcdClient client({"e1:1"});
    client.SetStatus("e1:1", StatusOf(1, 1, 17));
    const std::string stream = SnapshotStream(3);
    etcd::ResponseHeader header;
    header.revision = 42;
    client.SetSnapshot("e1:1", stream, header, Status::Ok(), chunk);
    SnapshotOptions options;
    options.path = dir.File("db");
    Result<SnapshotSaved> saved = SaveSnapshot(client, "e1:1", options);
    ASSERT_TRUE(saved.ok()) << "chunk " << chunk << ": " << saved.status().ToString();
    EXPECT_EQ(saved->size_bytes, stream.size());
    EXPECT_EQ(saved->revision, 42);
    std::ifstream in(options.path, std::ios::binary);
    std::string written((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(written, stream) << "chunk " << chunk;
    struct stat st {};
    ASSERT_EQ(stat(options.path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    EXPECT_EQ(FilesIn(dir.path()), 1u);
  }
}

// A corrupt stream, a stream without a checksum and a transfer that breaks off all fail, leave
// no file behind and leave an existing file untouched.
TEST(SnapshotTest, FailuresLeaveNothingBehind) {
  struct Case {
    std::string name;
    std::string stream;
    Status error;
    std::string expected;
  } cases[] = {
      {"corrupt", SnapshotStream(2, true), Status::Ok(), "checksum mismatch"},
      {"no checksum", std::string(8192, 'x'), Status::Ok(), "no SHA-256 trailer"},
      {"broken off", SnapshotStream(2).substr(0, 5000),
       Status::Unavailable("endpoint e1:1: Snapshot: connection lost"), "connection lost"},
  };
  for (const auto& c : cases) {
    TempDir dir;
    const std::string path = dir.File("db");
    std::ofstream(path) << "previous";
    FakeEtcdClient client({"e1:1"});
    client.SetStatus("e1:1", StatusOf(1, 1));
    client.SetSnapshot("e1:1", c.stream, {}, c.error, 1000);
    std::ostringstream out, err;
    SnapshotOptions options;
    options.path = path;
    EXPECT_EQ(RunSnapshotSave(client, options, OutputFormat::kTable, out, err), kExitFailed)
        << c.name;
    EXPECT_NE(err.str().find(c.expected), std::string::npos) << c.name << ": " << err.str();
    EXPECT_EQ(FilesIn(dir.path()), 1u) << c.name;
    std::ifstream in(path);
    std::string content;
    in >> content;
    EXPECT_EQ(content, "previous") << c.name;
  }
}

// The size bound stops an endless stream.
TEST(SnapshotTest, SizeBound) {
  TempDir dir;
  FakeEtcdClient client({"e1:1"});
  client.SetStatus("e1:1", StatusOf(1, 1));
  client.SetSnapshot("e1:1", SnapshotStream(4), {});
  SnapshotOptions options;
  options.path = dir.File("db");
  options.max_bytes = 8192;
  Result<SnapshotSaved> saved = SaveSnapshot(client, "e1:1", options);
  EXPECT_EQ(saved.status().code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(FilesIn(dir.path()), 0u);
}

// Without a header in the stream (etcd 3.4) the revision is the member's as the transfer began.
TEST(SnapshotTest, RevisionFromStatusWithoutHeader) {
  TempDir dir;
  FakeEtcdClient client({"e1:1"});
  client.SetStatus("e1:1", StatusOf(1, 1, 17));
  client.SetSnapshot("e1:1", SnapshotStream(1), {});
  SnapshotOptions options;
  options.path = dir.File("db");
  std::ostringstream out, err;
  ASSERT_EQ(RunSnapshotSave(client, options, OutputFormat::kJson, out, err), kExitOk) << err.str();
  auto j = nlohmann::json::parse(out.str());
  EXPECT_EQ(j["revision"], 17);
  EXPECT_EQ(j["size_bytes"], 4096 + 32);
  EXPECT_EQ(j["path"], options.path);
  EXPECT_EQ(j["endpoint"], "e1:1");
  EXPECT_EQ(j["sha256"].get<std::string>().size(), 64u);
}

// Snapshot save wants exactly one endpoint.
TEST(SnapshotTest, NeedsOneEndpoint) {
  FakeEtcdClient client({"e1:1", "e2:1"});
  std::ostringstream out, err;
  SnapshotOptions options;
  options.path = "/nonexistent/db";
  EXPECT_EQ(RunSnapshotSave(client, options, OutputFormat::kTable, out, err), 2);
  EXPECT_NE(err.str().find("exactly one endpoint"), std::string::npos) << err.str();
}

// Members not reachable through a configured endpoint are found by their client URLs.
TEST(MissingMemberUrlsTest, FindsMembersWithoutEndpoint) {
  FakeEtcdClient client({"e1:1"});
  client.SetStatus("e1:1", StatusOf(1, 1));
  client.SetMemberList("e1:1", Members(3));
  Result<std::vector<std::string>> missing = MissingMemberUrls(client);
  ASSERT_TRUE(missing.ok()) << missing.status().ToString();
  EXPECT_EQ(*missing, (std::vector<std::string>{"http://e2:1", "http://e3:1"}));
}

}  // namespace
}  // namespace etcdmon::cli
