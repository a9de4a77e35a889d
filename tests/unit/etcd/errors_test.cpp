#include "etcdmon/etcd/errors.h"

#include <gtest/gtest.h>

#include <string>

namespace etcdmon::etcd {
namespace {

// gRPC canonical code numbers, spelled out so the test needs no gRPC headers.
enum GrpcCode {
  kOk = 0,
  kCancelled = 1,
  kUnknown = 2,
  kInvalidArgument = 3,
  kDeadlineExceeded = 4,
  kNotFound = 5,
  kAlreadyExists = 6,
  kPermissionDenied = 7,
  kResourceExhausted = 8,
  kFailedPrecondition = 9,
  kAborted = 10,
  kOutOfRange = 11,
  kUnimplemented = 12,
  kInternal = 13,
  kUnavailable = 14,
  kDataLoss = 15,
  kUnauthenticated = 16,
};

// Failed calls name the endpoint and the method, explain the cause and keep gRPC's words.
TEST(StatusFromGrpcTest, NamesEndpointMethodCauseAndGrpcMessage) {
  struct Case {
    const char* name;
    int grpc;
    const char* message;
    StatusCode code;
    const char* expected;
  };
  const Case cases[] = {
      {"refused", kUnavailable,
       "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:9: Failed to "
       "connect to remote host: Connection refused",
       StatusCode::kUnavailable,
       "endpoint 127.0.0.1:9: Range: connection refused: failed to connect to all addresses; "
       "last error: UNKNOWN: ipv4:127.0.0.1:9: Failed to connect to remote host: Connection "
       "refused"},
      {"tls", kUnavailable,
       "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:9: Ssl "
       "handshake failed: SSL_ERROR_SSL: error:1000007d:SSL "
       "routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED",
       StatusCode::kUnavailable,
       "endpoint 127.0.0.1:9: Range: TLS handshake failed: server certificate not trusted (check "
       "the CA file): failed to connect to all addresses; last error: UNKNOWN: "
       "ipv4:127.0.0.1:9: Ssl handshake failed: SSL_ERROR_SSL: error:1000007d:SSL "
       "routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED"},
      {"etcd no leader", kUnavailable, "etcdserver: no leader", StatusCode::kUnavailable,
       "endpoint 127.0.0.1:9: Range: etcdserver: no leader"},
      {"lost", kUnavailable, "Socket closed", StatusCode::kUnavailable,
       "endpoint 127.0.0.1:9: Range: connection lost: Socket closed"},
      {"deadline", kDeadlineExceeded, "Deadline Exceeded", StatusCode::kDeadlineExceeded,
       "endpoint 127.0.0.1:9: Range: request timed out: Deadline Exceeded"},
      {"wrong password", kInvalidArgument,
       "etcdserver: authentication failed, invalid user ID or password",
       StatusCode::kUnauthenticated,
       "endpoint 127.0.0.1:9: Range: authentication failed: etcdserver: authentication failed, "
       "invalid user ID or password"},
      {"no user", kInvalidArgument, "etcdserver: user name is empty", StatusCode::kUnauthenticated,
       "endpoint 127.0.0.1:9: Range: etcd requires authentication and no user name is "
       "configured: etcdserver: user name is empty"},
      {"bad token", kUnauthenticated, "etcdserver: invalid auth token",
       StatusCode::kUnauthenticated,
       "endpoint 127.0.0.1:9: Range: authentication failed: etcdserver: invalid auth token"},
      {"permission", kPermissionDenied, "etcdserver: permission denied",
       StatusCode::kPermissionDenied,
       "endpoint 127.0.0.1:9: Range: permission denied: etcdserver: permission denied"},
      {"quota", kResourceExhausted, "etcdserver: mvcc: database space exceeded",
       StatusCode::kResourceExhausted,
       "endpoint 127.0.0.1:9: Range: etcdserver: mvcc: database space exceeded"},
      {"compacted", kOutOfRange, "etcdserver: mvcc: required revision has been compacted",
       StatusCode::kInvalidArgument,
       "endpoint 127.0.0.1:9: Range: etcdserver: mvcc: required revision has been compacted"},
      {"empty message", kInternal, "", StatusCode::kInternal,
       "endpoint 127.0.0.1:9: Range: internal"},
      {"ok code is still an error", kOk, "odd", StatusCode::kInternal,
       "endpoint 127.0.0.1:9: Range: odd"},
  };
  for (const Case& c : cases) {
    Status s = StatusFromGrpc("127.0.0.1:9", "Range", c.grpc, c.message);
    EXPECT_EQ(s.code(), c.code) << c.name;
    EXPECT_EQ(s.message(), c.expected) << c.name;
  }
}

// Connection failures are described in an operator's words, and TLS ones say "TLS".
TEST(DescribeConnectErrorTest, RecognisesCommonCauses) {
  struct Case {
    const char* message;
    const char* expected;
  };
  const Case cases[] = {
      {"Failed to connect to remote host: Connection refused", "connection refused"},
      {"Ssl handshake failed: SSL_ERROR_SSL: CERTIFICATE_VERIFY_FAILED",
       "TLS handshake failed: server certificate not trusted (check the CA file)"},
      {"Ssl handshake failed: SSL_ERROR_SSL: error:10000412:SSL routines:sslv3 alert bad "
       "certificate",
       "TLS handshake failed"},
      {"DNS resolution failed for nowhere:2379", "name resolution failed"},
      {"No route to host", "no route to host"},
      {"Network is unreachable", "network unreachable"},
      {"Timeout occurred: FD Shutdown", "connection timed out"},
      {"Socket closed",
       "connection closed by the server during setup (TLS/plaintext mismatch, or client "
       "certificate rejected)"},
      {"something new", "connection failed"},
      {"", "connection failed"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(DescribeConnectError(c.message), c.expected) << c.message;
  }
}

// Only a rejected token (not a wrong password) asks for authenticating again.
TEST(IsTokenRejectedTest, DistinguishesTokenFromPasswordErrors) {
  EXPECT_TRUE(IsTokenRejected(kUnauthenticated, "etcdserver: invalid auth token"));
  EXPECT_TRUE(IsTokenRejected(kInvalidArgument, "etcdserver: revision of auth store is old"));
  EXPECT_FALSE(IsTokenRejected(kInvalidArgument,
                               "etcdserver: authentication failed, invalid user ID or password"));
  EXPECT_FALSE(IsTokenRejected(kUnavailable, "Connection refused"));
  EXPECT_FALSE(IsTokenRejected(kPermissionDenied, "etcdserver: permission denied"));
}

// Durations read the way an operator writes them.
TEST(FormatDurationTest, UsesTheLargestExactUnit) {
  using std::chrono::milliseconds;
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0s");
  EXPECT_EQ(FormatDuration(milliseconds(1000)), "1s");
  EXPECT_EQ(FormatDuration(milliseconds(5000)), "5s");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(FormatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(milliseconds(120000)), "2m");
  EXPECT_EQ(FormatDuration(milliseconds(90000)), "90s");
}

}  // namespace
}  // namespace etcdmon::etcd
